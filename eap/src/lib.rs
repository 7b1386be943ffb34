//! `eap` — the wire format and the cryptography of EAP (RFC 3748),
//! EAP-AKA / EAP-AKA' (RFC 4187, RFC 9048) and EAP-SIM (RFC 4186), with no I/O.
//!
//! Everything here is plain code over bytes: no sockets, no files, no async
//! runtime. The supplicant and the AAA server both build on it, so a protocol
//! rule (an attribute layout, a key derivation, the AT_MAC coverage) lives here
//! exactly once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aka;
pub mod gsm;
pub mod identity;
pub mod packet;
pub mod secret;
pub mod sim;
pub mod umts;
