//! The `/metrics` endpoint's request head: `parse_request` on any bytes
//! (also each prefix, as a slow client sends it) and `respond` to what it
//! gives. No input may panic; a complete head is never reported incomplete
//! once more bytes arrive.
#![no_main]

use aaa_server::metrics::http::{parse_request, respond};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut complete = false;
    for end in [data.len() / 2, data.len()] {
        match parse_request(&data[..end]) {
            Ok(Some(r)) => {
                complete = true;
                let out = respond(
                    Ok(&r),
                    |om| if om { "# EOF\n".into() } else { String::new() },
                );
                assert!(out.starts_with(b"HTTP/1.1 "));
            }
            Ok(None) => assert!(!complete, "a complete head became incomplete"),
            Err(e) => {
                let out = respond(Err(e), |_| String::new());
                assert!(out.starts_with(b"HTTP/1.1 4"));
            }
        }
    }
});
