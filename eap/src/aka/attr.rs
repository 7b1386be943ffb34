//! EAP-AKA / EAP-AKA' attributes (RFC 4187 §8.1, §10; RFC 9048 §3.1–3.2, §4).
//!
//! Every attribute is `Type (1) ‖ Length (1, in 4-octet units, type and
//! length included) ‖ Value`. Each attribute the RFCs define has its own typed
//! value (`AtRand`, `AtRes`, …); [`Attribute`] is the sum of them plus
//! [`AtUnknown`] for unrecognised *skippable* attributes (type ≥ 128), which
//! are kept so that the encoding stays byte-exact and are otherwise ignored.
//! An unrecognised non-skippable attribute (type < 128) makes the message
//! invalid (RFC 4187 §8.1).
//!
//! Byte-exactness: for every input that decodes, encoding the result gives the
//! same bytes back. Reserved fields are therefore *kept* as received (the RFCs
//! say "set to zero when sending, ignored on reception"; constructors set them
//! to zero). Padding bytes (AT_PADDING, the padding after AT_IDENTITY,
//! AT_RES, AT_KDF_INPUT, AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID) must be zero
//! (RFC 4187 §10.12 requires the check for AT_PADDING; for the others the RFC
//! says the sender pads with zero bytes) — a non-zero pad is rejected rather
//! than silently dropped.
//!
//! EAP-SIM (RFC 4186) uses the same registry and layouts for most of these
//! attributes; `crate::sim::attr` reuses the value types defined here and
//! their coding (the crate-private `Layout` trait, `decode_one`,
//! `decode_list_with`), adding only the SIM-only attributes.

use crate::umts::{Autn, Auts, Res};
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

/// Largest value of the 1-byte Length field: 255 units of 4 octets.
const MAX_ATTR_LEN: usize = 255 * 4;
/// Room for data after the 2-byte "actual length" in one attribute.
const MAX_ACTUAL_LEN: usize = MAX_ATTR_LEN - 4;

/// An attribute type number (RFC 4186 §11, RFC 4187 §11, RFC 9048 §6); EAP-SIM
/// and EAP-AKA number their attributes from one registry. Displays as its RFC
/// name (`AT_RAND`) or as `attribute N` when unknown.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrType(pub u8);

impl AttrType {
    /// AT_RAND (RFC 4187 §10.6).
    pub const AT_RAND: AttrType = AttrType(1);
    /// AT_AUTN (RFC 4187 §10.7).
    pub const AT_AUTN: AttrType = AttrType(2);
    /// AT_RES (RFC 4187 §10.8).
    pub const AT_RES: AttrType = AttrType(3);
    /// AT_AUTS (RFC 4187 §10.9).
    pub const AT_AUTS: AttrType = AttrType(4);
    /// AT_PADDING (RFC 4187 §10.12).
    pub const AT_PADDING: AttrType = AttrType(6);
    /// AT_NONCE_MT (RFC 4186 §10.4), EAP-SIM only.
    pub const AT_NONCE_MT: AttrType = AttrType(7);
    /// AT_PERMANENT_ID_REQ (RFC 4187 §10.2).
    pub const AT_PERMANENT_ID_REQ: AttrType = AttrType(10);
    /// AT_MAC (RFC 4187 §10.15).
    pub const AT_MAC: AttrType = AttrType(11);
    /// AT_NOTIFICATION (RFC 4187 §10.19).
    pub const AT_NOTIFICATION: AttrType = AttrType(12);
    /// AT_ANY_ID_REQ (RFC 4187 §10.3).
    pub const AT_ANY_ID_REQ: AttrType = AttrType(13);
    /// AT_IDENTITY (RFC 4187 §10.5).
    pub const AT_IDENTITY: AttrType = AttrType(14);
    /// AT_VERSION_LIST (RFC 4186 §10.2), EAP-SIM only.
    pub const AT_VERSION_LIST: AttrType = AttrType(15);
    /// AT_SELECTED_VERSION (RFC 4186 §10.3), EAP-SIM only.
    pub const AT_SELECTED_VERSION: AttrType = AttrType(16);
    /// AT_FULLAUTH_ID_REQ (RFC 4187 §10.4).
    pub const AT_FULLAUTH_ID_REQ: AttrType = AttrType(17);
    /// AT_COUNTER (RFC 4187 §10.16).
    pub const AT_COUNTER: AttrType = AttrType(19);
    /// AT_COUNTER_TOO_SMALL (RFC 4187 §10.17).
    pub const AT_COUNTER_TOO_SMALL: AttrType = AttrType(20);
    /// AT_NONCE_S (RFC 4187 §10.18).
    pub const AT_NONCE_S: AttrType = AttrType(21);
    /// AT_CLIENT_ERROR_CODE (RFC 4187 §10.20).
    pub const AT_CLIENT_ERROR_CODE: AttrType = AttrType(22);
    /// AT_KDF_INPUT (RFC 9048 §3.1), EAP-AKA' only.
    pub const AT_KDF_INPUT: AttrType = AttrType(23);
    /// AT_KDF (RFC 9048 §3.2), EAP-AKA' only.
    pub const AT_KDF: AttrType = AttrType(24);
    /// AT_IV (RFC 4187 §10.12).
    pub const AT_IV: AttrType = AttrType(129);
    /// AT_ENCR_DATA (RFC 4187 §10.12).
    pub const AT_ENCR_DATA: AttrType = AttrType(130);
    /// AT_NEXT_PSEUDONYM (RFC 4187 §10.10).
    pub const AT_NEXT_PSEUDONYM: AttrType = AttrType(132);
    /// AT_NEXT_REAUTH_ID (RFC 4187 §10.11).
    pub const AT_NEXT_REAUTH_ID: AttrType = AttrType(133);
    /// AT_CHECKCODE (RFC 4187 §10.13, RFC 9048 §3.2 for the 32-byte form).
    pub const AT_CHECKCODE: AttrType = AttrType(134);
    /// AT_RESULT_IND (RFC 4187 §10.14).
    pub const AT_RESULT_IND: AttrType = AttrType(135);
    /// AT_BIDDING (RFC 9048 §4).
    pub const AT_BIDDING: AttrType = AttrType(136);

    /// Skippable attributes (type 128–255) may be ignored when unknown (RFC 4187 §8.1).
    pub const fn is_skippable(self) -> bool {
        self.0 >= 128
    }

    /// The RFC name (RFC 4186 or RFC 4187/9048), `None` for a type this
    /// crate does not know. Which types a method accepts is the method's
    /// business: the EAP-SIM types are unknown (non-skippable) in EAP-AKA.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "AT_RAND",
            2 => "AT_AUTN",
            3 => "AT_RES",
            4 => "AT_AUTS",
            6 => "AT_PADDING",
            7 => "AT_NONCE_MT",
            10 => "AT_PERMANENT_ID_REQ",
            11 => "AT_MAC",
            12 => "AT_NOTIFICATION",
            13 => "AT_ANY_ID_REQ",
            14 => "AT_IDENTITY",
            15 => "AT_VERSION_LIST",
            16 => "AT_SELECTED_VERSION",
            17 => "AT_FULLAUTH_ID_REQ",
            19 => "AT_COUNTER",
            20 => "AT_COUNTER_TOO_SMALL",
            21 => "AT_NONCE_S",
            22 => "AT_CLIENT_ERROR_CODE",
            23 => "AT_KDF_INPUT",
            24 => "AT_KDF",
            129 => "AT_IV",
            130 => "AT_ENCR_DATA",
            132 => "AT_NEXT_PSEUDONYM",
            133 => "AT_NEXT_REAUTH_ID",
            134 => "AT_CHECKCODE",
            135 => "AT_RESULT_IND",
            136 => "AT_BIDDING",
            _ => return None,
        })
    }

    /// True for the types that may only travel inside AT_ENCR_DATA
    /// (RFC 4187 §10.10–10.12, §10.16–10.18).
    pub const fn is_encrypted_only(self) -> bool {
        matches!(self.0, 6 | 19 | 20 | 21 | 132 | 133)
    }
}

impl core::fmt::Display for AttrType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "attribute {}", self.0),
        }
    }
}

impl core::fmt::Debug for AttrType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self}({})", self.0)
    }
}

/// The rule of RFC 4187 / RFC 9048 that an attribute broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    /// Length field 0 (RFC 4187 §8.1: an attribute is at least 4 octets).
    #[error("Length 0")]
    ZeroLength,
    /// The attribute runs past the end of the message.
    #[error("Length {length} octets but only {available} left in the message")]
    Overrun {
        /// Length in octets (Length field × 4).
        length: usize,
        /// Octets left from the attribute's first byte.
        available: usize,
    },
    /// The Length field (in 4-octet units) is not one the RFC allows here.
    #[error("Length {units} (×4 octets) not allowed, allowed: {allowed:?}")]
    Length {
        /// The Length field.
        units: u8,
        /// The allowed Length values.
        allowed: &'static [u8],
    },
    /// AT_RES: RES Length (bits) must be 32–128 and a whole number of bytes
    /// (RFC 4187 §10.8; TS 33.102 RES is 4–16 octets).
    #[error("RES Length {bits} bits is not a whole number of bytes in 32..=128")]
    ResBits {
        /// The RES Length field.
        bits: u16,
    },
    /// AT_RES: RES Length does not match the attribute length (RES padded to 4 octets).
    #[error("RES Length {bits} bits does not match {value_len} octets of padded RES")]
    ResLength {
        /// The RES Length field.
        bits: u16,
        /// Octets after the RES Length field.
        value_len: usize,
    },
    /// AT_IDENTITY, AT_KDF_INPUT, AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID: the
    /// actual length does not fill the attribute up to less than 4 pad octets.
    #[error("actual length {actual} does not match {value_len} octets of padded data")]
    ActualLength {
        /// The actual-length field.
        actual: u16,
        /// Octets after the actual-length field.
        value_len: usize,
    },
    /// AT_KDF_INPUT: the network name must not be empty (RFC 9048 §3.1).
    #[error("empty network name")]
    EmptyNetworkName,
    /// Padding bytes must be zero (RFC 4187 §10.12 for AT_PADDING; senders pad with zeros elsewhere).
    #[error("non-zero padding byte")]
    NonZeroPadding,
    /// AT_ENCR_DATA: the encrypted data must be a non-empty multiple of 16 octets (RFC 4187 §10.12).
    #[error("encrypted data of {len} octets is not a non-empty multiple of 16")]
    EncrDataLength {
        /// Octets of encrypted data.
        len: usize,
    },
    /// AT_VERSION_LIST: the actual length is odd, so not a list of 2-octet
    /// versions (RFC 4186 §10.2).
    #[error("version list of {actual} octets is not a list of 2-octet versions")]
    VersionListLength {
        /// The actual-length field.
        actual: u16,
    },
    /// Encoding: a variable-length value does not fit in one attribute (at most 1016 octets).
    #[error("value of {len} octets does not fit in an attribute")]
    ValueTooLong {
        /// Octets of the value.
        len: usize,
    },
    /// Encoding: AtNotification code above 14 bits, AtBidding reserved above 15 bits,
    /// AtPadding units outside 1–3, AtUnknown value not 2 mod 4 octets, an
    /// EAP-SIM AT_RAND without 2 or 3 RANDs.
    #[error("field value does not fit the attribute layout")]
    FieldRange,
    /// Encoding: an [`AtUnknown`] with a type this crate knows or a non-skippable type.
    #[error("AtUnknown must have an unknown skippable type (≥ 128)")]
    NotUnknown,
}

/// Where an attribute was found, for [`Error::NotAllowed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the clear, in the message itself.
    Clear,
    /// Inside decrypted AT_ENCR_DATA.
    Encrypted,
    /// In an EAP-AKA (type 23) message, where RFC 4187 does not define it.
    AkaMessage,
}

impl core::fmt::Display for Place {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Place::Clear => "outside AT_ENCR_DATA",
            Place::Encrypted => "inside AT_ENCR_DATA",
            Place::AkaMessage => "in an EAP-AKA (not AKA') message",
        })
    }
}

/// Everything that can be wrong with an EAP-AKA/AKA' message or attribute.
/// Offsets count octets from the first byte of the attribute list (after
/// Subtype and Reserved), except in errors from `Message::validate`, where
/// they are the index of the attribute in `Message::attributes`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer than 3 octets (Subtype, 2 reserved octets; RFC 4187 §8.1).
    #[error("EAP-SIM/AKA message of {len} octets, need at least 3 (Subtype, Reserved)")]
    MessageTooShort {
        /// Octets after the EAP Type.
        len: usize,
    },
    /// A subtype RFC 4187 §11 (RFC 4186 §11 for EAP-SIM) does not define.
    #[error("unknown EAP-SIM/AKA subtype {0}")]
    UnknownSubtype(u8),
    /// One octet left where an attribute header (2 octets) should be.
    #[error("truncated attribute header at offset {offset}")]
    TruncatedHeader {
        /// Offset of the lone octet.
        offset: usize,
    },
    /// A known attribute broke a rule.
    #[error("{attr} at offset {offset}: {rule}")]
    Attr {
        /// The attribute type.
        attr: AttrType,
        /// Offset of its type octet.
        offset: usize,
        /// The broken rule.
        rule: Rule,
    },
    /// An unknown attribute below 128 (non-skippable, RFC 4187 §8.1).
    #[error("unknown non-skippable {attr} at offset {offset}")]
    UnknownNonSkippable {
        /// The attribute type.
        attr: AttrType,
        /// Offset of its type octet.
        offset: usize,
    },
    /// The same attribute twice. RFC 4187 messages carry each attribute once;
    /// only AT_KDF repeats (RFC 9048 §3.2) and unknown skippable ones are let through.
    #[error("duplicate {attr} at offset {offset}")]
    Duplicate {
        /// The attribute type.
        attr: AttrType,
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// An attribute where the RFC does not allow it (e.g. AT_COUNTER in the clear,
    /// AT_RESULT_IND inside AT_ENCR_DATA, AT_KDF in EAP-AKA).
    #[error("{attr} at offset {offset} not allowed {place}")]
    NotAllowed {
        /// The attribute type.
        attr: AttrType,
        /// Offset of its type octet.
        offset: usize,
        /// Where it was found.
        place: Place,
    },
    /// AT_PADDING must be the last attribute of the encrypted data (RFC 4187 §10.12).
    #[error("AT_PADDING at offset {offset} is not the last encrypted attribute")]
    PaddingNotLast {
        /// Offset of AT_PADDING.
        offset: usize,
    },
    /// Decrypted AT_ENCR_DATA content must be a multiple of 16 octets (AES-CBC blocks).
    #[error("encrypted attributes of {len} octets, not a multiple of 16")]
    EncryptedLength {
        /// Octets given.
        len: usize,
    },
    /// AT_CHECKCODE length does not fit the method: 0 or 20 octets for EAP-AKA,
    /// 0 or 32 for EAP-AKA' (RFC 4187 §10.13, RFC 9048 §3.4).
    #[error("AT_CHECKCODE of {len} octets does not fit the method")]
    CheckcodeMethod {
        /// Checkcode octets.
        len: usize,
    },
}

/// AT_RAND: the 16-byte RAND (RFC 4187 §10.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtRand {
    /// RAND.
    pub rand: [u8; 16],
    /// The reserved field as received (0 when sending).
    pub reserved: u16,
}

/// AT_AUTN: the 16-byte AUTN (RFC 4187 §10.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtAutn {
    /// AUTN.
    pub autn: Autn,
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_RES: RES of 4–16 bytes; the RES Length on the wire is its length in bits (RFC 4187 §10.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtRes {
    /// RES.
    pub res: Res,
}

/// AT_AUTS: the 14-byte AUTS (RFC 4187 §10.9). No reserved field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtAuts {
    /// AUTS.
    pub auts: Auts,
}

/// AT_PADDING: `units` × 4 octets of zeros, 1 ≤ units ≤ 3 (RFC 4187 §10.12). Encrypted only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtPadding {
    /// The Length field: 1, 2 or 3 (4, 8 or 12 octets).
    pub units: u8,
}

/// AT_PERMANENT_ID_REQ (RFC 4187 §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtPermanentIdReq {
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_MAC: the 16-byte MAC (RFC 4187 §10.15). Encode it zeroed and fill it
/// in the encoded packet (see `Packet::encode_with_mac_offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtMac {
    /// The MAC value.
    pub mac: [u8; 16],
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_NOTIFICATION (RFC 4187 §10.19): S bit, P bit and the 14 remaining code bits.
/// The RFC's 16-bit notification code is [`AtNotification::value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtNotification {
    /// S bit: 1 = success, 0 = failure.
    pub success: bool,
    /// P bit: 1 = sent before the challenge ("pre-challenge"), 0 = after it (AT_MAC required).
    pub pre_challenge: bool,
    /// The low 14 bits of the notification code (≤ 0x3FFF).
    pub code: u16,
}

impl AtNotification {
    /// "General Failure after Authentication" (code 0, RFC 4187 §10.19).
    pub const GENERAL_FAILURE_AFTER_AUTHENTICATION: AtNotification = AtNotification::from_value(0);
    /// "General Failure" (code 16384).
    pub const GENERAL_FAILURE: AtNotification = AtNotification::from_value(16384);
    /// "Success" (code 32768).
    pub const SUCCESS: AtNotification = AtNotification::from_value(32768);
    /// "User has been temporarily denied access" (code 1026).
    pub const TEMPORARILY_DENIED: AtNotification = AtNotification::from_value(1026);
    /// "User has not subscribed to the requested service" (code 1031).
    pub const NOT_SUBSCRIBED: AtNotification = AtNotification::from_value(1031);

    /// From the 16-bit notification code as the RFC numbers it.
    pub const fn from_value(v: u16) -> Self {
        Self {
            success: v & 0x8000 != 0,
            pre_challenge: v & 0x4000 != 0,
            code: v & 0x3fff,
        }
    }

    /// The 16-bit notification code (S ‖ P ‖ code).
    pub const fn value(&self) -> u16 {
        ((self.success as u16) << 15) | ((self.pre_challenge as u16) << 14) | (self.code & 0x3fff)
    }
}

/// AT_ANY_ID_REQ (RFC 4187 §10.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtAnyIdReq {
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_IDENTITY: identity of `actual length` bytes, zero-padded (RFC 4187 §10.5).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtIdentity {
    /// The identity (NAI) bytes, without padding.
    pub identity: Vec<u8>,
}

/// AT_FULLAUTH_ID_REQ (RFC 4187 §10.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtFullauthIdReq {
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_COUNTER: the 16-bit re-authentication counter (RFC 4187 §10.16). Encrypted only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtCounter {
    /// Counter.
    pub counter: u16,
}

/// AT_COUNTER_TOO_SMALL (RFC 4187 §10.17). Encrypted only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtCounterTooSmall {
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_NONCE_S: the server's 16-byte re-authentication nonce (RFC 4187 §10.18). Encrypted only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtNonceS {
    /// NONCE_S.
    pub nonce_s: [u8; 16],
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_CLIENT_ERROR_CODE (RFC 4187 §10.20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtClientErrorCode {
    /// The code; 0 = "unable to process packet", the only one RFC 4187 defines.
    pub code: u16,
}

impl AtClientErrorCode {
    /// "Unable to process packet" (RFC 4187 §10.20).
    pub const UNABLE_TO_PROCESS_PACKET: AtClientErrorCode = AtClientErrorCode { code: 0 };
}

/// AT_KDF_INPUT: the access network name (RFC 9048 §3.1), non-empty, zero-padded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtKdfInput {
    /// The network name, e.g. `WLAN` (3GPP TS 24.302 §8.1.1.2), without padding.
    pub network_name: Vec<u8>,
}

/// AT_KDF: one key derivation function number (RFC 9048 §3.2); may repeat, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtKdf {
    /// KDF number; 1 = CK'/IK' per RFC 9048 §3.3.
    pub kdf: u16,
}

impl AtKdf {
    /// The default KDF of RFC 9048 (value 1).
    pub const CK_IK_PRIME: AtKdf = AtKdf { kdf: 1 };
}

/// AT_IV: the 16-byte AES-CBC IV for AT_ENCR_DATA (RFC 4187 §10.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtIv {
    /// IV.
    pub iv: [u8; 16],
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_ENCR_DATA: AES-128-CBC ciphertext, a non-empty multiple of 16 octets (RFC 4187 §10.12).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtEncrData {
    /// The ciphertext.
    pub data: Vec<u8>,
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_NEXT_PSEUDONYM: the next pseudonym username (RFC 4187 §10.10). Encrypted only.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtNextPseudonym {
    /// Pseudonym username, without padding.
    pub pseudonym: Vec<u8>,
}

/// AT_NEXT_REAUTH_ID: the next fast re-authentication identity (RFC 4187 §10.11). Encrypted only.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AtNextReauthId {
    /// Re-authentication identity (a full NAI), without padding.
    pub reauth_id: Vec<u8>,
}

/// The AT_CHECKCODE value (RFC 4187 §10.13, RFC 9048 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkcode {
    /// No checkcode (no AKA-Identity round was run).
    Empty,
    /// SHA-1 checkcode (EAP-AKA).
    Sha1([u8; 20]),
    /// SHA-256 checkcode (EAP-AKA').
    Sha256([u8; 32]),
}

impl Checkcode {
    /// The checkcode bytes (empty for [`Checkcode::Empty`]).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Checkcode::Empty => &[],
            Checkcode::Sha1(b) => b,
            Checkcode::Sha256(b) => b,
        }
    }
}

/// AT_CHECKCODE (RFC 4187 §10.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtCheckcode {
    /// The checkcode.
    pub checkcode: Checkcode,
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_RESULT_IND (RFC 4187 §10.14). Clear only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtResultInd {
    /// The reserved field as received.
    pub reserved: u16,
}

/// AT_BIDDING (RFC 9048 §4): D bit = the server supports EAP-AKA'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AtBidding {
    /// D bit.
    pub d: bool,
    /// The 15 reserved bits as received (≤ 0x7FFF).
    pub reserved: u16,
}

/// An unknown skippable attribute (type ≥ 128), kept for byte-exact re-encoding and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtUnknown {
    /// Its type (≥ 128, not one of the known ones).
    pub attr_type: u8,
    /// Everything after the Type and Length octets (Length × 4 − 2 octets).
    pub value: Vec<u8>,
}

impl From<AtUnknown> for Attribute {
    fn from(v: AtUnknown) -> Self {
        Attribute::Unknown(v)
    }
}

impl AtRand {
    /// AT_RAND with the reserved field zero.
    pub const fn new(rand: [u8; 16]) -> Self {
        Self { rand, reserved: 0 }
    }
}
impl AtAutn {
    /// AT_AUTN with the reserved field zero.
    pub const fn new(autn: Autn) -> Self {
        Self { autn, reserved: 0 }
    }
}
impl AtMac {
    /// AT_MAC with a zero value, to be filled after encoding.
    pub const ZEROED: AtMac = AtMac {
        mac: [0; 16],
        reserved: 0,
    };
}
impl AtIv {
    /// AT_IV with the reserved field zero.
    pub const fn new(iv: [u8; 16]) -> Self {
        Self { iv, reserved: 0 }
    }
}
impl AtNonceS {
    /// AT_NONCE_S with the reserved field zero.
    pub const fn new(nonce_s: [u8; 16]) -> Self {
        Self {
            nonce_s,
            reserved: 0,
        }
    }
}
impl AtEncrData {
    /// AT_ENCR_DATA with the reserved field zero.
    pub fn new(data: Vec<u8>) -> Self {
        Self { data, reserved: 0 }
    }
}
impl AtCheckcode {
    /// AT_CHECKCODE with the reserved field zero.
    pub const fn new(checkcode: Checkcode) -> Self {
        Self {
            checkcode,
            reserved: 0,
        }
    }
}
impl AtBidding {
    /// AT_BIDDING with the D bit as given and the reserved bits zero.
    pub const fn new(d: bool) -> Self {
        Self { d, reserved: 0 }
    }
}

/// A typed attribute value that knows its [`AttrType`]: used by
/// `Message::attr::<T>()` to find an attribute by its Rust type.
pub trait AttrValue: Sized + 'static {
    /// The attribute type number.
    const TYPE: AttrType;
    /// The value if `a` is this attribute.
    fn from_attribute(a: &Attribute) -> Option<&Self>;
}

macro_rules! attributes {
    ($( $(#[$doc:meta])* $variant:ident($ty:ident) = $at:ident ),* $(,)?) => {
        /// One EAP-AKA/AKA' attribute.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Attribute {
            $( $(#[$doc])* $variant($ty), )*
            /// An unknown skippable attribute (kept, ignored).
            Unknown(AtUnknown),
        }

        impl Attribute {
            /// Its type number.
            pub fn attr_type(&self) -> AttrType {
                match self {
                    $( Attribute::$variant(_) => AttrType::$at, )*
                    Attribute::Unknown(u) => AttrType(u.attr_type),
                }
            }
        }

        $(
            impl From<$ty> for Attribute {
                fn from(v: $ty) -> Self {
                    Attribute::$variant(v)
                }
            }
            impl AttrValue for $ty {
                const TYPE: AttrType = AttrType::$at;
                fn from_attribute(a: &Attribute) -> Option<&Self> {
                    match a {
                        Attribute::$variant(v) => Some(v),
                        _ => None,
                    }
                }
            }
        )*
    };
}

attributes! {
    /// AT_RAND.
    Rand(AtRand) = AT_RAND,
    /// AT_AUTN.
    Autn(AtAutn) = AT_AUTN,
    /// AT_RES.
    Res(AtRes) = AT_RES,
    /// AT_AUTS.
    Auts(AtAuts) = AT_AUTS,
    /// AT_PADDING.
    Padding(AtPadding) = AT_PADDING,
    /// AT_PERMANENT_ID_REQ.
    PermanentIdReq(AtPermanentIdReq) = AT_PERMANENT_ID_REQ,
    /// AT_MAC.
    Mac(AtMac) = AT_MAC,
    /// AT_NOTIFICATION.
    Notification(AtNotification) = AT_NOTIFICATION,
    /// AT_ANY_ID_REQ.
    AnyIdReq(AtAnyIdReq) = AT_ANY_ID_REQ,
    /// AT_IDENTITY.
    Identity(AtIdentity) = AT_IDENTITY,
    /// AT_FULLAUTH_ID_REQ.
    FullauthIdReq(AtFullauthIdReq) = AT_FULLAUTH_ID_REQ,
    /// AT_COUNTER.
    Counter(AtCounter) = AT_COUNTER,
    /// AT_COUNTER_TOO_SMALL.
    CounterTooSmall(AtCounterTooSmall) = AT_COUNTER_TOO_SMALL,
    /// AT_NONCE_S.
    NonceS(AtNonceS) = AT_NONCE_S,
    /// AT_CLIENT_ERROR_CODE.
    ClientErrorCode(AtClientErrorCode) = AT_CLIENT_ERROR_CODE,
    /// AT_KDF_INPUT.
    KdfInput(AtKdfInput) = AT_KDF_INPUT,
    /// AT_KDF.
    Kdf(AtKdf) = AT_KDF,
    /// AT_IV.
    Iv(AtIv) = AT_IV,
    /// AT_ENCR_DATA.
    EncrData(AtEncrData) = AT_ENCR_DATA,
    /// AT_NEXT_PSEUDONYM.
    NextPseudonym(AtNextPseudonym) = AT_NEXT_PSEUDONYM,
    /// AT_NEXT_REAUTH_ID.
    NextReauthId(AtNextReauthId) = AT_NEXT_REAUTH_ID,
    /// AT_CHECKCODE.
    Checkcode(AtCheckcode) = AT_CHECKCODE,
    /// AT_RESULT_IND.
    ResultInd(AtResultInd) = AT_RESULT_IND,
    /// AT_BIDDING.
    Bidding(AtBidding) = AT_BIDDING,
}

// ---------------------------------------------------------------- decoding

type NomErr<'a> = nom::Err<nom::error::Error<&'a [u8]>>;

/// Reads a big-endian u16; the callers checked the length, so a failure maps to `err`.
pub(crate) fn u16_at<E>(i: &[u8], err: impl FnOnce() -> E) -> Result<(&[u8], u16), E> {
    be_u16.parse(i).map_err(|_: NomErr<'_>| err())
}

pub(crate) fn bytes_at<E>(
    i: &[u8],
    n: usize,
    err: impl FnOnce() -> E,
) -> Result<(&[u8], &[u8]), E> {
    take(n).parse(i).map_err(|_: NomErr<'_>| err())
}

pub(crate) fn array16(b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&b[..16]);
    out
}

/// The 2-octet header of the next attribute: (type, total length in octets).
/// Checks Length ≠ 0 and that the attribute fits in `input`.
pub(crate) fn split_attribute(input: &[u8], offset: usize) -> Result<(u8, &[u8], &[u8]), Error> {
    let (_, (t, units)) = (be_u8, be_u8)
        .parse(input)
        .map_err(|_: NomErr<'_>| Error::TruncatedHeader { offset })?;
    let attr = AttrType(t);
    if units == 0 {
        return Err(Error::Attr {
            attr,
            offset,
            rule: Rule::ZeroLength,
        });
    }
    let length = usize::from(units) * 4;
    let (rest, whole) = bytes_at(input, length, || Error::Attr {
        attr,
        offset,
        rule: Rule::Overrun {
            length,
            available: input.len(),
        },
    })?;
    Ok((t, whole, rest))
}

/// Decodes one attribute from the full attribute bytes `whole` (header
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
            Err(Error::Attr {
                attr,
                offset,
                rule: Rule::Length { units, allowed },
            })
        }
    };
    let overrun = || {
        fail(Rule::Length {
            units,
            allowed: &[],
        })
    };
    // reserved(2) ‖ 16 bytes
    let r16 = |v: &[u8]| -> Result<(u16, [u8; 16]), Error> {
        need(&[5])?;
        let (rest, reserved) = u16_at(v, overrun)?;
        let (_, b) = bytes_at(rest, 16, overrun)?;
        Ok((reserved, array16(b)))
    };
    // a single 2-octet field
    let f16 = |v: &[u8]| -> Result<u16, Error> {
        need(&[1])?;
        Ok(u16_at(v, overrun)?.1)
    };
    Ok(match attr {
        AttrType::AT_RAND => {
            let (reserved, rand) = r16(value)?;
            Attribute::Rand(AtRand { rand, reserved })
        }
        AttrType::AT_AUTN => {
            let (reserved, autn) = r16(value)?;
            Attribute::Autn(AtAutn {
                autn: Autn(autn),
                reserved,
            })
        }
        AttrType::AT_RES => {
            let (rest, bits) = u16_at(value, overrun)?;
            if bits % 8 != 0 || !(32..=128).contains(&bits) {
                return Err(fail(Rule::ResBits { bits }));
            }
            let n = usize::from(bits / 8);
            if rest.len() != n.next_multiple_of(4) {
                return Err(fail(Rule::ResLength {
                    bits,
                    value_len: rest.len(),
                }));
            }
            let (pad, res) = bytes_at(rest, n, overrun)?;
            if pad.iter().any(|&b| b != 0) {
                return Err(fail(Rule::NonZeroPadding));
            }
            let res = Res::new(res).ok_or_else(|| fail(Rule::ResBits { bits }))?;
            Attribute::Res(AtRes { res })
        }
        AttrType::AT_AUTS => {
            need(&[4])?;
            let mut auts = [0u8; 14];
            auts.copy_from_slice(value);
            Attribute::Auts(AtAuts { auts: Auts(auts) })
        }
        AttrType::AT_PADDING => {
            need(&[1, 2, 3])?;
            if value.iter().any(|&b| b != 0) {
                return Err(fail(Rule::NonZeroPadding));
            }
            Attribute::Padding(AtPadding { units })
        }
        AttrType::AT_PERMANENT_ID_REQ => Attribute::PermanentIdReq(AtPermanentIdReq {
            reserved: f16(value)?,
        }),
        AttrType::AT_MAC => {
            let (reserved, mac) = r16(value)?;
            Attribute::Mac(AtMac { mac, reserved })
        }
        AttrType::AT_NOTIFICATION => {
            Attribute::Notification(AtNotification::from_value(f16(value)?))
        }
        AttrType::AT_ANY_ID_REQ => Attribute::AnyIdReq(AtAnyIdReq {
            reserved: f16(value)?,
        }),
        AttrType::AT_IDENTITY => Attribute::Identity(AtIdentity {
            identity: actual_length_value(value, fail)?,
        }),
        AttrType::AT_FULLAUTH_ID_REQ => Attribute::FullauthIdReq(AtFullauthIdReq {
            reserved: f16(value)?,
        }),
        AttrType::AT_COUNTER => Attribute::Counter(AtCounter {
            counter: f16(value)?,
        }),
        AttrType::AT_COUNTER_TOO_SMALL => Attribute::CounterTooSmall(AtCounterTooSmall {
            reserved: f16(value)?,
        }),
        AttrType::AT_NONCE_S => {
            let (reserved, nonce_s) = r16(value)?;
            Attribute::NonceS(AtNonceS { nonce_s, reserved })
        }
        AttrType::AT_CLIENT_ERROR_CODE => {
            Attribute::ClientErrorCode(AtClientErrorCode { code: f16(value)? })
        }
        AttrType::AT_KDF_INPUT => {
            let network_name = actual_length_value(value, fail)?;
            if network_name.is_empty() {
                return Err(fail(Rule::EmptyNetworkName));
            }
            Attribute::KdfInput(AtKdfInput { network_name })
        }
        AttrType::AT_KDF => Attribute::Kdf(AtKdf { kdf: f16(value)? }),
        AttrType::AT_IV => {
            let (reserved, iv) = r16(value)?;
            Attribute::Iv(AtIv { iv, reserved })
        }
        AttrType::AT_ENCR_DATA => {
            let (data, reserved) = u16_at(value, overrun)?;
            if data.is_empty() || !data.len().is_multiple_of(16) {
                return Err(fail(Rule::EncrDataLength { len: data.len() }));
            }
            Attribute::EncrData(AtEncrData {
                data: data.to_vec(),
                reserved,
            })
        }
        AttrType::AT_NEXT_PSEUDONYM => Attribute::NextPseudonym(AtNextPseudonym {
            pseudonym: actual_length_value(value, fail)?,
        }),
        AttrType::AT_NEXT_REAUTH_ID => Attribute::NextReauthId(AtNextReauthId {
            reauth_id: actual_length_value(value, fail)?,
        }),
        AttrType::AT_CHECKCODE => {
            need(&[1, 6, 9])?;
            let (code, reserved) = u16_at(value, overrun)?;
            let checkcode = match code.len() {
                0 => Checkcode::Empty,
                20 => {
                    let mut b = [0u8; 20];
                    b.copy_from_slice(code);
                    Checkcode::Sha1(b)
                }
                _ => {
                    let mut b = [0u8; 32];
                    b.copy_from_slice(code);
                    Checkcode::Sha256(b)
                }
            };
            Attribute::Checkcode(AtCheckcode {
                checkcode,
                reserved,
            })
        }
        AttrType::AT_RESULT_IND => Attribute::ResultInd(AtResultInd {
            reserved: f16(value)?,
        }),
        AttrType::AT_BIDDING => {
            let v = f16(value)?;
            Attribute::Bidding(AtBidding {
                d: v & 0x8000 != 0,
                reserved: v & 0x7fff,
            })
        }
        other if other.is_skippable() => Attribute::Unknown(AtUnknown {
            attr_type: t,
            value: value.to_vec(),
        }),
        other => {
            return Err(Error::UnknownNonSkippable {
                attr: other,
                offset,
            });
        }
    })
}

/// `Actual Length (2) ‖ data ‖ zero padding to a multiple of 4`: the layout
/// of AT_IDENTITY, AT_KDF_INPUT, AT_NEXT_PSEUDONYM and AT_NEXT_REAUTH_ID.
pub(crate) fn actual_length_value(
    value: &[u8],
    fail: impl Fn(Rule) -> Error,
) -> Result<Vec<u8>, Error> {
    let (rest, actual) = u16_at(value, || fail(Rule::ZeroLength))?;
    let n = usize::from(actual);
    if rest.len() != n.next_multiple_of(4) {
        return Err(fail(Rule::ActualLength {
            actual,
            value_len: rest.len(),
        }));
    }
    let (pad, data) = bytes_at(rest, n, || fail(Rule::ZeroLength))?;
    if pad.iter().any(|&b| b != 0) {
        return Err(fail(Rule::NonZeroPadding));
    }
    Ok(data.to_vec())
}

/// The rules of an attribute list that differ between EAP-SIM and EAP-AKA/AKA'.
pub(crate) struct ListRules {
    /// The types the method defines; any other type is unknown to it.
    pub known: fn(AttrType) -> bool,
    /// Known types that may appear more than once (AT_KDF, RFC 9048 §3.2).
    pub repeats: fn(AttrType) -> bool,
    /// Known types the method refuses in the clear at `place` (AT_KDF in EAP-AKA).
    pub refused: fn(AttrType, Place) -> bool,
}

/// The list rules of EAP-AKA and EAP-AKA'.
const AKA_RULES: ListRules = ListRules {
    known: |t| t.name().is_some(),
    repeats: |t| t == AttrType::AT_KDF,
    refused: |t, place| {
        place == Place::AkaMessage && (t == AttrType::AT_KDF || t == AttrType::AT_KDF_INPUT)
    },
};

/// Decodes a list of attributes filling `input` exactly, as found at `place`,
/// each with `decode`. `base` is added to reported offsets. Checks duplicates,
/// the encrypted-only rules and, for encrypted data, that AT_PADDING comes last.
pub(crate) fn decode_list_with<A>(
    input: &[u8],
    base: usize,
    place: Place,
    rules: &ListRules,
    decode: impl Fn(u8, &[u8], usize) -> Result<A, Error>,
) -> Result<Vec<A>, Error> {
    let mut out: Vec<A> = Vec::new();
    let mut rest = input;
    let mut seen = [false; 256];
    while !rest.is_empty() {
        let offset = base + (input.len() - rest.len());
        let (t, whole, next) = split_attribute(rest, offset)?;
        let a = decode(t, whole, offset)?;
        let at = AttrType(t);
        let known = (rules.known)(at);
        match place {
            Place::Encrypted => {
                if known && !at.is_encrypted_only() {
                    return Err(Error::NotAllowed {
                        attr: at,
                        offset,
                        place,
                    });
                }
                if at == AttrType::AT_PADDING && !next.is_empty() {
                    return Err(Error::PaddingNotLast { offset });
                }
            }
            Place::Clear | Place::AkaMessage => {
                if at.is_encrypted_only() {
                    return Err(Error::NotAllowed {
                        attr: at,
                        offset,
                        place: Place::Clear,
                    });
                }
                if (rules.refused)(at, place) {
                    return Err(Error::NotAllowed {
                        attr: at,
                        offset,
                        place,
                    });
                }
            }
        }
        if known && !(rules.repeats)(at) {
            if seen[usize::from(t)] {
                return Err(Error::Duplicate { attr: at, offset });
            }
            seen[usize::from(t)] = true;
        }
        out.push(a);
        rest = next;
    }
    Ok(out)
}

/// [`decode_list_with`] for EAP-AKA/AKA' attributes.
pub(crate) fn decode_list(
    input: &[u8],
    base: usize,
    place: Place,
) -> Result<Vec<Attribute>, Error> {
    decode_list_with(input, base, place, &AKA_RULES, decode_one)
}

/// Decodes one attribute at the start of `input`: the attribute and the rest.
/// Only the layout rules of the attribute itself are checked (no placement rules).
pub fn decode_attribute(input: &[u8]) -> Result<(Attribute, &[u8]), Error> {
    let (t, whole, rest) = split_attribute(input, 0)?;
    Ok((decode_one(t, whole, 0)?, rest))
}

/// Decodes the plaintext of AT_ENCR_DATA once decrypted (RFC 4187 §10.12):
/// only AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID, AT_COUNTER, AT_COUNTER_TOO_SMALL,
/// AT_NONCE_S, AT_PADDING (last) and unknown skippable attributes are allowed;
/// the length must be a multiple of 16. AT_PADDING, if present, is returned too.
pub fn decode_encrypted_attributes(plaintext: &[u8]) -> Result<Vec<Attribute>, Error> {
    if !plaintext.len().is_multiple_of(16) {
        return Err(Error::EncryptedLength {
            len: plaintext.len(),
        });
    }
    decode_list(plaintext, 0, Place::Encrypted)
}

// ---------------------------------------------------------------- encoding

pub(crate) fn put_header(out: &mut Vec<u8>, t: AttrType, total: usize) {
    out.push(t.0);
    // total ≤ MAX_ATTR_LEN checked by the caller, so the unit count fits in a u8.
    out.push(u8::try_from(total / 4).unwrap_or(u8::MAX));
}

pub(crate) fn put_r16(out: &mut Vec<u8>, t: AttrType, reserved: u16, v: &[u8; 16]) {
    put_header(out, t, 20);
    out.extend_from_slice(&reserved.to_be_bytes());
    out.extend_from_slice(v);
}

pub(crate) fn put_f16(out: &mut Vec<u8>, t: AttrType, v: u16) {
    put_header(out, t, 4);
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_actual(
    out: &mut Vec<u8>,
    t: AttrType,
    data: &[u8],
    offset: usize,
) -> Result<(), Error> {
    if data.len() > MAX_ACTUAL_LEN {
        return Err(Error::Attr {
            attr: t,
            offset,
            rule: Rule::ValueTooLong { len: data.len() },
        });
    }
    let padded = data.len().next_multiple_of(4);
    put_header(out, t, 4 + padded);
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + padded - data.len(), 0);
    Ok(())
}

/// The wire layout of an attribute value that EAP-SIM (RFC 4186 §10) and
/// EAP-AKA (RFC 4187 §10) share: same type number, same octets. Both methods'
/// attribute enums encode these values through this one implementation
/// (decoding goes through [`decode_one`] likewise).
pub(crate) trait Layout: AttrValue {
    /// Appends the whole attribute (type, length, value). `offset` is only used in errors.
    fn put(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error>;
}

fn fail_at(t: AttrType, offset: usize, rule: Rule) -> Error {
    Error::Attr {
        attr: t,
        offset,
        rule,
    }
}

macro_rules! layout_f16 {
    ($($ty:ident => |$a:ident| $v:expr),* $(,)?) => {
        $(
            impl Layout for $ty {
                fn put(&self, out: &mut Vec<u8>, _offset: usize) -> Result<(), Error> {
                    let $a = self;
                    put_f16(out, Self::TYPE, $v);
                    Ok(())
                }
            }
        )*
    };
}

macro_rules! layout_r16 {
    ($($ty:ident => $field:ident),* $(,)?) => {
        $(
            impl Layout for $ty {
                fn put(&self, out: &mut Vec<u8>, _offset: usize) -> Result<(), Error> {
                    put_r16(out, Self::TYPE, self.reserved, &self.$field);
                    Ok(())
                }
            }
        )*
    };
}

macro_rules! layout_actual {
    ($($ty:ident => $field:ident),* $(,)?) => {
        $(
            impl Layout for $ty {
                fn put(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
                    put_actual(out, Self::TYPE, &self.$field, offset)
                }
            }
        )*
    };
}

layout_f16! {
    AtPermanentIdReq => |a| a.reserved,
    AtAnyIdReq => |a| a.reserved,
    AtFullauthIdReq => |a| a.reserved,
    AtCounter => |a| a.counter,
    AtCounterTooSmall => |a| a.reserved,
    AtClientErrorCode => |a| a.code,
    AtResultInd => |a| a.reserved,
}

layout_r16! {
    AtMac => mac,
    AtNonceS => nonce_s,
    AtIv => iv,
}

layout_actual! {
    AtIdentity => identity,
    AtNextPseudonym => pseudonym,
    AtNextReauthId => reauth_id,
}

impl Layout for AtPadding {
    fn put(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        if !(1..=3).contains(&self.units) {
            return Err(fail_at(Self::TYPE, offset, Rule::FieldRange));
        }
        let total = usize::from(self.units) * 4;
        put_header(out, Self::TYPE, total);
        out.resize(out.len() + total - 2, 0);
        Ok(())
    }
}

impl Layout for AtNotification {
    fn put(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        if self.code > 0x3fff {
            return Err(fail_at(Self::TYPE, offset, Rule::FieldRange));
        }
        put_f16(out, Self::TYPE, self.value());
        Ok(())
    }
}

impl Layout for AtEncrData {
    fn put(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        let len = self.data.len();
        if len == 0 || !len.is_multiple_of(16) {
            return Err(fail_at(Self::TYPE, offset, Rule::EncrDataLength { len }));
        }
        if len > MAX_ATTR_LEN - 4 {
            return Err(fail_at(Self::TYPE, offset, Rule::ValueTooLong { len }));
        }
        put_header(out, Self::TYPE, 4 + len);
        out.extend_from_slice(&self.reserved.to_be_bytes());
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

/// Encodes an unknown skippable attribute. `known` says which types the
/// method defines (those may not pose as unknown).
pub(crate) fn put_unknown(
    out: &mut Vec<u8>,
    a: &AtUnknown,
    offset: usize,
    known: impl Fn(AttrType) -> bool,
) -> Result<(), Error> {
    let t = AttrType(a.attr_type);
    if !t.is_skippable() || known(t) {
        return Err(fail_at(t, offset, Rule::NotUnknown));
    }
    let total = a.value.len() + 2;
    if !total.is_multiple_of(4) {
        return Err(fail_at(t, offset, Rule::FieldRange));
    }
    if total > MAX_ATTR_LEN {
        return Err(fail_at(
            t,
            offset,
            Rule::ValueTooLong { len: a.value.len() },
        ));
    }
    put_header(out, t, total);
    out.extend_from_slice(&a.value);
    Ok(())
}

impl Attribute {
    /// Appends the encoded attribute to `out`. `offset` is only used in errors.
    /// Values that cannot be encoded (a field out of range, a value too long
    /// for the 1-byte Length) are errors, never truncated.
    pub fn encode_into(&self, out: &mut Vec<u8>, offset: usize) -> Result<(), Error> {
        let t = self.attr_type();
        let fail = |rule| fail_at(t, offset, rule);
        match self {
            Attribute::Rand(a) => put_r16(out, t, a.reserved, &a.rand),
            Attribute::Autn(a) => put_r16(out, t, a.reserved, &a.autn.0),
            Attribute::Res(a) => {
                let res = a.res.as_bytes();
                let padded = res.len().next_multiple_of(4);
                put_header(out, t, 4 + padded);
                let bits = u16::try_from(res.len() * 8).unwrap_or(u16::MAX);
                out.extend_from_slice(&bits.to_be_bytes());
                out.extend_from_slice(res);
                out.resize(out.len() + padded - res.len(), 0);
            }
            Attribute::Auts(a) => {
                put_header(out, t, 16);
                out.extend_from_slice(&a.auts.0);
            }
            Attribute::Padding(a) => a.put(out, offset)?,
            Attribute::PermanentIdReq(a) => a.put(out, offset)?,
            Attribute::Mac(a) => a.put(out, offset)?,
            Attribute::Notification(a) => a.put(out, offset)?,
            Attribute::AnyIdReq(a) => a.put(out, offset)?,
            Attribute::Identity(a) => a.put(out, offset)?,
            Attribute::FullauthIdReq(a) => a.put(out, offset)?,
            Attribute::Counter(a) => a.put(out, offset)?,
            Attribute::CounterTooSmall(a) => a.put(out, offset)?,
            Attribute::NonceS(a) => a.put(out, offset)?,
            Attribute::ClientErrorCode(a) => a.put(out, offset)?,
            Attribute::KdfInput(a) => {
                if a.network_name.is_empty() {
                    return Err(fail(Rule::EmptyNetworkName));
                }
                put_actual(out, t, &a.network_name, offset)?
            }
            Attribute::Kdf(a) => put_f16(out, t, a.kdf),
            Attribute::Iv(a) => a.put(out, offset)?,
            Attribute::EncrData(a) => a.put(out, offset)?,
            Attribute::NextPseudonym(a) => a.put(out, offset)?,
            Attribute::NextReauthId(a) => a.put(out, offset)?,
            Attribute::Checkcode(a) => {
                let code = a.checkcode.as_bytes();
                put_header(out, t, 4 + code.len());
                out.extend_from_slice(&a.reserved.to_be_bytes());
                out.extend_from_slice(code);
            }
            Attribute::ResultInd(a) => a.put(out, offset)?,
            Attribute::Bidding(a) => {
                if a.reserved > 0x7fff {
                    return Err(fail(Rule::FieldRange));
                }
                put_f16(out, t, (u16::from(a.d) << 15) | a.reserved)
            }
            Attribute::Unknown(a) => put_unknown(out, a, offset, |t| t.name().is_some())?,
        }
        Ok(())
    }

    /// The encoded attribute on its own.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode_into(&mut out, 0)?;
        Ok(out)
    }
}

/// What [`encode_encrypted_attributes`] reserves (octets).
const ENCRYPTED_CAPACITY: usize = 256;

/// Encodes the attributes that go inside AT_ENCR_DATA (RFC 4187 §10.12) and
/// appends AT_PADDING so that the length is a multiple of 16, ready for
/// AES-128-CBC. If `attrs` already ends with AT_PADDING, no other one is
/// added (so `encode_encrypted_attributes(&decode_encrypted_attributes(p)?)`
/// gives `p` back). Only the attributes allowed inside AT_ENCR_DATA are accepted.
pub fn encode_encrypted_attributes(attrs: &[Attribute]) -> Result<Vec<u8>, Error> {
    // Room for a next pseudonym and a next re-authentication identity: no
    // regrowth, which would also leave copies of the plaintext in freed memory.
    let mut out = Vec::with_capacity(ENCRYPTED_CAPACITY);
    for (i, a) in attrs.iter().enumerate() {
        let at = a.attr_type();
        let offset = out.len();
        if at.name().is_some() && !at.is_encrypted_only() {
            return Err(Error::NotAllowed {
                attr: at,
                offset,
                place: Place::Encrypted,
            });
        }
        if at == AttrType::AT_PADDING && i + 1 != attrs.len() {
            return Err(Error::PaddingNotLast { offset });
        }
        a.encode_into(&mut out, offset)?;
    }
    let rem = out.len() % 16;
    if rem != 0 {
        if matches!(attrs.last(), Some(Attribute::Padding(_))) {
            return Err(Error::EncryptedLength { len: out.len() });
        }
        let units = u8::try_from((16 - rem) / 4).unwrap_or(0);
        let offset = out.len();
        Attribute::Padding(AtPadding { units }).encode_into(&mut out, offset)?;
    }
    Ok(out)
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

    fn r16(t: u8) -> Vec<u8> {
        let mut v = vec![t, 5, 0, 0];
        v.extend((1..=16u8).collect::<Vec<_>>());
        v
    }

    #[test]
    fn fixed_16_byte_attributes() {
        for t in [1u8, 2, 11, 21, 129] {
            let b = r16(t);
            roundtrip(&b);
            // Length 4 and 6 are both wrong
            let mut short = b[..16].to_vec();
            short[1] = 4;
            assert!(matches!(
                rule(&short),
                Rule::Length {
                    units: 4,
                    allowed: &[5]
                }
            ));
            let mut long = b.clone();
            long.extend([0; 4]);
            long[1] = 6;
            assert!(matches!(rule(&long), Rule::Length { units: 6, .. }));
        }
        assert_eq!(
            roundtrip(&r16(1)),
            Attribute::Rand(AtRand::new(core::array::from_fn(|i| i as u8 + 1)))
        );
    }

    #[test]
    fn reserved_kept() {
        let mut b = r16(1);
        b[2] = 0xab;
        b[3] = 0xcd;
        let a = roundtrip(&b);
        assert!(matches!(
            a,
            Attribute::Rand(AtRand {
                reserved: 0xabcd,
                ..
            })
        ));
    }

    #[test]
    fn zero_length_and_overrun() {
        assert_eq!(rule(&[1, 0, 0, 0]), Rule::ZeroLength);
        assert_eq!(
            rule(&[1, 5, 0, 0]),
            Rule::Overrun {
                length: 20,
                available: 4
            }
        );
        // maximal length field on a short buffer: no arithmetic overflow
        assert_eq!(
            rule(&[0xff, 0xff]),
            Rule::Overrun {
                length: 1020,
                available: 2
            }
        );
        assert_eq!(
            decode_attribute(&[1]).unwrap_err(),
            Error::TruncatedHeader { offset: 0 }
        );
    }

    #[test]
    fn res_lengths() {
        // 8-byte RES (64 bits): Length 3
        let b = [3, 3, 0, 64, 1, 2, 3, 4, 5, 6, 7, 8];
        let a = roundtrip(&b);
        assert_eq!(
            a,
            Attribute::Res(AtRes {
                res: Res::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap()
            })
        );
        // 5-byte RES padded to 8
        roundtrip(&[3, 3, 0, 40, 1, 2, 3, 4, 5, 0, 0, 0]);
        // 4 and 16 bytes
        roundtrip(&[3, 2, 0, 32, 1, 2, 3, 4]);
        let mut b16 = vec![3, 5, 0, 128];
        b16.extend([9; 16]);
        roundtrip(&b16);
        // RES length in bytes instead of bits (a known peer bug) is rejected
        assert_eq!(
            rule(&[3, 3, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
            Rule::ResBits { bits: 8 }
        );
        // not a whole number of bytes
        assert_eq!(
            rule(&[3, 3, 0, 63, 1, 2, 3, 4, 5, 6, 7, 8]),
            Rule::ResBits { bits: 63 }
        );
        // too long
        assert_eq!(rule(&[3, 1, 0x00, 136]), Rule::ResBits { bits: 136 });
        // bit length inconsistent with the attribute length
        assert_eq!(
            rule(&[3, 3, 0, 32, 1, 2, 3, 4, 5, 6, 7, 8]),
            Rule::ResLength {
                bits: 32,
                value_len: 8
            }
        );
        // non-zero pad
        assert_eq!(
            rule(&[3, 3, 0, 40, 1, 2, 3, 4, 5, 0, 1, 0]),
            Rule::NonZeroPadding
        );
    }

    #[test]
    fn auts() {
        let mut b = vec![4, 4];
        b.extend([7; 14]);
        assert_eq!(
            roundtrip(&b),
            Attribute::Auts(AtAuts {
                auts: Auts([7; 14])
            })
        );
        assert!(matches!(rule(&[4, 1, 0, 0]), Rule::Length { units: 1, .. }));
    }

    #[test]
    fn padding() {
        for units in 1..=3u8 {
            let mut b = vec![6, units];
            b.resize(usize::from(units) * 4, 0);
            assert_eq!(roundtrip(&b), Attribute::Padding(AtPadding { units }));
            let last = b.len() - 1;
            b[last] = 1;
            assert_eq!(rule(&b), Rule::NonZeroPadding);
        }
        let mut b = vec![6, 4];
        b.resize(16, 0);
        assert!(matches!(rule(&b), Rule::Length { units: 4, .. }));
    }

    #[test]
    fn two_byte_attributes() {
        for t in [10u8, 12, 13, 17, 19, 20, 22, 24, 135, 136] {
            let a = roundtrip(&[t, 1, 0x12, 0x34]);
            assert_eq!(a.attr_type(), AttrType(t));
            assert!(matches!(
                rule(&[t, 2, 0, 0, 0, 0, 0, 0]),
                Rule::Length {
                    units: 2,
                    allowed: &[1]
                }
            ));
        }
        assert_eq!(
            dec(&[12, 1, 0x80, 0x00]).unwrap(),
            Attribute::Notification(AtNotification::SUCCESS)
        );
        assert_eq!(
            dec(&[12, 1, 0x40, 0x00]).unwrap(),
            Attribute::Notification(AtNotification {
                success: false,
                pre_challenge: true,
                code: 0
            })
        );
        assert_eq!(AtNotification::TEMPORARILY_DENIED.value(), 1026);
        assert_eq!(
            dec(&[136, 1, 0x80, 0x00]).unwrap(),
            Attribute::Bidding(AtBidding::new(true))
        );
        assert_eq!(
            dec(&[24, 1, 0, 1]).unwrap(),
            Attribute::Kdf(AtKdf::CK_IK_PRIME)
        );
    }

    #[test]
    fn actual_length_attributes() {
        // "abcde" → actual 5, padded to 8, Length 3
        for t in [14u8, 23, 132, 133] {
            let b = [t, 3, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0];
            roundtrip(&b);
            // actual length pointing past the attribute
            assert_eq!(
                rule(&[t, 3, 0, 9, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]),
                Rule::ActualLength {
                    actual: 9,
                    value_len: 8
                }
            );
            // 4 or more octets of padding
            assert_eq!(
                rule(&[t, 3, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0, 0]),
                Rule::ActualLength {
                    actual: 3,
                    value_len: 8
                }
            );
            assert_eq!(
                rule(&[t, 3, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 9, 0]),
                Rule::NonZeroPadding
            );
            // maximal actual length on a tiny attribute
            assert!(matches!(
                rule(&[t, 1, 0xff, 0xff]),
                Rule::ActualLength { actual: 0xffff, .. }
            ));
        }
        // empty identity is a valid encoding; an empty network name is not
        assert_eq!(
            roundtrip(&[14, 1, 0, 0]),
            Attribute::Identity(AtIdentity::default())
        );
        assert_eq!(rule(&[23, 1, 0, 0]), Rule::EmptyNetworkName);
        let a = Attribute::KdfInput(AtKdfInput {
            network_name: vec![],
        });
        assert!(a.encode().is_err());
        // the longest identity that fits: 1016 bytes; one more does not
        let long = Attribute::Identity(AtIdentity {
            identity: vec![b'x'; 1016],
        });
        let enc = long.encode().unwrap();
        assert_eq!(enc.len(), 1020);
        assert_eq!(dec(&enc).unwrap(), long);
        let too_long = Attribute::Identity(AtIdentity {
            identity: vec![b'x'; 1017],
        });
        assert!(matches!(
            too_long.encode(),
            Err(Error::Attr {
                rule: Rule::ValueTooLong { len: 1017 },
                ..
            })
        ));
    }

    #[test]
    fn encr_data() {
        let mut b = vec![130, 5, 0, 0];
        b.extend([0xee; 16]);
        roundtrip(&b);
        assert_eq!(rule(&[130, 1, 0, 0]), Rule::EncrDataLength { len: 0 });
        assert_eq!(
            rule(&[130, 2, 0, 0, 1, 2, 3, 4]),
            Rule::EncrDataLength { len: 4 }
        );
        assert!(AtEncrData::new(vec![0; 15]).reserved == 0);
        assert!(
            Attribute::EncrData(AtEncrData::new(vec![0; 15]))
                .encode()
                .is_err()
        );
        assert!(
            Attribute::EncrData(AtEncrData::new(vec![0; 1024]))
                .encode()
                .is_err()
        );
    }

    #[test]
    fn checkcode() {
        roundtrip(&[134, 1, 0, 0]);
        let mut b = vec![134, 6, 0, 0];
        b.extend([1; 20]);
        assert_eq!(
            roundtrip(&b),
            Attribute::Checkcode(AtCheckcode::new(Checkcode::Sha1([1; 20])))
        );
        let mut b = vec![134, 9, 0, 0];
        b.extend([2; 32]);
        assert_eq!(
            roundtrip(&b),
            Attribute::Checkcode(AtCheckcode::new(Checkcode::Sha256([2; 32])))
        );
        let mut b = vec![134, 2, 0, 0];
        b.extend([2; 4]);
        assert!(matches!(rule(&b), Rule::Length { units: 2, .. }));
    }

    #[test]
    fn unknown_attributes() {
        let a = roundtrip(&[200, 2, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            a,
            Attribute::Unknown(AtUnknown {
                attr_type: 200,
                value: vec![1, 2, 3, 4, 5, 6]
            })
        );
        assert_eq!(
            dec(&[5, 1, 0, 0]).unwrap_err(),
            Error::UnknownNonSkippable {
                attr: AttrType(5),
                offset: 0
            }
        );
        // AtUnknown cannot pretend to be a known or non-skippable type
        for t in [1u8, 5, 130] {
            let u = Attribute::Unknown(AtUnknown {
                attr_type: t,
                value: vec![0, 0],
            });
            assert!(u.encode().is_err());
        }
        let odd = Attribute::Unknown(AtUnknown {
            attr_type: 200,
            value: vec![0, 0, 0],
        });
        assert!(odd.encode().is_err());
    }

    #[test]
    fn encode_range_checks() {
        let n = Attribute::Notification(AtNotification {
            success: false,
            pre_challenge: false,
            code: 0x4000,
        });
        assert!(n.encode().is_err());
        let b = Attribute::Bidding(AtBidding {
            d: true,
            reserved: 0x8000,
        });
        assert!(b.encode().is_err());
        for units in [0u8, 4] {
            assert!(Attribute::Padding(AtPadding { units }).encode().is_err());
        }
    }

    #[test]
    fn encrypted_attributes() {
        let attrs = vec![
            Attribute::Counter(AtCounter { counter: 7 }),
            Attribute::NonceS(AtNonceS::new([3; 16])),
        ];
        // 4 + 20 = 24 → 8 octets of AT_PADDING
        let p = encode_encrypted_attributes(&attrs).unwrap();
        assert_eq!(p.len(), 32);
        assert_eq!(&p[24..26], &[6, 2]);
        let back = decode_encrypted_attributes(&p).unwrap();
        assert_eq!(&back[..2], &attrs[..]);
        assert_eq!(back[2], Attribute::Padding(AtPadding { units: 2 }));
        assert_eq!(encode_encrypted_attributes(&back).unwrap(), p);
        // exactly 16: no padding
        let attrs16 = vec![
            Attribute::Counter(AtCounter { counter: 1 }),
            Attribute::NextPseudonym(AtNextPseudonym {
                pseudonym: b"abcdefgh".to_vec(),
            }),
        ];
        assert_eq!(encode_encrypted_attributes(&attrs16).unwrap().len(), 16);
        // AT_RAND is not allowed inside, AT_COUNTER not outside
        let mut bad = r16(1);
        bad.extend([6, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            decode_encrypted_attributes(&bad),
            Err(Error::NotAllowed {
                place: Place::Encrypted,
                ..
            })
        ));
        assert!(matches!(
            decode_list(&[19, 1, 0, 1], 0, Place::Clear),
            Err(Error::NotAllowed {
                place: Place::Clear,
                ..
            })
        ));
        assert!(
            encode_encrypted_attributes(&[Attribute::ResultInd(AtResultInd::default())]).is_err()
        );
        // padding not last
        let mut np = vec![6, 1, 0, 0];
        np.extend([19, 1, 0, 1]);
        np.extend([6, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode_encrypted_attributes(&np),
            Err(Error::PaddingNotLast { offset: 0 })
        );
        assert_eq!(
            decode_encrypted_attributes(&[19, 1, 0, 1]),
            Err(Error::EncryptedLength { len: 4 })
        );
    }

    #[test]
    fn duplicates() {
        let mut b = r16(1);
        b.extend(r16(1));
        assert_eq!(
            decode_list(&b, 0, Place::Clear),
            Err(Error::Duplicate {
                attr: AttrType::AT_RAND,
                offset: 20
            })
        );
        // AT_KDF repeats, unknown skippable repeat
        let kdfs = [24, 1, 0, 1, 24, 1, 0, 2, 200, 1, 0, 0, 200, 1, 0, 0];
        assert_eq!(decode_list(&kdfs, 0, Place::Clear).unwrap().len(), 4);
        assert!(matches!(
            decode_list(&kdfs[..4], 0, Place::AkaMessage),
            Err(Error::NotAllowed {
                place: Place::AkaMessage,
                ..
            })
        ));
    }

    #[test]
    fn sim_only_types_stay_foreign_in_aka() {
        // named (for messages) but still unknown non-skippable to EAP-AKA
        for (t, name) in [
            (7u8, "AT_NONCE_MT"),
            (15, "AT_VERSION_LIST"),
            (16, "AT_SELECTED_VERSION"),
        ] {
            assert_eq!(AttrType(t).name(), Some(name));
            assert_eq!(
                dec(&[t, 1, 0, 0]),
                Err(Error::UnknownNonSkippable {
                    attr: AttrType(t),
                    offset: 0
                })
            );
        }
        // a 52-octet EAP-SIM AT_RAND is not an EAP-AKA AT_RAND
        let mut three = vec![1, 13, 0, 0];
        three.extend([0; 48]);
        assert!(matches!(
            rule(&three),
            Rule::Length {
                units: 13,
                allowed: &[5]
            }
        ));
    }

    #[test]
    fn attr_type_names() {
        assert_eq!(AttrType::AT_BIDDING.to_string(), "AT_BIDDING");
        assert_eq!(AttrType(99).to_string(), "attribute 99");
        assert_eq!(format!("{:?}", AttrType::AT_MAC), "AT_MAC(11)");
        assert!(AttrType::AT_IV.is_skippable());
        assert!(!AttrType::AT_RAND.is_skippable());
    }
}
