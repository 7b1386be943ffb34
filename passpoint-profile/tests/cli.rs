//! CLI integration tests.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_passpoint-profile"))
}

fn data(p: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run passpoint-profile")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn validate_valid_samples_exits_zero() {
    for (file, target) in [
        ("valid/ttls-full.pps.xml", "android"),
        ("valid/ttls-full.pps.xml", "spec"),
        ("valid/ttls-full.x-wifi-config", "android"),
        ("valid/aka-prime-prefix.toml", "android"),
        ("valid/aka-full-imsi.toml", "wpa-supplicant"),
        ("valid/sim.ddf.xml", "spec"),
        ("valid/cert.toml", "wpa-supplicant"),
        ("valid/cert.toml", "spec"),
        ("valid/creds.wpa.conf", "wpa-supplicant"),
    ] {
        let o = run(&["validate", &data(file), "--target", target]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file} / {target}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
}

#[test]
fn validate_reports_located_errors_and_exits_one() {
    let f = data("invalid/empty-fqdn.pps.xml");
    let o = run(&["validate", &f]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("error: {f}:12:9: HomeSP/FQDN: empty value")),
        "{out}"
    );

    let f = data("invalid/bad-sim.toml");
    let out = stdout(&run(&["validate", &f]));
    assert!(
        out.contains(&format!("{f}:11:1: Credential/SIM/IMSI")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{f}:12:1: Credential/SIM/EAPType")),
        "{out}"
    );
    assert!(out.contains("is not a date"), "{out}");

    let f = data("invalid/two-creds.pps.xml");
    let out = stdout(&run(&["validate", &f, "--target", "android"]));
    assert!(out.contains("more than one type of credential"), "{out}");
    assert!(out.contains("HomeSP/Unknown: unknown node"), "{out}");

    let f = data("invalid/unknown-field.wpa.conf");
    let out = stdout(&run(&["validate", &f, "--target", "wpa-supplicant"]));
    assert!(
        out.contains(&format!("{f}:9:2: cred block 1, field domain_match")),
        "{out}"
    );

    let f = data("invalid/truncated.x-wifi-config");
    let o = run(&["validate", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("MIME part 1 (application/x-passpoint-profile)"));

    let f = data("invalid/dtd.pps.xml");
    let o = run(&["validate", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("DTD"));
}

#[test]
fn validate_targets_differ() {
    // A TLS-less PEAP user credential: fine for wpa_supplicant, not Android.
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("peap.toml");
    std::fs::write(
        &p,
        "UpdateIdentifier = 1\n[HomeSP]\nFriendlyName = \"P\"\nFQDN = \"p.example\"\n[Credential]\nRealm = \"p.example\"\nCreationDate = \"2026-01-01T00:00:00Z\"\n[Credential.UsernamePassword]\nUsername = \"u\"\nPassword = \"p\"\n[Credential.UsernamePassword.EAPMethod]\nEAPType = 25\n[SubscriptionUpdate]\nUpdateInterval = 4294967295\n[Local]\nCACertPath = \"/ca.pem\"\n",
    )
    .expect("write");
    let ps = p.display().to_string();
    assert_eq!(
        run(&["validate", &ps, "--target", "android"]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(&["validate", &ps, "--target", "wpa-supplicant"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn validate_json() {
    let o = run(&[
        "validate",
        &data("invalid/empty-fqdn.pps.xml"),
        &data("valid/sim.ddf.xml"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["target"], "spec");
    assert!(v["errors"].as_u64().unwrap_or(0) >= 1);
    let f = &v["files"][0]["findings"];
    let fqdn = f
        .as_array()
        .and_then(|a| a.iter().find(|x| x["path"] == "HomeSP/FQDN"))
        .expect("FQDN finding");
    assert_eq!(fqdn["severity"], "error");
    assert_eq!(fqdn["location"]["line"], 12);
    assert_eq!(v["files"][1]["format"], "pps-mo-ddf");
}

#[test]
fn show_masks_secrets() {
    let o = run(&["show", &data("valid/creds.wpa.conf")]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("IMSI 244910*********"), "{out}");
    assert!(!out.contains("0000000001"), "{out}");
    assert!(!out.contains("secret-password"), "{out}");
    assert!(out.contains("Example Wi-Fi"), "{out}");
    assert!(out.contains("AKA (23)"), "{out}");
    let out = stdout(&run(&["show", &data("valid/aka-prime-prefix.toml")]));
    assert!(out.contains("IMSI 24491*"), "{out}");
    assert!(out.contains("AKA' (50)"), "{out}");
}

#[test]
fn convert_every_format_and_warn_on_loss() {
    let dir = tempfile::tempdir().expect("tmp");
    for to in [
        "toml",
        "pps-mo",
        "pps-mo-ddf",
        "x-wifi-config",
        "wpa-supplicant",
        "iwd",
        "hostapd",
    ] {
        let out = dir.path().join(format!("out.{to}"));
        let o = run(&[
            "convert",
            &data("valid/ttls-full.pps.xml"),
            "--to",
            to,
            "-o",
            &out.display().to_string(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{to}: {}", stderr(&o));
        let text = std::fs::read_to_string(&out).expect("output");
        assert!(!text.is_empty());
        let lossy = matches!(to, "wpa-supplicant" | "iwd" | "hostapd");
        if to == "wpa-supplicant" || to == "iwd" {
            assert!(
                stderr(&o).contains("SubscriptionUpdate"),
                "{to} must name dropped fields: {}",
                stderr(&o)
            );
        }
        if !lossy {
            assert!(stderr(&o).is_empty(), "{to}: {}", stderr(&o));
            // The output reads back (sniffed) to the same profile.
            let back = run(&["convert", &out.display().to_string(), "--to", "toml"]);
            let orig = run(&["convert", &data("valid/ttls-full.pps.xml"), "--to", "toml"]);
            assert_eq!(stdout(&back), stdout(&orig), "{to}");
        }
    }
}

#[test]
fn convert_wpa_legacy_names() {
    let o = run(&[
        "convert",
        &data("valid/sim.ddf.xml"),
        "--to",
        "wpa-supplicant",
        "--wpa-legacy",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("required_roaming_consortium=001BC504BD"),
        "{out}"
    );
    assert!(!out.contains("required_home_ois"), "{out}");
    assert!(out.contains("pcsc=1"), "{out}");
    assert!(stderr(&o).contains("Credential/SIM/IMSI"), "{}", stderr(&o));
    let out = stdout(&run(&[
        "convert",
        &data("valid/sim.ddf.xml"),
        "--to",
        "wpa-supplicant",
    ]));
    assert!(out.contains("required_home_ois=\"001BC504BD\""), "{out}");
}

#[test]
fn match_against_hostapd_conf_and_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("ap.conf");
    let o = run(&[
        "convert",
        &data("valid/aka-prime-prefix.toml"),
        "--to",
        "hostapd",
        "-o",
        &conf.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let c = conf.display().to_string();
    let o = run(&[
        "match",
        &data("valid/aka-prime-prefix.toml"),
        "--hostapd-conf",
        &c,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("home"), "{}", stdout(&o));
    // The TTLS profile shares the OpenRoaming OI 5A03BA0000: roaming.
    let o = run(&[
        "match",
        &data("valid/ttls-full.pps.xml"),
        "--hostapd-conf",
        &c,
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("roaming, partner priority 128"),
        "{}",
        stdout(&o)
    );
    // The certificate profile does not match that AP.
    let o = run(&["match", &data("valid/cert.toml"), "--hostapd-conf", &c]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no match"), "{}", stdout(&o));

    let anqp = dir.path().join("anqp.json");
    std::fs::write(
        &anqp,
        r#"{"ssid": "Other", "domain_names": ["partner.org"],
            "nai_realms": [{"realms": ["example.com"], "eap_methods": [{"method": 21, "auth_params": [[2,4],[5,7]]}]}],
            "roaming_consortiums": ["112233"]}"#,
    )
    .expect("write");
    let o = run(&[
        "match",
        &data("valid/ttls-full.pps.xml"),
        "--anqp",
        &anqp.display().to_string(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["match"]["result"], "roaming");
    assert_eq!(v[0]["match"]["partner_priority"], 10);
}

#[test]
fn completions_and_man() {
    let o = run(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("passpoint-profile"));
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(".TH"));
}

#[test]
fn garbage_input_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("tmp");
    for (name, content) in [
        ("a.xml", &b"<MgmtTree><Node>"[..]),
        ("b.conf", b"cred={\n realm=\"x\n"),
        ("c.bin", b"\xff\xfe\x00garbage"),
        ("d.txt", b"QUJD\n"),
        ("e.toml", b"[HomeSP\nFQDN="),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).expect("write");
        let o = run(&["validate", &p.display().to_string()]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
    }
}

#[test]
fn x_wifi_config_errors_name_the_mime_part() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("bad.x-wifi-config");
    let o = run(&[
        "convert",
        &data("invalid/empty-fqdn.pps.xml"),
        "--to",
        "x-wifi-config",
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = out.display().to_string();
    let o = run(&["validate", &f, "--target", "android"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains(&format!(
            "{f}: MIME part 1 (application/x-passpoint-profile):"
        )) && text.contains("HomeSP/FQDN: empty value"),
        "{text}"
    );
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("output").permissions().mode() & 0o777
}

/// Issue point 6: `convert -o` wrote K/OPc and passwords 0644 and overwrote files silently.
#[test]
fn convert_output_with_secrets_is_0600_and_never_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tmp");
    for (input, to, secret) in [
        ("valid/aka-full-imsi.toml", "wpa-supplicant", true), // Milenage K:OPc
        ("valid/ttls-full.pps.xml", "toml", true),            // password
        ("valid/cert.toml", "toml", false),
    ] {
        let out = dir.path().join(format!("{}.{to}", input.replace('/', "_")));
        let o = out.display().to_string();
        let r = run(&["convert", &data(input), "--to", to, "-o", &o]);
        assert_eq!(r.status.code(), Some(0), "{input}: {}", stderr(&r));
        if secret {
            assert_eq!(mode(&out), 0o600, "{input}");
        } else {
            assert_eq!(mode(&out) & 0o600, 0o600, "{input}");
        }
        std::fs::write(&out, "mine\n").unwrap();
        let r = run(&["convert", &data(input), "--to", to, "-o", &o]);
        assert_eq!(
            r.status.code(),
            Some(1),
            "{input}: overwrote without --force"
        );
        assert!(
            stderr(&r).contains(&format!("{o}: exists; use --force to overwrite it")),
            "{}",
            stderr(&r)
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine\n");
        let r = run(&["convert", &data(input), "--to", to, "-o", &o, "--force"]);
        assert_eq!(r.status.code(), Some(0), "{input}: {}", stderr(&r));
        assert_ne!(std::fs::read_to_string(&out).unwrap(), "mine\n");
        if secret {
            assert_eq!(mode(&out), 0o600, "{input} after --force");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Issue point 4: printing into a closed pipe (`| head`) must exit quietly.
#[test]
fn closed_stdout_exits_quietly() {
    let ttls = data("valid/ttls-full.pps.xml");
    for args in [
        vec!["show", ttls.as_str()],
        vec!["validate", ttls.as_str()],
        vec!["convert", ttls.as_str(), "--to", "toml"],
        vec!["man"],
        vec!["completions", "bash"],
    ] {
        let mut child = bin()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let o = child.wait_with_output().expect("wait");
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        if args[0] != "validate" {
            assert!(err.is_empty(), "{args:?}: {err}");
        }
    }
}

/// Issue point 6: every input is size-capped, `/dev/zero` included.
#[test]
fn endless_inputs_are_refused_at_the_cap() {
    let prof = data("valid/aka-full-imsi.toml");
    for args in [
        vec!["show", "/dev/zero"],
        vec!["validate", "/dev/zero"],
        vec!["convert", "/dev/zero", "--to", "toml"],
        vec!["match", "/dev/zero", "--anqp", "/dev/zero"],
        vec!["match", prof.as_str(), "--anqp", "/dev/zero"],
        vec!["match", prof.as_str(), "--hostapd-conf", "/dev/zero"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let all = stdout(&o) + &stderr(&o);
        assert!(
            all.contains("/dev/zero: larger than the 1048576-byte limit for an input file"),
            "{args:?}: {all}"
        );
    }
}
