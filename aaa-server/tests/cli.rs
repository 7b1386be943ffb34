//! The command line: subscriber management, `serve --check`, `hlr-gw`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";

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

#[test]
fn subscriber_add_list_import_remove_never_print_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();
    let o = aaa(&[
        "subscriber",
        "add",
        "--db",
        db,
        "--imsi",
        "001010000000001",
        "--k",
        K,
        "--opc",
        OPC,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::metadata(db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = aaa(&[
        "subscriber",
        "add",
        "--db",
        db,
        "--imsi",
        "001010000000001",
        "--k",
        K,
        "--opc",
        OPC,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    let o = aaa(&[
        "subscriber",
        "add",
        "--db",
        db,
        "--imsi",
        "001010000000002",
        "--k",
        "zz",
        "--opc",
        OPC,
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--k must be 32 hex digits"),
        "{}",
        text(&o)
    );

    let mdb = dir.path().join("milenage_db");
    std::fs::write(
        &mdb,
        format!("# comment\n001010000000003 {K} {OPC} 8000 000000000020 8\n001010000000004 {K} {OPC} 0000 000000000000\n"),
    )
    .unwrap();
    let o = aaa(&[
        "subscriber",
        "import",
        "--db",
        db,
        "--milenage-db",
        mdb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&mdb, "001010000000005 nothex\n").unwrap();
    let o = aaa(&[
        "subscriber",
        "import",
        "--db",
        db,
        "--milenage-db",
        mdb.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("milenage_db:1:"), "{}", text(&o));

    let o = aaa(&["subscriber", "list", "--db", db, "--json"]);
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[1]["imsi"], "001010000000003");
    assert_eq!(list[1]["seq"], 1);
    let all = text(&o) + &text(&aaa(&["subscriber", "list", "--db", db]));
    assert!(
        !all.contains(K) && !all.contains(OPC),
        "keys printed: {all}"
    );

    let o = aaa(&[
        "subscriber",
        "remove",
        "--db",
        db,
        "--imsi",
        "001010000000004",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = aaa(&[
        "subscriber",
        "remove",
        "--db",
        db,
        "--imsi",
        "001010000000004",
    ]);
    assert!(!o.status.success());
}

#[test]
fn serve_check_reports_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        "[[client]]\nnetwork = \"10.0.0.0/8\"\nsecret = \"x\"\n[hss]\ndatabase = \"s.db\"\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let o = aaa(&["serve", "--config", c, "--check"]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        &conf,
        "[[client]]\nnetwork = \"10.0.0.0/8\"\nsecret = \"\"\n[hss]\ndatabase = \"s.db\"\n",
    )
    .unwrap();
    let o = aaa(&["serve", "--config", c, "--check"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("{c}:3: client[0].secret:")),
        "{}",
        text(&o)
    );
    std::fs::write(&conf, "lisen = \"0.0.0.0:1812\"\n").unwrap();
    let o = aaa(&["serve", "--config", c, "--check"]);
    assert!(!o.status.success());
    assert!(text(&o).contains(&format!("{c}:1: lisen:")), "{}", text(&o));
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aaa.toml");
    let o = aaa(&["serve", "--config", example, "--check"]);
    // The example's database directory (/var/lib/aaa-server) may not exist here.
    assert!(
        o.status.success() || text(&o).contains(":24: hss.database: directory"),
        "{}",
        text(&o)
    );
}

#[test]
fn hlr_gw_serves_the_store_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sock = dir.path().join("hlr.sock");
    let o = aaa(&[
        "subscriber",
        "add",
        "--db",
        db.to_str().unwrap(),
        "--imsi",
        "001010000000001",
        "--k",
        K,
        "--opc",
        OPC,
    ]);
    assert!(o.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args([
            "hlr-gw",
            "--db",
            db.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let c = UnixDatagram::bind(dir.path().join("client")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.send_to(b"AKA-REQ-AUTH 001010000000001", &sock).unwrap();
    let mut buf = [0u8; 512];
    let n = c.recv(&mut buf).unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(reply.split(' ').count(), 7, "{reply}");
    // SAFETY: our own child, not reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("hlr-gw did not stop");
    };
    assert!(status.success());
    assert!(!sock.exists(), "socket removed");
}
