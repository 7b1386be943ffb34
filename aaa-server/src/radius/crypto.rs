//! The RADIUS cryptography the `radius` crate does not do: Message-Authenticator
//! (RFC 3579 §3.2, HMAC-MD5), the Response Authenticator over a response whose
//! Message-Authenticator is filled in (RFC 2865 §3), and the MS-MPPE-Send/Recv-Key
//! salt encryption (RFC 2548 §2.4.2–2.4.3).

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// RADIUS attribute type of Message-Authenticator (RFC 3579 §3.2).
pub const MESSAGE_AUTHENTICATOR: u8 = 80;
/// RADIUS attribute type of Vendor-Specific (RFC 2865 §5.26).
pub const VENDOR_SPECIFIC: u8 = 26;
/// Microsoft's SMI enterprise number (RFC 2548 §2).
pub const VENDOR_MICROSOFT: u32 = 311;
/// MS-MPPE-Send-Key vendor type (RFC 2548 §2.4.2).
pub const MS_MPPE_SEND_KEY: u8 = 16;
/// MS-MPPE-Recv-Key vendor type (RFC 2548 §2.4.3).
pub const MS_MPPE_RECV_KEY: u8 = 17;

/// Result of looking for and checking a request's Message-Authenticator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaCheck {
    /// No Message-Authenticator attribute.
    Missing,
    /// Present and correct.
    Valid,
    /// Present but wrong, of the wrong length, or present twice.
    Invalid,
}

/// HMAC-MD5 keyed with a client's shared secret. Keying costs two MD5
/// blocks; the server keys once per client and clones the state per packet.
pub type KeyedMac = Hmac<Md5>;

/// HMAC-MD5 keyed with `secret`.
pub fn hmac_md5(secret: &[u8]) -> KeyedMac {
    match <Hmac<Md5> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// Checks the Message-Authenticator of a request (`packet` is exactly Length
/// bytes). With `zero_authenticator` the HMAC is taken with the
/// Authenticator field as sixteen zeros (Accounting-Request as FreeRADIUS and
/// RFC 5176 do); otherwise over the packet as received.
pub fn check_request(packet: &[u8], secret: &[u8], zero_authenticator: bool) -> MaCheck {
    check_request_keyed(packet, &hmac_md5(secret), zero_authenticator)
}

/// [`check_request`] with a pre-keyed HMAC ([`hmac_md5`] of the secret).
pub fn check_request_keyed(packet: &[u8], keyed: &KeyedMac, zero_authenticator: bool) -> MaCheck {
    // One pass over the attributes, no allocation: where the one
    // Message-Authenticator is.
    let mut found = None;
    let mut i = 20;
    while i < packet.len() {
        let (Some(&t), Some(&l)) = (packet.get(i), packet.get(i + 1)) else {
            return MaCheck::Invalid;
        };
        let l = usize::from(l);
        if l < 2 || i + l > packet.len() {
            return MaCheck::Invalid;
        }
        if t == MESSAGE_AUTHENTICATOR {
            if found.is_some() {
                return MaCheck::Invalid;
            }
            found = Some((i, l));
        }
        i += l;
    }
    let Some((start, len)) = found else {
        return MaCheck::Missing;
    };
    if len != 18 {
        return MaCheck::Invalid;
    }
    let mut m = keyed.clone();
    m.update(&packet[..4]);
    if zero_authenticator {
        m.update(&[0u8; 16]);
    } else {
        m.update(&packet[4..20]);
    }
    m.update(&packet[20..start + 2]);
    m.update(&[0u8; 16]);
    m.update(&packet[start + 18..]);
    if m.verify_slice(&packet[start + 2..start + 18]).is_ok() {
        MaCheck::Valid
    } else {
        MaCheck::Invalid
    }
}

/// Completes an encoded response whose first attribute is a zeroed
/// Message-Authenticator: fills Message-Authenticator (over the packet with
/// the Request Authenticator in place), then the Response Authenticator
/// MD5(Code‖Identifier‖Length‖RequestAuth‖Attributes‖Secret).
/// Returns false when the packet does not start with that attribute.
pub fn finish_response(packet: &mut [u8], request_authenticator: &[u8; 16], secret: &[u8]) -> bool {
    finish_response_keyed(packet, request_authenticator, &hmac_md5(secret), secret)
}

/// [`finish_response`] with a pre-keyed HMAC ([`hmac_md5`] of `secret`).
pub fn finish_response_keyed(
    packet: &mut [u8],
    request_authenticator: &[u8; 16],
    keyed: &KeyedMac,
    secret: &[u8],
) -> bool {
    if packet.len() < 38 || packet[20] != MESSAGE_AUTHENTICATOR || packet[21] != 18 {
        return false;
    }
    packet[4..20].copy_from_slice(request_authenticator);
    packet[22..38].fill(0);
    let mut m = keyed.clone();
    m.update(packet);
    let ma = m.finalize().into_bytes();
    packet[22..38].copy_from_slice(&ma);
    let mut h = Md5::new();
    h.update(&*packet);
    h.update(secret);
    let auth = h.finalize();
    packet[4..20].copy_from_slice(&auth);
    true
}

/// Checks a response as a RADIUS client would (tests and tools): Response
/// Authenticator and Message-Authenticator against the request authenticator.
pub fn check_response(packet: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> bool {
    if packet.len() < 20 {
        return false;
    }
    let mut h = Md5::new();
    h.update(&packet[..4]);
    h.update(request_authenticator);
    h.update(&packet[20..]);
    h.update(secret);
    if !bool::from(h.finalize().as_slice().ct_eq(&packet[4..20])) {
        return false;
    }
    let mut with_req = packet.to_vec();
    with_req[4..20].copy_from_slice(request_authenticator);
    check_request(&with_req, secret, false) == MaCheck::Valid
}

/// The Vendor-Specific value (vendor id ‖ vendor type ‖ vendor length ‖ salt ‖
/// encrypted string) of an MS-MPPE-Send/Recv-Key (RFC 2548 §2.4.2):
/// plaintext = key length ‖ key ‖ zero padding to a multiple of 16;
/// b(1) = MD5(secret ‖ request authenticator ‖ salt), c(i) = p(i) ⊕ b(i),
/// b(i) = MD5(secret ‖ c(i−1)). The salt's high bit must be set.
pub fn mppe_key_vsa(
    vendor_type: u8,
    key: &[u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
    salt: [u8; 2],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_mppe_key_vsa(
        &mut out,
        vendor_type,
        key,
        secret,
        request_authenticator,
        salt,
    );
    out
}

/// [`mppe_key_vsa`] appended to `out` (a response under construction): no
/// allocation of its own when `out` has room, and no plaintext buffer: each
/// octet of the padded key is XORed with its b(i) as it is appended, so the
/// key is never written anywhere in clear.
pub fn write_mppe_key_vsa(
    out: &mut Vec<u8>,
    vendor_type: u8,
    key: &[u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
    salt: [u8; 2],
) {
    let salt = [salt[0] | 0x80, salt[1]];
    let padded = (1 + key.len()).next_multiple_of(16);
    out.reserve(4 + 2 + 2 + padded);
    out.extend_from_slice(&VENDOR_MICROSOFT.to_be_bytes());
    out.push(vendor_type);
    out.push((2 + 2 + padded) as u8);
    out.extend_from_slice(&salt);
    let mut prev: Option<usize> = None;
    // The plaintext: key length, key, zero padding, one block at a time.
    let mut plain = std::iter::once(key.len() as u8)
        .chain(key.iter().copied())
        .chain(std::iter::repeat(0));
    for _ in 0..padded / 16 {
        let mut h = Md5::new();
        h.update(secret);
        match prev {
            None => {
                h.update(request_authenticator);
                h.update(salt);
            }
            Some(at) => h.update(&out[at..at + 16]),
        }
        let b = h.finalize();
        prev = Some(out.len());
        out.extend(b.iter().map(|b| b ^ plain.next().unwrap_or(0)));
    }
}

/// Decrypts an MS-MPPE key VSA value (the client side; for tests).
pub fn mppe_key_decrypt(
    vsa: &[u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
) -> Option<Vec<u8>> {
    if vsa.len() < 8 + 16 || vsa[..4] != VENDOR_MICROSOFT.to_be_bytes() {
        return None;
    }
    let salt = &vsa[6..8];
    let cipher = &vsa[8..];
    if !cipher.len().is_multiple_of(16) {
        return None;
    }
    let mut plain = Vec::new();
    let mut prev: Vec<u8> = [&request_authenticator[..], salt].concat();
    for chunk in cipher.chunks(16) {
        let mut h = Md5::new();
        h.update(secret);
        h.update(&prev);
        let b = h.finalize();
        plain.extend(chunk.iter().zip(b.iter()).map(|(c, b)| c ^ b));
        prev = chunk.to_vec();
    }
    let len = usize::from(*plain.first()?);
    plain.get(1..1 + len).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2104 / RFC 2202 HMAC-MD5 test case 2 checks the primitive.
    #[test]
    fn hmac_md5_rfc2202() {
        let mut m = hmac_md5(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }

    #[test]
    fn response_round_trip_and_ma_check() {
        let req_auth = [7u8; 16];
        // Access-Accept with a zeroed MA and a User-Name.
        let mut p = vec![2, 9, 0, 0];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[1, 5, b'b', b'o', b'b']);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        assert!(finish_response(&mut p, &req_auth, b"s3cret"));
        assert!(check_response(&p, &req_auth, b"s3cret"));
        assert!(!check_response(&p, &req_auth, b"other"));
        let mut bad = p.clone();
        bad[40] ^= 1;
        assert!(!check_response(&bad, &req_auth, b"s3cret"));
        assert!(!finish_response(&mut [0u8; 30], &req_auth, b"x"));
    }

    #[test]
    fn request_ma_missing_valid_invalid() {
        let mut p = vec![1, 1, 0, 0];
        p.extend_from_slice(&[3; 16]);
        p.extend_from_slice(&[1, 3, b'a']);
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        assert_eq!(check_request(&p, b"k", false), MaCheck::Missing);
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        let mut m = hmac_md5(b"k");
        m.update(&p);
        let v = m.finalize().into_bytes();
        p[25..41].copy_from_slice(&v);
        assert_eq!(check_request(&p, b"k", false), MaCheck::Valid);
        assert_eq!(check_request(&p, b"j", false), MaCheck::Invalid);
        p[25] ^= 1;
        assert_eq!(check_request(&p, b"k", false), MaCheck::Invalid);
        assert_eq!(
            check_request(
                &[
                    1, 1, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 1
                ],
                b"k",
                false
            ),
            MaCheck::Invalid
        );
    }

    #[test]
    fn mppe_round_trip_and_layout() {
        let key = [0x42u8; 32];
        let ra = [1u8; 16];
        let v = mppe_key_vsa(MS_MPPE_RECV_KEY, &key, b"secret", &ra, [0x12, 0x34]);
        // 4 vendor id + 1 type + 1 length + 2 salt + 48 (1+32 padded to 48).
        assert_eq!(v.len(), 56);
        assert_eq!(v[4], 17);
        assert_eq!(usize::from(v[5]), v.len() - 4);
        assert_eq!(v[6], 0x92, "salt high bit set");
        assert_eq!(mppe_key_decrypt(&v, b"secret", &ra).unwrap(), key);
        assert_ne!(mppe_key_decrypt(&v, b"secreT", &ra), Some(key.to_vec()));
        // Appended to a buffer in use: the same octets after what was there.
        let mut out = vec![7u8; 3];
        write_mppe_key_vsa(
            &mut out,
            MS_MPPE_RECV_KEY,
            &key,
            b"secret",
            &ra,
            [0x12, 0x34],
        );
        assert_eq!((&out[..3], &out[3..]), (&[7u8; 3][..], &v[..]));
        // Key lengths that fill the last block exactly, or not at all.
        for len in [0usize, 15, 16, 31, 32, 33, 64] {
            let k: Vec<u8> = (0..len as u8).collect();
            let v = mppe_key_vsa(MS_MPPE_SEND_KEY, &k, b"s", &ra, [1, 2]);
            assert_eq!(v.len(), 8 + (1 + len).next_multiple_of(16));
            assert_eq!(mppe_key_decrypt(&v, b"s", &ra).unwrap(), k, "{len}");
        }
    }
}
