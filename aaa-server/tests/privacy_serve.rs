//! Real peer: hostap's `eapol_test` 2.10 (EAP-AKA', external SIM answered
//! here) against `aaa-server serve` with `[privacy]`:
//! - one full authentication and three EAPOL re-authentications (`-r 3`),
//!   all three fast, MS-MPPE keys checked by eapol_test each time;
//! - a run that starts with a pseudonym (sealed here under the configured key);
//! - protected result indication (`result_ind=1`) after full and fast auth;
//! - IMSI privacy: 2.10's pre-encrypted identity decrypted by `serve`;
//! - two `serve` processes with the same key set: full authentication on
//!   one, fast re-authentication on the other (a relay in this test sends
//!   eapol_test's first authentication to A and the re-authentication to B);
//! - key rotation: a re-auth id and a pseudonym under a retired key lead to
//!   a full authentication, not a failure.

mod common;

use aaa_server::privacy::{KeySet, make_pseudonym};
use common::tool;
use eap::aka::keys::Method;
use eap::secret::{K, Opc};
use eap::umts::{Autn, Sqn, SubscriberKeys};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

const IMSI: &str = "001010000000042";
const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";
const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";
const KEY1: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const KEY2: &str = "0202020202020202020202020202020202020202020202020202020202020202";

fn sub() -> SubscriberKeys {
    SubscriberKeys::new(
        K::new(hex::decode(K_HEX).unwrap().try_into().unwrap()),
        Opc::new(hex::decode(OPC_HEX).unwrap().try_into().unwrap()),
    )
}

fn permanent() -> String {
    format!("6{IMSI}@{REALM}")
}

/// `aaa-server serve` with one subscriber and `privacy` as its `[privacy]` body.
struct Serve {
    inner: common::Server,
    auth: SocketAddr,
}

impl Serve {
    fn start(privacy: &str) -> Self {
        let k: [u8; 16] = hex::decode(K_HEX).unwrap().try_into().unwrap();
        let opc: [u8; 16] = hex::decode(OPC_HEX).unwrap().try_into().unwrap();
        let inner = common::Server::start_with(
            "\"aka-prime\", \"aka\"",
            &[(IMSI.to_owned(), k, opc, Sqn::new(32).unwrap())],
            &format!("[privacy]\n{privacy}\n"),
        );
        // The same configuration passes `serve --check` (keys decode, the
        // IMSI-privacy key loads).
        let check = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--check", "--config"])
            .arg(inner.dir.path().join("aaa.toml"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "serve --check: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        Serve {
            auth: inner.auth,
            inner,
        }
    }

    /// The results of finished authentications logged so far.
    fn results(&self) -> Vec<String> {
        self.inner
            .logs()
            .iter()
            .filter(|l| l.contains("authentication finished"))
            .map(|l| {
                let s = l.find("result=").map_or(0, |i| i + 7);
                let r = &l[s..];
                let end = r.find(" round_trips=").unwrap_or(r.len());
                r[..end].trim_matches('"').to_owned()
            })
            .collect()
    }

    /// Waits up to 2 s until `n` authentications finished.
    fn wait_results(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let r = self.results();
            if r.len() >= n {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.results()
    }
}

fn answer_sim(rand_hex: &str, autn_hex: &str) -> String {
    let mut rand = [0u8; 16];
    let mut autn = [0u8; 16];
    if hex::decode_to_slice(rand_hex, &mut rand).is_err()
        || hex::decode_to_slice(autn_hex, &mut autn).is_err()
    {
        return "UMTS-FAIL".into();
    }
    match sub().authenticate(&rand, &Autn(autn)) {
        Ok(u) => format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        ),
        Err(_) => "UMTS-FAIL".into(),
    }
}

/// eapol_test (EAP-AKA') with `network` (body of its network block) and
/// `reauths` EAPOL re-authentications against `port`; answers its SIM requests.
fn eapol_test(port: u16, network: &str, reauths: u32) -> (bool, String, Duration) {
    let bin = tool("eapol_test").expect("checked by caller");
    common::eapol_test_external_sim(
        &bin,
        common::SECRET,
        port,
        "AKA'",
        network,
        reauths,
        answer_sim,
    )
}

fn mppe_ok(stdout: &str, n: u32) -> bool {
    stdout.contains(&format!("MPPE keys OK: {n}  mismatch: 0"))
        || stdout.contains(&format!("MPPE keys OK: {n} mismatch: 0"))
}

/// eapol_test is installed (with CI=true its absence fails the test).
fn have_eapol_test() -> bool {
    tool("eapol_test").is_some()
}

fn keys_toml(current: u8, keys: &[(u8, &str)]) -> String {
    let mut s = format!("current_key = {current}\n");
    for (i, k) in keys {
        s.push_str(&format!("[[privacy.key]]\nindex = {i}\nsecret = \"{k}\"\n"));
    }
    s
}

#[test]
fn serve_fast_reauth_pseudonym_result_ind_and_imsi_privacy() {
    if !have_eapol_test() {
        return;
    }
    let keydir = tempfile::tempdir().unwrap();
    let (key, pubpath) = common::imsi_privacy_keypair(keydir.path());
    let server = Serve::start(&format!(
        "result_indication = true\nimsi_privacy_key = \"{}\"\n{}",
        key.display(),
        keys_toml(1, &[(1, KEY1)])
    ));
    let port = server.auth.port();
    let permanent = permanent();

    // 1. Full authentication, then three EAPOL re-authentications: all fast.
    let (ok, out, full_and_3) = eapol_test(port, &format!("  identity=\"{permanent}\"\n"), 3);
    assert!(ok && mppe_ok(&out, 4), "run 1:\n{out}");
    let r = server.wait_results(4);
    assert_eq!(
        r,
        [
            "success",
            "success (fast re-authentication)",
            "success (fast re-authentication)",
            "success (fast re-authentication)"
        ],
        "server log results"
    );
    // One full authentication alone, for the timing comparison.
    let (ok, out, full_only) = eapol_test(port, &format!("  identity=\"{permanent}\"\n"), 0);
    assert!(ok && mppe_ok(&out, 1), "full only:\n{out}");
    let fast = full_and_3.saturating_sub(full_only) / 3;
    eprintln!(
        "eapol_test against serve: full authentication run {full_only:?}; \
         full + 3 fast re-authentications {full_and_3:?} (≈ {fast:?} per fast re-auth)"
    );

    let durations: Vec<String> = server
        .inner
        .logs()
        .iter()
        .filter(|l| l.contains("authentication finished"))
        .map(|l| {
            l.split("duration_ms=")
                .nth(1)
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .collect();
    eprintln!(
        "serve-side duration (first Access-Request to Accept), ms: full {}, fast {:?}, full {}",
        durations[0],
        &durations[1..4],
        durations[4]
    );

    // 2. A run that starts with a pseudonym (eapol_test sends
    //    anonymous_identity, its initial pseudonym): no identity round.
    let keys = KeySet::from_config(1, &[(1, KEY1)]).unwrap();
    let pseudonym = make_pseudonym(&keys, Method::AkaPrime, &format!("6{IMSI}"), [7; 16]).unwrap();
    let (ok, out, _) = eapol_test(
        port,
        &format!("  identity=\"{permanent}\"\n  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "run 2 (pseudonym):\n{out}");
    let n = server.results().len();
    let line = server
        .inner
        .logs()
        .iter()
        .rfind(|l| l.contains("authentication finished"))
        .cloned()
        .unwrap();
    assert!(
        line.contains("round_trips=2"),
        "pseudonym resolved without an identity round: {line}"
    );

    // 3. Protected result indication: success Notifications after the full
    //    and after the fast re-authentication.
    let (ok, out, _) = eapol_test(
        port,
        &format!("  identity=\"{permanent}\"\n  phase1=\"result_ind=1\"\n"),
        1,
    );
    assert!(ok && mppe_ok(&out, 2), "run 3 (result_ind):\n{out}");
    let r = server.wait_results(n + 2);
    assert_eq!(r[n..], ["success", "success (fast re-authentication)"]);
    let rt: Vec<String> = server
        .inner
        .logs()
        .iter()
        .filter(|l| l.contains("authentication finished"))
        .skip(n)
        .map(|l| {
            l.split("round_trips=")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take(1)
                .collect()
        })
        .collect();
    // Access-Requests: Identity, Challenge, Notification; fast: Identity,
    // Re-authentication, Notification (without result indication: 2 each).
    assert_eq!(rt, ["3", "3"], "notification round seen in both");

    // 4. IMSI privacy: 2.10's pre-encrypted identity (NUL ‖ base64 of
    //    RSA-OAEP-SHA-256 by `openssl pkeyutl`) in AT_IDENTITY.
    let ct = common::openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            pubpath.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        permanent.as_bytes(),
    );
    use base64::Engine;
    let mut enc = vec![0u8];
    enc.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&ct)
            .as_bytes(),
    );
    let n = server.results().len();
    let (ok, out, _) = eapol_test(
        port,
        &format!(
            "  identity={}\n  imsi_identity=\"{permanent}\"\n  anonymous_identity=\"anonymous@{REALM}\"\n",
            hex::encode(&enc)
        ),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "run 4 (encrypted identity):\n{out}");
    assert_eq!(server.wait_results(n + 1)[n..], ["success"]);
}

/// Relays eapol_test's RADIUS datagrams: to `a` until the first
/// Access-Accept, then to `b` (same secret: the bytes need no change).
struct Relay {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    accepts: Arc<AtomicU32>,
}

impl Relay {
    fn start(a: SocketAddr, b: SocketAddr) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        front
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        back.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = front.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepts = Arc::new(AtomicU32::new(0));
        let (st, acc) = (stop.clone(), accepts.clone());
        let thread = std::thread::spawn(move || {
            let mut peer = None;
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    peer = Some(from);
                    let to = if acc.load(Ordering::SeqCst) == 0 {
                        a
                    } else {
                        b
                    };
                    let _ = back.send_to(&buf[..n], to);
                }
                if let (Ok((n, _)), Some(p)) = (back.recv_from(&mut buf), peer) {
                    if n > 0 && buf[0] == 2 {
                        acc.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = front.send_to(&buf[..n], p);
                }
            }
        });
        Relay {
            port,
            stop,
            thread: Some(thread),
            accepts,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn fast_reauth_on_another_node_and_key_rotation() {
    if !have_eapol_test() {
        return;
    }
    let permanent = permanent();
    let a = Serve::start(&keys_toml(1, &[(1, KEY1)]));
    // B: same key set, configured independently.
    let b = Serve::start(&keys_toml(1, &[(1, KEY1)]));
    let relay = Relay::start(a.auth, b.auth);
    let (ok, out, _) = eapol_test(relay.port, &format!("  identity=\"{permanent}\"\n"), 1);
    assert!(ok && mppe_ok(&out, 2), "A then B:\n{out}");
    assert_eq!(relay.accepts.load(Ordering::SeqCst), 2);
    assert_eq!(a.wait_results(1), ["success"], "full authentication on A");
    assert_eq!(
        b.wait_results(1),
        ["success (fast re-authentication)"],
        "fast re-authentication on B"
    );
    drop(relay);

    // C: rotated — key 2 current, key 1 retired (removed). A's re-auth id
    // (sealed under key 1) → AT_FULLAUTH_ID_REQ → full authentication.
    let c = Serve::start(&keys_toml(2, &[(2, KEY2)]));
    let relay = Relay::start(a.auth, c.auth);
    let (ok, out, _) = eapol_test(relay.port, &format!("  identity=\"{permanent}\"\n"), 1);
    assert!(ok && mppe_ok(&out, 2), "A then rotated C:\n{out}");
    assert_eq!(c.wait_results(1), ["success"], "full authentication on C");
    drop(relay);

    // A pseudonym under the retired key → AT_PERMANENT_ID_REQ → success.
    let old = KeySet::from_config(1, &[(1, KEY1)]).unwrap();
    let pseudonym = make_pseudonym(&old, Method::AkaPrime, &format!("6{IMSI}"), [9; 16]).unwrap();
    let (ok, out, _) = eapol_test(
        c.auth.port(),
        &format!("  identity=\"{permanent}\"\n  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "retired pseudonym on C:\n{out}");
    assert_eq!(c.wait_results(2), ["success", "success"]);
    assert!(
        c.inner
            .logs()
            .iter()
            .rfind(|l| l.contains("authentication finished"))
            .is_some_and(|l| l.contains("round_trips=3")),
        "the retired pseudonym cost one AT_PERMANENT_ID_REQ round"
    );
    // Rotation with the old key still accepted: that pseudonym resolves.
    let d = Serve::start(&keys_toml(2, &[(2, KEY2), (1, KEY1)]));
    let (ok, out, _) = eapol_test(
        d.auth.port(),
        &format!("  identity=\"{permanent}\"\n  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "accepted old key on D:\n{out}");
    assert_eq!(d.wait_results(1), ["success"]);
}
