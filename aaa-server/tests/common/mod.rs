//! Test harness: runs `aaa-server serve` on loopback with a fresh store and
//! config, reads its log, stops it with SIGTERM (and kills it on drop).

#![allow(dead_code)]

use aaa_server::hss::Imsi;
use aaa_server::hss::SqliteStore;
use aaa_server::hss::sqlite::NewSubscriber;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Autn, Sqn, SubscriberKeys};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const SECRET: &str = "testing123";

/// A subscriber from testdata/vectors/milenage.json: (IMSI, K, OPc).
pub fn vector_subscriber(i: usize) -> (String, [u8; 16], [u8; 16]) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/milenage.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/milenage.json must exist");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let set = v["sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["K"].is_string() && s["OPc"].is_string())
        .nth(i)
        .expect("enough Milenage sets");
    let mut k = [0; 16];
    let mut opc = [0; 16];
    hex::decode_to_slice(set["K"].as_str().unwrap(), &mut k).unwrap();
    hex::decode_to_slice(set["OPc"].as_str().unwrap(), &mut opc).unwrap();
    (format!("00101{:010}", i + 1), k, opc)
}

/// A system tool, or `None` (and a note) when it is missing; with CI=true a
/// missing tool fails the test.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{name} is required in CI (Debian package {})",
                debian_package(name)
            );
        }
        eprintln!("NOTE: {name} not installed; this test did not run");
    }
    found
}

/// The Debian package that installs the tool `name` (scripts/packages.sh).
pub fn debian_package(name: &str) -> &str {
    match name {
        "eapol_test" => "eapoltest",
        "promtool" => "prometheus",
        "dnsmasq" => "dnsmasq-base",
        "radiusd" | "freeradius" => "freeradius",
        "radclient" => "freeradius-utils",
        "wpa_supplicant" | "wpa_cli" => "wpasupplicant",
        "pg_ctl" | "initdb" => "postgresql",
        other => other,
    }
}

pub struct Server {
    child: Option<Child>,
    pub auth: SocketAddr,
    pub acct: SocketAddr,
    pub dir: tempfile::TempDir,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server with `methods` (TOML list body) and the given subscribers
    /// (IMSI, K, OPc, SQN).
    pub fn start(methods: &str, subscribers: &[(String, [u8; 16], [u8; 16], Sqn)]) -> Self {
        Self::start_with(methods, subscribers, "")
    }

    /// As [`Server::start`], with `extra` TOML appended to the configuration
    /// (e.g. a `[privacy]` table).
    pub fn start_with(
        methods: &str,
        subscribers: &[(String, [u8; 16], [u8; 16], Sqn)],
        extra: &str,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("subscribers.db");
        let store = SqliteStore::create(&db).unwrap();
        for (imsi, k, opc, sqn) in subscribers {
            store
                .add(&NewSubscriber {
                    imsi: Imsi::parse(imsi).unwrap(),
                    keys: SubscriberKeys::new(K::new(*k), Opc::new(*opc)),
                    amf: Amf([0x80, 0x00]),
                    sqn: *sqn,
                })
                .unwrap();
        }
        drop(store);
        let conf = dir.path().join("aaa.toml");
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
                 [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 [hss]\ndatabase = \"subscribers.db\"\n\
                 [eap]\nmethods = [{methods}]\nnetwork_name = \"WLAN\"\n{extra}"
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    if line.contains("aaa-server listening") {
                        let _ = tx.send(line.clone());
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("server did not start");
        let field = |name: &str| -> SocketAddr {
            let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            line[start..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        Server {
            auth: field("auth"),
            acct: field("accounting"),
            child: Some(child),
            dir,
            logs,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Reads the log lines, also after [`Server::stop`] (the shutdown lines).
    pub fn logs_handle(&self) -> impl Fn() -> Vec<String> + use<> {
        let logs = self.logs.clone();
        move || logs.lock().unwrap().clone()
    }

    /// Waits up to 2 s for a log line containing `needle`.
    pub fn wait_log(&self, needle: &str) -> Option<String> {
        for _ in 0..200 {
            if let Some(l) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return Some(l);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let pid = child.id() as i32;
        // SAFETY: signals our own child process, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        for _ in 0..500 {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        panic!("server did not stop within 5 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An Access-Request carrying EAP-Response/Identity for `nai` (Identifier
/// `id`), Message-Authenticator last, as a NAS sends it with [`SECRET`].
pub fn identity_access_request(id: u8, nai: &str) -> Vec<u8> {
    use radius::core::avp::AVP;
    use radius::core::code::Code;
    use radius::core::packet::Packet;
    use radius::core::{rfc2865, rfc2869};
    let secret = SECRET.as_bytes();
    let mut eap = vec![2, 1, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    let mut p = Packet::new_with_identifier(Code::AccessRequest, secret, id);
    rfc2865::add_user_name(&mut p, nai);
    rfc2869::add_eap_message(&mut p, &eap);
    p.add(AVP::from_bytes(80, &[0; 16]));
    sign_ma_last(p.encode().unwrap(), secret)
}

/// Fills in a zeroed Message-Authenticator that is the packet's last
/// attribute (HMAC-MD5 over the packet, RFC 3579 §3.2).
pub fn sign_ma_last(mut bytes: Vec<u8>, secret: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(secret).unwrap();
    m.update(&bytes);
    let v = m.finalize().into_bytes();
    let n = bytes.len();
    bytes[n - 16..].copy_from_slice(&v);
    bytes
}

/// Kills the child process `pid` on drop.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) of our own child process (ESRCH once it exited is harmless).
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

/// The USIM side of an eapol_test external-SIM `UMTS-AUTH` request (TS 33.102
/// §6.3.3, no SQN check): `UMTS-AUTH:<IK>:<CK>:<RES>`, or `UMTS-FAIL` for bad
/// hex or a MAC failure.
pub fn usim_answer(keys: &SubscriberKeys, rand_hex: &str, autn_hex: &str) -> String {
    let mut rand = [0u8; 16];
    let mut autn = [0u8; 16];
    if hex::decode_to_slice(rand_hex, &mut rand).is_err()
        || hex::decode_to_slice(autn_hex, &mut autn).is_err()
    {
        return "UMTS-FAIL".into();
    }
    match keys.authenticate(&rand, &Autn(autn)) {
        Ok(u) => format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        ),
        Err(_) => "UMTS-FAIL".into(),
    }
}

/// An external-SIM USIM that keeps its highest accepted SQN and answers a
/// SEQ not above it with `UMTS-AUTS` (resynchronisation, TS 33.102 §6.3.5).
pub struct Usim {
    keys: SubscriberKeys,
    sqn_ms: Sqn,
}

impl Usim {
    pub fn new(k: [u8; 16], opc: [u8; 16]) -> Self {
        Usim {
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            sqn_ms: Sqn::default(),
        }
    }

    /// The answer to `UMTS-AUTH:<RAND>:<AUTN>`.
    pub fn answer(&mut self, rand_hex: &str, autn_hex: &str) -> String {
        let mut rand = [0u8; 16];
        let mut autn = [0u8; 16];
        if hex::decode_to_slice(rand_hex, &mut rand).is_err()
            || hex::decode_to_slice(autn_hex, &mut autn).is_err()
        {
            return "UMTS-FAIL".into();
        }
        let Ok(u) = self.keys.authenticate(&rand, &Autn(autn)) else {
            return "UMTS-FAIL".into();
        };
        if u.sqn.seq() <= self.sqn_ms.seq() {
            return format!(
                "UMTS-AUTS:{}",
                hex::encode(self.keys.auts(&rand, self.sqn_ms).0)
            );
        }
        self.sqn_ms = u.sqn;
        format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        )
    }
}

/// Runs eapol_test (`eap=<method>`, `external_sim=1`) with `network` (the rest
/// of its network block) and `reauths` EAPOL re-authentications against
/// 127.0.0.1:`port` (RADIUS shared secret `secret`), answering each `CTRL-REQ-SIM-…:UMTS-AUTH:<RAND>:<AUTN>`
/// with `answer(rand_hex, autn_hex)` and each `…:GSM-AUTH:<RAND1>:<RAND2>[:<RAND3>]`
/// with `answer("GSM-AUTH", "<RAND1>:<RAND2>[:<RAND3>]")`. Returns (exit 0 and SUCCESS printed,
/// its output, wall time).
pub fn eapol_test_external_sim(
    bin: &std::path::Path,
    secret: &str,
    port: u16,
    method: &str,
    network: &str,
    reauths: u32,
    answer: impl FnMut(&str, &str) -> String,
) -> (bool, String, Duration) {
    eapol_test_external_sim_args(bin, secret, port, method, network, reauths, &[], answer)
}

/// [`eapol_test_external_sim`] with `extra` command-line arguments (such as
/// `-N89:x:00`, an attribute added to every Access-Request).
#[allow(clippy::too_many_arguments)]
pub fn eapol_test_external_sim_args(
    bin: &std::path::Path,
    secret: &str,
    port: u16,
    method: &str,
    network: &str,
    reauths: u32,
    extra: &[&str],
    mut answer: impl FnMut(&str, &str) -> String,
) -> (bool, String, Duration) {
    use std::os::unix::net::UnixDatagram;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let ctrl = dir.path().join("ctrl");
    let conf = dir.path().join("eapol.conf");
    let out = dir.path().join("out.log");
    std::fs::write(
        &conf,
        format!(
            "external_sim=1\nctrl_interface={}\nnetwork={{\n  key_mgmt=IEEE8021X\n  eap={method}\n  eapol_flags=0\n{network}}}\n",
            ctrl.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-s", secret])
        .args(["-r", &reauths.to_string(), "-t", "10", "-W"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let sock_path = ctrl.join("test");
    while !sock_path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "eapol_test control socket"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mon = UnixDatagram::bind(dir.path().join("monitor")).unwrap();
    mon.connect(&sock_path).unwrap();
    mon.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    mon.send(b"ATTACH").unwrap();
    let mut buf = [0u8; 4096];
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "eapol_test hangs:\n{}",
            std::fs::read_to_string(&out).unwrap_or_default()
        );
        let Ok(n) = mon.recv(&mut buf) else { continue };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Some(pos) = msg.find("CTRL-REQ-SIM-") {
            let rest = msg[pos + 13..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
            let parts: Vec<&str> = rest.split(':').collect();
            let reply = match parts.as_slice() {
                [id, "UMTS-AUTH", rand, autn, ..] => {
                    format!("CTRL-RSP-SIM-{id}:{}", answer(rand, autn))
                }
                // EAP-SIM: answer("GSM-AUTH", "<RAND1>:<RAND2>[:<RAND3>]").
                [id, "GSM-AUTH", rands @ ..] => {
                    format!("CTRL-RSP-SIM-{id}:{}", answer("GSM-AUTH", &rands.join(":")))
                }
                [id, ..] if !id.is_empty() => format!("CTRL-RSP-SIM-{id}:UMTS-FAIL"),
                _ => continue,
            };
            mon.send(reply.as_bytes()).unwrap();
        }
    };
    let wall = started.elapsed();
    let stdout = std::fs::read_to_string(&out).unwrap();
    let ok = status.success() && stdout.lines().any(|l| l.trim() == "SUCCESS");
    (ok, stdout, wall)
}

/// Runs the `openssl` command-line tool (not our code) with `stdin`; panics
/// with its stderr if it fails.
pub fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command-line tool (Debian package openssl) is required");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An RSA-2048 IMSI-privacy key pair made by `openssl` in `dir`: the private
/// key (mode 0600, as the server requires) and the public key, PEM files.
pub fn imsi_privacy_keypair(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("imsi-privacy-key.pem");
    let key_s = key.to_str().unwrap();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            key_s,
        ],
        b"",
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = openssl(&["pkey", "-in", key_s, "-pubout"], b"");
    let pub_path = dir.join("pub.pem");
    std::fs::write(&pub_path, public).unwrap();
    (key, pub_path)
}
