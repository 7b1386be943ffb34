//! Shared fixtures for the real-peer tests: network namespaces with a veth
//! link, hostapd (wired authenticator + RADIUS/EAP server), a test HSS that
//! speaks hostapd's hlr_auc_gw protocol with `eap::umts`, and process guards.
//! Everything is torn down on drop.
#![allow(dead_code)]

use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const IMSI: &str = "001010123456789";
pub const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
pub const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";
pub const SECRET: &str = "radsecret";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique small number per fixture in this process.
pub fn unique() -> u32 {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(tool).is_file()
}

/// True when the tools (and root) are there. Missing under CI=true: panic
/// (the test fails); otherwise the test is reported as not run on stderr.
pub fn prerequisites(tools: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !which(t)).collect();
    if root && missing.is_empty() {
        return true;
    }
    let msg = format!("needs root ({root}) and tools {tools:?}; missing {missing:?}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("NOT RUN: {msg}");
    false
}

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted (with whatever runs in it) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let name = format!("sp{tag}{}x{}", std::process::id(), unique());
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(p) = pid.parse::<i32>() {
                    // SAFETY: plain kill(2) of a process started in our namespace.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A child process killed on drop; its output goes to a log file.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub what: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command, log: PathBuf, what: &str) -> Self {
        let f = std::fs::File::create(&log).expect("log file");
        let f2 = f.try_clone().expect("log clone");
        let child = cmd
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        Self {
            child,
            log,
            what: what.into(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log_text().contains(needle) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "{} exited ({st}) before {needle:?}:\n{}",
                    self.what,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not print {needle:?} within {timeout:?}:\n{}",
            self.what,
            self.log_text()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test HSS speaking hostapd's hlr_auc_gw protocol over an AF_UNIX
/// datagram socket, computing vectors with `eap::umts`.
pub struct Hss {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub state: Arc<Mutex<HssState>>,
}

#[derive(Default)]
pub struct HssState {
    /// Next SEQ per IMSI.
    pub next_seq: HashMap<String, u64>,
    pub auts_seen: u32,
    pub vectors: u32,
    /// GSM triplets handed out (EAP-SIM).
    pub triplets: u32,
}

pub fn keys() -> SubscriberKeys {
    SubscriberKeys::new(
        K::new(hex::decode(K_HEX).unwrap().try_into().unwrap()),
        Opc::new(hex::decode(OPC_HEX).unwrap().try_into().unwrap()),
    )
}

impl Hss {
    pub fn start(dir: &Path) -> Self {
        let path = dir.join("hlr.sock");
        let sock = UnixDatagram::bind(&path).expect("bind hlr socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(HssState::default()));
        let (st, stp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            let keys = keys();
            let mut n_rand = 0u8;
            while !stp.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let parts: Vec<&str> = msg.split_whitespace().collect();
                match parts.as_slice() {
                    ["AKA-REQ-AUTH", imsi] => {
                        let seq = {
                            let mut s = st.lock().unwrap();
                            s.vectors += 1;
                            let e = s.next_seq.entry(imsi.to_string()).or_insert(1);
                            let v = *e;
                            *e += 1;
                            v
                        };
                        n_rand = n_rand.wrapping_add(1);
                        let mut rand = [0x42u8; 16];
                        rand[0] = n_rand;
                        let av = keys.generate_vector(
                            Sqn::from_seq_ind(seq, 0),
                            Amf([0x80, 0x00]),
                            rand,
                        );
                        let reply = format!(
                            "AKA-RESP-AUTH {imsi} {} {} {} {} {}",
                            hex::encode(av.rand),
                            hex::encode(av.autn.0),
                            hex::encode(av.ik.expose()),
                            hex::encode(av.ck.expose()),
                            hex::encode(av.xres.as_bytes())
                        );
                        if let Some(p) = from.as_pathname() {
                            let _ = sock.send_to(reply.as_bytes(), p);
                        }
                    }
                    // EAP-SIM (test-only): n GSM-Milenage triplets, fresh RANDs.
                    ["SIM-REQ-AUTH", imsi, n] => {
                        let n: usize = n.parse().unwrap_or(2).clamp(1, 5);
                        let mut reply = format!("SIM-RESP-AUTH {imsi}");
                        for _ in 0..n {
                            n_rand = n_rand.wrapping_add(1);
                            let mut rand = [0x51u8; 16];
                            rand[0] = n_rand;
                            let t = keys.gsm_triplet(rand);
                            reply.push_str(&format!(
                                " {}:{}:{}",
                                hex::encode(t.kc.expose()),
                                hex::encode(t.sres.as_bytes()),
                                hex::encode(t.rand)
                            ));
                        }
                        st.lock().unwrap().triplets += n as u32;
                        if let Some(p) = from.as_pathname() {
                            let _ = sock.send_to(reply.as_bytes(), p);
                        }
                    }
                    ["AKA-AUTS", imsi, auts, rand] => {
                        let auts: [u8; 14] = hex::decode(auts).unwrap().try_into().unwrap();
                        let rand: [u8; 16] = hex::decode(rand).unwrap().try_into().unwrap();
                        let mut s = st.lock().unwrap();
                        s.auts_seen += 1;
                        if let Ok(sqn_ms) = keys.resync(&rand, &eap::umts::Auts(auts)) {
                            s.next_seq.insert(imsi.to_string(), sqn_ms.seq() + 1);
                        }
                    }
                    _ => {}
                }
            }
        });
        Self {
            path,
            stop,
            thread: Some(thread),
            state,
        }
    }
}

impl Drop for Hss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Two network namespaces joined by a veth pair, both ends up; the peer end
/// has `<subnet>.1/24`.
pub struct Link {
    pub peer_ns: Netns,
    pub auth_ns: Netns,
    pub peer_if: String,
    pub auth_if: String,
    pub subnet: String,
}

impl Link {
    pub fn new() -> Self {
        let peer_ns = Netns::new("p");
        let auth_ns = Netns::new("a");
        let n = unique() % 200 + std::process::id() % 50;
        let peer_if = format!("vp{}x{}", std::process::id() % 100000, n);
        let auth_if = format!("va{}x{}", std::process::id() % 100000, n);
        sh(&[
            "ip",
            "link",
            "add",
            &peer_if,
            "netns",
            &peer_ns.name,
            "type",
            "veth",
            "peer",
            "name",
            &auth_if,
            "netns",
            &auth_ns.name,
        ]);
        let subnet = format!("10.{}.{}", 100 + std::process::id() % 100, n);
        sh(&[
            "ip",
            "-n",
            &peer_ns.name,
            "addr",
            "add",
            &format!("{subnet}.1/24"),
            "dev",
            &peer_if,
        ]);
        sh(&["ip", "-n", &peer_ns.name, "link", "set", &peer_if, "up"]);
        sh(&["ip", "-n", &auth_ns.name, "link", "set", &auth_if, "up"]);
        Self {
            peer_ns,
            auth_ns,
            peer_if,
            auth_if,
            subnet,
        }
    }
}

/// Runs `f` on a thread that has entered the network namespace `ns` (only
/// that thread moves; sockets it opens stay in `ns`).
pub fn in_netns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = Path::new("/run/netns").join(&ns.name);
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // SAFETY: setns(2) on a namespace file we hold open; affects this thread only.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// Writes a simulator file (SQN 0) with `sim create`.
pub fn create_sim(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(path)
        .args([
            "--imsi",
            IMSI,
            "--k",
            K_HEX,
            "--opc",
            OPC_HEX,
            "--amf",
            "8000",
            "--mnc-len",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sim create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair, hostapd as a wired authenticator in
/// `auth`, hostapd as the RADIUS + EAP-AKA/AKA' server beside it, the test HSS.
pub struct Lab {
    // Field order = drop order: processes first, then namespaces, then files.
    pub radius: Proc,
    pub authenticator: Proc,
    pub hss: Hss,
    pub peer_ns: Netns,
    pub auth_ns: Netns,
    pub peer_if: String,
    pub server_ip: String,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// With `result_ind`, hostapd's EAP server uses protected result
    /// indications (AT_RESULT_IND → AKA-Notification Success before EAP-Success).
    pub fn start_with(result_ind: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let Link {
            peer_ns,
            auth_ns,
            peer_if,
            auth_if,
            subnet,
        } = Link::new();
        let server_ip = format!("{subnet}.2");
        sh(&[
            "ip",
            "-n",
            &auth_ns.name,
            "addr",
            "add",
            &format!("{server_ip}/24"),
            "dev",
            &auth_if,
        ]);

        let hss = Hss::start(dir.path());
        let d = dir.path();
        std::fs::write(d.join("clients"), format!("0.0.0.0/0 {SECRET}\n")).unwrap();
        std::fs::write(
            d.join("eap_users"),
            "\"0\"*\tAKA\n\"6\"*\tAKA'\n\"1\"*\tSIM\n",
        )
        .unwrap();
        std::fs::write(
            d.join("radius.conf"),
            format!(
                "driver=none\ninterface=radsrv\nradius_server_clients={}\nradius_server_auth_port=1812\n\
                 eap_server=1\neap_user_file={}\neap_sim_db=unix:{}\neap_sim_aka_result_ind={}\n",
                d.join("clients").display(),
                d.join("eap_users").display(),
                hss.path.display(),
                u8::from(result_ind)
            ),
        )
        .unwrap();
        let mut radius = Proc::spawn(
            {
                let mut c = auth_ns.cmd("hostapd");
                c.arg("-d").arg(d.join("radius.conf"));
                c
            },
            d.join("radius.log"),
            "hostapd (RADIUS server)",
        );
        radius.wait_for("ENABLED", Duration::from_secs(5));
        std::fs::write(
            d.join("wired.conf"),
            format!(
                "interface={auth_if}\ndriver=wired\nieee8021x=1\neapol_version=2\nuse_pae_group_addr=1\n\
                 own_ip_addr=127.0.0.1\nnas_identifier=supplicant-test\nauth_server_addr=127.0.0.1\n\
                 auth_server_port=1812\nauth_server_shared_secret={SECRET}\n"
            ),
        )
        .unwrap();
        let mut authenticator = Proc::spawn(
            {
                let mut c = auth_ns.cmd("hostapd");
                c.arg("-d").arg(d.join("wired.conf"));
                c
            },
            d.join("wired.log"),
            "hostapd (wired authenticator)",
        );
        authenticator.wait_for("ENABLED", Duration::from_secs(5));
        Self {
            radius,
            authenticator,
            hss,
            peer_ns,
            auth_ns,
            peer_if,
            server_ip,
            dir,
        }
    }

    /// A fresh simulator file (SQN 0) in the lab directory.
    pub fn sim_file(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        create_sim(&path);
        path
    }

    pub fn profile(&self, method: &str) -> PathBuf {
        let path = self.dir.path().join(format!("profile-{method}.toml"));
        std::fs::write(
            &path,
            format!("eap_method = \"{method}\"\nnetwork_name = \"WLAN\"\n"),
        )
        .unwrap();
        path
    }

    /// Runs `supplicant auth` in the peer namespace; returns (exit code, JSON).
    pub fn auth(
        &self,
        sim: &str,
        profile: &Path,
        extra: &[&str],
    ) -> (i32, serde_json::Value, String) {
        self.auth_env(sim, profile, extra, &[])
    }

    /// [`Lab::auth`] with extra environment variables.
    pub fn auth_env(
        &self,
        sim: &str,
        profile: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, serde_json::Value, String) {
        // hostapd ignores a station for 5 s after its EAPOL-Logoff
        // (AP_MAX_INACTIVITY_AFTER_DEAUTH): a new MAC for each run keeps the
        // suites fast. `auth_same_mac` covers the same station back to back.
        let n = unique();
        let mac = format!(
            "02:00:5e:{:02x}:{:02x}:{:02x}",
            std::process::id() % 256,
            (n >> 8) % 256,
            n % 256
        );
        sh(&[
            "ip",
            "-n",
            &self.peer_ns.name,
            "link",
            "set",
            "dev",
            &self.peer_if,
            "address",
            &mac,
        ]);
        self.auth_same_mac(sim, profile, "10", extra, env)
    }

    /// `supplicant auth --timeout <timeout>` with the interface's MAC as it is.
    pub fn auth_same_mac(
        &self,
        sim: &str,
        profile: &Path,
        timeout: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, serde_json::Value, String) {
        let out = self
            .peer_ns
            .cmd(env!("CARGO_BIN_EXE_supplicant"))
            .args([
                "auth",
                "--iface",
                &self.peer_if,
                "--sim",
                sim,
                "--timeout",
                timeout,
                "--json",
                "--profile",
            ])
            .arg(profile)
            .args(extra)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let v = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
        (
            out.status.code().unwrap_or(-1),
            v,
            format!("{stdout}\n{stderr}"),
        )
    }

    pub fn logs(&self) -> String {
        format!(
            "--- radius ---\n{}\n--- wired ---\n{}",
            tail(&self.radius.log_text()),
            tail(&self.authenticator.log_text())
        )
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

pub fn read_to_string(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// pcscd with the vpcd driver in `ns`, isolated (its own /run/pcscd), and
/// `supplicant sim serve-vpcd` feeding it the simulator.
pub struct Pcsc {
    pub bridge: Proc,
    pub pcscd: Proc,
    pub socket: PathBuf,
}

pub fn vpcd_driver() -> PathBuf {
    let out = Command::new("dpkg")
        .args(["-L", "vsmartcard-vpcd"])
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("libifdvpcd.so"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"))
}

impl Pcsc {
    pub fn start(ns: &Netns, dir: &Path, sim: &Path) -> Self {
        let run = dir.join("pcscd-run");
        std::fs::create_dir_all(&run).unwrap();
        let conf = dir.join("reader.conf");
        std::fs::write(
            &conf,
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x8C7B\nLIBPATH {}\nCHANNELID 0x8C7B\n",
                vpcd_driver().display()
            ),
        )
        .unwrap();
        let script = format!(
            "mkdir -p /run/pcscd && mount --bind {} /run/pcscd && exec pcscd -f -a -c {}",
            run.display(),
            conf.display()
        );
        let pcscd = Proc::spawn(
            {
                let mut c = ns.cmd("unshare");
                c.args(["-m", "sh", "-c", &script]);
                c
            },
            dir.join("pcscd.log"),
            "pcscd",
        );
        let socket = run.join("pcscd.comm");
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "pcscd socket did not appear"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let bridge = Proc::spawn(
            {
                let mut c = ns.cmd(env!("CARGO_BIN_EXE_supplicant"));
                c.args(["sim", "serve-vpcd", "--sim"]).arg(sim);
                c
            },
            dir.join("vpcd-bridge.log"),
            "supplicant sim serve-vpcd",
        );
        Self {
            bridge,
            pcscd,
            socket,
        }
    }

    pub fn env(&self) -> (&'static str, String) {
        ("PCSCLITE_CSOCK_NAME", self.socket.display().to_string())
    }

    /// `supplicant sim info` through pcscd, retried until the card shows up.
    pub fn info(&self, ns: &Netns, spec: &str) -> (i32, String) {
        self.info_wait(ns, spec, Duration::from_secs(5))
    }

    /// `sim info`, retried for `wait` while pcscd reports no card.
    pub fn info_wait(&self, ns: &Netns, spec: &str, wait: Duration) -> (i32, String) {
        let start = Instant::now();
        loop {
            let (k, v) = self.env();
            let out = ns
                .cmd(env!("CARGO_BIN_EXE_supplicant"))
                .args(["sim", "info", "--sim", spec])
                .env(k, v)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let code = out.status.code().unwrap_or(-1);
            if code == 0 || start.elapsed() >= wait || !text.contains("no card") {
                return (code, text);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
