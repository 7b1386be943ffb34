//! `testbed bench --store sqlite,postgres --nodes 1,2` end to end, short:
//! one SQLite file and a PostgreSQL the bench starts itself (initdb, Unix
//! socket), 1 and 2 `aaa-server serve` nodes on each. Checks that the JSON
//! has every field and that the figures agree with each other (per-node
//! rates add up to the total, the concurrency is split, PostgreSQL's CPU is
//! there for PostgreSQL only, the target's ratio is the two rates' ratio and
//! `met` is the rule applied) and that no card resynchronised (no SQN issued
//! twice or out of order across nodes) — never a figure against a target.
//! Needs the `aaa-server` and `testbed` binaries next to this test
//! (`cargo build --workspace --bins`) and Debian's postgresql; without them
//! the test fails under CI=true and says why otherwise.

use serde_json::Value;
use std::process::Command;

mod common;
use common::{bin, ci};

fn postgres_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .is_ok_and(|d| d.flatten().any(|e| e.path().join("bin/initdb").is_file()))
}

fn f(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn bench_store_runs_nodes_on_sqlite_and_postgres() {
    let (Some(aaa), Some(testbed), true) =
        (bin("aaa-server"), bin("testbed"), postgres_installed())
    else {
        assert!(
            !ci(),
            "CI=true: aaa-server and testbed must be built next to {:?} (cargo build --workspace --bins) and PostgreSQL installed (scripts/packages.sh)",
            std::env::current_exe().ok()
        );
        eprintln!(
            "aaa-server/testbed binaries or PostgreSQL missing: cargo build --workspace --bins, apt install postgresql"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&testbed)
        .args([
            "bench",
            "--store",
            "sqlite,postgres",
            "--nodes",
            "1,2",
            "--methods",
            "aka-prime",
            "--concurrency",
            "8",
            "--duration",
            "1s",
            "--subscribers",
            "40",
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
        "testbed bench --store failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("PG µs/a"), "{stdout}");
    assert!(
        stdout.contains("target: one PostgreSQL node >= half of one SQLite node"),
        "{stdout}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bench.json")).unwrap())
            .unwrap();
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    let points = json["stores"].as_array().expect("stores[]");
    assert_eq!(points.len(), 4, "{json}");
    let mut one_node = std::collections::BTreeMap::new();
    for p in points {
        let store = p["store"].as_str().unwrap();
        let nodes = p["nodes"].as_u64().unwrap() as usize;
        let per = p["per_node"].as_array().unwrap();
        assert_eq!(per.len(), nodes, "{p}");
        let total = f(&p["auths_per_sec"], "auths_per_sec");
        assert!(total > 0.0, "{p}");
        let sum: f64 = per.iter().map(|n| f(&n["auths_per_sec"], "node")).sum();
        assert!(close(sum, total), "per-node rates add up: {p}");
        let conc: u64 = per.iter().map(|n| n["concurrency"].as_u64().unwrap()).sum();
        assert_eq!(conc, 8, "{p}");
        let subs: u64 = per.iter().map(|n| n["subscribers"].as_u64().unwrap()).sum();
        assert_eq!(subs, 40, "{p}");
        let reasons: u64 = p["failures_by_reason"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(reasons, p["failures"].as_u64().unwrap(), "{p}");
        assert_eq!(p["resyncs"].as_u64(), Some(0), "no SQN reused: {p}");
        for k in ["p50_ms", "p99_ms", "loadgen_cpu_percent"] {
            assert!(f(&p[k], k) >= 0.0, "{k}: {p}");
        }
        assert!(f(&p["p99_ms"], "p99") >= f(&p["p50_ms"], "p50"), "{p}");
        match store {
            "postgres" => {
                assert_eq!(p["sqn_lease"].as_u64(), Some(1), "{p}");
                let pg = f(&p["postgres_cpu_us_per_auth"], "postgres CPU");
                assert!(pg > 0.0, "PostgreSQL worked: {p}");
                assert!(f(&p["postgres_cpu_percent"], "postgres %") > 0.0, "{p}");
            }
            "sqlite" => {
                assert!(p["sqn_lease"].is_null(), "{p}");
                assert!(p["postgres_cpu_us_per_auth"].is_null(), "{p}");
            }
            s => panic!("store {s}"),
        }
        if nodes == 1 {
            one_node.insert(store.to_string(), total);
        }
    }
    let t = json["postgres_one_node_vs_sqlite"].as_array().unwrap();
    assert_eq!(t.len(), 1, "{json}");
    let t = &t[0];
    let ratio = one_node["postgres"] / one_node["sqlite"];
    assert!(close(f(&t["measured"], "measured"), ratio), "{t}");
    assert_eq!(f(&t["target"], "target"), 0.5);
    assert_eq!(t["met"].as_bool(), Some(ratio >= 0.5), "{t}");
}
