//! EAP-AKA / EAP-AKA' messages (RFC 4187 §8.1, §9, §11; RFC 9048 §3–4):
//! `Subtype (1) ‖ Reserved (2) ‖ attributes`, the part of the EAP packet
//! after the EAP Type octet.
//!
//! [`Message`] keeps the attributes in wire order; typed accessors
//! ([`Message::rand`], [`Message::mac`], [`Message::kdfs`], …, or the generic
//! [`Message::attr`]) find them. Build one with [`Message::new`] and
//! [`Message::with`]; put it in a [`crate::packet::Packet`] to encode.
//!
//! The decoder enforces the attribute layout rules of [`super::attr`] plus
//! placement rules: the encrypted-only attributes (AT_COUNTER, AT_NONCE_S, …)
//! may not appear in the clear, AT_KDF and AT_KDF_INPUT only exist in
//! EAP-AKA', AT_CHECKCODE is 0/20 octets in EAP-AKA and 0/32 in EAP-AKA', and
//! no attribute except AT_KDF (and unknown skippable ones) appears twice.
//! Which attributes a given subtype must carry is the state machine's business.

use super::attr::{
    self, AtAutn, AtAuts, AtBidding, AtCheckcode, AtClientErrorCode, AtEncrData, AtIdentity, AtIv,
    AtKdfInput, AtMac, AtNotification, AtRand, AtRes, AttrType, AttrValue, Attribute, Checkcode,
    Error, Place,
};
pub use super::keys::Method;
use crate::umts::{Autn, Auts, Res};

/// EAP-AKA subtypes (RFC 4187 §11); EAP-AKA' uses the same (RFC 9048 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subtype {
    /// AKA-Challenge (1).
    Challenge,
    /// AKA-Authentication-Reject (2).
    AuthenticationReject,
    /// AKA-Synchronization-Failure (4).
    SynchronizationFailure,
    /// AKA-Identity (5).
    Identity,
    /// AKA-Notification (12).
    Notification,
    /// AKA-Reauthentication (13).
    Reauthentication,
    /// AKA-Client-Error (14).
    ClientError,
}

impl Subtype {
    /// The subtype number.
    pub const fn value(self) -> u8 {
        match self {
            Subtype::Challenge => 1,
            Subtype::AuthenticationReject => 2,
            Subtype::SynchronizationFailure => 4,
            Subtype::Identity => 5,
            Subtype::Notification => 12,
            Subtype::Reauthentication => 13,
            Subtype::ClientError => 14,
        }
    }

    /// The subtype for a number; `None` for one RFC 4187 does not define.
    pub const fn from_value(v: u8) -> Option<Self> {
        Some(match v {
            1 => Subtype::Challenge,
            2 => Subtype::AuthenticationReject,
            4 => Subtype::SynchronizationFailure,
            5 => Subtype::Identity,
            12 => Subtype::Notification,
            13 => Subtype::Reauthentication,
            14 => Subtype::ClientError,
            _ => return None,
        })
    }
}

/// Which identity an AKA-Identity request asks for (RFC 4187 §4.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdReq {
    /// AT_PERMANENT_ID_REQ.
    Permanent,
    /// AT_FULLAUTH_ID_REQ.
    Fullauth,
    /// AT_ANY_ID_REQ.
    Any,
}

/// An EAP-AKA or EAP-AKA' message: subtype, reserved field, attributes in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The subtype.
    pub subtype: Subtype,
    /// The 2-octet reserved field as received (0 when sending; kept for byte-exactness).
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

    /// Builder: appends an attribute (`AtRand`, `AtMac::ZEROED`, …).
    #[must_use]
    pub fn with(mut self, a: impl Into<Attribute>) -> Self {
        self.attributes.push(a.into());
        self
    }

    /// Appends an attribute.
    pub fn push(&mut self, a: impl Into<Attribute>) {
        self.attributes.push(a.into());
    }

    /// Decodes the EAP Type-Data of an EAP-AKA (`method` = Aka) or EAP-AKA'
    /// message: everything after the EAP Type octet, exactly (the EAP Length
    /// already cut off trailing bytes). Attribute offsets in errors count from
    /// the first attribute.
    pub fn decode(method: Method, body: &[u8]) -> Result<Self, Error> {
        if body.len() < 3 {
            return Err(Error::MessageTooShort { len: body.len() });
        }
        let subtype = Subtype::from_value(body[0]).ok_or(Error::UnknownSubtype(body[0]))?;
        let reserved = u16::from_be_bytes([body[1], body[2]]);
        let place = match method {
            Method::Aka => Place::AkaMessage,
            Method::AkaPrime => Place::Clear,
        };
        let attributes = attr::decode_list(&body[3..], 0, place)?;
        let m = Self {
            subtype,
            reserved,
            attributes,
        };
        m.check_checkcode(method)?;
        Ok(m)
    }

    fn check_checkcode(&self, method: Method) -> Result<(), Error> {
        if let Some(c) = self.attr::<AtCheckcode>() {
            let ok = matches!(
                (method, c.checkcode),
                (_, Checkcode::Empty)
                    | (Method::Aka, Checkcode::Sha1(_))
                    | (Method::AkaPrime, Checkcode::Sha256(_))
            );
            if !ok {
                return Err(Error::CheckcodeMethod {
                    len: c.checkcode.as_bytes().len(),
                });
            }
        }
        Ok(())
    }

    /// Checks the placement rules the decoder enforces (see the module docs),
    /// so that what encodes also decodes to the same message.
    pub fn validate(&self, method: Method) -> Result<(), Error> {
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
            if method == Method::Aka && (at == AttrType::AT_KDF || at == AttrType::AT_KDF_INPUT) {
                return Err(Error::NotAllowed {
                    attr: at,
                    offset,
                    place: Place::AkaMessage,
                });
            }
            if at.name().is_some() && at != AttrType::AT_KDF {
                if seen[usize::from(at.0)] {
                    return Err(Error::Duplicate { attr: at, offset });
                }
                seen[usize::from(at.0)] = true;
            }
        }
        self.check_checkcode(method)
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

    /// The first attribute of type `T`, e.g. `m.attr::<AtRand>()`.
    pub fn attr<T: AttrValue>(&self) -> Option<&T> {
        self.attributes.iter().find_map(T::from_attribute)
    }

    /// All attributes of type `T`, in order.
    pub fn attrs<T: AttrValue>(&self) -> impl Iterator<Item = &T> {
        self.attributes.iter().filter_map(T::from_attribute)
    }

    /// Whether an attribute of type `t` is present.
    pub fn has(&self, t: AttrType) -> bool {
        self.attributes.iter().any(|a| a.attr_type() == t)
    }

    /// AT_RAND's RAND.
    pub fn rand(&self) -> Option<&[u8; 16]> {
        self.attr::<AtRand>().map(|a| &a.rand)
    }

    /// AT_AUTN's AUTN.
    pub fn autn(&self) -> Option<&Autn> {
        self.attr::<AtAutn>().map(|a| &a.autn)
    }

    /// AT_RES's RES.
    pub fn res(&self) -> Option<&Res> {
        self.attr::<AtRes>().map(|a| &a.res)
    }

    /// AT_AUTS's AUTS.
    pub fn auts(&self) -> Option<&Auts> {
        self.attr::<AtAuts>().map(|a| &a.auts)
    }

    /// AT_MAC's value as received.
    pub fn mac(&self) -> Option<&[u8; 16]> {
        self.attr::<AtMac>().map(|a| &a.mac)
    }

    /// AT_KDF values in the order received (RFC 9048 §3.2: the server's preference order).
    pub fn kdfs(&self) -> impl Iterator<Item = u16> + '_ {
        self.attrs::<attr::AtKdf>().map(|a| a.kdf)
    }

    /// AT_KDF_INPUT's network name.
    pub fn kdf_input(&self) -> Option<&[u8]> {
        self.attr::<AtKdfInput>().map(|a| a.network_name.as_slice())
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

    /// AT_CHECKCODE's value (`Some(Checkcode::Empty)` for an empty AT_CHECKCODE).
    pub fn checkcode(&self) -> Option<&Checkcode> {
        self.attr::<AtCheckcode>().map(|a| &a.checkcode)
    }

    /// Whether AT_RESULT_IND is present.
    pub fn result_ind(&self) -> bool {
        self.has(AttrType::AT_RESULT_IND)
    }

    /// AT_BIDDING's D bit, `None` without AT_BIDDING.
    pub fn bidding(&self) -> Option<bool> {
        self.attr::<AtBidding>().map(|a| a.d)
    }
}

pub use attr::{decode_encrypted_attributes, encode_encrypted_attributes};

/// Finds the 16-byte AT_MAC value in an encoded EAP-AKA/AKA' packet (EAP
/// header included) and returns its offset from the packet start, `None` if
/// the message has no AT_MAC. Checks the EAP header and the attribute framing
/// only (no full decode, no allocation); pair it with `aka::mac`.
pub fn mac_value_offset(packet: &[u8]) -> Result<Option<usize>, crate::packet::Error> {
    let (code, len) = crate::packet::header(packet)?;
    if !matches!(code, 1 | 2) || len < 5 || Method::from_eap_type(packet[4]).is_none() {
        return Err(crate::packet::Error::NotAka);
    }
    let body = &packet[5..len];
    if body.len() < 3 {
        return Err(Error::MessageTooShort { len: body.len() }.into());
    }
    Ok(mac_value_offset_in(&body[3..])?.map(|off| 5 + 3 + off))
}

/// The offset of the AT_MAC value (after its type, length and reserved
/// octets) in an EAP-SIM/AKA attribute list, `None` without AT_MAC. Checks
/// only the attribute framing and AT_MAC's length; no allocation.
pub(crate) fn mac_value_offset_in(attrs: &[u8]) -> Result<Option<usize>, Error> {
    let mut rest = attrs;
    while !rest.is_empty() {
        let offset = attrs.len() - rest.len();
        let (t, whole, next) = attr::split_attribute(rest, offset)?;
        if AttrType(t) == AttrType::AT_MAC {
            if whole.len() != 20 {
                return Err(Error::Attr {
                    attr: AttrType::AT_MAC,
                    offset,
                    rule: attr::Rule::Length {
                        units: whole[1],
                        allowed: &[5],
                    },
                });
            }
            return Ok(Some(offset + 4));
        }
        rest = next;
    }
    Ok(None)
}

/// Fills the AT_MAC value of the encoded EAP-AKA/AKA' packet `packet` (found
/// with [`mac_value_offset`]) with the MAC over the packet and `extra`
/// (see `aka::mac` for which `extra` each message needs). Bytes after the EAP
/// Length are neither covered nor touched.
///
/// # Errors
/// The packet is not EAP-AKA/AKA', is malformed, or has no AT_MAC.
pub fn sign_packet(
    k_aut: &crate::secret::KAut,
    packet: &mut [u8],
    extra: &[u8],
) -> Result<(), crate::packet::Error> {
    let len = crate::packet::packet_length(packet)?;
    let off = mac_value_offset(packet)?.ok_or(crate::packet::Error::NoMac)?;
    super::mac::sign(k_aut, &mut packet[..len], off, extra).map_err(|_| crate::packet::Error::NoMac)
}

/// Checks, in constant time, the AT_MAC of the encoded EAP-AKA/AKA' packet
/// `packet` against `k_aut` and `extra`. False when the MAC is wrong, when
/// there is no AT_MAC and when the packet is malformed.
pub fn verify_packet(k_aut: &crate::secret::KAut, packet: &[u8], extra: &[u8]) -> bool {
    let Ok(len) = crate::packet::packet_length(packet) else {
        return false;
    };
    match mac_value_offset(packet) {
        Ok(Some(off)) => super::mac::verify(k_aut, &packet[..len], off, extra),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aka::attr::{AtAnyIdReq, AtKdf, AtResultInd};
    use crate::packet::{Packet, TypeData};
    use crate::secret::{KAut, KAutAkaPrime};

    #[test]
    fn sign_and_verify_packet() {
        let k = KAut::AkaPrime(KAutAkaPrime::new([7; 32]));
        let m = Message::new(Subtype::Challenge)
            .with(AtRand::new([1; 16]))
            .with(AtMac::ZEROED);
        let p = Packet::Request {
            identifier: 1,
            data: TypeData::AkaPrime(m),
        };
        let mut b = p.encode().unwrap();
        assert!(!verify_packet(&k, &b, &[]));
        sign_packet(&k, &mut b, &[]).unwrap();
        assert!(verify_packet(&k, &b, &[]));
        assert!(!verify_packet(&k, &b, &[0]));
        // trailing link-layer padding is not covered
        let mut padded = b.clone();
        padded.extend([0xff; 3]);
        assert!(verify_packet(&k, &padded, &[]));
        b[10] ^= 1;
        assert!(!verify_packet(&k, &b, &[]));
        // no AT_MAC
        let mut no_mac = Packet::Request {
            identifier: 1,
            data: TypeData::AkaPrime(Message::new(Subtype::Challenge)),
        }
        .encode()
        .unwrap();
        assert_eq!(
            sign_packet(&k, &mut no_mac, &[]),
            Err(crate::packet::Error::NoMac)
        );
        assert!(!verify_packet(&k, &no_mac, &[]));
    }

    #[test]
    fn subtypes() {
        for v in 0..=255u8 {
            if let Some(s) = Subtype::from_value(v) {
                assert_eq!(s.value(), v);
            }
        }
        assert_eq!(
            Message::decode(Method::Aka, &[3, 0, 0]),
            Err(Error::UnknownSubtype(3))
        );
        assert_eq!(
            Message::decode(Method::Aka, &[1, 0]),
            Err(Error::MessageTooShort { len: 2 })
        );
    }

    #[test]
    fn identity_request_roundtrip() {
        let m = Message::new(Subtype::Identity).with(AtAnyIdReq::default());
        let mut b = Vec::new();
        assert_eq!(m.encode_into(&mut b).unwrap(), None);
        assert_eq!(b, [5, 0, 0, 13, 1, 0, 0]);
        let d = Message::decode(Method::Aka, &b).unwrap();
        assert_eq!(d, m);
        assert_eq!(d.id_req(), Some(IdReq::Any));
    }

    #[test]
    fn challenge_accessors_and_mac_offset() {
        let m = Message::new(Subtype::Challenge)
            .with(AtRand::new([1; 16]))
            .with(AtAutn::new(Autn([2; 16])))
            .with(AtKdfInput {
                network_name: b"WLAN".to_vec(),
            })
            .with(AtKdf::CK_IK_PRIME)
            .with(AtKdf { kdf: 2 })
            .with(AtResultInd::default())
            .with(AtMac::ZEROED);
        m.validate(Method::AkaPrime).unwrap();
        assert!(m.validate(Method::Aka).is_err());
        let mut b = Vec::new();
        let mac = m.encode_into(&mut b).unwrap().unwrap();
        assert_eq!(&b[mac - 4..mac], &[11, 5, 0, 0]);
        let d = Message::decode(Method::AkaPrime, &b).unwrap();
        assert_eq!(d, m);
        assert_eq!(d.rand(), Some(&[1; 16]));
        assert_eq!(d.autn(), Some(&Autn([2; 16])));
        assert_eq!(d.kdf_input(), Some(&b"WLAN"[..]));
        assert_eq!(d.kdfs().collect::<Vec<_>>(), vec![1, 2]);
        assert!(d.result_ind());
        assert_eq!(d.mac(), Some(&[0; 16]));
        assert_eq!(d.bidding(), None);
        // the same bytes are not a valid EAP-AKA message (AT_KDF_INPUT)
        assert!(matches!(
            Message::decode(Method::Aka, &b),
            Err(Error::NotAllowed {
                attr: AttrType::AT_KDF_INPUT,
                ..
            })
        ));
    }

    #[test]
    fn checkcode_by_method() {
        let m = Message::new(Subtype::Challenge).with(AtCheckcode::new(Checkcode::Sha256([0; 32])));
        let mut b = Vec::new();
        m.encode_into(&mut b).unwrap();
        assert!(Message::decode(Method::AkaPrime, &b).is_ok());
        assert_eq!(
            Message::decode(Method::Aka, &b),
            Err(Error::CheckcodeMethod { len: 32 })
        );
        assert!(m.validate(Method::Aka).is_err());
    }
}
