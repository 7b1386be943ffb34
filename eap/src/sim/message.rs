//! EAP-SIM messages (RFC 4186 §8.1, §9, §11): `Subtype (1) ‖ Reserved (2) ‖
//! attributes`, the part of an EAP packet of Type 18 after the Type octet,
//! and [`SimPacket`], the whole EAP Request/Response carrying one.
//!
//! As for EAP-AKA, [`Message`] keeps the attributes in wire order and
//! re-encodes byte for byte what it decoded. Placement rules checked by the
//! decoder (and by [`Message::validate`] before encoding): the encrypted-only
//! attributes (AT_COUNTER, AT_NONCE_S, AT_NEXT_PSEUDONYM, …) never in the
//! clear, no attribute twice (unknown skippable ones excepted). Which
//! attributes a subtype must carry is the state machine's business.
//!
//! The plaintext of AT_ENCR_DATA holds the same attributes as in EAP-AKA
//! (RFC 4186 §10.12 = RFC 4187 §10.12) and goes through the same functions,
//! [`decode_encrypted_attributes`] and [`encode_encrypted_attributes`], whose
//! element type is [`EncryptedAttribute`]. One consequence: EAP-AKA's
//! AT_CHECKCODE and AT_BIDDING inside EAP-SIM encrypted data are refused
//! rather than skipped (no EAP-SIM server sends them).
//!
//! `crate::packet::Packet` keeps Type 18 as `TypeData::Unknown(18, …)`;
//! [`Message::from_type_data`] and [`Message::to_type_data`] convert.

use super::attr::{
    self, AtClientErrorCode, AtEncrData, AtIdentity, AtIv, AtMac, AtNonceMt, AtNotification,
    AtRand, AtSelectedVersion, AtVersionList, AttrType, AttrValue, Attribute,
};
pub use crate::aka::attr::Attribute as EncryptedAttribute;
use crate::aka::attr::Place;
pub use crate::aka::attr::{Error, decode_encrypted_attributes, encode_encrypted_attributes};
pub use crate::aka::message::IdReq;
use crate::packet::{self, Code, TypeData};
use crate::secret::KAut;

/// The EAP method type of EAP-SIM (RFC 4186 §11).
pub const EAP_TYPE_SIM: u8 = 18;

/// EAP-SIM subtypes (RFC 4186 §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subtype {
    /// EAP-SIM/Start (10).
    Start,
    /// EAP-SIM/Challenge (11).
    Challenge,
    /// EAP-SIM/Notification (12).
    Notification,
    /// EAP-SIM/Re-authentication (13).
    Reauthentication,
    /// EAP-SIM/Client-Error (14).
    ClientError,
}

impl Subtype {
    /// The subtype number.
    pub const fn value(self) -> u8 {
        match self {
            Subtype::Start => 10,
            Subtype::Challenge => 11,
            Subtype::Notification => 12,
            Subtype::Reauthentication => 13,
            Subtype::ClientError => 14,
        }
    }

    /// The subtype for a number; `None` for one RFC 4186 does not define.
    pub const fn from_value(v: u8) -> Option<Self> {
        Some(match v {
            10 => Subtype::Start,
            11 => Subtype::Challenge,
            12 => Subtype::Notification,
            13 => Subtype::Reauthentication,
            14 => Subtype::ClientError,
            _ => return None,
        })
    }
}

/// An EAP-SIM message: subtype, reserved field, attributes in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The subtype.
    pub subtype: Subtype,
    /// The 2-octet reserved field as received (0 when sending).
    pub reserved: u16,
    /// The attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl Message {
    /// An empty message of `subtype` (reserved field zero).
    pub fn new(subtype: Subtype) -> Self {
        Self {
            subtype,
            reserved: 0,
            attributes: Vec::new(),
        }
    }

    /// Builder: appends an attribute.
    #[must_use]
    pub fn with(mut self, a: impl Into<Attribute>) -> Self {
        self.attributes.push(a.into());
        self
    }

    /// Appends an attribute.
    pub fn push(&mut self, a: impl Into<Attribute>) {
        self.attributes.push(a.into());
    }

    /// Decodes the EAP Type-Data of an EAP-SIM message: everything after the
    /// EAP Type octet, exactly. Attribute offsets in errors count from the
    /// first attribute.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        if body.len() < 3 {
            return Err(Error::MessageTooShort { len: body.len() });
        }
        let subtype = Subtype::from_value(body[0]).ok_or(Error::UnknownSubtype(body[0]))?;
        let reserved = u16::from_be_bytes([body[1], body[2]]);
        let attributes = attr::decode_list(&body[3..])?;
        Ok(Self {
            subtype,
            reserved,
            attributes,
        })
    }

    /// The message inside `data` when it is EAP-SIM (`TypeData::Unknown(18, …)`),
    /// `None` for any other type.
    pub fn from_type_data(data: &TypeData) -> Option<Result<Self, Error>> {
        match data {
            TypeData::Unknown(EAP_TYPE_SIM, body) => Some(Self::decode(body)),
            _ => None,
        }
    }

    /// This message as the Type-Data of a `crate::packet::Packet`.
    pub fn to_type_data(&self) -> Result<TypeData, Error> {
        self.validate()?;
        let mut body = Vec::new();
        self.encode_into(&mut body)?;
        Ok(TypeData::Unknown(EAP_TYPE_SIM, body))
    }

    /// Checks the placement rules the decoder enforces, so that what encodes
    /// also decodes to the same message. Offsets in errors are attribute indexes.
    pub fn validate(&self) -> Result<(), Error> {
        let mut seen = [false; 256];
        for (offset, a) in self.attributes.iter().enumerate() {
            let at = a.attr_type();
            if at.is_encrypted_only() {
                return Err(Error::NotAllowed {
                    attr: at,
                    offset,
                    place: Place::Clear,
                });
            }
            if attr::is_sim_type(at) {
                if seen[usize::from(at.0)] {
                    return Err(Error::Duplicate { attr: at, offset });
                }
                seen[usize::from(at.0)] = true;
            }
        }
        Ok(())
    }

    /// Appends `Subtype ‖ Reserved ‖ attributes` to `out`. Returns the
    /// position in `out` of the AT_MAC value if the message has AT_MAC.
    /// Does not check placement rules ([`Message::validate`] does; the packet
    /// encoder calls it).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<Option<usize>, Error> {
        out.push(self.subtype.value());
        out.extend_from_slice(&self.reserved.to_be_bytes());
        let start = out.len();
        let mut mac = None;
        for a in &self.attributes {
            let at_start = out.len();
            a.encode_into(out, at_start - start)?;
            if matches!(a, Attribute::Mac(_)) && mac.is_none() {
                mac = Some(at_start + 4);
            }
        }
        Ok(mac)
    }

    /// The first attribute of type `T`, e.g. `m.attr::<AtNonceMt>()`.
    pub fn attr<T: AttrValue>(&self) -> Option<&T> {
        self.attributes.iter().find_map(T::from_attribute)
    }

    /// Whether an attribute of type `t` is present.
    pub fn has(&self, t: AttrType) -> bool {
        self.attributes.iter().any(|a| a.attr_type() == t)
    }

    /// AT_RAND's RANDs.
    pub fn rands(&self) -> Option<&[[u8; 16]]> {
        self.attr::<AtRand>().map(|a| a.rands.as_slice())
    }

    /// AT_NONCE_MT's NONCE_MT.
    pub fn nonce_mt(&self) -> Option<&[u8; 16]> {
        self.attr::<AtNonceMt>().map(|a| &a.nonce_mt)
    }

    /// AT_VERSION_LIST's versions.
    pub fn versions(&self) -> Option<&[u16]> {
        self.attr::<AtVersionList>().map(|a| a.versions.as_slice())
    }

    /// AT_SELECTED_VERSION's version.
    pub fn selected_version(&self) -> Option<u16> {
        self.attr::<AtSelectedVersion>().map(|a| a.version)
    }

    /// AT_MAC's value as received.
    pub fn mac(&self) -> Option<&[u8; 16]> {
        self.attr::<AtMac>().map(|a| &a.mac)
    }

    /// AT_IDENTITY's identity.
    pub fn identity(&self) -> Option<&[u8]> {
        self.attr::<AtIdentity>().map(|a| a.identity.as_slice())
    }

    /// The identity request (AT_PERMANENT_ID_REQ, AT_FULLAUTH_ID_REQ or
    /// AT_ANY_ID_REQ), the first one if several different ones are present.
    pub fn id_req(&self) -> Option<IdReq> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::PermanentIdReq(_) => Some(IdReq::Permanent),
            Attribute::FullauthIdReq(_) => Some(IdReq::Fullauth),
            Attribute::AnyIdReq(_) => Some(IdReq::Any),
            _ => None,
        })
    }

    /// AT_NOTIFICATION.
    pub fn notification(&self) -> Option<AtNotification> {
        self.attr::<AtNotification>().copied()
    }

    /// AT_CLIENT_ERROR_CODE's code.
    pub fn client_error_code(&self) -> Option<u16> {
        self.attr::<AtClientErrorCode>().map(|a| a.code)
    }

    /// AT_IV's IV.
    pub fn iv(&self) -> Option<&[u8; 16]> {
        self.attr::<AtIv>().map(|a| &a.iv)
    }

    /// AT_ENCR_DATA's ciphertext.
    pub fn encr_data(&self) -> Option<&[u8]> {
        self.attr::<AtEncrData>().map(|a| a.data.as_slice())
    }

    /// Whether AT_RESULT_IND is present.
    pub fn result_ind(&self) -> bool {
        self.has(AttrType::AT_RESULT_IND)
    }
}

/// What is wrong with an EAP-SIM packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The EAP header is malformed (or the packet too long to encode).
    #[error("{0}")]
    Eap(#[from] packet::Error),
    /// Not an EAP Request/Response of Type 18.
    #[error("not an EAP-SIM Request or Response")]
    NotSim,
    /// `sign_packet`: the packet has no AT_MAC.
    #[error("EAP-SIM packet without AT_MAC")]
    NoMac,
    /// The EAP-SIM message inside is malformed.
    #[error("EAP-SIM: {0}")]
    Sim(#[from] Error),
}

/// An EAP Request or Response of Type 18 (EAP-SIM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPacket {
    /// `Code::Request` or `Code::Response`.
    pub code: Code,
    /// The EAP Identifier.
    pub identifier: u8,
    /// The EAP-SIM message.
    pub message: Message,
}

/// Code, Length and the Type-Data of an EAP-SIM packet after the header checks.
fn sim_body(buf: &[u8]) -> Result<(Code, &[u8]), PacketError> {
    let (code, len) = packet::header(buf)?;
    let code = match code {
        1 => Code::Request,
        2 => Code::Response,
        _ => return Err(PacketError::NotSim),
    };
    if len < 5 || buf[4] != EAP_TYPE_SIM {
        return Err(PacketError::NotSim);
    }
    Ok((code, &buf[5..len]))
}

impl SimPacket {
    /// An EAP-Request carrying `message`.
    pub fn request(identifier: u8, message: Message) -> Self {
        Self {
            code: Code::Request,
            identifier,
            message,
        }
    }

    /// An EAP-Response carrying `message`.
    pub fn response(identifier: u8, message: Message) -> Self {
        Self {
            code: Code::Response,
            identifier,
            message,
        }
    }

    /// Decodes an EAP-SIM Request/Response; bytes after the EAP Length are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, PacketError> {
        let (code, body) = sim_body(buf)?;
        Ok(Self {
            code,
            identifier: buf[1],
            message: Message::decode(body)?,
        })
    }

    /// Appends the encoded packet to `out`; returns the offset of the AT_MAC
    /// value from the start of this packet, if any. On error `out` is
    /// restored to its previous length.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<Option<usize>, PacketError> {
        let start = out.len();
        let r = self.encode_inner(out, start);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn encode_inner(&self, out: &mut Vec<u8>, start: usize) -> Result<Option<usize>, PacketError> {
        if !matches!(self.code, Code::Request | Code::Response) {
            return Err(PacketError::NotSim);
        }
        self.message.validate()?;
        out.extend_from_slice(&[self.code.value(), self.identifier, 0, 0, EAP_TYPE_SIM]);
        let mac = self.message.encode_into(out)?.map(|p| p - start);
        let len = out.len() - start;
        let l16 = u16::try_from(len).map_err(|_| packet::Error::TooLong { len })?;
        out[start + 2..start + 4].copy_from_slice(&l16.to_be_bytes());
        Ok(mac)
    }

    /// The encoded packet.
    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        Ok(self.encode_with_mac_offset()?.0)
    }

    /// The encoded packet and the offset of its AT_MAC value (if any), to be
    /// filled with `aka::mac::sign` (or [`sign_packet`]) once complete.
    pub fn encode_with_mac_offset(&self) -> Result<(Vec<u8>, Option<usize>), PacketError> {
        let mut out = Vec::new();
        let mac = self.encode_into(&mut out)?;
        Ok((out, mac))
    }
}

/// Finds the 16-byte AT_MAC value in an encoded EAP-SIM packet and returns
/// its offset from the packet start, `None` if the message has no AT_MAC.
/// Checks the EAP header and the attribute framing only.
pub fn mac_value_offset(packet: &[u8]) -> Result<Option<usize>, PacketError> {
    let (_, body) = sim_body(packet)?;
    if body.len() < 3 {
        return Err(Error::MessageTooShort { len: body.len() }.into());
    }
    Ok(crate::aka::message::mac_value_offset_in(&body[3..])?.map(|off| 5 + 3 + off))
}

/// Fills the AT_MAC value of the encoded EAP-SIM packet with HMAC-SHA1-128
/// over the packet and `extra` (NONCE_MT, n*SRES or NONCE_S: see
/// [`super::keys`]). Bytes after the EAP Length are neither covered nor touched.
///
/// # Errors
/// The packet is not EAP-SIM, is malformed, or has no AT_MAC.
pub fn sign_packet(k_aut: &KAut, packet: &mut [u8], extra: &[u8]) -> Result<(), PacketError> {
    let len = packet::packet_length(packet)?;
    let off = mac_value_offset(packet)?.ok_or(PacketError::NoMac)?;
    crate::aka::mac::sign(k_aut, &mut packet[..len], off, extra).map_err(|_| PacketError::NoMac)
}

/// Checks, in constant time, the AT_MAC of the encoded EAP-SIM packet against
/// `k_aut` and `extra`. False for a wrong MAC, no AT_MAC or a malformed packet.
pub fn verify_packet(k_aut: &KAut, packet: &[u8], extra: &[u8]) -> bool {
    let Ok(len) = packet::packet_length(packet) else {
        return false;
    };
    match mac_value_offset(packet) {
        Ok(Some(off)) => crate::aka::mac::verify(k_aut, &packet[..len], off, extra),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::KAutAka;
    use crate::sim::attr::{AtAnyIdReq, AtCounter, AtResultInd, AtUnknown, VERSION_1};

    #[test]
    fn subtypes() {
        for v in 0..=255u8 {
            if let Some(s) = Subtype::from_value(v) {
                assert_eq!(s.value(), v);
            }
        }
        assert_eq!(
            Subtype::from_value(1),
            None,
            "AKA-Challenge is not an EAP-SIM subtype"
        );
        assert_eq!(Message::decode(&[5, 0, 0]), Err(Error::UnknownSubtype(5)));
        assert_eq!(
            Message::decode(&[10, 0]),
            Err(Error::MessageTooShort { len: 2 })
        );
    }

    #[test]
    fn start_request_with_identity_request() {
        let m = Message::new(Subtype::Start)
            .with(AtVersionList {
                versions: vec![VERSION_1],
            })
            .with(AtAnyIdReq::default());
        let p = SimPacket::request(7, m.clone());
        let (b, mac) = p.encode_with_mac_offset().unwrap();
        assert_eq!(mac, None);
        assert_eq!(
            b,
            [
                1, 7, 0, 20, 18, 10, 0, 0, 15, 2, 0, 2, 0, 1, 0, 0, 13, 1, 0, 0
            ]
        );
        let d = SimPacket::decode(&b).unwrap();
        assert_eq!(d, p);
        assert_eq!(d.message.versions(), Some(&[1u16][..]));
        assert_eq!(d.message.id_req(), Some(IdReq::Any));
        // through the generic EAP packet as Type 18
        let eap = packet::Packet::decode(&b).unwrap();
        let data = eap.data().unwrap();
        assert_eq!(Message::from_type_data(data), Some(Ok(m.clone())));
        assert_eq!(m.to_type_data().unwrap(), *data);
        assert_eq!(Message::from_type_data(&TypeData::Identity(vec![])), None);
    }

    #[test]
    fn validate_refuses_what_decode_refuses() {
        let dup = Message::new(Subtype::Challenge)
            .with(AtMac::ZEROED)
            .with(AtMac::ZEROED);
        assert!(matches!(dup.validate(), Err(Error::Duplicate { .. })));
        assert!(SimPacket::request(1, dup).encode().is_err());
        let clear_counter = Message::new(Subtype::Reauthentication).with(AtCounter { counter: 1 });
        assert!(matches!(
            clear_counter.validate(),
            Err(Error::NotAllowed { .. })
        ));
        // unknown skippable may repeat
        let u = AtUnknown {
            attr_type: 200,
            value: vec![0, 0],
        };
        let ok = Message::new(Subtype::Notification)
            .with(u.clone())
            .with(u)
            .with(AtResultInd::default());
        ok.validate().unwrap();
        let b = SimPacket::response(2, ok.clone()).encode().unwrap();
        assert_eq!(SimPacket::decode(&b).unwrap().message, ok);
    }

    #[test]
    fn packet_errors() {
        assert!(matches!(
            SimPacket::decode(&[1, 1, 0, 3]),
            Err(PacketError::Eap(packet::Error::LengthTooSmall { .. }))
        ));
        assert_eq!(
            SimPacket::decode(&[1, 1, 0, 8, 23, 1, 0, 0]),
            Err(PacketError::NotSim)
        );
        assert_eq!(SimPacket::decode(&[3, 1, 0, 4]), Err(PacketError::NotSim));
        assert_eq!(SimPacket::decode(&[1, 1, 0, 4]), Err(PacketError::NotSim));
        assert_eq!(
            SimPacket::decode(&[1, 1, 0, 7, 18, 10, 0]),
            Err(PacketError::Sim(Error::MessageTooShort { len: 2 }))
        );
        let bad = SimPacket {
            code: Code::Success,
            identifier: 0,
            message: Message::new(Subtype::Start),
        };
        assert_eq!(bad.encode(), Err(PacketError::NotSim));
        let mut out = vec![9];
        assert!(bad.encode_into(&mut out).is_err());
        assert_eq!(out, [9]);
    }

    #[test]
    fn sign_and_verify() {
        let k = KAut::Aka(KAutAka::new([3; 16]));
        let p = SimPacket::request(
            4,
            Message::new(Subtype::Challenge)
                .with(AtRand::new(&[[1; 16], [2; 16]]))
                .with(AtMac::ZEROED),
        );
        let (mut b, off) = p.encode_with_mac_offset().unwrap();
        assert_eq!(mac_value_offset(&b).unwrap(), off);
        // header 5, subtype+reserved 3, AT_RAND 36, AT_MAC header 4
        assert_eq!(off, Some(48));
        let nonce_mt = [9u8; 16];
        sign_packet(&k, &mut b, &nonce_mt).unwrap();
        assert!(verify_packet(&k, &b, &nonce_mt));
        assert!(!verify_packet(&k, &b, &[8; 16]));
        let mut padded = b.clone();
        padded.extend([0xee; 3]);
        assert!(verify_packet(&k, &padded, &nonce_mt));
        b[10] ^= 1;
        assert!(!verify_packet(&k, &b, &nonce_mt));
        let mut no_mac = SimPacket::request(1, Message::new(Subtype::Challenge))
            .encode()
            .unwrap();
        assert_eq!(sign_packet(&k, &mut no_mac, &[]), Err(PacketError::NoMac));
        assert!(!verify_packet(&k, &no_mac, &[]));
        assert!(!verify_packet(&k, &[1, 2], &[]));
    }
}
