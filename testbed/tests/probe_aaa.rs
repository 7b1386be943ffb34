//! `supplicant probe` against `aaa-server serve`: the operator's first check
//! after installing, run as the docs say (a subscriber added with
//! `aaa-server subscriber add`, the server on loopback). Needs the workspace
//! binaries (`cargo build -p aaa-server -p supplicant --bins`).

#[allow(dead_code)] // ci() is for the tests that may skip; this one never does.
mod common;

use common::bin;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const IMSI: &str = "001010000000001";
const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC: &str = "cd63cb71954a9f4e48a5994e37a02baf";
const SECRET: &str = "probe-secret";

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn probe(supplicant: &std::path::Path, port: u16, extra: &[&str]) -> (i32, String) {
    let o = Command::new(supplicant)
        .args(["probe", "--server", &format!("127.0.0.1:{port}")])
        .args(["--secret", SECRET, "--k", K, "--opc", OPC])
        .args(["--timeout", "2", "--require-ma-first"])
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn probe_authenticates_against_aaa_server() {
    let aaa = bin("aaa-server").expect("aaa-server binary: cargo build -p aaa-server --bins");
    let sup = bin("supplicant").expect("supplicant binary: cargo build -p supplicant --bins");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("subscribers.db");
    let st = Command::new(&aaa)
        .args(["subscriber", "add", "--db"])
        .arg(&db)
        .args(["--imsi", IMSI, "--k", K, "--opc", OPC])
        .status()
        .unwrap();
    assert!(st.success());
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
             [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
             [hss]\ndatabase = \"subscribers.db\"\n\
             [eap]\nmethods = [\"aka-prime\", \"aka\"]\n"
        ),
    )
    .unwrap();
    // It holds a client secret.
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut child = Command::new(&aaa)
        .args(["serve", "--config"])
        .arg(&conf)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _serve = Serve(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let port: u16 = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("aaa-server serve did not start");
        if !line.contains("aaa-server listening") {
            continue;
        }
        if let Some(rest) = line.split(" auth=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };

    let (code, out) = probe(&sup, port, &["--imsi", IMSI]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "EAP-Request/AKA'-Challenge",
        "← Access-Accept",
        "OK: authenticated with EAP-AKA'",
        "match the MSK",
    ] {
        assert!(out.contains(line), "missing {line:?}:\n{out}");
    }
    let (code, out) = probe(&sup, port, &["--imsi", IMSI, "--method", "aka"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK: authenticated with EAP-AKA in"), "{out}");

    // A subscriber the server does not know: Access-Reject, a hint.
    let (code, out) = probe(&sup, port, &["--imsi", "001010000000002"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("← Access-Reject"), "{out}");
    assert!(
        out.contains("hint: the server's log names the reason"),
        "{out}"
    );
    // The server's log line for it (written by its log thread) says why.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    let line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("authentication finished") && !l.contains("result=success") => {
                break l;
            }
            Ok(l) => seen.push(l),
            Err(_) => panic!("no failed authentication logged:\n{}", seen.join("\n")),
        }
    };
    assert!(line.contains("unknown subscriber"), "{line}");
}
