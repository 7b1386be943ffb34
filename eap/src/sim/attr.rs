//! EAP-SIM attributes (RFC 4186 §10).
//!
//! EAP-SIM and EAP-AKA number their attributes from one registry and share
//! most of them octet for octet: AT_PADDING, AT_PERMANENT_ID_REQ, AT_MAC,
//! AT_NOTIFICATION, AT_ANY_ID_REQ, AT_IDENTITY, AT_FULLAUTH_ID_REQ,
//! AT_COUNTER, AT_COUNTER_TOO_SMALL, AT_NONCE_S, AT_CLIENT_ERROR_CODE, AT_IV,
//! AT_ENCR_DATA, AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID and AT_RESULT_IND
//! (RFC 4186 §10.5–10.8, §10.11–10.20 against RFC 4187 §10). Those are the
//! very types of [`crate::aka::attr`], decoded and encoded by the same code;
//! only the attributes EAP-SIM alone has are defined here:
//!
//! - [`AtRand`]: AT_RAND (1) with **two or three** 16-byte GSM RANDs (§10.9);
//! - [`AtNonceMt`]: AT_NONCE_MT (7, §10.4);
//! - [`AtVersionList`]: AT_VERSION_LIST (15, §10.2);
//! - [`AtSelectedVersion`]: AT_SELECTED_VERSION (16, §10.3).
//!
//! The EAP-AKA-only types are foreign here: AT_AUTN, AT_RES, AT_AUTS,
//! AT_KDF_INPUT and AT_KDF (< 128) make the message invalid, AT_CHECKCODE and
//! AT_BIDDING (≥ 128) are kept as [`AtUnknown`] and ignored (RFC 4186 §8.1).
//! The same byte-exactness rules hold as for EAP-AKA: reserved fields are
//! kept as received, padding must be zero.

use crate::aka::attr::{
    self as shared, Error, Layout, ListRules, Place, Rule, actual_length_value, array16, bytes_at,
    put_actual, put_f16, put_header, put_r16, put_unknown, u16_at,
};
pub use crate::aka::attr::{
    AtAnyIdReq, AtClientErrorCode, AtCounter, AtCounterTooSmall, AtEncrData, AtFullauthIdReq,
    AtIdentity, AtIv, AtMac, AtNextPseudonym, AtNextReauthId, AtNonceS, AtNotification, AtPadding,
    AtPermanentIdReq, AtResultInd, AtUnknown, AttrType,
};

impl From<AtUnknown> for Attribute {
    fn from(v: AtUnknown) -> Self {
        Attribute::Unknown(v)
    }
}

/// EAP-SIM version 1, the only one RFC 4186 defines (§10.2).
pub const VERSION_1: u16 = 1;

/// AT_RAND of EAP-SIM: `n` GSM RANDs of 16 bytes, n = 2 or 3 (RFC 4186 §10.9).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtRand {
    /// The RANDs in the order sent (the order of n*Kc and n*SRES).
    pub rands: Vec<[u8; 16]>,
    /// The reserved field as received (0 when sending).
    pub reserved: u16,
}

impl AtRand {
    /// AT_RAND with these RANDs and the reserved field zero.
    pub fn new(rands: &[[u8; 16]]) -> Self {
        Self {
            rands: rands.to_vec(),
            reserved: 0,
        }
    }

    /// True when no RAND repeats; the peer must refuse repeated RANDs with
    /// client error code 3, "RANDs are not fresh" (RFC 4186 §10.9, §10.19).
    pub fn distinct(&self) -> bool {
        self.rands
            .iter()
            .enumerate()
            .all(|(i, r)| !self.rands[..i].contains(r))
    }
}

/// AT_NONCE_MT: the peer's 16-byte nonce in its Start response (RFC 4186 §10.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtNonceMt {
    /// NONCE_MT.
    pub nonce_mt: [u8; 16],
    /// The reserved field as received.
    pub reserved: u16,
}

impl AtNonceMt {
    /// AT_NONCE_MT with the reserved field zero.
    pub const fn new(nonce_mt: [u8; 16]) -> Self {
        Self {
            nonce_mt,
            reserved: 0,
        }
    }
}

/// AT_VERSION_LIST: the versions the server supports, in its order of
/// preference (RFC 4186 §10.2). On the wire: actual length in octets, the
/// 2-octet versions, zero padding. The list is an input of MK (§7).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtVersionList {
    /// The versions, in order.
    pub versions: Vec<u16>,
}

impl AtVersionList {
    /// The list as it enters MK: the versions as 2-octet big-endian numbers, no padding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.versions.iter().flat_map(|v| v.to_be_bytes()).collect()
    }
}

/// AT_SELECTED_VERSION: the version the peer picked (RFC 4186 §10.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtSelectedVersion {
    /// The version.
    pub version: u16,
}

/// The client error codes of RFC 4186 §10.19 (AT_CLIENT_ERROR_CODE is shared with EAP-AKA).
impl AtClientErrorCode {
    /// EAP-SIM: "unsupported version" (1).
    pub const UNSUPPORTED_VERSION: AtClientErrorCode = AtClientErrorCode { code: 1 };
    /// EAP-SIM: "insufficient number of challenges" (2).
    pub const INSUFFICIENT_CHALLENGES: AtClientErrorCode = AtClientErrorCode { code: 2 };
    /// EAP-SIM: "RANDs are not fresh" (3).
    pub const RANDS_NOT_FRESH: AtClientErrorCode = AtClientErrorCode { code: 3 };
}

/// A typed attribute value that knows its [`AttrType`]: used by
/// `sim::message::Message::attr::<T>()`.
pub trait AttrValue: Sized + 'static {
    /// The attribute type number.
    const TYPE: AttrType;
    /// The value if `a` is this attribute.
    fn from_attribute(a: &Attribute) -> Option<&Self>;
}

macro_rules! attributes {
    (
        shared { $( $(#[$sdoc:meta])* $svariant:ident($sty:ident) = $sat:ident ),* $(,)? }
        own { $( $(#[$odoc:meta])* $ovariant:ident($oty:ident) = $oat:ident ),* $(,)? }
    ) => {
        /// One EAP-SIM attribute.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Attribute {
            $( $(#[$sdoc])* $svariant($sty), )*
            $( $(#[$odoc])* $ovariant($oty), )*
            /// An unknown skippable attribute (kept, ignored).
            Unknown(AtUnknown),
        }

        impl Attribute {
            /// Its type number.
            pub fn attr_type(&self) -> AttrType {
                match self {
                    $( Attribute::$svariant(_) => AttrType::$sat, )*
                    $( Attribute::$ovariant(_) => AttrType::$oat, )*
                    Attribute::Unknown(u) => AttrType(u.attr_type),
                }
            }

            /// The EAP-SIM attribute for a shared one decoded by the EAP-AKA
            /// codec; `None` for an EAP-AKA-only attribute.
            fn from_shared(a: shared::Attribute) -> Option<Self> {
                match a {
                    $( shared::Attribute::$svariant(v) => Some(Attribute::$svariant(v)), )*
                    _ => None,
                }
            }

            /// Appends the encoded attribute to `out`. `offset` is only used in
            /// errors. Values that cannot be encoded (a field out of range, a
            /// value too long, AT_RAND without 2 or 3 RANDs) are errors.
            pub fn encode_into(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
                match self {
                    $( Attribute::$svariant(a) => a.put(out, offset), )*
                    $( Attribute::$ovariant(a) => a.put_sim(out, offset), )*
                    Attribute::Unknown(a) => put_unknown(out, a, offset, is_sim_type),
                }
            }
        }

        $(
            impl From<$sty> for Attribute {
                fn from(v: $sty) -> Self {
                    Attribute::$svariant(v)
                }
            }
            impl AttrValue for $sty {
                const TYPE: AttrType = AttrType::$sat;
                fn from_attribute(a: &Attribute) -> Option<&Self> {
                    match a {
                        Attribute::$svariant(v) => Some(v),
                        _ => None,
                    }
                }
            }
        )*
        $(
            impl From<$oty> for Attribute {
                fn from(v: $oty) -> Self {
                    Attribute::$ovariant(v)
                }
            }
            impl AttrValue for $oty {
                const TYPE: AttrType = AttrType::$oat;
                fn from_attribute(a: &Attribute) -> Option<&Self> {
                    match a {
                        Attribute::$ovariant(v) => Some(v),
                        _ => None,
                    }
                }
            }
        )*
    };
}

attributes! {
    shared {
        /// AT_PADDING (RFC 4186 §10.12).
        Padding(AtPadding) = AT_PADDING,
        /// AT_PERMANENT_ID_REQ (RFC 4186 §10.5).
        PermanentIdReq(AtPermanentIdReq) = AT_PERMANENT_ID_REQ,
        /// AT_MAC (RFC 4186 §10.14).
        Mac(AtMac) = AT_MAC,
        /// AT_NOTIFICATION (RFC 4186 §10.18).
        Notification(AtNotification) = AT_NOTIFICATION,
        /// AT_ANY_ID_REQ (RFC 4186 §10.6).
        AnyIdReq(AtAnyIdReq) = AT_ANY_ID_REQ,
        /// AT_IDENTITY (RFC 4186 §10.8).
        Identity(AtIdentity) = AT_IDENTITY,
        /// AT_FULLAUTH_ID_REQ (RFC 4186 §10.7).
        FullauthIdReq(AtFullauthIdReq) = AT_FULLAUTH_ID_REQ,
        /// AT_COUNTER (RFC 4186 §10.15), encrypted only.
        Counter(AtCounter) = AT_COUNTER,
        /// AT_COUNTER_TOO_SMALL (RFC 4186 §10.16), encrypted only.
        CounterTooSmall(AtCounterTooSmall) = AT_COUNTER_TOO_SMALL,
        /// AT_NONCE_S (RFC 4186 §10.17), encrypted only.
        NonceS(AtNonceS) = AT_NONCE_S,
        /// AT_CLIENT_ERROR_CODE (RFC 4186 §10.19).
        ClientErrorCode(AtClientErrorCode) = AT_CLIENT_ERROR_CODE,
        /// AT_IV (RFC 4186 §10.12).
        Iv(AtIv) = AT_IV,
        /// AT_ENCR_DATA (RFC 4186 §10.12).
        EncrData(AtEncrData) = AT_ENCR_DATA,
        /// AT_NEXT_PSEUDONYM (RFC 4186 §10.10), encrypted only.
        NextPseudonym(AtNextPseudonym) = AT_NEXT_PSEUDONYM,
        /// AT_NEXT_REAUTH_ID (RFC 4186 §10.11), encrypted only.
        NextReauthId(AtNextReauthId) = AT_NEXT_REAUTH_ID,
        /// AT_RESULT_IND (RFC 4186 §10.13).
        ResultInd(AtResultInd) = AT_RESULT_IND,
    }
    own {
        /// AT_RAND with 2 or 3 RANDs (RFC 4186 §10.9).
        Rand(AtRand) = AT_RAND,
        /// AT_NONCE_MT (RFC 4186 §10.4).
        NonceMt(AtNonceMt) = AT_NONCE_MT,
        /// AT_VERSION_LIST (RFC 4186 §10.2).
        VersionList(AtVersionList) = AT_VERSION_LIST,
        /// AT_SELECTED_VERSION (RFC 4186 §10.3).
        SelectedVersion(AtSelectedVersion) = AT_SELECTED_VERSION,
    }
}

/// True for the attribute types RFC 4186 defines (§11); any other type is
/// unknown to EAP-SIM, even when EAP-AKA knows it.
pub const fn is_sim_type(t: AttrType) -> bool {
    matches!(
        t.0,
        1 | 6
            | 7
            | 10
            | 11
            | 12
            | 13
            | 14
            | 15
            | 16
            | 17
            | 19
            | 20
            | 21
            | 22
            | 129
            | 130
            | 132
            | 133
            | 135
    )
}

/// The list rules of EAP-SIM: no attribute repeats, nothing method-specific refused.
pub(crate) const SIM_RULES: ListRules = ListRules {
    known: is_sim_type,
    repeats: |_| false,
    refused: |_, _| false,
};

// ---------------------------------------------------------------- the SIM-only layouts

impl AtRand {
    fn put_sim(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        if !(2..=3).contains(&self.rands.len()) {
            return Err(Error::Attr {
                attr: AttrType::AT_RAND,
                offset,
                rule: Rule::FieldRange,
            });
        }
        put_header(out, AttrType::AT_RAND, 4 + 16 * self.rands.len());
        out.extend_from_slice(&self.reserved.to_be_bytes());
        for r in &self.rands {
            out.extend_from_slice(r);
        }
        Ok(())
    }
}

impl AtNonceMt {
    fn put_sim(&self, out: &mut Vec<u8>, _offset: usize) -> Result<(), Error> {
        put_r16(out, AttrType::AT_NONCE_MT, self.reserved, &self.nonce_mt);
        Ok(())
    }
}

impl AtVersionList {
    fn put_sim(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        put_actual(out, AttrType::AT_VERSION_LIST, &self.to_bytes(), offset)
    }
}

impl AtSelectedVersion {
    fn put_sim(&self, out: &mut Vec<u8>, _offset: usize) -> Result<(), Error> {
        put_f16(out, AttrType::AT_SELECTED_VERSION, self.version);
        Ok(())
    }
}

/// Decodes one EAP-SIM attribute from its full bytes `whole` (header
/// included, length already checked to fit and be non-zero).
pub(crate) fn decode_one(t: u8, whole: &[u8], offset: usize) -> Result<Attribute, Error> {
    let attr = AttrType(t);
    let units = whole[1];
    let value = &whole[2..];
    let fail = |rule| Error::Attr { attr, offset, rule };
    let need = |allowed: &'static [u8]| {
        if allowed.contains(&units) {
            Ok(())
        } else {
            Err(fail(Rule::Length { units, allowed }))
        }
    };
    let short = || {
        fail(Rule::Length {
            units,
            allowed: &[],
        })
    };
    Ok(match attr {
        AttrType::AT_RAND => {
            need(&[9, 13])?;
            let (rest, reserved) = u16_at(value, short)?;
            let rands = rest.chunks_exact(16).map(array16).collect();
            Attribute::Rand(AtRand { rands, reserved })
        }
        AttrType::AT_NONCE_MT => {
            need(&[5])?;
            let (rest, reserved) = u16_at(value, short)?;
            let (_, nonce) = bytes_at(rest, 16, short)?;
            Attribute::NonceMt(AtNonceMt {
                nonce_mt: array16(nonce),
                reserved,
            })
        }
        AttrType::AT_VERSION_LIST => {
            let list = actual_length_value(value, fail)?;
            if list.len() % 2 != 0 {
                return Err(fail(Rule::VersionListLength {
                    actual: u16::try_from(list.len()).unwrap_or(u16::MAX),
                }));
            }
            let versions = list
                .chunks_exact(2)
                .map(|v| u16::from_be_bytes([v[0], v[1]]))
                .collect();
            Attribute::VersionList(AtVersionList { versions })
        }
        AttrType::AT_SELECTED_VERSION => {
            need(&[1])?;
            Attribute::SelectedVersion(AtSelectedVersion {
                version: u16_at(value, short)?.1,
            })
        }
        t if is_sim_type(t) => {
            let a = shared::decode_one(t.0, whole, offset)?;
            Attribute::from_shared(a).ok_or(Error::UnknownNonSkippable { attr: t, offset })?
        }
        t if t.is_skippable() => Attribute::Unknown(AtUnknown {
            attr_type: t.0,
            value: value.to_vec(),
        }),
        t => return Err(Error::UnknownNonSkippable { attr: t, offset }),
    })
}

/// Decodes an EAP-SIM attribute list filling `input` exactly, in the clear.
pub(crate) fn decode_list(input: &[u8]) -> Result<Vec<Attribute>, Error> {
    shared::decode_list_with(input, 0, Place::Clear, &SIM_RULES, decode_one)
}

/// Decodes one EAP-SIM attribute at the start of `input`: the attribute and
/// the rest. Only the layout rules of the attribute itself are checked.
pub fn decode_attribute(input: &[u8]) -> Result<(Attribute, &[u8]), Error> {
    let (t, whole, rest) = shared::split_attribute(input, 0)?;
    Ok((decode_one(t, whole, 0)?, rest))
}

impl Attribute {
    /// The encoded attribute on its own.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(&mut out, 0)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(b: &[u8]) -> Result<Attribute, Error> {
        let (a, rest) = decode_attribute(b)?;
        assert!(rest.is_empty());
        Ok(a)
    }

    fn rule(b: &[u8]) -> Rule {
        match dec(b) {
            Err(Error::Attr { rule, .. }) => rule,
            other => panic!("expected an attribute error, got {other:?}"),
        }
    }

    fn roundtrip(b: &[u8]) -> Attribute {
        let a = dec(b).unwrap();
        assert_eq!(a.encode().unwrap(), b, "re-encoding {a:?}");
        a
    }

    fn rand_attr(n: usize) -> Vec<u8> {
        let mut b = vec![1, (1 + 4 * n) as u8, 0, 0];
        for i in 0..n {
            b.extend([0x10 * (i as u8 + 1); 16]);
        }
        b
    }

    #[test]
    fn rand_two_or_three() {
        let a = roundtrip(&rand_attr(2));
        assert_eq!(a, Attribute::Rand(AtRand::new(&[[0x10; 16], [0x20; 16]])));
        roundtrip(&rand_attr(3));
        // one RAND (the EAP-AKA AT_RAND) and four RANDs are not EAP-SIM
        for n in [1, 4] {
            assert!(matches!(
                rule(&rand_attr(n)),
                Rule::Length {
                    allowed: &[9, 13],
                    ..
                }
            ));
        }
        for n in [0usize, 1, 4] {
            let a = Attribute::Rand(AtRand::new(&vec![[0; 16]; n]));
            assert!(matches!(
                a.encode(),
                Err(Error::Attr {
                    rule: Rule::FieldRange,
                    ..
                })
            ));
        }
        assert!(AtRand::new(&[[1; 16], [2; 16], [3; 16]]).distinct());
        assert!(!AtRand::new(&[[1; 16], [2; 16], [1; 16]]).distinct());
    }

    #[test]
    fn nonce_mt_and_selected_version() {
        let mut b = vec![7, 5, 0xab, 0xcd];
        b.extend(1..=16u8);
        assert_eq!(
            roundtrip(&b),
            Attribute::NonceMt(AtNonceMt {
                nonce_mt: core::array::from_fn(|i| i as u8 + 1),
                reserved: 0xabcd
            })
        );
        assert!(matches!(rule(&b[..16]), Rule::Overrun { .. }));
        assert_eq!(
            roundtrip(&[16, 1, 0, 1]),
            Attribute::SelectedVersion(AtSelectedVersion { version: 1 })
        );
        assert!(matches!(
            rule(&[16, 2, 0, 1, 0, 0, 0, 0]),
            Rule::Length { units: 2, .. }
        ));
    }

    #[test]
    fn version_list() {
        // RFC 4186 Appendix A.3: one version, 2 octets of padding
        let a = roundtrip(&[15, 2, 0, 2, 0, 1, 0, 0]);
        assert_eq!(
            a,
            Attribute::VersionList(AtVersionList {
                versions: vec![VERSION_1]
            })
        );
        roundtrip(&[15, 2, 0, 4, 0, 2, 0, 1]);
        roundtrip(&[15, 1, 0, 0]);
        assert_eq!(
            rule(&[15, 2, 0, 3, 0, 1, 2, 0]),
            Rule::VersionListLength { actual: 3 }
        );
        assert_eq!(rule(&[15, 2, 0, 2, 0, 1, 0, 9]), Rule::NonZeroPadding);
        assert_eq!(
            AtVersionList {
                versions: vec![1, 0x0203]
            }
            .to_bytes(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn shared_attributes_decode_as_in_aka() {
        for b in [
            vec![10u8, 1, 0, 0],
            vec![13, 1, 0, 0],
            vec![17, 1, 0, 0],
            vec![135, 1, 0, 0],
            vec![22, 1, 0, 3],
            vec![12, 1, 0x80, 0],
            vec![14, 2, 0, 3, b'a', b'b', b'c', 0],
        ] {
            let sim = roundtrip(&b);
            let (aka, _) = shared::decode_attribute(&b).unwrap();
            assert_eq!(sim.attr_type(), aka.attr_type());
            assert_eq!(aka.encode().unwrap(), b);
        }
        // the same layout errors as EAP-AKA
        assert_eq!(
            rule(&[14, 2, 0, 9, b'a', 0, 0, 0]),
            Rule::ActualLength {
                actual: 9,
                value_len: 4
            }
        );
    }

    #[test]
    fn aka_only_types_are_foreign() {
        for t in [2u8, 3, 4, 23, 24] {
            assert_eq!(
                dec(&[t, 1, 0, 0]),
                Err(Error::UnknownNonSkippable {
                    attr: AttrType(t),
                    offset: 0
                })
            );
        }
        // AT_CHECKCODE and AT_BIDDING are skippable: kept as unknown
        for t in [134u8, 136] {
            let a = roundtrip(&[t, 1, 0, 0]);
            assert!(matches!(a, Attribute::Unknown(AtUnknown { attr_type, .. }) if attr_type == t));
        }
        // an unknown may not pose as an EAP-SIM type, but may use an EAP-AKA-only one
        let fake = Attribute::Unknown(AtUnknown {
            attr_type: 130,
            value: vec![0, 0],
        });
        assert!(fake.encode().is_err());
        assert_eq!(
            dec(&[5, 1, 0, 0]).unwrap_err(),
            Error::UnknownNonSkippable {
                attr: AttrType(5),
                offset: 0
            }
        );
    }

    #[test]
    fn list_rules() {
        let mut b = rand_attr(2);
        b.extend(rand_attr(3));
        assert_eq!(
            decode_list(&b),
            Err(Error::Duplicate {
                attr: AttrType::AT_RAND,
                offset: 36
            })
        );
        // encrypted-only in the clear
        assert!(matches!(
            decode_list(&[19, 1, 0, 1]),
            Err(Error::NotAllowed {
                place: Place::Clear,
                ..
            })
        ));
        // unknown skippable may repeat
        assert_eq!(decode_list(&[200, 1, 0, 0, 200, 1, 0, 0]).unwrap().len(), 2);
        assert!(is_sim_type(AttrType::AT_NONCE_MT) && !is_sim_type(AttrType::AT_AUTN));
    }
}
