//! The passpoint-aka supplicant: an EAP-AKA/AKA' peer that gets RES/CK/IK from
//! a USIM (a real card through PC/SC, or the built-in simulator) and
//! authenticates over wired 802.1X.
#![warn(missing_docs)]

pub mod cli;
pub mod eapol;
pub mod input;
pub mod peer;
pub mod privacy;
pub mod profile;
pub mod run;
pub mod usim;
pub mod wifi;
