//! The command line's contract: exit codes and messages for PIN handling,
//! timeouts and missing privileges.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_supplicant"))
}

fn create(dir: &std::path::Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = bin()
        .args(["sim", "create", "--out"])
        .arg(&path)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn sim_create_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let path = create(dir.path(), "u.toml", &["--mnc-len", "3", "--pin", "2468"]);
    let out = bin()
        .args(["sim", "info", "--json", "--sim"])
        .arg(format!("soft:{}", path.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pin"]["state"], "required");
    assert_eq!(v["pin"]["tries_left"], 3);
    assert_eq!(v["imsi"], "(PIN required)", "EF_IMSI is PIN-protected");
    assert_eq!(v["pin1_enabled"], true);
    // A card answering a status VERIFY with 63C3 while its PS_DO says PIN1
    // is disabled (as many real UICCs do): no PIN needed.
    let counts = create(
        dir.path(),
        "counts.toml",
        &["--disabled-pin-verify", "63cx"],
    );
    let out = bin()
        .args(["sim", "info", "--sim"])
        .arg(format!("soft:{}", counts.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PIN1:       disabled"), "{text}");
    assert!(text.contains(IMSI), "{text}");
    // Bad arguments: exit 2 with a message.
    let out = bin()
        .args(["sim", "create", "--out"])
        .arg(dir.path().join("x.toml"))
        .args(["--imsi", IMSI, "--k", "zz", "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--k: not hex; expected 32 hex digits"));
    let out = bin()
        .args(["sim", "create", "--out"])
        .arg(&path)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "refuses to overwrite a card");
    let out = bin()
        .args(["sim", "serve-vpcd", "--sim", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pin_is_verified_once_and_never_retried() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    // Also exercises protected result indications (AKA-Notification Success).
    let lab = Lab::start_with(true);
    let sim = create(lab.dir.path(), "pin.toml", &["--pin", "2468"]);
    let spec = format!("soft:{}", sim.display());
    let profile = lab.profile("aka-prime");
    let (code, _, out) = lab.auth(&spec, &profile, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PIN1 is enabled") && out.contains("3 tries left"),
        "{out}"
    );
    let (code, _, out) = lab.auth(&spec, &profile, &["--pin", "1111"]);
    assert_eq!(code, 1);
    assert!(out.contains("wrong PIN: 2 tries left"), "{out}");
    // A PIN file others can read is refused, as the state file is.
    let pin_file = lab.dir.path().join("pin");
    std::fs::write(&pin_file, "2468\n").unwrap();
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, out) = lab.auth(&spec, &profile, &["--pin-file", pin_file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "{}:0: the PIN file holds a secret but its mode is 0644",
            pin_file.display()
        )),
        "{out}"
    );
    assert!(!out.contains("2468"), "{out}");
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, v, out) = lab.auth(&spec, &profile, &["--pin-file", pin_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{}", lab.logs());
    assert_eq!(v["outcome"], "success");
    assert_eq!(
        v["round_trips"], 4,
        "identity, AKA-Identity, Challenge, Notification"
    );
    assert!(
        lab.radius.log_text().contains("AT_RESULT_IND"),
        "hostapd used result indications"
    );
    // The counter went back to 3 and is on disk.
    assert!(
        std::fs::read_to_string(&sim)
            .unwrap()
            .contains("pin_tries_left = 3")
    );
}

#[test]
fn no_authenticator_is_a_timeout() {
    if !prerequisites(&["ip"]) {
        return;
    }
    let ns = Netns::new("t");
    let a = format!("vt{}x{}", std::process::id() % 100000, unique());
    let b = format!("{a}b");
    sh(&[
        "ip", "-n", &ns.name, "link", "add", &a, "type", "veth", "peer", "name", &b,
    ]);
    sh(&["ip", "-n", &ns.name, "link", "set", &a, "up"]);
    sh(&["ip", "-n", &ns.name, "link", "set", &b, "up"]);
    let dir = tempfile::tempdir().unwrap();
    let sim = create(dir.path(), "u.toml", &[]);
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "eap_method = \"aka\"\n").unwrap();
    let out = ns
        .cmd(env!("CARGO_BIN_EXE_supplicant"))
        .args(["auth", "--iface", &a, "--timeout", "2", "--json", "--sim"])
        .arg(format!("soft:{}", sim.display()))
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "timeout");
    assert!(v["time_ms"].as_f64().unwrap() >= 1900.0);
    // Starts at 0 and 1 s; the report says how many and over how long.
    assert_eq!(
        v["reason"], "no authenticator answered 2 EAPOL-Starts in 2 s",
        "{v}"
    );

    // SIGTERM ends the run through the normal path (EAPOL-Logoff, report, exit 1).
    let child = ns
        .cmd(env!("CARGO_BIN_EXE_supplicant"))
        .args(["auth", "--iface", &a, "--timeout", "20", "--json", "--sim"])
        .arg(format!("soft:{}", sim.display()))
        .arg("--profile")
        .arg(&profile)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill(2) of the child we just started (`ip netns exec` execs the binary).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "interrupted by a signal");
}

/// Every file the supplicant reads is capped: an endless `--profile` fails
/// at once with the file and the limit; so do an oversized PIN file and
/// simulator file. Needs no network: the files are read first.
#[test]
fn input_files_are_size_capped() {
    let dir = tempfile::tempdir().unwrap();
    let sim = create(dir.path(), "u.toml", &[]);
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "eap_method = \"aka\"\n").unwrap();
    let run = |profile: &std::path::Path, sim: &str, extra: &[&str]| {
        let out = bin()
            .args(["auth", "--iface", "lo", "--sim", sim, "--profile"])
            .arg(profile)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let soft = format!("soft:{}", sim.display());
    let (code, err) = run(std::path::Path::new("/dev/zero"), &soft, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("/dev/zero:0: the profile is larger than 1048576 bytes"),
        "{err}"
    );
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "1".repeat(100)).unwrap();
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run(&profile, &soft, &["--pin-file", pin.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("pin:0: the PIN file is larger than 64 bytes"),
        "{err}"
    );
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("#{}\n", "x".repeat(100_000))).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run(&profile, &format!("soft:{}", big.display()), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("big.toml:0: the simulator file is larger than 65536 bytes"),
        "{err}"
    );
    let state = dir.path().join("state");
    std::fs::write(&state, format!("#{}\n", "x".repeat(100_000))).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, err) = run(&profile, &soft, &["--state", state.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("state:0: the privacy state file is larger than 65536 bytes"),
        "{err}"
    );
}

#[test]
fn missing_cap_net_raw_is_explained() {
    if !prerequisites(&["setpriv"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sim = create(dir.path(), "u.toml", &[]);
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "").unwrap();
    let out = Command::new("setpriv")
        .args(["--bounding-set", "-net_raw", "--inh-caps", "-net_raw", "--"])
        .arg(env!("CARGO_BIN_EXE_supplicant"))
        .args(["auth", "--iface", "lo", "--sim"])
        .arg(format!("soft:{}", sim.display()))
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("CAP_NET_RAW"));
    // An interface that does not exist.
    let out = bin()
        .args(["auth", "--iface", "nosuchif0", "--sim"])
        .arg(format!("soft:{}", sim.display()))
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no network interface"));
}
