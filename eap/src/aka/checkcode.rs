//! AT_CHECKCODE (RFC 4187 §10.13, RFC 9048 §3.2): a hash over every
//! EAP-Request/AKA-Identity and EAP-Response/AKA-Identity packet of the
//! exchange — whole EAP packets, header included, in the order they were sent
//! — that protects the identity round, which carries no AT_MAC.
//!
//! SHA-1 (20 bytes) for EAP-AKA, SHA-256 (32 bytes) for EAP-AKA'. When there
//! was no identity round the value is empty (AT_CHECKCODE with length 1).
//!
//! Each side keeps a [`CheckcodeHash`], feeds it the identity packets as it sends
//! and receives them, puts [`CheckcodeHash::wire_value`] into its AT_CHECKCODE and
//! checks the other side's with [`CheckcodeHash::verify`].

use super::attr;
use super::keys::Method;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone)]
enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

/// The running AT_CHECKCODE hash of one exchange.
#[derive(Clone)]
pub struct CheckcodeHash {
    method: Method,
    hasher: Hasher,
    packets: usize,
}

impl core::fmt::Debug for CheckcodeHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CheckcodeHash")
            .field("method", &self.method)
            .field("packets", &self.packets)
            .finish()
    }
}

impl CheckcodeHash {
    /// An empty accumulator for `method` (no identity packet seen yet).
    pub fn new(method: Method) -> Self {
        let hasher = match method {
            Method::Aka => Hasher::Sha1(Sha1::new()),
            Method::AkaPrime => Hasher::Sha256(Sha256::new()),
        };
        Self {
            method,
            hasher,
            packets: 0,
        }
    }

    /// The method this checkcode is computed for.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The digest length when there was an identity round: 20 (SHA-1) or 32 (SHA-256).
    pub fn digest_len(&self) -> usize {
        match self.method {
            Method::Aka => 20,
            Method::AkaPrime => 32,
        }
    }

    /// Adds one whole EAP-Request/AKA-Identity or EAP-Response/AKA-Identity
    /// packet (exactly the Length bytes of the EAP packet, as sent or received).
    pub fn update(&mut self, eap_packet: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha1(h) => h.update(eap_packet),
            Hasher::Sha256(h) => h.update(eap_packet),
        }
        self.packets += 1;
    }

    /// How many identity packets were added.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// The checkcode: `None` when there was no identity round (AT_CHECKCODE
    /// then has an empty value), else the 20- or 32-byte digest.
    pub fn value(&self) -> Option<Vec<u8>> {
        if self.packets == 0 {
            return None;
        }
        Some(match &self.hasher {
            Hasher::Sha1(h) => h.clone().finalize().to_vec(),
            Hasher::Sha256(h) => h.clone().finalize().to_vec(),
        })
    }

    /// The AT_CHECKCODE value as it goes on the wire: empty when there was no
    /// identity round, else the digest.
    pub fn wire_value(&self) -> Vec<u8> {
        self.value().unwrap_or_default()
    }

    /// The value as the codec's AT_CHECKCODE type.
    pub fn to_attr(&self) -> attr::Checkcode {
        let Some(v) = self.value() else {
            return attr::Checkcode::Empty;
        };
        match self.method {
            Method::Aka => attr::Checkcode::Sha1(copy_array(&v)),
            Method::AkaPrime => attr::Checkcode::Sha256(copy_array(&v)),
        }
    }

    /// [`CheckcodeHash::verify`] for a decoded AT_CHECKCODE.
    pub fn verify_attr(&self, received: &attr::Checkcode) -> bool {
        self.verify(received.as_bytes())
    }

    /// Compares a received AT_CHECKCODE value with ours in constant time
    /// (lengths are not secret). An empty value matches only when there was
    /// no identity round; a value of the other method's length never matches.
    pub fn verify(&self, received: &[u8]) -> bool {
        let ours = self.wire_value();
        ours.len() == received.len() && bool::from(ours.ct_eq(received))
    }
}

/// Copies a digest whose length the method fixed (20 or 32) into an array.
fn copy_array<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_without_identity_round() {
        for m in [Method::Aka, Method::AkaPrime] {
            let c = CheckcodeHash::new(m);
            assert_eq!(c.value(), None);
            assert!(c.wire_value().is_empty());
            assert!(c.verify(&[]));
            assert!(!c.verify(&[0; 20]));
            assert!(!c.verify(&[0; 32]));
        }
    }

    #[test]
    fn lengths_and_order() {
        let mut a = CheckcodeHash::new(Method::Aka);
        let mut p = CheckcodeHash::new(Method::AkaPrime);
        for c in [&mut a, &mut p] {
            c.update(b"request");
            c.update(b"response");
        }
        assert_eq!(a.value().unwrap().len(), 20);
        assert_eq!(p.value().unwrap().len(), 32);
        assert_eq!(a.packets(), 2);
        let mut swapped = CheckcodeHash::new(Method::Aka);
        swapped.update(b"response");
        swapped.update(b"request");
        assert_ne!(swapped.value(), a.value());
        // Concatenation is what is hashed: packet boundaries do not matter.
        let mut joined = CheckcodeHash::new(Method::Aka);
        joined.update(b"requestresponse");
        assert_eq!(joined.value(), a.value());
        assert!(a.verify(&a.wire_value()));
        assert!(!a.verify(&[]));
        let mut bad = a.wire_value();
        bad[19] ^= 1;
        assert!(!a.verify(&bad));
        assert_eq!(
            format!("{a:?}"),
            "CheckcodeHash { method: Aka, packets: 2 }"
        );
        assert!(matches!(a.to_attr(), attr::Checkcode::Sha1(_)));
        assert!(matches!(p.to_attr(), attr::Checkcode::Sha256(_)));
        assert_eq!(a.to_attr().as_bytes(), &a.wire_value()[..]);
        assert!(a.verify_attr(&a.to_attr()));
        assert!(!a.verify_attr(&p.to_attr()));
        assert!(!a.verify_attr(&attr::Checkcode::Empty));
        let none = CheckcodeHash::new(Method::AkaPrime);
        assert_eq!(none.to_attr(), attr::Checkcode::Empty);
        assert!(none.verify_attr(&attr::Checkcode::Empty));
    }
}
