//! Operating a running `aaa-server serve` (issue 17): SIGHUP swaps the
//! clients and their secrets without dropping an authentication in flight
//! (hostap's eapol_test is the peer), a configuration that does not load or
//! a key file that cannot be used keeps the running one, `--log-format json`
//! writes JSON lines, `[logging] log_identities` masks or not, and
//! `serve --debug` prints each packet decoded with no key in it.

mod common;

use common::{sign_ma_last, tool, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Autn, SubscriberKeys};
use std::io::{BufRead, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

/// The configuration: `clients` as `(network, secret)`, then `extra` TOML.
fn config(clients: &[(&str, &str)], extra: &str) -> String {
    let mut c = String::from(
        "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
         [hss]\ndatabase = \"subscribers.db\"\n[eap]\nmethods = [\"aka-prime\", \"aka\"]\n",
    );
    for (net, secret) in clients {
        c.push_str(&format!(
            "[[client]]\nnetwork = \"{net}\"\nsecret = \"{secret}\"\n"
        ));
    }
    c.push_str(extra);
    c
}

/// `aaa-server serve` with `args`, its stderr and stdout collected by line.
struct Serve {
    child: Child,
    auth: SocketAddr,
    conf: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    k: [u8; 16],
    opc: [u8; 16],
    imsi: String,
}

impl Serve {
    fn start(conf_text: &str, args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let (imsi, k, opc) = vector_subscriber(0);
        let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["subscriber", "add", "--db"])
            .arg(dir.path().join("subscribers.db"))
            .args(["--imsi", &imsi, "--k", &hex::encode(k), "--opc"])
            .arg(hex::encode(opc))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let conf = dir.path().join("aaa.toml");
        write_config(&conf, conf_text);
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--config"])
            .arg(&conf)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                l.lock().unwrap().push(line);
            }
        });
        let stdout = Arc::new(Mutex::new(String::new()));
        let mut so = child.stdout.take().unwrap();
        let s = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = so.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut serve = Serve {
            child,
            auth: "0.0.0.0:0".parse().unwrap(),
            conf,
            logs,
            stdout,
            _dir: dir,
            k,
            opc,
            imsi,
        };
        let line = serve.wait_log("aaa-server listening", 1);
        // `auth=127.0.0.1:PORT` in text, `"auth":"127.0.0.1:PORT"` in JSON.
        let at = line.find("auth").unwrap() + 4;
        let addr: String = line[at..]
            .trim_start_matches(['=', '"', ':'])
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect();
        serve.auth = addr.parse().unwrap();
        serve
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits up to 20 s until `count` log lines contain `needle`; the last.
    fn wait_log(&self, needle: &str, count: usize) -> String {
        for _ in 0..2000 {
            let hits: Vec<String> = self
                .logs()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if hits.len() >= count {
                return hits[count - 1].clone();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "fewer than {count} log lines with {needle:?}; log:\n{}",
            self.logs().join("\n")
        );
    }

    /// Rewrites the configuration and sends SIGHUP.
    fn reload(&self, text: &str) {
        write_config(&self.conf, text);
        // SAFETY: signals our own child process, which has not been reaped yet.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGHUP) },
            0
        );
    }

    /// Runs eapol_test (EAP-AKA', `external_sim`) with `secret`, answering as
    /// the subscriber's USIM; `mid` runs when the server's AKA-Challenge is
    /// in (the authentication is in flight). Success and eapol_test's output.
    fn eapol_test(&self, secret: &str, mid: &mut dyn FnMut()) -> (bool, String) {
        let bin = tool("eapol_test").expect("checked by the caller");
        let keys = SubscriberKeys::new(K::new(self.k), Opc::new(self.opc));
        let (ok, out, _) = common::eapol_test_external_sim(
            &bin,
            secret,
            self.auth.port(),
            "AKA'",
            &format!("  identity=\"6{}@{REALM}\"\n", self.imsi),
            0,
            |rand, autn| {
                mid();
                let mut r = [0u8; 16];
                let mut a = [0u8; 16];
                hex::decode_to_slice(rand, &mut r).unwrap();
                hex::decode_to_slice(autn, &mut a).unwrap();
                let u = keys.authenticate(&r, &Autn(a)).expect("AUTN verifies");
                format!(
                    "UMTS-AUTH:{}:{}:{}",
                    hex::encode(u.ik.expose()),
                    hex::encode(u.ck.expose()),
                    hex::encode(u.res.as_bytes())
                )
            },
        );
        (ok, out)
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: signals our own child process, which has not been reaped yet.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        for _ in 0..500 {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("server did not stop within 5 s of SIGTERM");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the configuration file, mode 0600 (it holds secrets).
fn write_config(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// An Access-Request with EAP-Response/Identity for `nai`, signed with
/// `secret`, sent to `to`; the reply's code, or `None` after 1 s.
fn identity_request(to: SocketAddr, secret: &str, id: u8, nai: &str) -> Option<u8> {
    use radius::core::avp::AVP;
    use radius::core::code::Code;
    use radius::core::packet::Packet;
    use radius::core::{rfc2865, rfc2869};
    let mut eap = vec![2, 1, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    let mut p = Packet::new_with_identifier(Code::AccessRequest, secret.as_bytes(), id);
    rfc2865::add_user_name(&mut p, nai);
    rfc2869::add_eap_message(&mut p, &eap);
    p.add(AVP::from_bytes(80, &[0; 16]));
    let bytes = sign_ma_last(p.encode().unwrap(), secret.as_bytes());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    sock.send_to(&bytes, to).unwrap();
    let mut buf = [0u8; 4096];
    sock.recv(&mut buf).ok().map(|_| buf[0])
}

const ACCESS_REJECT: u8 = 3;
const ACCESS_CHALLENGE: u8 = 11;

#[test]
fn sighup_swaps_clients_and_secrets_keeps_sessions_and_refuses_bad_configs() {
    if tool("eapol_test").is_none() {
        return;
    }
    let old = "old-secret-1";
    let new = "new-secret-2";
    let serve = Serve::start(&config(&[("127.0.0.1/32", old)], ""), &[]);
    let nai = format!("6{}@{REALM}", serve.imsi);

    // A reload while an authentication is in flight: it still succeeds.
    let mut reloaded = false;
    let (ok, out) = serve.eapol_test(old, &mut || {
        if !reloaded {
            reloaded = true;
            serve.reload(&config(
                &[("127.0.0.1/32", old), ("192.0.2.0/24", "another-nas")],
                "",
            ));
            serve.wait_log("configuration reloaded", 1);
        }
    });
    assert!(reloaded, "the authentication reached the USIM");
    assert!(
        ok,
        "in-flight authentication lost:\n{out}\n{:#?}",
        serve.logs()
    );
    let l = serve.wait_log("configuration reloaded", 1);
    assert!(l.contains("clients=2"), "{l}");
    let done = serve.wait_log("authentication finished", 1);
    assert!(done.contains("success"), "{done}");

    // A new secret: the NAS with it authenticates, the old one is ignored.
    serve.reload(&config(&[("127.0.0.1/32", new)], ""));
    serve.wait_log("configuration reloaded", 2);
    let (ok, out) = serve.eapol_test(new, &mut || {});
    assert!(ok, "new secret refused:\n{out}\n{:#?}", serve.logs());
    assert_eq!(identity_request(serve.auth, old, 1, &nai), None);
    assert_eq!(
        identity_request(serve.auth, new, 2, &nai),
        Some(ACCESS_CHALLENGE)
    );

    // A file that does not load: the running configuration stays.
    serve.reload(&format!(
        "{}[[client]\nnetwork = 1\n",
        config(&[("127.0.0.1/32", old)], "")
    ));
    let l = serve.wait_log("reload failed, keeping the running configuration", 1);
    assert!(l.contains("aaa.toml:"), "file:line: {l}");
    assert_eq!(
        identity_request(serve.auth, new, 3, &nai),
        Some(ACCESS_CHALLENGE)
    );
    assert_eq!(identity_request(serve.auth, old, 4, &nai), None);

    // A key file that cannot be used: nothing changes either.
    serve.reload(&config(
        &[("127.0.0.1/32", old)],
        "[privacy]\nimsi_privacy_key = \"missing.pem\"\n",
    ));
    let l = serve.wait_log("reload failed, keeping the running configuration", 2);
    assert!(l.contains("aaa.toml:11: privacy.imsi_privacy_key: "), "{l}");
    assert_eq!(
        identity_request(serve.auth, new, 5, &nai),
        Some(ACCESS_CHALLENGE)
    );

    // What needs a restart is named, and the rest is applied.
    serve.reload(&config(&[("127.0.0.1/32", old)], "").replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:1\"",
        1,
    ));
    let l = serve.wait_log("need a restart", 1);
    assert!(l.contains("listen"), "{l}");
    assert_eq!(
        identity_request(serve.auth, old, 6, &nai),
        Some(ACCESS_CHALLENGE)
    );
    assert!(serve.stop().success());
}

#[test]
fn json_log_lines_and_identities_masked_or_full() {
    let unknown = "0001010000000042";
    // Masked (the default), JSON lines.
    let serve = Serve::start(
        &config(&[("127.0.0.1/32", "s3cret")], ""),
        &["--log-format", "json"],
    );
    assert_eq!(
        identity_request(serve.auth, "s3cret", 1, &format!("{unknown}@{REALM}")),
        Some(ACCESS_REJECT)
    );
    let l = serve.wait_log("authentication finished", 1);
    assert!(l.contains("0001010*********@"), "{l}");
    assert!(!l.contains(unknown), "{l}");
    // Full after a reload.
    serve.reload(&config(
        &[("127.0.0.1/32", "s3cret")],
        "[logging]\nlog_identities = \"full\"\n",
    ));
    let r = serve.wait_log("configuration reloaded", 1);
    assert!(r.contains("\"log_identities\":\"full\""), "{r}");
    assert_eq!(
        identity_request(serve.auth, "s3cret", 2, &format!("{unknown}@{REALM}")),
        Some(ACCESS_REJECT)
    );
    let l = serve.wait_log("authentication finished", 2);
    assert!(l.contains(unknown), "{l}");
    assert!(l.contains("unknown subscriber"), "{l}");
    let all = serve.logs.clone();
    assert!(serve.stop().success());
    // The counters at shutdown are fields like any other.
    let stopped = (0..500)
        .find_map(|_| {
            let hit = all
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("\"stopped\""))
                .cloned();
            if hit.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            hit
        })
        .expect("a \"stopped\" line");
    let v: serde_json::Value = serde_json::from_str(&stopped).unwrap();
    assert_eq!(v["fields"]["rejected_by_store"], 2, "{stopped}");
    assert_eq!(v["fields"]["received"], 2, "{stopped}");
    let logs = all.lock().unwrap().clone();
    for line in &logs {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
    assert!(logs.len() >= 4, "{logs:#?}");

    // `[logging] log_identities = "full"` from the start, text lines.
    let serve = Serve::start(
        &config(
            &[("127.0.0.1/32", "s3cret")],
            "[logging]\nlog_identities = \"full\"\n",
        ),
        &[],
    );
    identity_request(serve.auth, "s3cret", 1, &format!("{unknown}@{REALM}"));
    let l = serve.wait_log("authentication finished", 1);
    assert!(
        l.contains(unknown) && l.contains("unknown subscriber"),
        "{l}"
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&l).is_err(),
        "{l}"
    );
}

#[test]
fn debug_prints_packets_decoded_and_no_secret() {
    if tool("eapol_test").is_none() {
        return;
    }
    let secret = "debug-secret-xyz";
    let serve = Serve::start(&config(&[("127.0.0.1/32", secret)], ""), &["--debug"]);
    let (ok, out) = serve.eapol_test(secret, &mut || {});
    assert!(ok, "{out}");
    serve.wait_log("authentication finished", 1);
    let masked_nai = format!("6{}*********@{REALM}", &serve.imsi[..6]);
    let full_imsi = serve.imsi.clone();
    let stdout_arc = serve.stdout.clone();
    assert!(serve.stop().success());
    let text = stdout_arc.lock().unwrap().clone();
    for needle in [
        "Received Access-Request Id ",
        "User-Name = ",
        "EAP-Response (2) Id ",
        "Type Identity (1) ",
        "Sent Access-Challenge Id ",
        "Type AKA' (50) AKA-Challenge",
        "AT_RAND = 0x",
        "AT_AUTN = 0x",
        "AT_KDF = 1",
        "AT_KDF_INPUT = \"WLAN\"",
        "AT_MAC = 0x",
        "AT_RES = ",
        "Message-Authenticator = 0x",
        "Sent Access-Accept Id ",
        "Vendor-Specific = vendor 311, MS-MPPE-Send-Key = <hidden>\n",
        "Vendor-Specific = vendor 311, MS-MPPE-Recv-Key = <hidden>\n",
        "EAP-Message = <",
        "EAP-Success (3)",
        masked_nai.as_str(),
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    assert!(!text.contains(&full_imsi), "identity masked:\n{text}");
    assert!(!text.contains(secret), "shared secret printed:\n{text}");
    // eapol_test prints the MSK it derived; none of it may be in the dump.
    let msk = out
        .lines()
        .find_map(|l| l.split_once("MSK - hexdump(len=64): "))
        .map(|(_, h)| h.replace(' ', ""));
    let msk = msk.unwrap_or_else(|| panic!("eapol_test printed no MSK:\n{out}"));
    assert_eq!(msk.len(), 128, "{msk}");
    for part in [&msk[..32], &msk[32..64], &msk[64..96], &msk[96..]] {
        assert!(!text.contains(part), "MSK printed:\n{text}");
    }
}

#[test]
fn sighup_replaces_the_realm_table() {
    let secret = "realm-secret";
    let refused = "[[realm]]\nname = \"*.refused.example\"\naction = \"reject\"\n";
    let serve = Serve::start(&config(&[("127.0.0.1/32", secret)], refused), &[]);
    let nai = format!("6{}@wlan.refused.example", serve.imsi);
    assert_eq!(
        identity_request(serve.auth, secret, 1, &nai),
        Some(ACCESS_REJECT),
        "the realm is refused"
    );
    // The realm table is gone after the reload: the realm is served here.
    serve.reload(&config(&[("127.0.0.1/32", secret)], ""));
    serve.wait_log("configuration reloaded", 1);
    assert_eq!(
        identity_request(serve.auth, secret, 2, &nai),
        Some(ACCESS_CHALLENGE),
        "served locally after the reload"
    );
    // And back: a table added by a reload takes effect too.
    serve.reload(&config(&[("127.0.0.1/32", secret)], refused));
    serve.wait_log("configuration reloaded", 2);
    assert_eq!(
        identity_request(serve.auth, secret, 3, &nai),
        Some(ACCESS_REJECT)
    );
    let logs = serve.logs();
    assert!(
        !logs.iter().any(|l| l.contains("need a restart")),
        "realm changes are reloaded, not deferred: {logs:#?}"
    );
}
