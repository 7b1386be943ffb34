//! The passpoint-aka supplicant: an EAP-AKA/AKA' peer that gets RES/CK/IK from
//! a USIM (a real card through PC/SC, or the built-in simulator) and
//! authenticates over wired 802.1X. The command line (`src/bin/supplicant/`)
//! is a separate front end over this library.
#![warn(missing_docs)]

pub mod eapol;
pub mod input;
pub mod nas;
pub mod peer;
pub mod privacy;
pub mod profile;
pub mod usim;
pub mod wifi;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: EAP-Failure, timeout, card refused.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: i32 = 2;
