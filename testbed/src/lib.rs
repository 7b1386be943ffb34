//! `testbed` — runs passpoint-aka against the real tools in network
//! namespaces: hostapd (wired authenticator and RADIUS/EAP server),
//! wpa_supplicant, eapol_test, pcscd with a virtual card, and our own
//! `aaa-server` and `supplicant`.
//!
//! Modules: [`netns`] (namespaces and veths), [`process`] (start, probe,
//! stop), [`capture`] (pcap + tshark check), [`scenario`] (config
//! generation), [`bed`] (one running environment), [`cleanup`] (teardown on
//! signals), and the two front ends [`demo`] and [`interop`].
#![warn(missing_docs)]

pub mod bed;
pub mod bench;
pub mod capture;
pub mod cleanup;
pub mod ctrl;
pub mod demo;
pub mod error;
pub mod extsim;
pub mod hlr;
pub mod interop;
pub mod loadgen;
pub mod netns;
pub mod pg;
pub mod pki;
pub mod preflight;
pub mod process;
pub mod run;
pub mod scenario;
pub mod smoke;
pub mod tools;
pub mod transcript;

pub use error::{Error, Result};
