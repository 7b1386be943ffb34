//! supplicant ↔ hostapd (driver=wired) ↔ hostapd RADIUS server with its own
//! EAP-AKA/AKA' server and a test HSS: hostapd's server code judges our peer.

mod common;
use common::*;

#[test]
fn aka_aka_prime_and_resync_through_hostapd() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let spec = format!("soft:{}", sim.display());

    let (code, v, out) = lab.auth(&spec, &lab.profile("aka"), &[]);
    assert_eq!(code, 0, "AKA:\n{out}\n{}", lab.logs());
    assert_eq!(v["outcome"], "success");
    assert_eq!(v["method"], "EAP-AKA");
    assert_eq!(
        v["identity"],
        format!("0{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")
    );
    assert_eq!(v["msk_sha256"].as_str().map(str::len), Some(64));
    assert!(
        !out.contains("msk\":") || !out.contains("\"msk\""),
        "the MSK itself is never printed"
    );
    eprintln!(
        "EAP-AKA through hostapd: {} ms, {} round trips",
        v["time_ms"], v["round_trips"]
    );

    let (code, v, out) = lab.auth(&spec, &lab.profile("aka-prime"), &[]);
    assert_eq!(code, 0, "AKA':\n{out}\n{}", lab.logs());
    assert_eq!(v["method"], "EAP-AKA'");
    assert_eq!(
        v["identity"],
        format!("6{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")
    );
    eprintln!(
        "EAP-AKA' through hostapd: {} ms, {} round trips",
        v["time_ms"], v["round_trips"]
    );

    // --method overrides the profile.
    let (code, v, out) = lab.auth(&spec, &lab.profile("aka-prime"), &["--method", "aka"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["method"], "EAP-AKA");

    // A Passpoint profile (wpa_supplicant cred block) read by passpoint-profile.
    let cred = lab.dir.path().join("cred.conf");
    std::fs::write(
        &cred,
        "cred={\n\trealm=\"example.com\"\n\teap=AKA\n\tdomain=\"example.com\"\n}\n",
    )
    .unwrap();
    let (code, v, out) = lab.auth(&spec, &cred, &[]);
    assert_eq!(code, 0, "cred profile:\n{out}\n{}", lab.logs());
    assert_eq!(v["identity"], format!("0{IMSI}@example.com"));

    // Resync: the HSS falls back to an SQN the card has already seen.
    lab.hss
        .state
        .lock()
        .unwrap()
        .next_seq
        .insert(IMSI.to_string(), 1);
    let (code, v, out) = lab.auth(&spec, &lab.profile("aka"), &[]);
    assert_eq!(code, 0, "resync:\n{out}\n{}", lab.logs());
    assert_eq!(
        lab.hss.state.lock().unwrap().auts_seen,
        1,
        "one AUTS reached the HSS"
    );
    eprintln!(
        "EAP-AKA with resync through hostapd: {} ms, {} round trips",
        v["time_ms"], v["round_trips"]
    );

    // Wrong key on the card: AUTN does not verify → Authentication-Reject → exit 1.
    let bad = lab.dir.path().join("bad.toml");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_supplicant"))
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
    let (code, v, out) = lab.auth(&format!("soft:{}", bad.display()), &lab.profile("aka"), &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["outcome"], "failure");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("MAC-A"),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let bin = env!("CARGO_BIN_EXE_supplicant");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "eap_method = \"peap\"\n").unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "auth",
            "--iface",
            "lo",
            "--sim",
            "soft:/nonexistent",
            "--profile",
        ])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.toml:1: unknown eap_method"), "{err}");
    let out = std::process::Command::new(bin)
        .args(["auth", "--iface", "lo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(bin)
        .args(["sim", "info", "--sim", "floppy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
