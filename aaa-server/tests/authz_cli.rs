//! `subscriber group …`, `subscriber set --group/--vlan…`, `bar`/`unbar`,
//! `show` and `session list` as a user runs them: what they print, and the
//! errors (non-zero exit, the store and what is wrong) for bad input; on
//! an SQLite file and on a real PostgreSQL (`--db postgresql://…`).

#[path = "common/postgres.rs"]
mod pgsrv;

use std::ffi::OsStr;
use std::process::Command;

fn aaa(db: &OsStr, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn groups_overrides_bars_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    groups_overrides_bars(dir.path().join("s.db").as_os_str());
}

#[test]
fn groups_overrides_bars_and_their_errors_in_postgresql() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    groups_overrides_bars(OsStr::new(&pg.url("postgres")));
}

fn groups_overrides_bars(db: &OsStr) {
    let imsi = "001010000000001";
    let ok = |args: &[&str]| {
        let (ok, out, err) = aaa(db, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    ok(&[
        "subscriber",
        "add",
        "--imsi",
        imsi,
        "--k",
        "465b5ce8b199b49faa5f0a2ee238a6bc",
        "--opc",
        "cd63cb71954a9f4e48a5994e37a02baf",
    ]);
    ok(&[
        "subscriber",
        "group",
        "add",
        "gold",
        "--vlan",
        "10",
        "--class",
        "gold",
        "--vsa",
        "9:1:6869",
    ]);
    ok(&[
        "subscriber",
        "set",
        "--imsi",
        imsi,
        "--group",
        "gold",
        "--vlan",
        "20",
    ]);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&["subscriber", "show", "--imsi", imsi])).unwrap();
    assert_eq!(show["barred"], false);
    assert_eq!(show["reply"]["vlan"], 20, "{show}");
    assert_eq!(show["reply"]["class"], "gold", "{show}");
    assert_eq!(show["reply"]["vendor"][0]["value"], "6869", "{show}");
    ok(&["subscriber", "group", "set", "gold", "--unset", "class"]);
    let list: serde_json::Value =
        serde_json::from_str(&ok(&["subscriber", "group", "list", "--json"])).unwrap();
    assert_eq!(list[0]["members"], 1);
    assert!(list[0]["attributes"].get("class").is_none(), "{list}");
    assert!(ok(&["subscriber", "bar", "--imsi", imsi]).contains("barred"));
    let show: serde_json::Value =
        serde_json::from_str(&ok(&["subscriber", "show", "--imsi", imsi])).unwrap();
    assert_eq!(show["barred"], true);
    ok(&["subscriber", "unbar", "--imsi", imsi]);
    assert!(ok(&["session", "list"]).starts_with("CLIENT"));

    for (args, want) in [
        (
            &["subscriber", "group", "remove", "gold"][..],
            "group gold: group still has 1 member(s)",
        ),
        (
            &["subscriber", "set", "--imsi", imsi, "--group", "none"][..],
            "unknown group",
        ),
        (
            &["subscriber", "bar", "--imsi", "001010000000009"][..],
            "unknown subscriber",
        ),
        (
            &["subscriber", "group", "add", "x", "--vlan", "5000"][..],
            "vlan 5000 outside 1..=4094",
        ),
        (
            &["subscriber", "group", "add", "x", "--vsa", "9:1"][..],
            "--vsa",
        ),
        (
            &["subscriber", "group", "set", "gold", "--unset", "nope"][..],
            "unknown attribute name",
        ),
        (
            &["subscriber", "group", "add", "gold"][..],
            "already exists",
        ),
    ] {
        let (ok, _, err) = aaa(db, args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    ok(&["subscriber", "set", "--imsi", imsi, "--no-group"]);
    ok(&["subscriber", "group", "remove", "gold"]);
}
