//! `serve --debug`'s packet decoder (`aaa_server::radius::debug::render`):
//! any datagram, in either direction, renders without a panic, and a
//! User-Password in it never shows.
#![no_main]

use aaa_server::radius::debug::{Direction, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peer = "192.0.2.1:1812".parse().unwrap();
    let text = render(Direction::Received, peer, data);
    render(Direction::Sent, peer, data);
    if text.contains("User-Password = ") {
        assert!(text.contains("User-Password = <hidden>"));
    }
});
