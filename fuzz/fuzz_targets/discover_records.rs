//! RFC 7585 discovery over untrusted DNS answers: NAPTR and SRV records
//! (decoded by hickory-proto; here their fields come from the input) go
//! through `usable_naptrs` and `order_srv`, the realm through `lookup_name`.
//! No input may panic; every SRV record comes out exactly once, by priority.
#![no_main]

use aaa_server::proxy::discover::{Naptr, Srv, lookup_name, order_srv, usable_naptrs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lookup_name(&String::from_utf8_lossy(data));
    let mut naptrs = Vec::new();
    let mut srvs = Vec::new();
    for c in data.chunks(7) {
        if c.len() < 7 {
            break;
        }
        let services = if c[4] & 1 == 0 {
            "aaa+auth:radius.tls.tcp"
        } else {
            "x"
        };
        naptrs.push(Naptr {
            order: u16::from_be_bytes([c[0], c[1]]),
            preference: u16::from_be_bytes([c[2], c[3]]),
            flags: if c[4] & 2 == 0 { "s".into() } else { "a".into() },
            services: services.into(),
            replacement: format!("r{}", c[5] % 4),
        });
        srvs.push(Srv {
            priority: u16::from(c[0] % 3),
            weight: u16::from_be_bytes([c[5], c[6]]),
            port: 2083,
            target: format!("t{}", srvs.len()),
        });
    }
    let owners = usable_naptrs(&naptrs);
    assert!(owners.len() <= 4);
    let mut seed = data.first().copied().unwrap_or(0) as u32;
    let n = srvs.len();
    let out = order_srv(srvs, &mut |m| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        seed % (m + 1)
    });
    assert_eq!(out.len(), n);
    assert!(out.windows(2).all(|w| w[0].priority <= w[1].priority));
    let mut targets: Vec<&str> = out.iter().map(|s| s.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    assert_eq!(targets.len(), n);
});
