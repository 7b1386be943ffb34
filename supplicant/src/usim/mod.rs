//! The USIM: one APDU client over a transport trait, the simulator that
//! answers the same APDUs, and the PC/SC and vpcd shells.

pub mod apdu;
pub mod client;
pub mod files;
pub mod pcsc;
pub mod sim;
pub mod spec;
pub mod transport;
pub mod vpcd;

pub use client::{AuthResult, PinStatus, Usim, UsimError, UsimInfo};
pub use transport::{CardTransport, TransportError};
