//! `aaa-server` — the operator side of passpoint-aka: a RADIUS server
//! (RFC 2865/2866/3579/5080/5997) with an EAP-AKA/EAP-AKA' server
//! (RFC 4187, RFC 9048) and an HSS stub holding subscribers.
//!
//! The protocol cores are sans-IO: [`radius::RadiusServer::receive`] maps
//! (client address, datagram, now) to (reply, effects), or to a job that
//! needs the subscriber store, which the store workers ([`radius::pool`])
//! run; the socket loops in [`radius::udp`] and [`hlr_gw::serve`] only move
//! bytes.
// `unsafe` only in `radius::mmsg` (recvmmsg/sendmmsg), which allows it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth_log;
pub mod authz;
pub mod config;
pub mod cui;
pub mod eap_server;
pub mod hlr_gw;
pub mod hss;
pub mod input;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod privacy;
pub mod proxy;

pub mod radius;
pub mod radsec;
pub mod server;
