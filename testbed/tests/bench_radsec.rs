//! `testbed bench --quick --transport udp,radsec` end to end: EAP-AKA' over
//! RADIUS/UDP, over RadSec on one TLS connection and on 16, against the same
//! `aaa-server serve` configuration (a test CA made with the `openssl`
//! command). Checks the JSON's `"transport"` section: every point
//! authenticated with no failure, and the figures are consistent — never a
//! figure against a target (the bench prints them; docs/performance.md
//! keeps them). Needs the `aaa-server` and `testbed` binaries next to this
//! test (`cargo build --workspace --bins`) and openssl; under CI=true their
//! absence is a failure.

use serde_json::Value;
use std::process::Command;

mod common;
use common::{bin, ci};

fn f(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

#[test]
fn bench_compares_udp_with_radsec_on_one_and_sixteen_connections() {
    let openssl = testbed::tools::find("openssl").ok();
    let (Some(aaa), Some(testbed), Some(_)) = (bin("aaa-server"), bin("testbed"), openssl) else {
        assert!(
            !ci(),
            "CI=true: aaa-server and testbed must be built next to {:?} (cargo build --workspace --bins) and openssl installed",
            std::env::current_exe().ok()
        );
        eprintln!("aaa-server/testbed binaries or openssl missing: cargo build --workspace --bins");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&testbed)
        .args([
            "bench",
            "--quick",
            "--servers",
            "aaa-server",
            "--methods",
            "aka-prime",
            "--no-targets",
            "--transport",
            "udp,radsec",
            "--out-dir",
        ])
        .arg(dir.path())
        .arg("--aaa-server")
        .arg(&aaa)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "testbed bench --transport udp,radsec failed:\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
    assert!(stdout.contains("EAP-AKA' by transport"), "{stdout}");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();
    // The UDP sweep is still there.
    assert_eq!(j["results"].as_array().map(Vec::len), Some(2), "{j}");
    let t = &j["transport"];
    let points = t["points"].as_array().unwrap_or_else(|| panic!("{j}"));
    // --quick: concurrency 1 (udp, radsec x1) and 64 (udp, radsec x1, radsec x16).
    let kinds: Vec<(String, u64, Option<u64>)> = points
        .iter()
        .map(|p| {
            (
                p["transport"].as_str().unwrap().to_string(),
                p["concurrency"].as_u64().unwrap(),
                p["connections"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("udp".into(), 1, None),
            ("radsec".into(), 1, Some(1)),
            ("udp".into(), 64, None),
            ("radsec".into(), 64, Some(1)),
            ("radsec".into(), 64, Some(16)),
        ]
    );
    for p in points {
        assert_eq!(p["method"], "aka-prime", "{p}");
        assert!(f(&p["auths_per_sec"], "auths_per_sec") > 0.0, "{p}");
        assert_eq!(p["failures"].as_u64(), Some(0), "{p}");
        let (p50, p99) = (f(&p["p50_ms"], "p50"), f(&p["p99_ms"], "p99"));
        assert!(
            p50 > 0.0 && p50 <= p99 && p99 <= f(&p["max_ms"], "max"),
            "{p}"
        );
        assert!(f(&p["server_cpu_us_per_auth"], "cpu") >= 0.0, "{p}");
        // Every authentication is at least two round trips (identity, challenge).
        // Both rates are counts over the same elapsed time: with exactly two
        // requests per authentication they differ only by rounding.
        assert!(
            f(&p["requests_per_sec"], "rps") * (1.0 + 1e-9) >= 2.0 * f(&p["auths_per_sec"], "aps"),
            "{p}"
        );
    }
    assert!(t["tls"].as_str().unwrap().contains("TLS"), "{t}");
}
