//! AT_MAC (RFC 4187 §10.15, RFC 9048 §3.3): HMAC-SHA1-128 with the 16-byte
//! EAP-AKA K_aut, HMAC-SHA-256-128 with the 32-byte EAP-AKA' K_aut, over the
//! whole EAP packet (header included) with the 16-byte AT_MAC value taken as
//! zero, followed by message-specific extra data.
//!
//! The functions here work on the encoded packet and the offset of the AT_MAC
//! *value* (the 16 bytes after the attribute's type, length and two reserved
//! bytes). The packet is never copied: the HMAC is fed the bytes before the
//! value, sixteen zero bytes, the bytes after it and `extra`.
//!
//! What `extra` is for each EAP-AKA/AKA' message that carries AT_MAC:
//!
//! | message                                     | sender | `extra`                               |
//! |---------------------------------------------|--------|---------------------------------------|
//! | EAP-Request/AKA-Challenge                   | server | nothing                               |
//! | EAP-Response/AKA-Challenge                  | peer   | nothing                               |
//! | EAP-Request/AKA-Reauthentication            | server | nothing                               |
//! | EAP-Response/AKA-Reauthentication           | peer   | NONCE_S (16 bytes) the server sent    |
//! | EAP-Request/AKA-Notification (P bit = 0)    | server | nothing                               |
//! | EAP-Response/AKA-Notification (P bit = 0)   | peer   | nothing                               |
//!
//! (RFC 4187 §9.4, §9.5, §9.7, §9.8, §9.10, §9.11; the EAP-SIM extras NONCE_MT
//! and n*SRES do not exist in EAP-AKA.) Synchronization-Failure,
//! Authentication-Reject, Client-Error and Identity messages carry no AT_MAC.

use crate::secret::KAut;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// Length of the AT_MAC value in bytes (both methods truncate to 128 bits).
pub const MAC_LEN: usize = 16;

/// `extra` for every message except the peer's re-authentication response.
pub const NO_EXTRA: &[u8] = &[];

/// The AT_MAC offset does not leave room for a 16-byte value inside the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AT_MAC value at offset {offset} does not fit in a {packet_len}-byte packet")]
pub struct MacOffsetError {
    /// The offset that was given.
    pub offset: usize,
    /// The packet length.
    pub packet_len: usize,
}

fn check(packet: &[u8], mac_offset: usize) -> Result<(), MacOffsetError> {
    match mac_offset.checked_add(MAC_LEN) {
        Some(end) if end <= packet.len() => Ok(()),
        _ => Err(MacOffsetError {
            offset: mac_offset,
            packet_len: packet.len(),
        }),
    }
}

/// Feeds packet-with-zeroed-MAC ‖ extra into `m`. The caller checked the offset.
fn feed<M: Mac>(mut m: M, packet: &[u8], mac_offset: usize, extra: &[u8]) -> M {
    m.update(&packet[..mac_offset]);
    m.update(&[0u8; MAC_LEN]);
    m.update(&packet[mac_offset + MAC_LEN..]);
    m.update(extra);
    m
}

fn new_mac<M: Mac + KeyInit>(key: &[u8]) -> M {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// The AT_MAC value for `packet` whose AT_MAC value starts at `mac_offset`,
/// followed by `extra` (see the module table). The 16 bytes at `mac_offset`
/// are treated as zero whatever they hold.
///
/// # Errors
/// [`MacOffsetError`] when `mac_offset + 16` exceeds the packet.
pub fn compute(
    k_aut: &KAut,
    packet: &[u8],
    mac_offset: usize,
    extra: &[u8],
) -> Result<[u8; MAC_LEN], MacOffsetError> {
    check(packet, mac_offset)?;
    let mut out = [0u8; MAC_LEN];
    match k_aut {
        KAut::Aka(k) => {
            let m = feed(new_mac::<Hmac<Sha1>>(k.expose()), packet, mac_offset, extra);
            out.copy_from_slice(&m.finalize().into_bytes()[..MAC_LEN]);
        }
        KAut::AkaPrime(k) => {
            let m = feed(
                new_mac::<Hmac<Sha256>>(k.expose()),
                packet,
                mac_offset,
                extra,
            );
            out.copy_from_slice(&m.finalize().into_bytes()[..MAC_LEN]);
        }
    }
    Ok(out)
}

/// Checks the AT_MAC value found at `mac_offset` in constant time. False for
/// a wrong MAC and for an offset outside the packet.
pub fn verify(k_aut: &KAut, packet: &[u8], mac_offset: usize, extra: &[u8]) -> bool {
    if check(packet, mac_offset).is_err() {
        return false;
    }
    let received = &packet[mac_offset..mac_offset + MAC_LEN];
    match k_aut {
        KAut::Aka(k) => feed(new_mac::<Hmac<Sha1>>(k.expose()), packet, mac_offset, extra)
            .verify_truncated_left(received)
            .is_ok(),
        KAut::AkaPrime(k) => feed(
            new_mac::<Hmac<Sha256>>(k.expose()),
            packet,
            mac_offset,
            extra,
        )
        .verify_truncated_left(received)
        .is_ok(),
    }
}

/// Computes the AT_MAC value and writes it into `packet` at `mac_offset`
/// (the encoder leaves it zeroed; any previous content is ignored).
///
/// # Errors
/// [`MacOffsetError`] when `mac_offset + 16` exceeds the packet; the packet is
/// then unchanged.
pub fn sign(
    k_aut: &KAut,
    packet: &mut [u8],
    mac_offset: usize,
    extra: &[u8],
) -> Result<(), MacOffsetError> {
    let mac = compute(k_aut, packet, mac_offset, extra)?;
    packet[mac_offset..mac_offset + MAC_LEN].copy_from_slice(&mac);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{KAutAka, KAutAkaPrime};

    fn aka() -> KAut {
        KAut::Aka(KAutAka::new([0x0b; 16]))
    }
    fn prime() -> KAut {
        KAut::AkaPrime(KAutAkaPrime::new([0x0b; 32]))
    }

    /// A 28-byte AKA-Challenge-shaped packet with AT_MAC (type 11, length 5) at 8.
    fn packet() -> Vec<u8> {
        let mut p = vec![1, 7, 0, 28, 50, 1, 0, 0, 11, 5, 0, 0];
        p.extend_from_slice(&[0u8; 16]);
        p
    }

    #[test]
    fn sign_then_verify_both_methods() {
        for k in [aka(), prime()] {
            let mut p = packet();
            sign(&k, &mut p, 12, NO_EXTRA).unwrap();
            assert_ne!(p[12..28], [0u8; 16]);
            assert!(verify(&k, &p, 12, NO_EXTRA));
            // compute ignores what sits in the MAC field.
            assert_eq!(compute(&k, &p, 12, NO_EXTRA).unwrap()[..], p[12..28]);
        }
    }

    #[test]
    fn any_change_fails() {
        for k in [aka(), prime()] {
            let mut p = packet();
            sign(&k, &mut p, 12, b"nonce_s_16_bytes").unwrap();
            assert!(verify(&k, &p, 12, b"nonce_s_16_bytes"));
            assert!(!verify(&k, &p, 12, NO_EXTRA));
            assert!(!verify(&k, &p, 12, b"nonce_s_16_bytez"));
            for i in 0..p.len() {
                let mut q = p.clone();
                q[i] ^= 0x01;
                assert!(!verify(&k, &q, 12, b"nonce_s_16_bytes"), "byte {i}");
            }
            let other = match k {
                KAut::Aka(_) => KAut::Aka(KAutAka::new([0x0c; 16])),
                KAut::AkaPrime(_) => KAut::AkaPrime(KAutAkaPrime::new([0x0c; 32])),
            };
            assert!(!verify(&other, &p, 12, b"nonce_s_16_bytes"));
        }
    }

    #[test]
    fn offsets_out_of_range_are_errors() {
        let mut p = packet();
        for off in [13, 28, 100, usize::MAX - 3, usize::MAX] {
            assert_eq!(
                compute(&aka(), &p, off, NO_EXTRA),
                Err(MacOffsetError {
                    offset: off,
                    packet_len: 28
                })
            );
            assert!(!verify(&prime(), &p, off, NO_EXTRA));
            let before = p.clone();
            assert!(sign(&prime(), &mut p, off, NO_EXTRA).is_err());
            assert_eq!(p, before);
        }
        assert!(compute(&aka(), &[], 0, NO_EXTRA).is_err());
        assert!(compute(&aka(), &[0; 16], 0, NO_EXTRA).is_ok());
    }
}
