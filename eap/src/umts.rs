//! UMTS AKA (3GPP TS 33.102 §6.3) with Milenage (3GPP TS 35.206): the
//! authentication vector the HSS makes, the check the USIM runs on AUTN, and
//! the resynchronisation token AUTS.
//!
//! Both sides of the protocol use this module — the HSS stub of the AAA server
//! and the USIM simulator of the supplicant — so AUTN and AUTS are assembled
//! and checked in exactly one place. The f1…f5* functions come from the
//! `milenage` crate; that crate keeps K in a plain struct with a `Debug` that
//! prints it, so a `Milenage` value is built per computation, never stored,
//! never printed, and overwritten before it goes out of scope.

use crate::secret::{Ck, Ik, K, Opc};
use milenage::Milenage;
use subtle::ConstantTimeEq;

/// Sequence number SQN, 48 bits (3GPP TS 33.102 §6.3.2), structured as
/// SEQ‖IND with a 5-bit IND (Annex C.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sqn(u64);

impl Sqn {
    /// Number of IND bits (3GPP TS 33.102 Annex C.3.4 recommends 5).
    pub const IND_BITS: u32 = 5;
    /// The largest SQN value (2^48 − 1).
    pub const MAX: u64 = (1 << 48) - 1;

    /// An SQN from its integer value; `None` above 2^48 − 1.
    pub const fn new(value: u64) -> Option<Self> {
        if value > Self::MAX {
            None
        } else {
            Some(Self(value))
        }
    }

    /// SQN from SEQ and IND (IND is taken modulo 2^5, SEQ modulo 2^43).
    pub const fn from_seq_ind(seq: u64, ind: u8) -> Self {
        let ind_mask = (1u64 << Self::IND_BITS) - 1;
        Self(((seq << Self::IND_BITS) | (ind as u64 & ind_mask)) & Self::MAX)
    }

    /// The 6-byte big-endian encoding used in AUTN and AUTS.
    pub fn to_bytes(self) -> [u8; 6] {
        let b = self.0.to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }

    /// SQN from its 6-byte big-endian encoding.
    pub fn from_bytes(b: [u8; 6]) -> Self {
        Self(u64::from_be_bytes([
            0, 0, b[0], b[1], b[2], b[3], b[4], b[5],
        ]))
    }

    /// The integer value.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// SEQ, the high 43 bits.
    pub const fn seq(self) -> u64 {
        self.0 >> Self::IND_BITS
    }

    /// IND, the low 5 bits.
    pub const fn ind(self) -> u8 {
        (self.0 & ((1 << Self::IND_BITS) - 1)) as u8
    }
}

/// Authentication Management Field (3GPP TS 33.102 Annex F).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Amf(pub [u8; 2]);

impl Amf {
    /// The "separation bit" (bit 0 of AMF, 0x8000) that EAP-AKA' vectors must carry
    /// (3GPP TS 33.401 Annex H, RFC 9048 §3).
    pub const SEPARATION_BIT: u16 = 0x8000;
    /// The AMF value used in resynchronisation: MAC-S is computed with AMF = 0000 (TS 33.102 §6.3.3).
    pub const RESYNC: Amf = Amf([0, 0]);

    /// AMF as a 16-bit integer.
    pub const fn value(self) -> u16 {
        u16::from_be_bytes(self.0)
    }

    /// True when the separation bit is set.
    pub const fn separation_bit(self) -> bool {
        self.value() & Self::SEPARATION_BIT != 0
    }

    /// This AMF with the separation bit set.
    pub const fn with_separation_bit(self) -> Self {
        Amf((self.value() | Self::SEPARATION_BIT).to_be_bytes())
    }
}

/// AUTN = SQN⊕AK ‖ AMF ‖ MAC-A (3GPP TS 33.102 §6.3.2), 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Autn(pub [u8; 16]);

impl Autn {
    /// SQN⊕AK, the concealed sequence number (also the input of CK'/IK', RFC 9048 §3.3).
    pub fn sqn_xor_ak(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        out.copy_from_slice(&self.0[0..6]);
        out
    }

    /// The AMF carried in AUTN.
    pub fn amf(&self) -> Amf {
        Amf([self.0[6], self.0[7]])
    }

    /// MAC-A.
    pub fn mac_a(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&self.0[8..16]);
        out
    }
}

/// AUTS = SQN_MS⊕AK* ‖ MAC-S (3GPP TS 33.102 §6.3.3), 14 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Auts(pub [u8; 14]);

/// RES / XRES as produced by f2: Milenage gives 64 bits; the type allows 4–16 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Res {
    bytes: [u8; 16],
    len: u8,
}

impl Res {
    /// RES from 4 to 16 bytes; `None` for any other length (3GPP TS 33.102 §6.3.2).
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if !(4..=16).contains(&bytes.len()) {
            return None;
        }
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            bytes: b,
            len: bytes.len() as u8,
        })
    }

    /// The 64-bit RES that Milenage's f2 yields.
    pub fn from_f2(res: [u8; 8]) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&res);
        Self { bytes, len: 8 }
    }

    /// The RES bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Constant-time comparison of RES against XRES (lengths are not secret).
    pub fn ct_eq(&self, other: &Res) -> bool {
        self.len == other.len && bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }
}

impl core::fmt::Debug for Res {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Res({} bytes)", self.len)
    }
}

/// One UMTS authentication vector (RAND, XRES, CK, IK, AUTN), TS 33.102 §6.3.2.
#[derive(Clone, Debug)]
pub struct AuthVector {
    /// The random challenge.
    pub rand: [u8; 16],
    /// The network authentication token.
    pub autn: Autn,
    /// The expected response.
    pub xres: Res,
    /// The cipher key.
    pub ck: Ck,
    /// The integrity key.
    pub ik: Ik,
}

/// What the USIM returns for a RAND/AUTN whose MAC-A is correct (TS 33.102 §6.3.3).
#[derive(Clone, Debug)]
pub struct UsimResult {
    /// The SQN recovered from AUTN; the caller checks its freshness (Annex C).
    pub sqn: Sqn,
    /// The AMF from AUTN.
    pub amf: Amf,
    /// RES.
    pub res: Res,
    /// CK.
    pub ck: Ck,
    /// IK.
    pub ik: Ik,
}

/// MAC-A in AUTN (or MAC-S in AUTS) does not match: the token was not made with this K/OPc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} does not verify (wrong K/OPc or tampered token)")]
pub struct MacFailure(pub &'static str);

/// The subscriber's long-term keys, K and OPc: what the HSS and the USIM share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriberKeys {
    /// K.
    pub k: K,
    /// OPc.
    pub opc: Opc,
}

/// Runs `f` with a Milenage instance for `keys` and overwrites the instance
/// (which holds a copy of K) before returning. Also used by GSM-Milenage
/// (`crate::gsm`).
pub(crate) fn with_milenage<T>(keys: &SubscriberKeys, f: impl FnOnce(&mut Milenage) -> T) -> T {
    let mut m = Milenage::new_with_opc(*keys.k.expose(), *keys.opc.expose());
    let out = f(&mut m);
    // The crate offers no zeroize; overwrite the value in place and keep the
    // store from being optimised out.
    m = Milenage::new_with_opc([0; 16], [0; 16]);
    core::hint::black_box(&m);
    out
}

fn xor6(a: [u8; 6], b: &[u8; 6]) -> [u8; 6] {
    let mut out = a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}

impl SubscriberKeys {
    /// Builds the keys.
    pub fn new(k: K, opc: Opc) -> Self {
        Self { k, opc }
    }

    /// HSS side: the authentication vector for `sqn`, `amf` and `rand`
    /// (TS 33.102 §6.3.2, Figure 8). The caller picks RAND from a secure RNG and
    /// makes sure `sqn` was committed before the vector leaves.
    pub fn generate_vector(&self, sqn: Sqn, amf: Amf, rand: [u8; 16]) -> AuthVector {
        with_milenage(self, |m| {
            let mac_a = m.f1(&rand, &sqn.to_bytes(), &amf.0);
            let (res, ck, ik, ak) = m.f2345(&rand);
            let mut autn = [0u8; 16];
            autn[0..6].copy_from_slice(&xor6(sqn.to_bytes(), &ak));
            autn[6..8].copy_from_slice(&amf.0);
            autn[8..16].copy_from_slice(&mac_a);
            AuthVector {
                rand,
                autn: Autn(autn),
                xres: Res::from_f2(res),
                ck: Ck::new(ck),
                ik: Ik::new(ik),
            }
        })
    }

    /// USIM side: checks MAC-A in AUTN and computes RES, CK, IK
    /// (TS 33.102 §6.3.3). SQN freshness is the caller's check.
    pub fn authenticate(&self, rand: &[u8; 16], autn: &Autn) -> Result<UsimResult, MacFailure> {
        with_milenage(self, |m| {
            let (res, ck, ik, ak) = m.f2345(rand);
            let sqn = xor6(autn.sqn_xor_ak(), &ak);
            let amf = autn.amf();
            let xmac = m.f1(rand, &sqn, &amf.0);
            if !bool::from(xmac.ct_eq(&autn.mac_a())) {
                return Err(MacFailure("MAC-A"));
            }
            Ok(UsimResult {
                sqn: Sqn::from_bytes(sqn),
                amf,
                res: Res::from_f2(res),
                ck: Ck::new(ck),
                ik: Ik::new(ik),
            })
        })
    }

    /// USIM side: AUTS for a synchronisation failure, carrying the USIM's
    /// highest accepted SQN_MS (TS 33.102 §6.3.3: MAC-S = f1*(SQN_MS, RAND, AMF=0000)).
    pub fn auts(&self, rand: &[u8; 16], sqn_ms: Sqn) -> Auts {
        with_milenage(self, |m| {
            let mac_s = m.f1star(rand, &sqn_ms.to_bytes(), &Amf::RESYNC.0);
            let ak_star = m.f5star(rand);
            let mut auts = [0u8; 14];
            auts[0..6].copy_from_slice(&xor6(sqn_ms.to_bytes(), &ak_star));
            auts[6..14].copy_from_slice(&mac_s);
            Auts(auts)
        })
    }

    /// HSS side: verifies MAC-S in AUTS and recovers SQN_MS (TS 33.102 §6.3.5).
    pub fn resync(&self, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, MacFailure> {
        with_milenage(self, |m| {
            let ak_star = m.f5star(rand);
            let mut concealed = [0u8; 6];
            concealed.copy_from_slice(&auts.0[0..6]);
            let sqn_ms = xor6(concealed, &ak_star);
            let xmac_s = m.f1star(rand, &sqn_ms, &Amf::RESYNC.0);
            if !bool::from(xmac_s.ct_eq(&auts.0[6..14])) {
                return Err(MacFailure("MAC-S"));
            }
            Ok(Sqn::from_bytes(sqn_ms))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect();
        v.try_into().expect("length")
    }

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/vectors/milenage.json"
        );
        let text =
            std::fs::read_to_string(path).expect("testdata/vectors/milenage.json must exist");
        serde_json::from_str(&text).expect("milenage.json parses")
    }

    #[test]
    fn milenage_vectors_through_vector_and_usim() {
        let v = vectors();
        let sets = v["sets"].as_array().expect("sets");
        let mut checked = 0;
        for set in sets {
            let (Some(k), Some(opc), Some(f1)) =
                (set["K"].as_str(), set["OPc"].as_str(), set["f1"].as_str())
            else {
                continue; // GSM-only sets
            };
            let keys = SubscriberKeys::new(K::new(h(k)), Opc::new(h(opc)));
            let rand: [u8; 16] = h(set["RAND"].as_str().expect("RAND"));
            let sqn = Sqn::from_bytes(h(set["SQN"].as_str().expect("SQN")));
            let amf = Amf(h(set["AMF"].as_str().expect("AMF")));
            let av = keys.generate_vector(sqn, amf, rand);
            assert_eq!(av.autn.mac_a(), h::<8>(f1), "f1 of {}", set["id"]);
            assert_eq!(av.xres.as_bytes(), &h::<8>(set["f2"].as_str().expect("f2")));
            assert_eq!(av.ck.expose(), &h::<16>(set["f3"].as_str().expect("f3")));
            assert_eq!(av.ik.expose(), &h::<16>(set["f4"].as_str().expect("f4")));
            let ak: [u8; 6] = h(set["f5"].as_str().expect("f5"));
            assert_eq!(av.autn.sqn_xor_ak(), xor6(sqn.to_bytes(), &ak));

            let usim = keys.authenticate(&rand, &av.autn).expect("MAC-A verifies");
            assert_eq!(usim.sqn, sqn);
            assert!(usim.res.ct_eq(&av.xres));

            // f1* and f5* through AUTS: MAC-S is over AMF 0000, so compare with
            // the vector only through a round trip, and f5* directly.
            let auts = keys.auts(&rand, sqn);
            let ak_star: [u8; 6] = h(set["f5star"].as_str().expect("f5star"));
            assert_eq!(&auts.0[0..6], &xor6(sqn.to_bytes(), &ak_star));
            assert_eq!(keys.resync(&rand, &auts), Ok(sqn));
            checked += 1;
        }
        assert!(
            checked >= 3,
            "expected several Milenage sets, checked {checked}"
        );
    }

    #[test]
    fn wrong_key_is_mac_failure() {
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let other = SubscriberKeys::new(K::new([3; 16]), Opc::new([2; 16]));
        let av = keys.generate_vector(Sqn::from_seq_ind(5, 0), Amf([0x80, 0]), [9; 16]);
        assert_eq!(
            other.authenticate(&av.rand, &av.autn).map(|_| ()),
            Err(MacFailure("MAC-A"))
        );
        let mut auts = keys.auts(&av.rand, Sqn::from_seq_ind(9, 1));
        auts.0[13] ^= 1;
        assert_eq!(keys.resync(&av.rand, &auts), Err(MacFailure("MAC-S")));
    }

    #[test]
    fn sqn_structure() {
        let s = Sqn::from_seq_ind(3, 31);
        assert_eq!(s.value(), 3 * 32 + 31);
        assert_eq!((s.seq(), s.ind()), (3, 31));
        assert_eq!(Sqn::from_bytes(s.to_bytes()), s);
        assert_eq!(Sqn::new(1 << 48), None);
        assert!(Amf([0x80, 0]).separation_bit());
        assert_eq!(Amf([0, 1]).with_separation_bit(), Amf([0x80, 1]));
    }
}
