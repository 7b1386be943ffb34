//! Acceptance tests against the real tools: the wpa_supplicant output loads
//! in `wpa_supplicant` (checked with `wpa_cli list_creds` / `get_cred`), the
//! hostapd snippet is accepted by `hostapd` (interface ENABLED, no line
//! errors). Each test runs in its own network namespace on a veth pair and
//! removes it afterwards.
//!
//! Needs root and the tools. Without them the tests are skipped, except when
//! `CI=true`: then a missing tool or missing privilege is a failure.

use passpoint_profile::model::Profile;
use passpoint_profile::read::read_file;
use passpoint_profile::write::{OutputFormat, WriteOptions, write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WPA_SUPPLICANT: &str = "wpa_supplicant";
const WPA_CLI: &str = "wpa_cli";
const HOSTAPD: &str = "hostapd";
const HOSTAPD_CLI: &str = "hostapd_cli";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Full path of a tool: `PATH`, then `/usr/sbin` and `/sbin`.
fn which(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/sbin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.exists())
}

fn tool(name: &str) -> String {
    which(name)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| name.to_string())
}

fn tool_on_path(name: &str) -> bool {
    which(name).is_some()
}

/// True when the test can run; panics in CI when it cannot.
fn prerequisites(tools: &[&str]) -> bool {
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| !tool_on_path(t))
        .map(|t| format!("tool {t}"))
        .collect();
    if !tool_on_path("ip") {
        missing.push("tool ip".into());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        missing.push("root (network namespaces)".into());
    }
    if missing.is_empty() {
        return true;
    }
    if in_ci() {
        panic!("CI=true and missing: {}", missing.join(", "));
    }
    eprintln!("SKIPPED: missing {}", missing.join(", "));
    false
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with a veth pair `ppa0`/`ppb0`, deleted on drop,
/// together with the processes started in it.
struct Netns {
    name: String,
    children: Vec<Child>,
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "ppprof-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let ns = Netns {
            name,
            children: Vec::new(),
        };
        ns.ip(&["netns", "add", &ns.name]);
        ns.ip(&[
            "-n", &ns.name, "link", "add", "ppa0", "type", "veth", "peer", "name", "ppb0",
        ]);
        ns.ip(&["-n", &ns.name, "link", "set", "ppa0", "up"]);
        ns.ip(&["-n", &ns.name, "link", "set", "ppb0", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let st = Command::new(tool("ip"))
            .args(args)
            .status()
            .expect("run ip");
        assert!(st.success(), "ip {args:?} failed");
    }

    fn spawn(&mut self, prog: &str, args: &[&str], log: &Path) -> usize {
        let f = std::fs::File::create(log).expect("log file");
        let f2 = f.try_clone().expect("log file");
        let child = Command::new(tool("ip"))
            .args(["netns", "exec", &self.name, &tool(prog)])
            .args(args)
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .spawn()
            .expect("spawn");
        self.children.push(child);
        self.children.len() - 1
    }

    fn exec(&self, prog: &str, args: &[&str]) -> String {
        let o = Command::new(tool("ip"))
            .args(["netns", "exec", &self.name, &tool(prog)])
            .args(args)
            .output()
            .expect("exec in netns");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until `path` exists or the child exits; true if it appeared.
    fn wait_for(&mut self, idx: usize, path: &Path) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if path.exists() {
                return true;
            }
            if let Ok(Some(_)) = self.children[idx].try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn stop(&mut self, idx: usize) {
        let c = &mut self.children[idx];
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.stop(i);
        }
        let _ = Command::new(tool("ip"))
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn samples() -> Vec<Profile> {
    let mut all = Vec::new();
    for f in [
        "valid/ttls-full.pps.xml",
        "valid/aka-prime-prefix.toml",
        "valid/aka-full-imsi.toml",
        "valid/sim.ddf.xml",
        "valid/cert.toml",
        "valid/creds.wpa.conf",
    ] {
        all.extend(read_file(&data(f), None).expect(f).profiles);
    }
    all
}

/// wpa_supplicant version (major, minor) from `-v`.
fn wpa_version() -> (u32, u32) {
    let o = Command::new(tool(WPA_SUPPLICANT))
        .arg("-v")
        .output()
        .expect("wpa_supplicant -v");
    let s = String::from_utf8_lossy(&o.stdout);
    let v = s
        .split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .unwrap_or("0.0");
    let mut it = v.split('.').map(|x| {
        x.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    });
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Starts wpa_supplicant on `config_body`; returns (loaded, list_creds, log).
fn run_wpa(config_body: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let ctrl = dir.path().join("ctrl");
    let conf = dir.path().join("wpa.conf");
    let log = dir.path().join("wpa.log");
    std::fs::write(
        &conf,
        format!("ctrl_interface={}\n{config_body}", ctrl.display()),
    )
    .expect("write conf");
    let mut ns = Netns::new();
    let idx = ns.spawn(
        WPA_SUPPLICANT,
        &["-c", &conf.display().to_string(), "-i", "ppa0", "-Dwired"],
        &log,
    );
    let up = ns.wait_for(idx, &ctrl.join("ppa0"));
    let creds = if up {
        ns.exec(
            WPA_CLI,
            &[
                "-p",
                &ctrl.display().to_string(),
                "-i",
                "ppa0",
                "list_creds",
            ],
        )
    } else {
        String::new()
    };
    ns.stop(idx);
    drop(ns);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (up, creds, log)
}

#[test]
fn wpa_supplicant_loads_generated_creds() {
    if !prerequisites(&[WPA_SUPPLICANT, WPA_CLI]) {
        return;
    }
    let profiles = samples();
    let legacy = wpa_version() <= (2, 10);
    let out = write(
        &profiles,
        OutputFormat::WpaSupplicant,
        &WriteOptions {
            wpa_legacy: legacy,
            ..Default::default()
        },
    )
    .expect("write");
    let (up, creds, log) = run_wpa(&out.text);
    assert!(
        up,
        "wpa_supplicant did not start:\n{log}\n--- config:\n{}",
        out.text
    );
    let lines: Vec<&str> = creds
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        lines.len(),
        profiles.len(),
        "list_creds:\n{creds}\nconfig:\n{}",
        out.text
    );
    for p in &profiles {
        let realm = p.realm().expect("realm");
        assert!(creds.contains(realm), "{realm} missing in:\n{creds}");
    }
}

#[test]
fn wpa_supplicant_current_names_without_home_ois_load_everywhere() {
    if !prerequisites(&[WPA_SUPPLICANT, WPA_CLI]) {
        return;
    }
    // No HomeOIList: the current-name output uses only fields 2.10 knows.
    let profiles: Vec<Profile> = samples()
        .into_iter()
        .filter(|p| p.home_sp.home_oi_list.is_empty())
        .collect();
    let out = write(
        &profiles,
        OutputFormat::WpaSupplicant,
        &WriteOptions::default(),
    )
    .expect("write");
    let (up, creds, log) = run_wpa(&out.text);
    assert!(up, "{log}\n{}", out.text);
    assert_eq!(
        creds
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .count(),
        profiles.len(),
        "{creds}"
    );
}

#[test]
fn wpa_supplicant_rejects_a_bad_cred_so_the_check_is_real() {
    if !prerequisites(&[WPA_SUPPLICANT, WPA_CLI]) {
        return;
    }
    let (up, _, log) = run_wpa(
        "interworking=1\ncred={\n\trealm=\"example.com\"\n\tdomain_match=\"example.com\"\n}\n",
    );
    assert!(!up, "a cred with an unknown field must not load:\n{log}");
    assert!(log.contains("unknown cred field"), "{log}");
}

/// Starts hostapd with `snippet`; returns (enabled, status, log).
fn run_hostapd(snippet: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let ctrl = dir.path().join("ctrl");
    let conf = dir.path().join("hostapd.conf");
    let log = dir.path().join("hostapd.log");
    std::fs::write(
        &conf,
        format!(
            "interface=ppa0\ndriver=wired\nctrl_interface={}\nssid=passpoint-test\nauth_server_addr=127.0.0.1\nauth_server_port=18120\nauth_server_shared_secret=testing123\n{snippet}",
            ctrl.display()
        ),
    )
    .expect("write conf");
    let mut ns = Netns::new();
    let idx = ns.spawn(HOSTAPD, &[&conf.display().to_string()], &log);
    let up = ns.wait_for(idx, &ctrl.join("ppa0"));
    let status = if up {
        // The control socket appears before setup completes; poll status.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = ns.exec(
                HOSTAPD_CLI,
                &["-p", &ctrl.display().to_string(), "-i", "ppa0", "status"],
            );
            if s.contains("state=ENABLED") || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    } else {
        String::new()
    };
    ns.stop(idx);
    drop(ns);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (up && status.contains("state=ENABLED"), status, log)
}

#[test]
fn hostapd_accepts_generated_snippets() {
    if !prerequisites(&[HOSTAPD, HOSTAPD_CLI]) {
        return;
    }
    let profiles = samples();
    let mut snippets = Vec::new();
    for p in &profiles {
        snippets.push(
            write(
                std::slice::from_ref(p),
                OutputFormat::Hostapd,
                &WriteOptions::default(),
            )
            .expect("snippet")
            .text,
        );
    }
    // All profiles on one AP, too.
    snippets.push(
        write(&profiles, OutputFormat::Hostapd, &WriteOptions::default())
            .expect("snippet")
            .text,
    );
    for s in snippets {
        let (ok, status, log) = run_hostapd(&s);
        assert!(
            ok,
            "hostapd rejected:\n{s}\n--- log:\n{log}\n--- status:\n{status}"
        );
        assert!(!log.contains("Line "), "hostapd line error:\n{log}");
    }
}

#[test]
fn hostapd_rejects_a_bad_line_so_the_check_is_real() {
    if !prerequisites(&[HOSTAPD, HOSTAPD_CLI]) {
        return;
    }
    let (ok, _, log) = run_hostapd("interworking=1\nroaming_consortium=12\n");
    assert!(!ok, "{log}");
    assert!(log.contains("Line "), "{log}");
}

#[test]
fn wpa_cli_set_cred_accepts_every_generated_field() {
    if !prerequisites(&[WPA_SUPPLICANT, WPA_CLI]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let ctrl = dir.path().join("ctrl");
    let conf = dir.path().join("wpa.conf");
    let log = dir.path().join("wpa.log");
    std::fs::write(
        &conf,
        format!(
            "ctrl_interface={}\ninterworking=1\nhs20=1\n",
            ctrl.display()
        ),
    )
    .expect("write conf");
    let mut ns = Netns::new();
    let idx = ns.spawn(
        WPA_SUPPLICANT,
        &["-c", &conf.display().to_string(), "-i", "ppa0", "-Dwired"],
        &log,
    );
    assert!(
        ns.wait_for(idx, &ctrl.join("ppa0")),
        "wpa_supplicant did not start"
    );
    let c = ctrl.display().to_string();
    let opts = WriteOptions {
        wpa_legacy: wpa_version() <= (2, 10),
        ..Default::default()
    };
    let profiles = samples();
    for p in &profiles {
        let id = ns
            .exec(WPA_CLI, &["-p", &c, "-i", "ppa0", "add_cred"])
            .trim()
            .to_string();
        assert!(id.parse::<u32>().is_ok(), "add_cred: {id}");
        let mut lossy = passpoint_profile::write::Lossy::default();
        for (k, v) in passpoint_profile::write::wpa_supplicant::cred_fields(p, &opts, &mut lossy) {
            let r = ns.exec(WPA_CLI, &["-p", &c, "-i", "ppa0", "set_cred", &id, &k, &v]);
            assert_eq!(r.trim(), "OK", "SET_CRED {id} {k} {v}");
        }
    }
    let creds = ns.exec(WPA_CLI, &["-p", &c, "-i", "ppa0", "list_creds"]);
    assert_eq!(
        creds
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .count(),
        profiles.len(),
        "{creds}"
    );
}
