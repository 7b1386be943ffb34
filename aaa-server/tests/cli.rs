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
    // Only `subscriber add`/`import` create a store.
    let o = aaa(&["serve", "--config", c, "--check"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no such store"), "{}", text(&o));
    add_subscriber(&dir.path().join("s.db"), "001010000000001");
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
        o.status.success()
            || text(&o).contains(": hss.database: directory")
            || text(&o).contains("no such store"),
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

fn add_subscriber(db: &std::path::Path, imsi: &str) {
    let o = aaa(&[
        "subscriber",
        "add",
        "--db",
        db.to_str().unwrap(),
        "--imsi",
        imsi,
        "--k",
        K,
        "--opc",
        OPC,
        "--sqn",
        "000000000040",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Every subscriber's stored SQN, as `subscriber list --json` shows it.
fn sqns(db: &std::path::Path) -> Vec<(String, String)> {
    let o = aaa(&["subscriber", "list", "--db", db.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["imsi"].as_str().unwrap().to_string(),
                s["sqn"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn write_config(dir: &std::path::Path, listen: &str, accounting: &str, db: &str) -> String {
    let conf = dir.join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"{listen}\"\naccounting_listen = \"{accounting}\"\n\
             [[client]]\nnetwork = \"127.0.0.0/8\"\nsecret = \"x\"\n[hss]\ndatabase = \"{db}\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    conf.to_str().unwrap().to_string()
}

/// Issue point 4: `subscriber list | head` ended in a panic on the broken pipe.
#[test]
fn subscriber_list_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    add_subscriber(&db, "001010000000001");
    for json in [false, true] {
        let mut args = vec!["subscriber", "list", "--db", db.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written, as `head` does after its lines.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{:?} {err}", o.status);
        assert!(err.is_empty(), "quiet: {err}");
    }
}

/// Issue point 4: a second `hlr-gw` on the same path unlinked the live socket.
#[test]
fn hlr_gw_refuses_a_live_socket_and_replaces_a_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sock = dir.path().join("hlr.sock");
    add_subscriber(&db, "001010000000001");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_aaa-server"))
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
            .unwrap()
    };
    let wait_for_socket = || {
        for _ in 0..500 {
            if sock.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("hlr-gw did not bind {}", sock.display());
    };
    let mut first = spawn();
    wait_for_socket();
    let mut second = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args([
            "hlr-gw",
            "--db",
            db.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if second.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if second.try_wait().unwrap().is_none() {
        let _ = second.kill();
        let _ = first.kill();
        let _ = second.wait();
        let _ = first.wait();
        panic!("a second hlr-gw started on a live socket");
    }
    let second = second.wait_with_output().unwrap();
    assert!(!second.status.success());
    assert!(
        text(&second).contains("another process is serving on this socket"),
        "{}",
        text(&second)
    );
    let c = UnixDatagram::bind(dir.path().join("client")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.send_to(b"AKA-REQ-AUTH 001010000000001", &sock).unwrap();
    let mut buf = [0u8; 512];
    let n = c.recv(&mut buf).expect("the first hlr-gw still serves");
    assert!(buf[..n].starts_with(b"AKA-RESP-AUTH 001010000000001 "));
    // SIGKILL leaves the socket file behind: the next start replaces it.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(sock.exists(), "stale socket left by the killed process");
    let mut third = spawn();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        third.try_wait().unwrap().is_none(),
        "hlr-gw refused a stale socket"
    );
    c.send_to(b"AKA-REQ-AUTH 001010000000001", &sock).unwrap();
    c.recv(&mut buf).expect("the new hlr-gw serves");
    third.kill().unwrap();
    third.wait().unwrap();
}

/// Issue point 5: `--check` said OK for stores and addresses `serve` then refused.
#[test]
fn serve_check_refuses_what_serve_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let check = |conf: &str| aaa(&["serve", "--config", conf, "--check"]);

    std::fs::create_dir(dir.path().join("dir.db")).unwrap();
    let o = check(&write_config(dir.path(), "127.0.0.1:0", ":0", "dir.db"));
    assert!(!o.status.success());
    assert!(text(&o).contains("not a regular file"), "{}", text(&o));

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'j'; 2048]).unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = check(&write_config(dir.path(), "127.0.0.1:0", ":0", "junk.db"));
    assert!(!o.status.success());
    assert!(text(&o).contains("not an SQLite database"), "{}", text(&o));

    let db = dir.path().join("s.db");
    add_subscriber(&db, "001010000000001");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let conf = write_config(dir.path(), "127.0.0.1:0", ":0", "s.db");
    let o = check(&conf);
    assert!(!o.status.success());
    assert!(text(&o).contains("run chmod 600"), "{}", text(&o));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = check(&conf);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 subscriber(s)"), "{}", text(&o));

    let conf = write_config(dir.path(), "127.0.0.1:18125", ":18125", "s.db");
    let o = check(&conf);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!("{conf}:2: accounting_listen:")),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("distinct ports"), "{}", text(&o));
}

/// Issue point 5: neither `--check` nor a start that fails moves any SQN.
#[test]
fn serve_check_and_a_failed_start_leave_every_sqn_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    add_subscriber(&db, "001010000000001");
    add_subscriber(&db, "001010000000002");
    let before = sqns(&db);
    assert_eq!(before.len(), 2);
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let conf = write_config(dir.path(), &format!("127.0.0.1:{port}"), ":0", "s.db");
    let o = aaa(&["serve", "--config", &conf, "--check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sqns(&db), before, "serve --check moved an SQN");
    let o = aaa(&["serve", "--config", &conf]);
    assert!(!o.status.success(), "serve bound a port in use");
    assert!(
        text(&o).contains(&format!("bind 127.0.0.1:{port}")),
        "{}",
        text(&o)
    );
    assert_eq!(sqns(&db), before, "a failed start moved an SQN");
}

/// Issue point 7: name the file, the key and what was expected.
#[test]
fn config_errors_name_file_key_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("aaa.toml");
    let m = missing.to_str().unwrap();
    let o = aaa(&["serve", "--config", m, "--check"]);
    assert!(!o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("aaa-server: {m}: cannot read: No such file or directory\n")
    );
    std::fs::write(
        &missing,
        "[[client]]\nnetwork = \"10.0.0.0/8\"\nsecret = \"x\"\n[hss]\ndatabase = \"s.db\"\n\nlisten = 1812\n",
    )
    .unwrap();
    let o = aaa(&["serve", "--config", m, "--check"]);
    assert!(!o.status.success());
    // `listen` after [hss] belongs to that table: the message says so.
    assert!(
        text(&o).contains(&format!("{m}:7: hss.listen: unknown key")),
        "{}",
        text(&o)
    );
    std::fs::write(
        &missing,
        "listen = 1812\n[[client]]\nnetwork = \"10.0.0.0/8\"\nsecret = \"x\"\n[hss]\ndatabase = \"s.db\"\n",
    )
    .unwrap();
    let o = aaa(&["serve", "--config", m, "--check"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "{m}:1: listen: expected a string \"ip:port\", found integer 1812"
        )),
        "{}",
        text(&o)
    );
}

/// Issue point 6: `--config /dev/zero` and `--milenage-db /dev/zero` grew to gigabytes.
#[test]
fn input_files_are_size_capped() {
    let dir = tempfile::tempdir().unwrap();
    let o = aaa(&["serve", "--config", "/dev/zero", "--check"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("/dev/zero: larger than the 1048576-byte limit"),
        "{}",
        text(&o)
    );
    let db = dir.path().join("s.db");
    let o = aaa(&[
        "subscriber",
        "import",
        "--db",
        db.to_str().unwrap(),
        "--milenage-db",
        "/dev/zero",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("/dev/zero: larger than the 67108864-byte limit"),
        "{}",
        text(&o)
    );
    assert!(!db.exists(), "nothing created for a refused import");
}

/// Issue point 6: a config holding client secrets readable by others is warned about.
#[test]
fn group_readable_config_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    add_subscriber(&dir.path().join("s.db"), "001010000000001");
    let conf = write_config(dir.path(), "127.0.0.1:0", ":0", "s.db");
    let o = aaa(&["serve", "--config", &conf, "--check"]);
    assert!(
        o.status.success() && !text(&o).contains("warning"),
        "{}",
        text(&o)
    );
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = aaa(&["serve", "--config", &conf, "--check"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "warning: {conf}: holds RADIUS client secrets but is readable by group/others (mode 644); run chmod 600"
        )),
        "{err}"
    );
    // `serve` itself warns at start (here it then stops: its port is taken).
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let conf = write_config(dir.path(), &format!("127.0.0.1:{port}"), ":0", "s.db");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = aaa(&["serve", "--config", &conf]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("readable by group/others (mode 640); run chmod 600"),
        "{err}"
    );
}

/// README quick start, step 1: the store's directory did not exist.
#[test]
fn subscriber_add_creates_the_store_directory_0700() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("var/lib/aaa-server/subscribers.db");
    add_subscriber(&db, "001010000000001");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(db.parent().unwrap()), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(sqns(&db).len(), 1);
}
