//! `testbed bench --quick` end to end: the sweep against `aaa-server serve`
//! and hostapd 2.10, the floor (a null server's CPU per authentication),
//! then the targets (half-peak p99, hostapd below its session cap, memory
//! per held session). Checks that the JSON has every
//! field and that the figures are consistent with each other — never a
//! figure against a target (timed assertions are not tests; the bench prints
//! the figures). Needs the `aaa-server` and `testbed` binaries next to this
//! test (`cargo build --workspace --bins`) and hostapd; without them the test
//! fails under CI=true and says why otherwise.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{bin, ci};

fn hostapd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("hostapd"))
        .find(|p| p.is_file())
}

fn f(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

/// `measured`, `target`, `rule`, `met` present, and `met` what the rule says.
fn verdict(v: &Value, what: &str, target: f64, rule: &str) -> f64 {
    let m = f(&v["measured"], what);
    assert!(m.is_finite(), "{what}: {v}");
    assert_eq!(f(&v["target"], what), target, "{what}: {v}");
    assert_eq!(v["rule"].as_str(), Some(rule), "{what}: {v}");
    let met = v["met"]
        .as_bool()
        .unwrap_or_else(|| panic!("{what}: met: {v}"));
    let expected = match rule {
        ">=" => m >= target,
        "<" => m < target,
        "<=" => m <= target,
        r => panic!("{what}: rule {r}"),
    };
    assert_eq!(met, expected, "{what}: {v}");
    m
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn bench_quick_measures_the_sweep_and_the_targets() {
    let (Some(aaa), Some(testbed), Some(_)) = (bin("aaa-server"), bin("testbed"), hostapd()) else {
        assert!(
            !ci(),
            "CI=true: aaa-server and testbed must be built next to {:?} (cargo build --workspace --bins) and hostapd installed",
            std::env::current_exe().ok()
        );
        eprintln!(
            "aaa-server/testbed binaries or hostapd missing: cargo build --workspace --bins, apt install hostapd"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&testbed)
        .args(["bench", "--quick", "--out-dir"])
        .arg(dir.path())
        .arg("--aaa-server")
        .arg(&aaa)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "testbed bench --quick failed:\n{stdout}\n{stderr}"
    );
    assert!(dir.path().join("bench.svg").is_file());
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();

    // The sweep, unchanged: 2 methods × {1, 64} × 2 servers.
    assert!(j["machine"]["cores"].as_u64().unwrap() >= 1, "{j}");
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 8, "{j}");
    for r in results {
        for k in [
            "server",
            "method",
            "concurrency",
            "auths_per_sec",
            "p50_ms",
            "p99_ms",
        ] {
            assert!(!r[k].is_null(), "{k}: {r}");
        }
        assert!(f(&r["auths_per_sec"], "auths_per_sec") > 0.0, "{r}");
        // Server CPU per authentication, from /proc/<pid>/stat (hostapd's
        // points also give hlr-gw's).
        assert!(f(&r["server_cpu_us_per_auth"], "cpu") >= 0.0, "{r}");
        if r["server"] == "hostapd" {
            assert!(f(&r["hlr_gw_cpu_us_per_auth"], "hlr-gw cpu") >= 0.0, "{r}");
        }
    }
    let best = |server: &str, method: &str| {
        results
            .iter()
            .filter(|r| r["server"] == server && r["method"] == method)
            .max_by(|a, b| f(&a["auths_per_sec"], "a").total_cmp(&f(&b["auths_per_sec"], "b")))
            .unwrap()
    };

    let t = &j["targets"];
    assert!(t.is_object(), "no targets: {j}");
    assert_eq!(t["skipped"].as_array().map(Vec::len), Some(0), "{t}");

    // Throughput: the sweep's best aaa-server AKA' point.
    let ours = best("aaa-server", "aka-prime");
    let tp = &t["throughput_aka_prime"];
    let m = verdict(tp, "throughput", 20_000.0, ">=");
    assert_eq!(m, f(&ours["auths_per_sec"], "ours"), "{tp}");
    assert_eq!(tp["concurrency"], ours["concurrency"], "{tp}");

    // hostapd below its cap: fresh hostapd, 900 auths, at 1, 8 and 64, both methods.
    let below = t["hostapd_below_cap"].as_array().unwrap();
    assert_eq!(below.len(), 6, "{t}");
    for b in below {
        assert_eq!(b["count"].as_u64(), Some(900), "{b}");
        assert!(b["retransmissions"].is_u64(), "{b}");
        assert!(f(&b["auths_per_sec"], "below cap") > 0.0, "{b}");
        assert!(f(&b["p99_ms"], "below cap p99") > 0.0, "{b}");
        assert!(
            [1, 8, 64].contains(&b["concurrency"].as_u64().unwrap()),
            "{b}"
        );
    }
    let below_best = below
        .iter()
        .filter(|b| b["method"] == "aka-prime")
        .map(|b| f(&b["auths_per_sec"], "below cap"))
        .fold(0.0, f64::max);

    // Both ratios, each ours / hostapd.
    let r = &t["ratio_to_hostapd_aka_prime"];
    let ours_peak = f(&r["ours_auths_per_sec"], "ours");
    assert_eq!(ours_peak, f(&ours["auths_per_sec"], "ours"));
    let sustained = verdict(&r["sustained"], "sustained ratio", 10.0, ">=");
    let theirs = best("hostapd", "aka-prime");
    assert!(
        close(sustained, ours_peak / f(&theirs["auths_per_sec"], "theirs")),
        "{r}"
    );
    let below_ratio = verdict(&r["below_cap"], "below-cap ratio", 10.0, ">=");
    assert!(close(below_ratio, ours_peak / below_best), "{r}");

    // p99 at half the peak rate, per method, at concurrency 64.
    let hp = t["p99_at_half_peak"].as_array().unwrap();
    assert_eq!(hp.len(), 2, "{t}");
    for h in hp {
        let method = h["method"].as_str().unwrap();
        let p99 = verdict(h, "p99 at half peak", 2.0, "<");
        assert_eq!(p99, f(&h["p99_ms"], "p99"), "{h}");
        assert!(p99 > 0.0, "{h}");
        let peak = best("aaa-server", method);
        assert_eq!(h["peak_auths_per_sec"], peak["auths_per_sec"], "{h}");
        assert!(
            close(
                f(&h["target_rate"], "rate"),
                f(&peak["auths_per_sec"], "peak") / 2.0
            ),
            "{h}"
        );
        assert_eq!(h["concurrency"].as_u64(), Some(64), "{h}");
        assert!(f(&h["achieved_auths_per_sec"], "achieved") > 0.0, "{h}");
        assert!(h["retransmissions"].is_u64(), "{h}");
        assert!(f(&h["p50_ms"], "p50") <= p99 && p99 <= f(&h["max_ms"], "max"));
    }

    // Server CPU per AKA' authentication: ours at the throughput point,
    // hostapd's at its fastest AKA' run below the cap, and the ratio.
    let cpu = &t["server_cpu_per_auth_aka_prime"];
    let us = verdict(cpu, "cpu per auth", 12.0, "<=");
    assert_eq!(us, f(&ours["server_cpu_us_per_auth"], "ours cpu"), "{cpu}");
    let theirs_us = f(&cpu["hostapd_us_per_auth"], "hostapd cpu");
    assert!(
        f(&cpu["hostapd_hlr_gw_us_per_auth"], "hlr-gw cpu") >= 0.0,
        "{cpu}"
    );
    if us > 0.0 {
        assert!(
            close(f(&cpu["hostapd_over_aaa_server"], "ratio"), theirs_us / us),
            "{cpu}"
        );
    }
    for b in below {
        assert!(
            f(&b["server_cpu_us_per_auth"], "below cap cpu") >= 0.0,
            "{b}"
        );
    }

    // The floor: a null server at the sweep's levels and 1 and 256, its CPU
    // split into user and kernel; the same work without sockets; beside the
    // CPU target at aaa-server's concurrency.
    let floor = &j["floor"];
    assert!(floor.is_object(), "no floor: {j}");
    for k in [
        "access_request_identity",
        "access_challenge",
        "access_request_challenge",
        "access_accept",
    ] {
        assert!(floor["sizes"][k].as_u64().unwrap() > 20, "{k}: {floor}");
    }
    let crypto = &floor["crypto"];
    let crypto_us = f(&crypto["us_per_auth"], "floor crypto");
    assert!(crypto_us > 0.0, "{crypto}");
    let eap_us = f(&crypto["eap_us_per_auth"], "floor eap crypto");
    assert!(eap_us > 0.0 && eap_us <= crypto_us, "{crypto}");
    assert!(
        (eap_us + f(&crypto["radius_us_per_auth"], "floor radius crypto") - crypto_us).abs() < 1e-6,
        "{crypto}"
    );
    let fp = floor["points"].as_array().unwrap();
    let levels: Vec<u64> = fp
        .iter()
        .map(|p| p["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, vec![1, 64, 256], "{floor}");
    for p in fp {
        let auths = p["auths"].as_u64().unwrap();
        assert!(auths > 0, "{p}");
        assert_eq!(p["client_successes"].as_u64(), Some(auths), "{p}");
        assert_eq!(p["client_failures"].as_u64(), Some(0), "{p}");
        assert_eq!(p["server_dropped"].as_u64(), Some(0), "{p}");
        let total = f(&p["us_per_auth"], "floor cpu");
        assert!(total > 0.0, "{p}");
        assert!(
            (f(&p["user_us_per_auth"], "user") + f(&p["kernel_us_per_auth"], "kernel") - total)
                .abs()
                < 1e-6,
            "{p}"
        );
        assert!(f(&p["recvmmsg_per_auth"], "recvmmsg") > 0.0, "{p}");
        assert!(f(&p["sendmmsg_per_auth"], "sendmmsg") > 0.0, "{p}");
    }
    let at = &cpu["floor"];
    let at_c = at["concurrency"].as_u64().unwrap();
    assert_eq!(Some(at_c), cpu["concurrency"].as_u64(), "{cpu}");
    let same = fp
        .iter()
        .find(|p| p["concurrency"].as_u64() == Some(at_c))
        .unwrap();
    assert_eq!(at["us_per_auth"], same["us_per_auth"], "{cpu}");
    assert_eq!(at["crypto_us_per_auth"], crypto["us_per_auth"], "{cpu}");
    assert!(
        close(
            f(&at["server_over_floor"], "ours/floor"),
            us / f(&same["us_per_auth"], "floor")
        ),
        "{cpu}"
    );
    assert!(stdout.contains("floor: a null RADIUS server"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("server CPU per AKA' auth")
                && l.contains("floor on this machine")),
        "{stdout}"
    );

    // Memory per held session: --quick holds 10000.
    let mem = &t["memory_per_session"];
    let bytes = verdict(mem, "memory", 1024.0, "<=");
    assert_eq!(mem["requested"].as_u64(), Some(10_000), "{mem}");
    let held = mem["held"].as_u64().unwrap();
    assert!(held > 0, "{mem}");
    assert_eq!(held + mem["failures"].as_u64().unwrap(), 10_000, "{mem}");
    let (before, after) = (
        mem["rss_before_kib"].as_u64().unwrap(),
        mem["rss_after_kib"].as_u64().unwrap(),
    );
    assert!(
        before > 0 && mem["rss_half_kib"].as_u64().unwrap() > 0,
        "{mem}"
    );
    assert!(
        close(bytes, (after as f64 - before as f64) * 1024.0 / held as f64),
        "{mem}"
    );
    assert!(f(&mem["marginal_bytes_per_session"], "marginal").is_finite());
    assert!(mem["max_sessions"].as_u64().unwrap() >= 10_000, "{mem}");

    // And the table says it, one line per target.
    for name in [
        "throughput AKA'",
        "ratio to hostapd AKA', sustained",
        "ratio to hostapd AKA', below cap",
        "p99 at half peak, aka ",
        "p99 at half peak, aka-prime",
        "memory per in-flight session",
        "server CPU per AKA' auth",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(name) && l.contains("met: ")),
            "{name}:\n{stdout}"
        );
    }
}
