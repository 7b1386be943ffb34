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

/// hostapd ignores a station for about 5 s after its EAPOL-Logoff. Two runs
/// back to back from the same MAC must both succeed: the second keeps sending
/// EAPOL-Start (1, 2, 4 … s apart) until hostapd answers.
#[test]
fn back_to_back_runs_same_mac_through_hostapd() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let spec = format!("soft:{}", sim.display());
    let profile = lab.profile("aka");
    let mac = |lab: &Lab| {
        let out = lab
            .peer_ns
            .cmd("cat")
            .arg(format!("/sys/class/net/{}/address", lab.peer_if))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = mac(&lab);
    for run in 1..=2 {
        let t = std::time::Instant::now();
        let (code, v, out) = lab.auth_same_mac(&spec, &profile, "20", &[], &[]);
        assert_eq!(code, 0, "run {run}:\n{out}\n{}", lab.logs());
        assert_eq!(v["outcome"], "success", "run {run}: {out}");
        eprintln!("back-to-back run {run}: {:?} wall clock", t.elapsed());
    }
    assert_eq!(mac(&lab), before, "the station MAC did not change");
}

/// An authenticator that never answers EAPOL-Start but sends its own
/// EAP-Request/Identity: the supplicant answers it. A fake authenticator on
/// the far end of a veth pair (no hostapd) waits for two Starts, sends the
/// Request, reads the Response and ends with EAP-Failure.
#[test]
fn unsolicited_request_identity_is_answered() {
    if !prerequisites(&["ip"]) {
        return;
    }
    use supplicant::eapol::{self, Frame, PacketType, socket::EapolSocket};
    let link = Link::new();
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("usim.toml");
    create_sim(&sim);
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "eap_method = \"aka\"\n").unwrap();
    let auth_if = link.auth_if.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let authenticator = in_netns(&link.auth_ns, move || {
        let sock = EapolSocket::open(&auth_if).expect("authenticator socket");
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let mut starts = 0;
        let end = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while starts < 2 && std::time::Instant::now() < end {
            if let Ok(Some(n)) = sock.recv(&mut buf, std::time::Duration::from_millis(200))
                && Frame::parse(&buf[..n]).map(|f| f.packet_type) == Ok(PacketType::Start)
            {
                starts += 1;
            }
        }
        assert_eq!(starts, 2, "the supplicant sent no EAPOL-Starts");
        // EAP-Request/Identity, identifier 7 (RFC 3748 §5.1).
        sock.send(&eapol::encode(PacketType::Eap, &[1, 7, 0, 5, 1]).unwrap())
            .unwrap();
        let mut identity = None;
        while identity.is_none() && std::time::Instant::now() < end {
            if let Ok(Some(n)) = sock.recv(&mut buf, std::time::Duration::from_millis(200))
                && let Ok(f) = Frame::parse(&buf[..n])
                && f.packet_type == PacketType::Eap
                && let [2, 7, _, _, 1, id @ ..] = f.body
            {
                identity = Some(String::from_utf8_lossy(id).to_string());
            }
        }
        sock.send(&eapol::encode(PacketType::Eap, &[4, 7, 0, 4]).unwrap())
            .unwrap();
        identity
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the fake authenticator did not start");
    let out = link
        .peer_ns
        .cmd(env!("CARGO_BIN_EXE_supplicant"))
        .args([
            "auth",
            "--iface",
            &link.peer_if,
            "--timeout",
            "20",
            "--json",
        ])
        .arg("--sim")
        .arg(format!("soft:{}", sim.display()))
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    let identity = authenticator.join().expect("fake authenticator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
    assert_eq!(
        identity.as_deref(),
        Some(format!("0{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org").as_str()),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(v["outcome"], "failure", "{stdout}");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("EAP-Failure"),
        "{stdout}"
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
