//! EAP-AKA (RFC 4187) and EAP-AKA' (RFC 9048): messages, attributes and crypto.

pub mod attr;
pub mod checkcode;
pub mod encr;
pub mod keys;
pub mod mac;
pub mod message;
