//! EAP packets (RFC 3748 §4–5): `Code (1) ‖ Identifier (1) ‖ Length (2) ‖
//! Data`, where Request and Response data start with a Type octet.
//!
//! Decoding rules:
//! - Length < 4, or Length greater than the buffer: error. Bytes past Length
//!   are ignored (RFC 3748 §4: "octets outside the range of the Length field
//!   should be treated as Data Link Layer padding").
//! - Success and Failure must have Length exactly 4 (RFC 3748 §4.2).
//! - Request/Response need a Type octet (Length ≥ 5).
//! - An unknown Code is an error: without knowing the Code the Data cannot be
//!   interpreted, and RFC 3748 §4 says to silently discard such packets.
//! - An unknown Type is kept as [`TypeData::Unknown`]; so is the Expanded
//!   Type 254. Identity and Notification data are kept as raw bytes (they are
//!   not guaranteed to be UTF-8). Legacy Nak (3) must carry at least one octet
//!   (RFC 3748 §5.3.1).
//! - EAP-AKA (23) and EAP-AKA' (50) data is decoded into an
//!   [`aka::message::Message`](crate::aka::message::Message).
//!
//! For every input that decodes, `encode(decode(b)) == b[..Length]`.

use crate::aka::attr;
use crate::aka::message::{Message, Method};
use nom::Parser;
use nom::number::complete::{be_u8, be_u16};

/// EAP Codes (RFC 3748 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// Request (1).
    Request,
    /// Response (2).
    Response,
    /// Success (3).
    Success,
    /// Failure (4).
    Failure,
}

impl Code {
    /// The Code number.
    pub const fn value(self) -> u8 {
        match self {
            Code::Request => 1,
            Code::Response => 2,
            Code::Success => 3,
            Code::Failure => 4,
        }
    }
}

/// EAP Type numbers this crate interprets (RFC 3748 §5, RFC 4187, RFC 9048).
pub mod types {
    /// Identity.
    pub const IDENTITY: u8 = 1;
    /// Notification.
    pub const NOTIFICATION: u8 = 2;
    /// Legacy Nak (Response only).
    pub const NAK: u8 = 3;
    /// EAP-AKA.
    pub const AKA: u8 = 23;
    /// EAP-AKA'.
    pub const AKA_PRIME: u8 = 50;
}

/// Type and Type-Data of a Request or Response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeData {
    /// Identity (1): the identity in a Response, an optional prompt in a Request.
    Identity(Vec<u8>),
    /// Notification (2): displayable message in a Request, empty in a Response.
    Notification(Vec<u8>),
    /// Legacy Nak (3): the desired authentication types (0 = none), at least one octet.
    Nak(Vec<u8>),
    /// EAP-AKA (23).
    Aka(Message),
    /// EAP-AKA' (50).
    AkaPrime(Message),
    /// Any other Type, with its raw Type-Data. Must not be one of the types above.
    Unknown(u8, Vec<u8>),
}

impl TypeData {
    /// The Type number.
    pub fn type_number(&self) -> u8 {
        match self {
            TypeData::Identity(_) => types::IDENTITY,
            TypeData::Notification(_) => types::NOTIFICATION,
            TypeData::Nak(_) => types::NAK,
            TypeData::Aka(_) => types::AKA,
            TypeData::AkaPrime(_) => types::AKA_PRIME,
            TypeData::Unknown(t, _) => *t,
        }
    }

    /// The method and message if this is EAP-AKA or EAP-AKA'.
    pub fn aka(&self) -> Option<(Method, &Message)> {
        match self {
            TypeData::Aka(m) => Some((Method::Aka, m)),
            TypeData::AkaPrime(m) => Some((Method::AkaPrime, m)),
            _ => None,
        }
    }

    /// Wraps an EAP-AKA/AKA' message for `method`.
    pub fn from_aka(method: Method, m: Message) -> Self {
        match method {
            Method::Aka => TypeData::Aka(m),
            Method::AkaPrime => TypeData::AkaPrime(m),
        }
    }
}

/// An EAP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// Request (Code 1).
    Request {
        /// Identifier.
        identifier: u8,
        /// Type and Type-Data.
        data: TypeData,
    },
    /// Response (Code 2).
    Response {
        /// Identifier.
        identifier: u8,
        /// Type and Type-Data.
        data: TypeData,
    },
    /// Success (Code 3).
    Success {
        /// Identifier.
        identifier: u8,
    },
    /// Failure (Code 4).
    Failure {
        /// Identifier.
        identifier: u8,
    },
}

/// What is wrong with an EAP packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer than 4 octets: no complete header.
    #[error("EAP packet of {len} octets, shorter than the 4-octet header")]
    Truncated {
        /// Octets given.
        len: usize,
    },
    /// Length field below 4 (RFC 3748 §4).
    #[error("EAP Length {length} below 4")]
    LengthTooSmall {
        /// The Length field.
        length: u16,
    },
    /// Length field beyond the received octets (RFC 3748 §4: discard).
    #[error("EAP Length {length} but only {available} octets received")]
    LengthExceedsBuffer {
        /// The Length field.
        length: u16,
        /// Octets received.
        available: usize,
    },
    /// Success/Failure with Length ≠ 4 (RFC 3748 §4.2).
    #[error("EAP Success/Failure with Length {length}, must be 4")]
    SuccessFailureLength {
        /// The Length field.
        length: u16,
    },
    /// Request/Response without a Type octet.
    #[error("EAP Request/Response with Length 4 has no Type")]
    MissingType,
    /// A Code other than 1–4.
    #[error("unknown EAP Code {0}")]
    UnknownCode(u8),
    /// Legacy Nak without any octet (RFC 3748 §5.3.1).
    #[error("EAP Legacy Nak without data")]
    EmptyNak,
    /// Encoding: the packet would be longer than 65535 octets.
    #[error("EAP packet of {len} octets exceeds the 16-bit Length")]
    TooLong {
        /// Octets the packet would have.
        len: usize,
    },
    /// Encoding: [`TypeData::Unknown`] with a Type this crate interprets.
    #[error("TypeData::Unknown with interpreted Type {0}")]
    KnownTypeAsUnknown(u8),
    /// Not an EAP-AKA/AKA' Request or Response (from `mac_value_offset`).
    #[error("not an EAP-AKA/AKA' Request or Response")]
    NotAka,
    /// `sign_packet`: the EAP-AKA/AKA' packet has no AT_MAC.
    #[error("EAP-AKA packet without AT_MAC")]
    NoMac,
    /// The EAP-AKA/AKA' message inside is malformed.
    #[error("EAP-AKA: {0}")]
    Aka(#[from] attr::Error),
}

/// Code and Length of the packet in `buf` after the header checks (Length
/// between 4 and the buffer size). The Code is not checked.
pub(crate) fn header(buf: &[u8]) -> Result<(u8, usize), Error> {
    let (_, (code, _id, length)) = (be_u8, be_u8, be_u16)
        .parse(buf)
        .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| Error::Truncated { len: buf.len() })?;
    if length < 4 {
        return Err(Error::LengthTooSmall { length });
    }
    if usize::from(length) > buf.len() {
        return Err(Error::LengthExceedsBuffer {
            length,
            available: buf.len(),
        });
    }
    Ok((code, usize::from(length)))
}

/// The Length field of the EAP packet at the start of `buf`, once checked
/// (4 ≤ Length ≤ buf.len()): the packet is `buf[..len]`.
pub fn packet_length(buf: &[u8]) -> Result<usize, Error> {
    header(buf).map(|(_, l)| l)
}

impl Packet {
    /// An EAP-Request carrying the EAP-AKA (`Method::Aka`) or EAP-AKA' message `m`.
    pub fn aka_request(identifier: u8, method: Method, m: Message) -> Self {
        Packet::Request {
            identifier,
            data: TypeData::from_aka(method, m),
        }
    }

    /// An EAP-Response carrying the EAP-AKA (`Method::Aka`) or EAP-AKA' message `m`.
    pub fn aka_response(identifier: u8, method: Method, m: Message) -> Self {
        Packet::Response {
            identifier,
            data: TypeData::from_aka(method, m),
        }
    }

    /// Decodes an EAP packet; bytes after Length are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, Error> {
        let (code, len) = header(buf)?;
        let identifier = buf[1];
        let pkt = &buf[..len];
        match code {
            3 | 4 => {
                if len != 4 {
                    return Err(Error::SuccessFailureLength {
                        length: u16::try_from(len).unwrap_or(u16::MAX),
                    });
                }
                Ok(if code == 3 {
                    Packet::Success { identifier }
                } else {
                    Packet::Failure { identifier }
                })
            }
            1 | 2 => {
                let (&t, body) = pkt[4..].split_first().ok_or(Error::MissingType)?;
                let data = match t {
                    types::IDENTITY => TypeData::Identity(body.to_vec()),
                    types::NOTIFICATION => TypeData::Notification(body.to_vec()),
                    types::NAK => {
                        if body.is_empty() {
                            return Err(Error::EmptyNak);
                        }
                        TypeData::Nak(body.to_vec())
                    }
                    types::AKA => TypeData::Aka(Message::decode(Method::Aka, body)?),
                    types::AKA_PRIME => {
                        TypeData::AkaPrime(Message::decode(Method::AkaPrime, body)?)
                    }
                    other => TypeData::Unknown(other, body.to_vec()),
                };
                Ok(if code == 1 {
                    Packet::Request { identifier, data }
                } else {
                    Packet::Response { identifier, data }
                })
            }
            other => Err(Error::UnknownCode(other)),
        }
    }

    /// The Code.
    pub fn code(&self) -> Code {
        match self {
            Packet::Request { .. } => Code::Request,
            Packet::Response { .. } => Code::Response,
            Packet::Success { .. } => Code::Success,
            Packet::Failure { .. } => Code::Failure,
        }
    }

    /// The Identifier.
    pub fn identifier(&self) -> u8 {
        match self {
            Packet::Request { identifier, .. }
            | Packet::Response { identifier, .. }
            | Packet::Success { identifier }
            | Packet::Failure { identifier } => *identifier,
        }
    }

    /// Type and Type-Data of a Request or Response.
    pub fn data(&self) -> Option<&TypeData> {
        match self {
            Packet::Request { data, .. } | Packet::Response { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The EAP-AKA/AKA' method and message, if that is what this packet carries.
    pub fn aka(&self) -> Option<(Method, &Message)> {
        self.data().and_then(TypeData::aka)
    }

    /// Appends the encoded packet to `out` (no other allocation than `out`
    /// growing). Returns the offset of the AT_MAC value *from the start of
    /// this packet* when the packet is EAP-AKA/AKA' with AT_MAC. On error
    /// `out` is restored to its previous length.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<Option<usize>, Error> {
        let start = out.len();
        let r = self.encode_inner(out, start);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn encode_inner(&self, out: &mut Vec<u8>, start: usize) -> Result<Option<usize>, Error> {
        out.push(self.code().value());
        out.push(self.identifier());
        out.extend_from_slice(&[0, 0]);
        let mut mac = None;
        if let Some(data) = self.data() {
            out.push(data.type_number());
            match data {
                TypeData::Identity(b) | TypeData::Notification(b) => out.extend_from_slice(b),
                TypeData::Nak(b) => {
                    if b.is_empty() {
                        return Err(Error::EmptyNak);
                    }
                    out.extend_from_slice(b)
                }
                TypeData::Aka(m) | TypeData::AkaPrime(m) => {
                    let method = if matches!(data, TypeData::Aka(_)) {
                        Method::Aka
                    } else {
                        Method::AkaPrime
                    };
                    m.validate(method)?;
                    mac = m.encode_into(out)?.map(|p| p - start);
                }
                TypeData::Unknown(t, b) => {
                    if matches!(
                        *t,
                        types::IDENTITY
                            | types::NOTIFICATION
                            | types::NAK
                            | types::AKA
                            | types::AKA_PRIME
                    ) {
                        return Err(Error::KnownTypeAsUnknown(*t));
                    }
                    out.extend_from_slice(b)
                }
            }
        }
        let len = out.len() - start;
        let l16 = u16::try_from(len).map_err(|_| Error::TooLong { len })?;
        out[start + 2..start + 4].copy_from_slice(&l16.to_be_bytes());
        Ok(mac)
    }

    /// The encoded packet.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(ENCODE_CAPACITY);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// The encoded packet and the offset of its AT_MAC value (if any), to be
    /// filled with `aka::mac::sign` once the packet is complete.
    pub fn encode_with_mac_offset(&self) -> Result<(Vec<u8>, Option<usize>), Error> {
        let mut out = Vec::with_capacity(ENCODE_CAPACITY);
        let mac = self.encode_into(&mut out)?;
        Ok((out, mac))
    }
}

/// Room reserved by [`Packet::encode`]: an EAP-AKA' Challenge with
/// AT_ENCR_DATA fits without the buffer growing (one allocation).
const ENCODE_CAPACITY: usize = 384;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::aka::attr::{AtMac, AtRand};
    use crate::aka::message::Subtype;

    #[test]
    fn success_failure() {
        assert_eq!(
            Packet::decode(&[3, 7, 0, 4]).unwrap(),
            Packet::Success { identifier: 7 }
        );
        assert_eq!(
            Packet::decode(&[4, 8, 0, 4, 0xff]).unwrap(),
            Packet::Failure { identifier: 8 }
        );
        assert_eq!(
            Packet::decode(&[3, 7, 0, 5, 0]),
            Err(Error::SuccessFailureLength { length: 5 })
        );
        assert_eq!(
            Packet::Success { identifier: 7 }.encode().unwrap(),
            [3, 7, 0, 4]
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(Packet::decode(&[1, 2, 0]), Err(Error::Truncated { len: 3 }));
        assert_eq!(
            Packet::decode(&[1, 2, 0, 3]),
            Err(Error::LengthTooSmall { length: 3 })
        );
        assert_eq!(
            Packet::decode(&[1, 2, 0, 9, 1]),
            Err(Error::LengthExceedsBuffer {
                length: 9,
                available: 5
            })
        );
        assert_eq!(Packet::decode(&[1, 2, 0, 4]), Err(Error::MissingType));
        assert_eq!(Packet::decode(&[5, 2, 0, 4]), Err(Error::UnknownCode(5)));
        assert_eq!(Packet::decode(&[2, 2, 0, 5, 3]), Err(Error::EmptyNak));
    }

    #[test]
    fn identity_and_trailing_bytes() {
        let b = [2, 9, 0, 9, 1, b'u', b's', b'e', b'r', 0xde, 0xad];
        let p = Packet::decode(&b).unwrap();
        assert_eq!(
            p,
            Packet::Response {
                identifier: 9,
                data: TypeData::Identity(b"user".to_vec())
            }
        );
        assert_eq!(p.encode().unwrap(), &b[..9]);
        assert_eq!(packet_length(&b).unwrap(), 9);
    }

    #[test]
    fn unknown_type_and_nak() {
        let b = [1, 1, 0, 7, 254, 1, 2];
        let p = Packet::decode(&b).unwrap();
        assert_eq!(p.data(), Some(&TypeData::Unknown(254, vec![1, 2])));
        assert_eq!(p.encode().unwrap(), b);
        let nak = [2, 1, 0, 7, 3, 50, 23];
        assert_eq!(Packet::decode(&nak).unwrap().encode().unwrap(), nak);
        let bad = Packet::Request {
            identifier: 0,
            data: TypeData::Unknown(23, vec![]),
        };
        assert_eq!(bad.encode(), Err(Error::KnownTypeAsUnknown(23)));
    }

    #[test]
    fn too_long() {
        let p = Packet::Response {
            identifier: 0,
            data: TypeData::Identity(vec![0; 65530]),
        };
        assert_eq!(p.encode().unwrap().len(), 65535);
        let p = Packet::Response {
            identifier: 0,
            data: TypeData::Identity(vec![0; 65531]),
        };
        assert_eq!(p.encode(), Err(Error::TooLong { len: 65536 }));
        let mut out = vec![9];
        assert!(p.encode_into(&mut out).is_err());
        assert_eq!(out, [9]);
    }

    #[test]
    fn mac_offset() {
        let m = Message::new(Subtype::Challenge)
            .with(AtRand::new([1; 16]))
            .with(AtMac::ZEROED);
        let p = Packet::aka_request(3, Method::Aka, m);
        let (b, off) = p.encode_with_mac_offset().unwrap();
        // header 4, type 1, subtype+reserved 3, AT_RAND 20, AT_MAC header 4
        assert_eq!(off, Some(32));
        assert_eq!(crate::aka::message::mac_value_offset(&b).unwrap(), off);
        let mut out = vec![0xaa; 3];
        assert_eq!(p.encode_into(&mut out).unwrap(), off);
        assert_eq!(&out[3..], &b[..]);
        assert_eq!(
            crate::aka::message::mac_value_offset(&[3, 1, 0, 4]),
            Err(Error::NotAka)
        );
    }
}
