//! EAP-SIM (RFC 4186): messages, attributes and keys.
//!
//! EAP-SIM is EAP-AKA's older sibling and shares most of it, so this module
//! adds only what differs and reuses the rest from [`crate::aka`]:
//!
//! - `attr` — the SIM-only attributes (AT_RAND with 2–3 RANDs, AT_NONCE_MT,
//!   AT_VERSION_LIST, AT_SELECTED_VERSION); every other attribute is the
//!   EAP-AKA type with the same number, coded by the same functions.
//! - `message` — the subtypes (Start 10, Challenge 11, Notification 12,
//!   Re-authentication 13, Client-Error 14), [`message::SimPacket`] (EAP
//!   Type 18), AT_MAC location/signing over the packet.
//! - `keys` — MK from n*Kc, NONCE_MT and the versions; the FIPS 186-2 PRF,
//!   K_aut/MAC, AT_ENCR_DATA (`aka::encr`) and re-authentication keys are
//!   EAP-AKA's.
//!
//! The GSM triplets themselves (SRES, Kc; GSM-Milenage) are in [`crate::gsm`].

pub mod attr;
pub mod keys;
pub mod message;
