//! `supplicant wifi` against a real wpa_supplicant (`-Dwired`, `ap_scan=0`,
//! `external_sim=1`) in a station namespace, hostapd `driver=wired` in an AP
//! namespace, and hostapd's own EAP-AKA/AKA' server (RADIUS, `eap_sim_db`)
//! behind it with a test HSS speaking the hlr_auc_gw protocol.
//!
//! The bridge runs in-process through `supplicant::wifi::run_with` (the
//! binary's `wifi` subcommand calls the same function).

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use supplicant::usim::spec::SimSource;
use supplicant::wifi::ctrl::CtrlSocket;
use supplicant::wifi::profile::NetworkTarget;
use supplicant::wifi::report::Report;
use supplicant::wifi::session::Outcome;
use supplicant::wifi::{WifiError, WifiOptions, run_with};

/// wpa_supplicant in the station namespace, killed on drop.
struct Wpa {
    proc: Proc,
    ctrl_dir: PathBuf,
    iface: String,
}

impl Wpa {
    /// A fresh wpa_supplicant on `iface` in `ns`, with its own control directory.
    fn start(ns: &Netns, iface: &str, dir: &Path, globals: &str) -> Wpa {
        let n = unique();
        let ctrl_dir = dir.join(format!("ctrl{n}"));
        let conf = dir.join(format!("wpa{n}.conf"));
        std::fs::write(
            &conf,
            format!(
                "ctrl_interface={}\nap_scan=0\nexternal_sim=1\neapol_version=2\n{globals}",
                ctrl_dir.display()
            ),
        )
        .unwrap();
        let mut cmd = ns.cmd("wpa_supplicant");
        cmd.args(["-Dwired", "-i", iface, "-dd", "-c"]).arg(&conf);
        let mut proc = Proc::spawn(cmd, dir.join(format!("wpa{n}.log")), "wpa_supplicant");
        proc.wait_for("Added interface", Duration::from_secs(5));
        let sock = ctrl_dir.join(iface);
        let start = Instant::now();
        while !sock.exists() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sock.exists(), "no control socket:\n{}", proc.log_text());
        Wpa {
            proc,
            ctrl_dir,
            iface: iface.to_string(),
        }
    }

    fn sock(&self) -> PathBuf {
        self.ctrl_dir.join(&self.iface)
    }

    /// One command through our own control client (not attached).
    fn cmd(&self, command: &str) -> String {
        let mut c = CtrlSocket::connect(&self.sock(), &self.ctrl_dir).unwrap();
        c.request(command, Duration::from_secs(5)).unwrap()
    }

    /// The end of wpa_supplicant's debug log, for failure messages.
    fn log_tail(&self) -> String {
        let log = self.proc.log_text();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// `wpa_cli status` as key=value pairs: a tool nobody here wrote.
    fn wpa_cli_status(&self) -> String {
        let out = Command::new("wpa_cli")
            .arg("-p")
            .arg(&self.ctrl_dir)
            .args(["-i", &self.iface, "status"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

/// A run of the bridge on its own thread, reporting through a channel.
struct Bridge {
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Report>,
    thread: Option<std::thread::JoinHandle<Result<Outcome, WifiError>>>,
    seen: Vec<Report>,
}

impl Bridge {
    fn start(opts: WifiOptions) -> Bridge {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            run_with(&opts, &s, &mut |r| {
                eprintln!("wifi: {r}");
                let _ = tx.send(r);
            })
        });
        Bridge {
            stop,
            rx,
            thread: Some(thread),
            seen: Vec::new(),
        }
    }

    /// Waits for a report matching `f`.
    fn wait(&mut self, what: &str, timeout: Duration, f: impl Fn(&Report) -> bool) -> Report {
        let deadline = Instant::now() + timeout;
        if let Some(r) = self.seen.iter().find(|r| f(r)) {
            return r.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => {
                    self.seen.push(r.clone());
                    if f(&r) {
                        return r;
                    }
                }
                Err(_) => panic!("no {what} within {timeout:?}; seen {:#?}", self.seen),
            }
        }
    }

    /// Stops the run (as SIGTERM would) and returns its result and the rest
    /// of the reports.
    fn finish(self) -> (Result<Outcome, WifiError>, Vec<Report>) {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits for the run to end on its own (`--once`, `--timeout`).
    fn join(mut self) -> (Result<Outcome, WifiError>, Vec<Report>) {
        let r = self.thread.take().unwrap().join().unwrap();
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.rx.try_iter());
        (r, seen)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn new_mac(lab: &Lab) {
    // hostapd ignores a station for a while after its EAPOL-Logoff: each
    // wpa_supplicant gets a new MAC.
    let n = unique();
    let mac = format!(
        "02:00:5f:{:02x}:{:02x}:{:02x}",
        std::process::id() % 256,
        (n >> 8) % 256,
        n % 256
    );
    sh(&[
        "ip",
        "-n",
        &lab.peer_ns.name,
        "link",
        "set",
        "dev",
        &lab.peer_if,
        "address",
        &mac,
    ]);
}

fn network_opts(wpa: &Wpa, dir: &Path, sim: &Path, method: &str, once: bool) -> WifiOptions {
    let mut o = WifiOptions::new(
        wpa.ctrl_dir.display().to_string(),
        SimSource::Soft(sim.to_path_buf()),
    );
    o.client_dir = dir.to_path_buf();
    o.network = Some(NetworkTarget::Any);
    o.profile = Some(write_small_profile(dir, method));
    o.once = once;
    o.timeout = Some(Duration::from_secs(20));
    o
}

fn write_small_profile(dir: &Path, method: &str) -> PathBuf {
    let p = dir.join(format!("wifi-{method}.toml"));
    std::fs::write(&p, format!("eap_method = \"{method}\"\n")).unwrap();
    p
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// One authentication with a run that stays up: checks wpa_supplicant's own
/// status while our network is configured, then stops the run and checks
/// that nothing is left behind.
fn authenticate_and_inspect(lab: &Lab, sim: &Path, method: &str, eap_type: &str) -> Vec<Report> {
    new_mac(lab);
    let wpa = Wpa::start(&lab.peer_ns, &lab.peer_if, lab.dir.path(), "");
    let before_ext = wpa.cmd("GET external_sim");
    let t0 = Instant::now();
    let mut bridge = Bridge::start(network_opts(&wpa, lab.dir.path(), sim, method, false));
    let connected = Duration::from_secs(15);
    bridge.wait("EAP success", connected, |r| {
        matches!(r, Report::EapSuccess)
    });
    bridge.wait("connected", connected, |r| {
        matches!(r, Report::Connected { .. })
    });
    eprintln!(
        "{method}: connected {} ms after start (wpa_supplicant's 2 s EAPOL-Start delay included)",
        t0.elapsed().as_millis()
    );
    let status = wpa.wpa_cli_status();
    assert_eq!(
        status_field(&status, "EAP state"),
        Some("SUCCESS"),
        "{status}\n{}",
        wpa.log_tail()
    );
    assert_eq!(
        status_field(&status, "selectedMethod").and_then(|m| m.split(' ').next()),
        Some(eap_type),
        "{status}"
    );
    assert_eq!(
        status_field(&status, "Supplicant PAE state"),
        Some("AUTHENTICATED"),
        "{status}"
    );
    let (result, reports) = bridge.finish();
    assert_eq!(result.unwrap(), Outcome::Stopped);
    let want = if method == "sim" {
        "GSM-AUTH"
    } else {
        "UMTS-AUTH"
    };
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::SimAuth { answer, .. } if *answer == want)),
        "{reports:#?}"
    );
    match reports.last() {
        Some(Report::Cleanup {
            removed, failed, ..
        }) => {
            assert_eq!(removed.len(), 1, "{removed:?}");
            assert!(failed.is_empty(), "{failed:?}");
        }
        other => panic!("last report {other:?}"),
    }
    let networks = wpa.cmd("LIST_NETWORKS");
    assert_eq!(networks.lines().count(), 1, "network removed:\n{networks}");
    assert_eq!(wpa.cmd("GET external_sim"), before_ext);
    drop(wpa);
    reports
}

/// EAP-SIM: wpa_supplicant's `CTRL-REQ-SIM-<id>:GSM-AUTH:<RAND>…` answered
/// from the card's GSM context, against hostapd's EAP-SIM server.
#[test]
fn wifi_network_any_eap_sim() {
    if !prerequisites(&["hostapd", "wpa_supplicant", "wpa_cli", "ip"]) {
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let reports = authenticate_and_inspect(&lab, &sim, "sim", "18");
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 18, .. })),
        "{reports:#?}"
    );
    assert!(lab.hss.state.lock().unwrap().triplets >= 2);
}

#[test]
fn wifi_network_any_aka_aka_prime_resync_and_wrong_k() {
    if !prerequisites(&["hostapd", "wpa_supplicant", "wpa_cli", "ip"]) {
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");

    let reports = authenticate_and_inspect(&lab, &sim, "aka", "23");
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 23, .. }))
    );
    let reports = authenticate_and_inspect(&lab, &sim, "aka-prime", "50");
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 50, .. }))
    );
    let auths_before = lab.hss.state.lock().unwrap().auts_seen;
    assert_eq!(auths_before, 0);

    // Resync: the HSS falls back to an SQN the card has already accepted; the
    // card answers AUTS, wpa_supplicant sends Synchronization-Failure, the HSS
    // resynchronises and the next challenge succeeds.
    lab.hss
        .state
        .lock()
        .unwrap()
        .next_seq
        .insert(IMSI.to_string(), 1);
    new_mac(&lab);
    let wpa = Wpa::start(&lab.peer_ns, &lab.peer_if, lab.dir.path(), "");
    let mut bridge = Bridge::start(network_opts(&wpa, lab.dir.path(), &sim, "aka", true));
    bridge.wait("AUTS", Duration::from_secs(15), |r| {
        matches!(
            r,
            Report::SimAuth {
                answer: "UMTS-AUTS",
                ..
            }
        )
    });
    let (outcome, reports) = bridge.join();
    assert_eq!(
        outcome.unwrap(),
        Outcome::Success,
        "{reports:#?}\n{}",
        lab.logs()
    );
    assert_eq!(
        lab.hss.state.lock().unwrap().auts_seen,
        1,
        "one AUTS reached the HSS"
    );
    assert!(reports.iter().any(|r| matches!(
        r,
        Report::Outcome {
            outcome: "success",
            ..
        }
    )));
    assert_eq!(wpa.cmd("LIST_NETWORKS").lines().count(), 1);
    drop(wpa);

    // Wrong K on the card: MAC-A fails, UMTS-FAIL, wpa_supplicant rejects
    // the authentication, the run reports a failure (exit code 1).
    let bad = lab.dir.path().join("bad.toml");
    let st = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&bad)
        .args([
            "--imsi",
            IMSI,
            "--k",
            "00112233445566778899aabbccddeeff",
            "--opc",
            OPC_HEX,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    new_mac(&lab);
    let wpa = Wpa::start(&lab.peer_ns, &lab.peer_if, lab.dir.path(), "");
    let bridge = Bridge::start(network_opts(&wpa, lab.dir.path(), &bad, "aka", true));
    let (outcome, reports) = bridge.join();
    match outcome {
        Ok(Outcome::Failure(reason)) => {
            assert!(reason.contains("MAC-A"), "{reason}");
            assert_eq!(Outcome::Failure(reason).exit_code(), 1);
        }
        other => panic!("{other:?}\n{reports:#?}"),
    }
    assert!(reports.iter().any(|r| matches!(
        r,
        Report::SimAuth {
            answer: "UMTS-FAIL",
            ..
        }
    )));
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapFailure { .. }))
    );
    assert_eq!(wpa.cmd("LIST_NETWORKS").lines().count(), 1);
}

const PPS_PROFILE: &str = r#"
UpdateIdentifier = 7
CredentialPriority = 3
[HomeSP]
FriendlyName = "Example Mobile"
FQDN = "mobile.example"
RoamingConsortiumOI = ["112233", "4455667788"]
[[HomeSP.OtherHomePartners]]
FQDN = "partner.example"
[Credential]
Realm = "wlan.mnc001.mcc001.3gppnetwork.org"
CreationDate = "2026-01-01T00:00:00Z"
[Credential.SIM]
IMSI = "00101*"
EAPType = 50
[Policy]
[[Policy.PreferredRoamingPartnerList]]
FQDN_Match = "roam.example,exactMatch"
Priority = 10
Country = "*"
[[Policy.SPExclusionList]]
SSID = "bad-ssid"
[Policy.PolicyUpdate]
UpdateInterval = 4294967295
[Local]
Priority = 5
"#;

#[test]
fn wifi_credential_fields_and_cleanup() {
    if !prerequisites(&["wpa_supplicant", "ip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new("w");
    sh(&[
        "ip", "-n", &ns.name, "link", "add", "wd0", "type", "veth", "peer", "name", "wd1",
    ]);
    sh(&["ip", "-n", &ns.name, "link", "set", "wd0", "up"]);
    let sim = dir.path().join("usim.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&sim)
        .args([
            "--imsi",
            IMSI,
            "--k",
            K_HEX,
            "--opc",
            OPC_HEX,
            "--mnc-len",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, PPS_PROFILE).unwrap();

    let wpa = Wpa::start(&ns, "wd0", dir.path(), "");
    let before: Vec<String> = ["interworking", "hs20", "external_sim"]
        .iter()
        .map(|k| wpa.cmd(&format!("GET {k}")))
        .collect();
    assert_eq!(before, vec!["0", "0", "1"]);

    let mut o = WifiOptions::new(wpa.sock().display().to_string(), SimSource::Soft(sim));
    o.client_dir = dir.path().to_path_buf();
    o.profile = Some(profile);
    let mut bridge = Bridge::start(o);
    let ready = bridge.wait("ready", Duration::from_secs(10), |r| {
        matches!(r, Report::Ready { .. })
    });
    let Report::Ready {
        cred_id: Some(id), ..
    } = ready
    else {
        panic!("{ready:?}")
    };
    assert_eq!(wpa.cmd("GET interworking"), "1");
    assert_eq!(wpa.cmd("GET hs20"), "1");
    let creds = wpa.cmd("LIST_CREDS");
    let row: Vec<&str> = creds.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(
        row,
        vec![
            id.to_string().as_str(),
            "wlan.mnc001.mcc001.3gppnetwork.org",
            "",
            "mobile.example",
            "00101-0123456789"
        ],
        "{creds}"
    );
    let get = |f: &str| wpa.cmd(&format!("GET_CRED {id} {f}"));
    assert_eq!(get("realm"), "wlan.mnc001.mcc001.3gppnetwork.org");
    assert_eq!(get("domain"), "mobile.example\npartner.example");
    assert_eq!(get("eap"), "AKA'");
    assert_eq!(get("imsi"), "00101-0123456789");
    assert_eq!(get("priority"), "5");
    assert_eq!(get("sp_priority"), "3");
    assert_eq!(get("update_identifier"), "7");
    assert_eq!(get("provisioning_sp"), "mobile.example");
    assert_eq!(get("roaming_consortiums"), "112233,4455667788");
    assert_eq!(get("excluded_ssid"), "bad-ssid");
    assert_eq!(get("roaming_partner"), "roam.example,1,10,*");
    assert_eq!(get("temporary"), "1", "not written by SAVE_CONFIG");

    let (result, reports) = bridge.finish();
    assert_eq!(result.unwrap(), Outcome::Stopped);
    let Some(Report::Cleanup {
        removed,
        restored,
        failed,
    }) = reports.last()
    else {
        panic!("{reports:#?}")
    };
    assert_eq!(removed, &vec![format!("cred {id}")]);
    assert_eq!(
        restored,
        &vec!["hs20=0".to_string(), "interworking=0".to_string()]
    );
    assert!(failed.is_empty());
    assert_eq!(wpa.cmd("LIST_CREDS").lines().count(), 1, "no cred left");
    let after: Vec<String> = ["interworking", "hs20", "external_sim"]
        .iter()
        .map(|k| wpa.cmd(&format!("GET {k}")))
        .collect();
    assert_eq!(after, before, "settings restored");
    drop(wpa);
}

#[test]
fn wifi_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("usim.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&sim)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stop = AtomicBool::new(false);
    let run = |o: &WifiOptions| run_with(o, &stop, &mut |_| {});

    // No control socket.
    let mut o = WifiOptions::new(
        dir.path().join("nothing").display().to_string(),
        SimSource::Soft(sim.clone()),
    );
    o.client_dir = dir.path().to_path_buf();
    o.network = Some(NetworkTarget::Any);
    let e = run(&o).unwrap_err();
    assert!(
        e.to_string().contains("no wpa_supplicant control socket"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);

    // A stale socket: wpa_supplicant was killed.
    let stale = dir.path().join("wlan0");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    o.ctrl = stale.display().to_string();
    let e = run(&o).unwrap_err();
    assert!(e.to_string().contains("not running"), "{e}");

    // SIM not ready: the simulator file is missing; a card of another operator.
    o.sim = SimSource::Soft(dir.path().join("missing.toml"));
    let e = run(&o).unwrap_err();
    assert!(matches!(e, WifiError::Sim(_)), "{e}");
    assert!(e.to_string().starts_with("SIM not ready:"), "{e}");
    o.sim = SimSource::Soft(sim.clone());
    let profile = dir.path().join("other.toml");
    std::fs::write(&profile, PPS_PROFILE.replace("00101*", "24491*")).unwrap();
    o.profile = Some(profile);
    o.network = None;
    let e = run(&o).unwrap_err();
    assert!(e.to_string().contains("24491*"), "{e}");

    // A Passpoint run needs a profile; a bad profile names file and line.
    o.profile = None;
    let e = run(&o).unwrap_err();
    assert!(matches!(e, WifiError::Usage(_)), "{e}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "eap_method = \"peap\"\n").unwrap();
    o.profile = Some(bad);
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("bad.toml:1:"), "{e}");

    // Nothing of ours is left in the client directory.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("wpa_ctrl_"))
        .collect();
    assert!(left.is_empty());
}

/// Permission denied is told apart from "not running": the check runs in a
/// child of this test binary as `nobody` (root is never denied).
#[test]
fn wifi_permission_denied_is_clear() {
    use std::os::unix::fs::PermissionsExt;
    if let Some(sock) = std::env::var_os("WIFI_TEST_DENIED_SOCKET") {
        // Child, as nobody.
        let client_dir = PathBuf::from(std::env::var_os("WIFI_TEST_CLIENT_DIR").unwrap());
        let sock = PathBuf::from(sock);
        let e = CtrlSocket::connect(&sock, &client_dir).unwrap_err();
        assert!(
            matches!(
                e,
                supplicant::wifi::ctrl::CtrlError::PermissionDenied { .. }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("GROUP="), "{e}");
        let closed = sock.parent().unwrap().parent().unwrap().join("closed");
        let e = supplicant::wifi::ctrl::resolve(&closed.display().to_string(), None).unwrap_err();
        assert!(
            matches!(
                e,
                supplicant::wifi::ctrl::CtrlError::PermissionDenied { .. }
            ),
            "{e}"
        );
        println!("child: permission denied reported");
        return;
    }
    if !prerequisites(&["setpriv"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // A control socket only root may write to, and a control directory only
    // root may read (ctrl_interface=DIR=… without GROUP=).
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = open.join("wlan0");
    let _server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o770)).unwrap();
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o770)).unwrap();
    let _server2 = std::os::unix::net::UnixDatagram::bind(closed.join("wlan0")).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "wifi_permission_denied_is_clear",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WIFI_TEST_DENIED_SOCKET", &sock)
        .env("WIFI_TEST_CLIENT_DIR", dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("child: permission denied reported"), "{text}");
}
