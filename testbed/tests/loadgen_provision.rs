//! `testbed loadgen --provision-only --db` never changes a subscriber the
//! user already has: its IMSIs are not the README's, and a clash with other
//! keys is refused (naming the IMSI, importing nothing) unless `--force`.
//! Needs the `aaa-server` and `testbed` binaries (`cargo build -p aaa-server
//! -p testbed --bins`); fails when they are missing.

use std::path::Path;
use std::process::{Command, Output};

#[allow(dead_code)] // shared helpers; this test uses `bin` only
mod common;
use common::bin;

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn imsis(aaa: &Path, db: &Path) -> Vec<String> {
    let o = Command::new(aaa)
        .args(["subscriber", "list", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["imsi"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn provisioning_never_changes_existing_subscribers_without_force() {
    let aaa = bin("aaa-server").expect("aaa-server binary: cargo build -p aaa-server --bins");
    let testbed = bin("testbed").expect("testbed binary: cargo build -p testbed --bins");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("subscribers.db");
    let add = |imsi: &str, k: &str| {
        let o = Command::new(&aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args(["--imsi", imsi, "--k", k, "--opc", OPC])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    let provision = |extra: &[&str]| {
        Command::new(&testbed)
            .args(["loadgen", "--provision-only", "--subscribers", "5", "--db"])
            .arg(&db)
            .arg("--aaa-server")
            .arg(&aaa)
            .args(extra)
            .output()
            .unwrap()
    };
    // The README's example subscriber is not in the load generator's range.
    add("001010000000001", K);
    let o = provision(&[]);
    assert!(o.status.success(), "{}", text(&o));
    let l = imsis(&aaa, &db);
    assert_eq!(l.len(), 6, "{l:?}");
    assert!(
        l.iter()
            .all(|i| i == "001010000000001" || i.starts_with("001019"))
    );
    // Again with the same seed: nothing changes, nothing is refused.
    let o = provision(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(imsis(&aaa, &db), l);

    // A user's subscriber under one of its IMSIs with other keys: refused.
    let fresh = dir.path().join("other.db");
    std::fs::rename(&db, &fresh).unwrap();
    add("001019000000003", K);
    let o = provision(&[]);
    assert!(!o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("001019000000003") && t.contains("--force"),
        "{t}"
    );
    assert!(!t.contains(K), "{t}");
    assert_eq!(
        imsis(&aaa, &db),
        vec!["001019000000003"],
        "nothing imported"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("milenage")),
        "temporary key file left behind"
    );
    // --force overwrites.
    let o = provision(&["--force"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(imsis(&aaa, &db).len(), 5);
}
