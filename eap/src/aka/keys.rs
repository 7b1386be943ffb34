//! Key derivation of EAP-AKA (RFC 4187 §7) and EAP-AKA' (RFC 9048 §3.3–3.5,
//! 3GPP TS 33.402 Annex A.2).
//!
//! | method  | master key                                  | PRF                       | K_encr | K_aut | K_re | MSK | EMSK |
//! |---------|---------------------------------------------|---------------------------|--------|-------|------|-----|------|
//! | AKA     | MK = SHA1(Identity‖IK‖CK)                   | FIPS 186-2 (change notice 1) | 16  | 16    | –    | 64  | 64   |
//! | AKA'    | PRF'(IK'‖CK', "EAP-AKA'"‖Identity)          | PRF' (HMAC-SHA-256)       | 16     | 32    | 32   | 64  | 64   |
//!
//! Fast re-authentication derives a fresh MSK/EMSK and reuses K_encr/K_aut:
//! EAP-AKA from MK (XKEY' = SHA1(Identity‖counter‖NONCE_S‖MK), RFC 4187 §7),
//! EAP-AKA' from K_re (PRF'(K_re, "EAP-AKA' re-auth"‖Identity‖counter‖NONCE_S),
//! RFC 9048 §3.5). Every intermediate buffer is zeroized before it is freed.

use crate::secret::{
    Ck, CkPrime, Emsk, Ik, IkPrime, KAut, KAutAka, KAutAkaPrime, KEncr, KRe, Mk, Msk,
};
use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Which EAP method a key, MAC or checkcode belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// EAP-AKA (RFC 4187), EAP method type 23.
    Aka,
    /// EAP-AKA' (RFC 9048), EAP method type 50.
    AkaPrime,
}

impl Method {
    /// The EAP method type number (RFC 4187 §11, RFC 9048 §6).
    pub const fn eap_type(self) -> u8 {
        match self {
            Method::Aka => 23,
            Method::AkaPrime => 50,
        }
    }

    /// The method for an EAP type number; `None` for anything but 23 and 50.
    pub const fn from_eap_type(t: u8) -> Option<Self> {
        match t {
            23 => Some(Method::Aka),
            50 => Some(Method::AkaPrime),
            _ => None,
        }
    }

    /// The name used in logs and RFCs ("EAP-AKA" or "EAP-AKA'").
    pub const fn name(self) -> &'static str {
        match self {
            Method::Aka => "EAP-AKA",
            Method::AkaPrime => "EAP-AKA'",
        }
    }
}

/// The secret kept after a full authentication to derive fast
/// re-authentication keys: MK for EAP-AKA (RFC 4187 §7), K_re for EAP-AKA'
/// (RFC 9048 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReauthSecret {
    /// EAP-AKA master key MK.
    Mk(Mk),
    /// EAP-AKA' re-authentication key K_re.
    KRe(KRe),
}

impl ReauthSecret {
    /// The method this secret belongs to.
    pub fn method(&self) -> Method {
        match self {
            ReauthSecret::Mk(_) => Method::Aka,
            ReauthSecret::KRe(_) => Method::AkaPrime,
        }
    }
}

/// The keys of a full authentication (RFC 4187 §7, RFC 9048 §3.3).
///
/// `Debug` prints only redacted placeholders; everything is zeroized on drop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// K_encr, the AT_ENCR_DATA key.
    pub k_encr: KEncr,
    /// K_aut, the AT_MAC key (16 bytes for AKA, 32 for AKA').
    pub k_aut: KAut,
    /// MSK, exported to the authenticator (MS-MPPE keys / PMK).
    pub msk: Msk,
    /// EMSK.
    pub emsk: Emsk,
    /// What fast re-authentication needs later: MK (AKA) or K_re (AKA').
    pub reauth: ReauthSecret,
}

impl Keys {
    /// The method these keys belong to.
    pub fn method(&self) -> Method {
        self.reauth.method()
    }
}

/// The keys of a fast re-authentication (RFC 4187 §7, RFC 9048 §3.5): a fresh
/// MSK and EMSK; K_encr and K_aut stay those of the full authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReauthKeys {
    /// The new MSK.
    pub msk: Msk,
    /// The new EMSK.
    pub emsk: Emsk,
}

/// A key derivation input is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The access network name of CK'/IK' does not fit the 2-byte length L0
    /// (3GPP TS 33.220 Annex B.2).
    #[error("access network name is {0} bytes, more than the 65535 that L0 can express")]
    NetworkNameTooLong(usize),
    /// PRF' can produce at most 255 blocks of 32 bytes (RFC 9048 §3.4.1).
    #[error("PRF' output of {0} bytes requested, at most 8160 possible")]
    PrfOutputTooLong(usize),
}

// ---------------------------------------------------------------------------
// FIPS 186-2 PRF (EAP-AKA)
// ---------------------------------------------------------------------------

/// SHA-1 initial state H0..H4 (FIPS 180-2 §5.3.1), the `t` of G(t, c).
const SHA1_H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// G(t, c) of FIPS 186-2 Appendix 3.3: the SHA-1 compression function applied
/// once to `c` zero-padded to 512 bits, from the standard initial state, with
/// no SHA-1 length padding.
fn fips_g(xkey: &[u8; 20]) -> Zeroizing<[u8; 20]> {
    let mut block = Zeroizing::new([0u8; 64]);
    block[..20].copy_from_slice(xkey);
    let mut state = Zeroizing::new(SHA1_H0);
    sha1::block_api::compress(&mut state, core::slice::from_ref(&*block));
    let mut out = Zeroizing::new([0u8; 20]);
    for (chunk, word) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// XKEY = (1 + XKEY + w) mod 2^160, big-endian.
fn fips_add(xkey: &mut [u8; 20], w: &[u8; 20]) {
    let mut carry: u16 = 1;
    for i in (0..20).rev() {
        let sum = u16::from(xkey[i]) + u16::from(w[i]) + carry;
        xkey[i] = sum as u8;
        carry = sum >> 8;
    }
}

/// The FIPS 186-2 change-notice-1 pseudo-random function of RFC 4186
/// Appendix B / RFC 4187 §7 (b = 160, XSEED_j = 0): fills `out` from the
/// 160-bit seed `xkey`. Any output length is allowed; the output is the
/// concatenation of the 20-byte blocks w_0, w_1, … truncated to `out.len()`.
pub fn fips186_2_prf(xkey: &[u8; 20], out: &mut [u8]) {
    let mut x = Zeroizing::new(*xkey);
    for chunk in out.chunks_mut(20) {
        let w = fips_g(&x);
        fips_add(&mut x, &w);
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// The EAP-AKA master key MK = SHA1(Identity‖IK‖CK) (RFC 4187 §7).
///
/// `identity` is the identity of the last AT_IDENTITY, or of the
/// EAP-Response/Identity when there was no AKA-Identity round, without any
/// trailing NUL.
pub fn master_key_aka(identity: &[u8], ik: &Ik, ck: &Ck) -> Mk {
    let mut h = Sha1::new();
    h.update(identity);
    h.update(ik.expose());
    h.update(ck.expose());
    let mut out = Zeroizing::new(sha1::digest::Output::<Sha1>::default());
    h.finalize_into(&mut out);
    Mk::new(take(&out[..]))
}

/// EAP-AKA keys from an existing MK: K_encr‖K_aut‖MSK‖EMSK = PRF(MK)
/// (RFC 4187 §7).
pub fn derive_aka_from_mk(mk: &Mk) -> Keys {
    let mut fk = Zeroizing::new([0u8; 160]);
    fips186_2_prf(mk.expose(), &mut fk[..]);
    Keys {
        k_encr: KEncr::new(take(&fk[0..16])),
        k_aut: KAut::Aka(KAutAka::new(take(&fk[16..32]))),
        msk: Msk::new(take(&fk[32..96])),
        emsk: Emsk::new(take(&fk[96..160])),
        reauth: ReauthSecret::Mk(mk.clone()),
    }
}

/// Full EAP-AKA key derivation (RFC 4187 §7): MK = SHA1(Identity‖IK‖CK), then
/// K_encr, K_aut (16 bytes), MSK, EMSK from the FIPS 186-2 PRF.
pub fn derive_aka(identity: &[u8], ik: &Ik, ck: &Ck) -> Keys {
    derive_aka_from_mk(&master_key_aka(identity, ik, ck))
}

// ---------------------------------------------------------------------------
// EAP-AKA'
// ---------------------------------------------------------------------------

/// CK'‖IK' = HMAC-SHA-256(CK‖IK, FC‖P0‖L0‖P1‖L1) with FC = 0x20, P0 = the
/// access network name, P1 = SQN⊕AK (3GPP TS 33.402 Annex A.2, RFC 9048
/// §3.3). CK' is the first half of the output, IK' the second.
///
/// # Errors
/// [`KeyError::NetworkNameTooLong`] when the name exceeds 65535 bytes (the
/// attribute AT_KDF_INPUT can carry at most 1017, so this never happens with
/// a name taken from the wire).
pub fn ck_ik_prime(
    ck: &Ck,
    ik: &Ik,
    network_name: &[u8],
    sqn_xor_ak: &[u8; 6],
) -> Result<(CkPrime, IkPrime), KeyError> {
    let l0 = u16::try_from(network_name.len())
        .map_err(|_| KeyError::NetworkNameTooLong(network_name.len()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    key[..16].copy_from_slice(ck.expose());
    key[16..].copy_from_slice(ik.expose());
    let mut mac = hmac_sha256(&key[..]);
    mac.update(&[0x20]);
    mac.update(network_name);
    mac.update(&l0.to_be_bytes());
    mac.update(sqn_xor_ak);
    mac.update(&[0x00, 0x06]);
    let out = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
    Ok((
        CkPrime::new(take(&out[..16])),
        IkPrime::new(take(&out[16..])),
    ))
}

/// The longest PRF' output: the block counter is one byte, so 255 blocks of 32 bytes.
pub const PRF_PRIME_MAX_LEN: usize = 255 * 32;

/// PRF' of RFC 9048 §3.4.1 (RFC 5448 §3.4.1): T1 = HMAC-SHA-256(K, S‖0x01),
/// Tn = HMAC-SHA-256(K, Tn-1‖S‖n); fills `out` with T1‖T2‖… truncated to
/// its length.
///
/// # Errors
/// [`KeyError::PrfOutputTooLong`] when `out` exceeds [`PRF_PRIME_MAX_LEN`];
/// `out` is then unchanged.
pub fn prf_prime(key: &[u8], s: &[u8], out: &mut [u8]) -> Result<(), KeyError> {
    if out.len() > PRF_PRIME_MAX_LEN {
        return Err(KeyError::PrfOutputTooLong(out.len()));
    }
    prf_prime_fill(key, s, out);
    Ok(())
}

/// PRF' for the fixed, short outputs of this module (≤ 208 bytes).
fn prf_prime_fill(key: &[u8], s: &[u8], out: &mut [u8]) {
    let base = hmac_sha256(key);
    let mut t = Zeroizing::new([0u8; 32]);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut mac = base.clone();
        if i > 0 {
            mac.update(&t[..]);
        }
        mac.update(s);
        // Callers keep out.len() ≤ 255 × 32, so i + 1 fits a byte.
        mac.update(&[(i + 1) as u8]);
        *t = mac.finalize().into_bytes().into();
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// Full EAP-AKA' key derivation (RFC 9048 §3.3): MK = PRF'(IK'‖CK',
/// "EAP-AKA'"‖Identity) split into K_encr (16), K_aut (32), K_re (32),
/// MSK (64), EMSK (64).
pub fn derive_aka_prime(identity: &[u8], ck_prime: &CkPrime, ik_prime: &IkPrime) -> Keys {
    let mut key = Zeroizing::new([0u8; 32]);
    key[..16].copy_from_slice(ik_prime.expose());
    key[16..].copy_from_slice(ck_prime.expose());
    let mut s = Zeroizing::new(Vec::with_capacity(8 + identity.len()));
    s.extend_from_slice(b"EAP-AKA'");
    s.extend_from_slice(identity);
    let mut mk = Zeroizing::new([0u8; 208]);
    prf_prime_fill(&key[..], &s, &mut mk[..]);
    Keys {
        k_encr: KEncr::new(take(&mk[0..16])),
        k_aut: KAut::AkaPrime(KAutAkaPrime::new(take(&mk[16..48]))),
        reauth: ReauthSecret::KRe(KRe::new(take(&mk[48..80]))),
        msk: Msk::new(take(&mk[80..144])),
        emsk: Emsk::new(take(&mk[144..208])),
    }
}

/// The whole EAP-AKA' derivation from the USIM's CK and IK: CK'/IK' with
/// [`ck_ik_prime`] (the network name from AT_KDF_INPUT, SQN⊕AK from AUTN),
/// then [`derive_aka_prime`].
///
/// # Errors
/// [`KeyError::NetworkNameTooLong`], see [`ck_ik_prime`].
pub fn derive_aka_prime_from_ck_ik(
    identity: &[u8],
    ck: &Ck,
    ik: &Ik,
    network_name: &[u8],
    sqn_xor_ak: &[u8; 6],
) -> Result<Keys, KeyError> {
    let (ck_prime, ik_prime) = ck_ik_prime(ck, ik, network_name, sqn_xor_ak)?;
    Ok(derive_aka_prime(identity, &ck_prime, &ik_prime))
}

/// Fast re-authentication keys (RFC 4187 §7 for EAP-AKA, RFC 9048 §3.5 for
/// EAP-AKA'); the method follows from `secret`.
///
/// - EAP-AKA: XKEY' = SHA1(Identity‖counter‖NONCE_S‖MK), MSK‖EMSK = PRF(XKEY').
/// - EAP-AKA': MK = PRF'(K_re, "EAP-AKA' re-auth"‖Identity‖counter‖NONCE_S),
///   MSK‖EMSK = MK[0..128].
///
/// `identity` is the fast re-authentication identity the peer used, `counter`
/// the AT_COUNTER value, `nonce_s` the server's AT_NONCE_S.
pub fn derive_reauth(
    secret: &ReauthSecret,
    identity: &[u8],
    counter: u16,
    nonce_s: &[u8; 16],
) -> ReauthKeys {
    let mut out = Zeroizing::new([0u8; 128]);
    match secret {
        ReauthSecret::Mk(mk) => {
            let mut h = Sha1::new();
            h.update(identity);
            h.update(counter.to_be_bytes());
            h.update(nonce_s);
            h.update(mk.expose());
            let mut digest = Zeroizing::new(sha1::digest::Output::<Sha1>::default());
            h.finalize_into(&mut digest);
            let xkey = Zeroizing::new(take::<20>(&digest[..]));
            fips186_2_prf(&xkey, &mut out[..]);
        }
        ReauthSecret::KRe(k_re) => {
            let mut s = Zeroizing::new(Vec::with_capacity(16 + identity.len() + 18));
            s.extend_from_slice(b"EAP-AKA' re-auth");
            s.extend_from_slice(identity);
            s.extend_from_slice(&counter.to_be_bytes());
            s.extend_from_slice(nonce_s);
            prf_prime_fill(k_re.expose(), &s, &mut out[..]);
        }
    }
    ReauthKeys {
        msk: Msk::new(take(&out[0..64])),
        emsk: Emsk::new(take(&out[64..128])),
    }
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; the error case does not exist for it.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Copies a slice whose length the caller fixed into an array (the slices
/// above are constant ranges of constant-size buffers).
fn take<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    #[test]
    fn fips_prf_nist_vector() {
        // FIPS 186-2 change notice 1 example (also hostap crypto_module_tests.c).
        let xkey: [u8; 20] = h("bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6");
        let mut out = [0u8; 40];
        fips186_2_prf(&xkey, &mut out);
        let want: [u8; 40] =
            h("2070b3223dba372fde1c0ffc7b2e3b498b2606143c6c18bacb0f6c55babb13788e20d737a3275116");
        assert_eq!(out, want);
        // A shorter output is a prefix of the longer one.
        let mut short = [0u8; 27];
        fips186_2_prf(&xkey, &mut short);
        assert_eq!(short[..], want[..27]);
    }

    #[test]
    fn fips_add_wraps_mod_2_160() {
        let mut x = [0xff; 20];
        fips_add(&mut x, &[0; 20]);
        assert_eq!(x, [0; 20]);
        let mut x = [0; 20];
        let mut w = [0; 20];
        w[19] = 0xff;
        fips_add(&mut x, &w);
        let mut want = [0; 20];
        want[18] = 1;
        assert_eq!(x, want);
    }

    #[test]
    fn prf_prime_blocks_chain() {
        // T2 depends on T1: the second 32 bytes differ from a fresh T1 with counter 2.
        let mut out = [0u8; 64];
        prf_prime(b"key", b"seed", &mut out).unwrap();
        let mut t1 = [0u8; 32];
        prf_prime(b"key", b"seed", &mut t1).unwrap();
        assert_eq!(out[..32], t1);
        assert_ne!(out[32..], t1);
        let mut max = vec![0u8; PRF_PRIME_MAX_LEN];
        prf_prime(b"key", b"seed", &mut max).unwrap();
        assert_eq!(max[..64], out);
        let mut too_long = vec![0u8; PRF_PRIME_MAX_LEN + 1];
        assert_eq!(
            prf_prime(b"key", b"seed", &mut too_long),
            Err(KeyError::PrfOutputTooLong(PRF_PRIME_MAX_LEN + 1))
        );
        assert!(too_long.iter().all(|&b| b == 0));
    }

    #[test]
    fn ck_ik_prime_rejects_huge_name() {
        let ck = Ck::new([1; 16]);
        let ik = Ik::new([2; 16]);
        let name = vec![b'a'; 65536];
        assert_eq!(
            ck_ik_prime(&ck, &ik, &name, &[0; 6]).unwrap_err(),
            KeyError::NetworkNameTooLong(65536)
        );
        assert!(ck_ik_prime(&ck, &ik, &name[..65535], &[0; 6]).is_ok());
    }

    #[test]
    fn reauth_depends_on_every_input() {
        let mk = ReauthSecret::Mk(Mk::new([9; 20]));
        let kre = ReauthSecret::KRe(KRe::new([9; 32]));
        for s in [&mk, &kre] {
            let a = derive_reauth(s, b"4id", 1, &[0; 16]);
            assert_ne!(a, derive_reauth(s, b"4ie", 1, &[0; 16]));
            assert_ne!(a, derive_reauth(s, b"4id", 2, &[0; 16]));
            assert_ne!(a, derive_reauth(s, b"4id", 1, &[1; 16]));
            assert_eq!(a, derive_reauth(s, b"4id", 1, &[0; 16]));
            assert_ne!(a.msk.expose()[..], a.emsk.expose()[..]);
        }
    }

    #[test]
    fn keys_debug_is_redacted() {
        let k = derive_aka(b"0001", &Ik::new([0x11; 16]), &Ck::new([0x22; 16]));
        let s = format!("{k:?}");
        assert!(s.contains("<redacted>"));
        assert_eq!(k.method(), Method::Aka);
        let hex: String = k.msk.expose()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!s.contains(&hex));
    }

    #[test]
    fn method_types() {
        assert_eq!(Method::from_eap_type(23), Some(Method::Aka));
        assert_eq!(Method::from_eap_type(50), Some(Method::AkaPrime));
        assert_eq!(Method::from_eap_type(18), None);
        assert_eq!(Method::AkaPrime.eap_type(), 50);
        assert_eq!(Method::AkaPrime.name(), "EAP-AKA'");
    }
}
