//! The subscriber store from the command line: nothing a user owns is
//! created or overwritten by accident, and a bad store is named and said
//! what is wrong with it.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";
const K2: &str = "00112233445566778899aabbccddeeff";

fn aaa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn add(db: &str, imsi: &str) -> Output {
    aaa(&[
        "subscriber",
        "add",
        "--db",
        db,
        "--imsi",
        imsi,
        "--k",
        K,
        "--opc",
        OPC,
    ])
}

#[test]
fn only_add_and_import_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let t = typo.to_str().unwrap();
    for args in [
        vec!["subscriber", "list", "--db", t],
        vec!["subscriber", "list", "--db", t, "--json"],
        vec![
            "subscriber",
            "remove",
            "--db",
            t,
            "--imsi",
            "001010000000001",
        ],
        vec![
            "subscriber",
            "set",
            "--db",
            t,
            "--imsi",
            "001010000000001",
            "--amf",
            "0000",
        ],
        vec!["hlr-gw", "--db", t, "--socket", "/nonexistent/sock"],
    ] {
        let o = aaa(&args);
        assert!(!o.status.success(), "{args:?}");
        let m = text(&o);
        assert!(
            m.contains("no such store") && m.contains("typo.db"),
            "{args:?}: {m}"
        );
        assert!(!typo.exists(), "{args:?} created {t}");
    }
    let o = add(t, "001010000000001");
    assert!(o.status.success(), "{}", text(&o));
    assert!(typo.exists());
}

#[test]
fn a_junk_or_directory_store_is_named_and_described() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 2048]).unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let j = junk.to_str().unwrap();
    for o in [
        aaa(&["subscriber", "list", "--db", j]),
        aaa(&[
            "subscriber",
            "remove",
            "--db",
            j,
            "--imsi",
            "001010000000001",
        ]),
        add(j, "001010000000001"),
    ] {
        assert!(!o.status.success());
        let m = text(&o);
        assert!(
            m.contains(&format!("subscriber store {j}: file is not a database")),
            "{m}"
        );
    }
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![0x42u8; 2048],
        "junk left as it was"
    );

    let d = dir.path().to_str().unwrap();
    for o in [
        aaa(&["subscriber", "list", "--db", d]),
        add(d, "001010000000001"),
    ] {
        assert!(!o.status.success());
        let m = text(&o);
        assert!(m.contains("is a directory"), "{m}");
        assert!(!m.contains("group/others"), "{m}");
    }
}

#[test]
fn import_refuses_to_change_keys_unless_update_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();
    assert!(add(db, "001010000000002").status.success());
    let mdb = dir.path().join("milenage_db");
    let m = mdb.to_str().unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec!["subscriber", "import", "--db", db, "--milenage-db", m];
        args.extend_from_slice(extra);
        aaa(&args)
    };
    // Same keys and AMF: not a clash (nothing would be overwritten).
    std::fs::write(
        &mdb,
        format!("001010000000001 {K2} {OPC} 8000 000000000000\n001010000000002 {K} {OPC} 8000 000000000000\n"),
    )
    .unwrap();
    let o = import(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1 added, 0 updated, 1 unchanged"),
        "{}",
        text(&o)
    );
    // Another K for 002 and a new 003: refused as a whole, 003 not added.
    std::fs::write(
        &mdb,
        format!("001010000000003 {K} {OPC} 8000 000000000000\n001010000000002 {K2} {OPC} 8000 000000000000\n001010000000001 {K2} {OPC} 0000 000000000000\n"),
    )
    .unwrap();
    let o = import(&[]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("001010000000002") && t.contains("--update") && t.contains("nothing imported"),
        "{t}"
    );
    assert!(!t.contains(K2), "{t}");
    let list = aaa(&["subscriber", "list", "--db", db]);
    assert!(!text(&list).contains("001010000000003"), "{}", text(&list));
    // With --update: counted.
    let o = import(&["--update"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("1 added, 2 updated, 0 unchanged"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_start_that_fails_reserves_no_sqn() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("subscribers.db");
    assert!(
        add(db.to_str().unwrap(), "001010000000001")
            .status
            .success()
    );
    let list = || {
        text(&aaa(&[
            "subscriber",
            "list",
            "--db",
            db.to_str().unwrap(),
            "--json",
        ]))
    };
    let before = list();
    assert!(before.contains("\"seq\": 0"), "{before}");
    // The authentication port is taken: the start fails after opening the store.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"{}\"\naccounting_listen = \"127.0.0.1:0\"\n\
             [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"testing123\"\n\
             [hss]\ndatabase = \"subscribers.db\"\n\
             [eap]\nmethods = [\"aka-prime\"]\nnetwork_name = \"WLAN\"\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    for _ in 0..3 {
        let o = aaa(&["serve", "--config", conf.to_str().unwrap()]);
        assert!(!o.status.success(), "{}", text(&o));
        let o = aaa(&["serve", "--check", "--config", conf.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(list(), before, "SQN reserved by a failed start or --check");
}
