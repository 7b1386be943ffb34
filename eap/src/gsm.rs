//! GSM authentication from a USIM: the triplet (RAND, SRES, Kc) that EAP-SIM
//! (RFC 4186) consumes, computed from the UMTS quintet through the conversion
//! functions of 3GPP TS 33.102 §6.8.1.2, and GSM-Milenage (3GPP TS 55.205),
//! which is Milenage followed by the same conversions.
//!
//! - c2: SRES = XRES*₀ ⊕ XRES*₁ ⊕ XRES*₂ ⊕ XRES*₃, the four 32-bit words of
//!   XRES zero-padded to 128 bits (for Milenage's 64-bit RES:
//!   SRES = RES[0..4] ⊕ RES[4..8]).
//! - c3: Kc = CK[0..8] ⊕ CK[8..16] ⊕ IK[0..8] ⊕ IK[8..16].
//!
//! This is the single implementation for the AAA server's HLR side, the
//! USIM simulator and the tests; it matches what hostapd's hlr_auc_gw and
//! wpa_supplicant compute (their `gsm_milenage`).

use crate::secret::{Ck, Ik, Kc};
use crate::umts::{Res, SubscriberKeys, with_milenage};
use subtle::ConstantTimeEq;

/// SRES, the 32-bit GSM signed response (3GPP TS 43.020). EAP-SIM never sends
/// it; it feeds the AT_MAC of the Challenge response (RFC 4186 §9.4).
/// `Debug` does not print it; equality is constant-time.
#[derive(Clone, Copy)]
pub struct Sres(pub [u8; 4]);

impl Sres {
    /// The four SRES bytes.
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
}

impl PartialEq for Sres {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Sres {}

impl core::fmt::Debug for Sres {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sres(<redacted>)")
    }
}

/// One GSM authentication triplet (RAND, SRES, Kc); EAP-SIM uses two or
/// three per full authentication (RFC 4186 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triplet {
    /// The 128-bit random challenge.
    pub rand: [u8; 16],
    /// The signed response.
    pub sres: Sres,
    /// The cipher key.
    pub kc: Kc,
}

/// c2 of 3GPP TS 33.102 §6.8.1.2: SRES from a UMTS RES (4 to 16 bytes),
/// XOR of the four 32-bit words of RES zero-padded to 128 bits.
pub fn c2(res: &Res) -> Sres {
    let mut padded = [0u8; 16];
    let r = res.as_bytes();
    padded[..r.len()].copy_from_slice(r);
    let mut sres = [0u8; 4];
    for word in padded.chunks_exact(4) {
        for (s, b) in sres.iter_mut().zip(word) {
            *s ^= b;
        }
    }
    Sres(sres)
}

/// c3 of 3GPP TS 33.102 §6.8.1.2: Kc = CK₁ ⊕ CK₂ ⊕ IK₁ ⊕ IK₂, the 64-bit
/// halves of CK and IK.
pub fn c3(ck: &Ck, ik: &Ik) -> Kc {
    let (ck, ik) = (ck.expose(), ik.expose());
    let mut kc = [0u8; 8];
    for (i, k) in kc.iter_mut().enumerate() {
        *k = ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8];
    }
    let out = Kc::new(kc);
    zeroize::Zeroize::zeroize(&mut kc);
    out
}

impl SubscriberKeys {
    /// GSM-Milenage (3GPP TS 55.205): the triplet for `rand`, from Milenage's
    /// RES, CK and IK (f2, f3, f4 of TS 35.206) through [`c2`] and [`c3`].
    /// Both the HLR side and the USIM simulator call this.
    pub fn gsm_triplet(&self, rand: [u8; 16]) -> Triplet {
        with_milenage(self, |m| {
            let (res, ck, ik, _ak) = m.f2345(&rand);
            let (ck, ik) = (Ck::new(ck), Ik::new(ik));
            Triplet {
                rand,
                sres: c2(&Res::from_f2(res)),
                kc: c3(&ck, &ik),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{K, Opc};

    #[test]
    fn c2_folds_padded_res() {
        // 8-byte RES: the two words XORed (the shape hostapd documents).
        let res = Res::new(&[1, 2, 3, 4, 0x10, 0x20, 0x30, 0x40]).unwrap();
        assert_eq!(c2(&res).0, [0x11, 0x22, 0x33, 0x44]);
        // 4 bytes: SRES = RES; 6 bytes: the second word is zero-padded.
        let res4 = Res::new(&[9, 8, 7, 6]).unwrap();
        assert_eq!(c2(&res4).0, [9, 8, 7, 6]);
        let res6 = Res::new(&[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(c2(&res6).0, [1 ^ 5, 2 ^ 6, 3, 4]);
        // 16 bytes: all four words.
        let res16 = Res::new(&[1; 16]).unwrap();
        assert_eq!(c2(&res16).0, [0; 4]);
    }

    #[test]
    fn c3_folds_ck_and_ik() {
        let ck: [u8; 16] = core::array::from_fn(|i| i as u8);
        let ik: [u8; 16] = core::array::from_fn(|i| 0xf0 | i as u8);
        let kc = c3(&Ck::new(ck), &Ik::new(ik));
        let want: [u8; 8] = core::array::from_fn(|i| ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8]);
        assert_eq!(kc.expose(), &want);
        // CK = IK cancels out.
        assert_eq!(c3(&Ck::new(ck), &Ik::new(ck)).expose(), &[0; 8]);
    }

    #[test]
    fn triplet_is_c2_c3_of_the_quintet() {
        let keys = SubscriberKeys::new(K::new([0x42; 16]), Opc::new([0x17; 16]));
        let rand = [0x5a; 16];
        let t = keys.gsm_triplet(rand);
        let av = keys.generate_vector(crate::umts::Sqn::default(), crate::umts::Amf([0, 0]), rand);
        assert_eq!(t.rand, rand);
        assert_eq!(t.sres, c2(&av.xres));
        assert_eq!(t.kc, c3(&av.ck, &av.ik));
        assert_ne!(keys.gsm_triplet([0x5b; 16]).sres, t.sres);
    }

    #[test]
    fn debug_is_redacted() {
        let s = format!("{:?}", Sres([0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(s, "Sres(<redacted>)");
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let t = format!("{:?}", keys.gsm_triplet([3; 16]));
        assert!(t.contains("Kc(<redacted>)") && t.contains("Sres(<redacted>)"));
    }
}
