//! The NAS side of one authentication, as eapol_test plays it: the peer's EAP
//! wrapped in RADIUS Access-Requests, the server's answers checked and
//! unwrapped, the MS-MPPE keys compared with the MSK the peer derived.
//! Sans-IO: no socket and no clock; `supplicant probe` and the testbed's load
//! generator are the shells.

pub mod card;
pub mod exchange;
pub mod radius;
