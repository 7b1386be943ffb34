//! Secret key material: zeroized on drop, never printed.
//!
//! Every key of the protocol (K, OPc, CK, IK, Kc, CK', IK', MK, K_encr, K_aut,
//! K_re, MSK, EMSK) is one of these newtypes. `Debug` prints only the type
//! name, equality is constant-time, and the bytes are wiped when the value is
//! dropped. Reach the bytes with [`expose`](Ck::expose) only where they are
//! fed into a computation.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

macro_rules! fixed_secret {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length of the key in bytes.
            pub const LEN: usize = $len;

            /// Wraps key bytes.
            pub const fn new(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Copies key bytes from a slice; `None` when the length is not [`Self::LEN`].
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(bytes).ok().map(Self)
            }

            /// The key bytes, for feeding into a computation. Never log them.
            pub fn expose(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }

        impl Eq for $name {}
    };
}

fixed_secret!(
    /// K, the subscriber's 128-bit long-term key (3GPP TS 33.102 §6.3).
    K,
    16
);
fixed_secret!(
    /// OPc, the operator variant key already combined with K (3GPP TS 35.206).
    Opc,
    16
);
fixed_secret!(
    /// CK, the cipher key from f3 (3GPP TS 33.102 §6.3).
    Ck,
    16
);
fixed_secret!(
    /// IK, the integrity key from f4 (3GPP TS 33.102 §6.3).
    Ik,
    16
);
fixed_secret!(
    /// Kc, the 64-bit GSM cipher key of a triplet (3GPP TS 43.020; from a
    /// USIM through c3, TS 33.102 §6.8.1.2). EAP-SIM hashes n of them into MK
    /// (RFC 4186 §7).
    Kc,
    8
);
fixed_secret!(
    /// CK', the EAP-AKA' cipher key bound to the access network name (RFC 9048 §3.3).
    CkPrime,
    16
);
fixed_secret!(
    /// IK', the EAP-AKA' integrity key bound to the access network name (RFC 9048 §3.3).
    IkPrime,
    16
);
fixed_secret!(
    /// MK, the EAP-AKA master key SHA1(Identity‖IK‖CK) (RFC 4187 §7), or the
    /// EAP-SIM one SHA1(Identity‖n*Kc‖NONCE_MT‖Version List‖Selected Version)
    /// (RFC 4186 §7).
    Mk,
    20
);
fixed_secret!(
    /// K_encr, the AES-128 key of AT_ENCR_DATA (RFC 4187 §7, RFC 9048 §3.3).
    KEncr,
    16
);
fixed_secret!(
    /// K_re, the EAP-AKA' fast re-authentication key (RFC 9048 §3.3).
    KRe,
    32
);
fixed_secret!(
    /// MSK, the 64-byte Master Session Key exported to the authenticator (RFC 3748 §7.10).
    Msk,
    64
);
fixed_secret!(
    /// EMSK, the 64-byte Extended Master Session Key (RFC 5247).
    Emsk,
    64
);

/// K_aut, the AT_MAC key: 16 bytes for EAP-AKA (RFC 4187 §7), 32 bytes for
/// EAP-AKA' (RFC 9048 §3.3).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub enum KAut {
    /// EAP-AKA K_aut (HMAC-SHA1-128).
    Aka(KAutAka),
    /// EAP-AKA' K_aut (HMAC-SHA-256-128).
    AkaPrime(KAutAkaPrime),
}

fixed_secret!(
    /// The 16-byte EAP-AKA K_aut.
    KAutAka,
    16
);
fixed_secret!(
    /// The 32-byte EAP-AKA' K_aut.
    KAutAkaPrime,
    32
);

impl KAut {
    /// The key bytes (16 or 32), for feeding into HMAC. Never log them.
    pub fn expose(&self) -> &[u8] {
        match self {
            KAut::Aka(k) => k.expose(),
            KAut::AkaPrime(k) => k.expose(),
        }
    }
}

impl core::fmt::Debug for KAut {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KAut(<redacted>)")
    }
}

/// A secret of any length (a RADIUS shared secret, a PIN): zeroized on drop,
/// redacted in `Debug`, compared in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of the secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for SecretBytes {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl core::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = K::new([0x42; 16]);
        let s = format!("{k:?}");
        assert_eq!(s, "K(<redacted>)");
        assert!(!s.contains("42"));
        let a = KAut::AkaPrime(KAutAkaPrime::new([7; 32]));
        assert_eq!(format!("{a:?}"), "KAut(<redacted>)");
        assert_eq!(
            format!("{:?}", SecretBytes::from("hunter2")),
            "SecretBytes(<redacted>)"
        );
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(Ck::from_slice(&[0; 15]).is_none());
        assert!(Ck::from_slice(&[0; 17]).is_none());
        assert_eq!(Ck::from_slice(&[1; 16]), Some(Ck::new([1; 16])));
    }

    #[test]
    fn equality() {
        assert_eq!(Msk::new([3; 64]), Msk::new([3; 64]));
        assert_ne!(Msk::new([3; 64]), Msk::new([4; 64]));
        assert_ne!(SecretBytes::from("a"), SecretBytes::from("ab"));
    }
}
