//! The real PC/SC path: pcscd + vsmartcard's vpcd driver + `supplicant sim
//! serve-vpcd`. Our own `sim info`/`auth --sim pcsc` go through pcscd, and so
//! does wpa_supplicant's PC/SC code (eapol_test with `pcsc=""`), which must
//! accept our virtual USIM and authenticate with it.

mod common;
use common::*;
use std::time::Duration;

fn eapol_test(lab: &Lab, pcsc: &Pcsc, method: &str) -> (bool, String) {
    let conf = lab.dir.path().join(format!("eapol_test-{method}.conf"));
    std::fs::write(
        &conf,
        format!("pcsc_reader=Virtual PCD 00 00\nnetwork={{\n\tkey_mgmt=IEEE8021X\n\teap={method}\n\tpcsc=\"\"\n\teapol_flags=0\n}}\n"),
    )
    .unwrap();
    let (k, v) = pcsc.env();
    let out = lab
        .peer_ns
        .cmd("eapol_test")
        .args(["-c"])
        .arg(&conf)
        .args(["-a", &lab.server_ip, "-s", SECRET, "-t", "10"])
        .env(k, v)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.success() && text.lines().any(|l| l.trim() == "SUCCESS"),
        text,
    )
}

#[test]
fn pcsc_sim_info_auth_and_wpa_supplicant_through_vpcd() {
    if !prerequisites(&["hostapd", "ip", "pcscd", "eapol_test", "unshare", "dpkg"]) {
        return;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(
            vpcd_driver().exists(),
            "vsmartcard-vpcd (libifdvpcd.so) is not installed"
        );
    } else if !vpcd_driver().exists() {
        eprintln!("NOT RUN: libifdvpcd.so missing");
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let pcsc = Pcsc::start(&lab.peer_ns, lab.dir.path(), &sim);

    let t = std::time::Instant::now();
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    eprintln!(
        "first sim info via pcscd (incl. waiting for the card): {:?}",
        t.elapsed()
    );
    assert_eq!(
        code,
        0,
        "sim info --sim pcsc:\n{text}\n{}",
        pcsc.pcscd.log_text()
    );
    assert!(text.contains(IMSI), "{text}");
    assert!(text.contains("MNC length: 2"), "{text}");
    assert!(text.contains("A0000000871002"), "{text}");
    // The second vpcd slot has no card: a clear error naming the readers.
    let (code, text) = pcsc.info_wait(&lab.peer_ns, "pcsc:Virtual PCD 00 01", Duration::ZERO);
    assert_ne!(code, 0);
    assert!(
        text.contains("no card") && text.contains("Virtual PCD 00 00"),
        "{text}"
    );

    // Our supplicant through pcscd, over wired 802.1X to hostapd.
    let (k, v) = pcsc.env();
    let (code, json, out) = lab.auth_env("pcsc", &lab.profile("aka"), &[], &[(k, &v)]);
    assert_eq!(code, 0, "auth --sim pcsc:\n{out}\n{}", lab.logs());
    assert_eq!(json["method"], "EAP-AKA");
    eprintln!("EAP-AKA with the card behind pcscd: {} ms", json["time_ms"]);

    // wpa_supplicant's own PC/SC code against our virtual card.
    for method in ["AKA", "AKA'"] {
        let t = std::time::Instant::now();
        let (ok, text) = eapol_test(&lab, &pcsc, method);
        eprintln!(
            "eapol_test {method} via pcsc (process start to exit): {:?}",
            t.elapsed()
        );
        let tail: Vec<&str> = text.lines().rev().take(80).collect();
        assert!(
            ok,
            "eapol_test {method} via pcsc:\n{}\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            lab.logs()
        );
        assert!(text.contains("MPPE keys OK: 1"), "{method}: MSK mismatch");
        // It really used the card: wpa_supplicant read the IMSI over PC/SC
        // and built the identity from it.
        assert!(
            text.contains("SCARD: IMSI"),
            "{method}: no IMSI read over PC/SC"
        );
        assert!(
            text.contains("@wlan.mnc001.mcc001.3gppnetwork.org"),
            "{method}: identity"
        );
    }
    // The card's SQN state advanced on disk for every AUTHENTICATE.
    std::thread::sleep(Duration::from_millis(50));
    let content = std::fs::read_to_string(&sim).unwrap();
    assert!(content.contains("seq_ms"), "{content}");
}

/// Both card behaviours for a status VERIFY through pcscd + vpcd: a card that
/// answers 63C3 while its PS_DO says PIN1 is disabled needs no PIN (our
/// supplicant and wpa_supplicant agree); the same card with PIN1 enabled
/// asks for it and works with it.
#[test]
fn pcsc_pin_status_from_the_ps_do() {
    if !prerequisites(&["hostapd", "ip", "pcscd", "eapol_test", "unshare", "dpkg"]) {
        return;
    }
    assert!(
        vpcd_driver().exists(),
        "vsmartcard-vpcd (libifdvpcd.so) is not installed"
    );
    let lab = Lab::start();
    let create = |name: &str, extra: &[&str]| {
        let path = lab.dir.path().join(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_supplicant"))
            .args(["sim", "create", "--out"])
            .arg(&path)
            .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
            .args(["--disabled-pin-verify", "63cx"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        path
    };

    // PIN1 disabled; a status VERIFY still answers 63C3.
    let sim = create("disabled.toml", &[]);
    let pcsc = Pcsc::start(&lab.peer_ns, lab.dir.path(), &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    assert_eq!(code, 0, "{text}\n{}", pcsc.pcscd.log_text());
    assert!(text.contains("PIN1:       disabled"), "{text}");
    assert!(text.contains(IMSI), "{text}");
    let (k, v) = pcsc.env();
    let (code, json, out) = lab.auth_env("pcsc", &lab.profile("aka"), &[], &[(k, &v)]);
    assert_eq!(code, 0, "PIN disabled, 63C3:\n{out}\n{}", lab.logs());
    assert_eq!(json["outcome"], "success");
    let (ok, text) = eapol_test(&lab, &pcsc, "AKA");
    assert!(ok, "wpa_supplicant with the 63C3 card:\n{text}");
    drop(pcsc);

    // PIN1 enabled: asked for, then used.
    let sim = create("enabled.toml", &["--pin", "2468"]);
    let second = lab.dir.path().join("second-pcscd");
    std::fs::create_dir(&second).unwrap();
    let pcsc = Pcsc::start(&lab.peer_ns, &second, &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("enabled, 3 tries left"), "{text}");
    let (k, v) = pcsc.env();
    let (code, _, out) = lab.auth_env("pcsc", &lab.profile("aka"), &[], &[(k, &v)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PIN1 is enabled") && out.contains("3 tries left"),
        "{out}"
    );
    let (code, json, out) =
        lab.auth_env("pcsc", &lab.profile("aka"), &["--pin", "2468"], &[(k, &v)]);
    assert_eq!(code, 0, "PIN enabled, given:\n{out}\n{}", lab.logs());
    assert_eq!(json["outcome"], "success");
}

/// EAP-SIM over PC/SC: the virtual USIM answers AUTHENTICATE in the GSM
/// context through pcscd + vpcd, for our `auth --method sim` and for
/// wpa_supplicant's own PC/SC code (eapol_test `eap=SIM`, `pcsc=""`), both
/// against hostapd's EAP-SIM server.
#[test]
fn pcsc_eap_sim_ours_and_wpa_supplicant() {
    if !prerequisites(&["hostapd", "ip", "pcscd", "eapol_test", "unshare", "dpkg"]) {
        return;
    }
    assert!(
        vpcd_driver().exists(),
        "vsmartcard-vpcd (libifdvpcd.so) is not installed"
    );
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let pcsc = Pcsc::start(&lab.peer_ns, lab.dir.path(), &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    assert_eq!(code, 0, "{text}\n{}", pcsc.pcscd.log_text());

    let (k, v) = pcsc.env();
    let (code, json, out) = lab.auth_env("pcsc", &lab.profile("sim"), &[], &[(k, &v)]);
    assert_eq!(code, 0, "auth --sim pcsc, EAP-SIM:\n{out}\n{}", lab.logs());
    assert_eq!(json["method"], "EAP-SIM");
    eprintln!("EAP-SIM with the card behind pcscd: {} ms", json["time_ms"]);

    let before = lab.hss.state.lock().unwrap().triplets;
    let t = std::time::Instant::now();
    let (ok, text) = eapol_test(&lab, &pcsc, "SIM");
    eprintln!(
        "eapol_test SIM via pcsc (process start to exit): {:?}",
        t.elapsed()
    );
    let tail: Vec<&str> = text.lines().rev().take(80).collect();
    assert!(
        ok,
        "eapol_test SIM via pcsc:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        lab.logs()
    );
    assert!(text.contains("MPPE keys OK: 1"), "SIM: MSK mismatch");
    assert!(text.contains("SCARD: IMSI"), "SIM: no IMSI read over PC/SC");
    assert!(
        text.contains(&format!("1{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")),
        "SIM: identity"
    );
    assert!(lab.hss.state.lock().unwrap().triplets > before);
}

/// A 2G SIM (`sim create --gsm-sim`: class A0, DF_GSM, RUN GSM ALGORITHM)
/// through pcscd + vpcd: our `auth --method sim` and wpa_supplicant's PC/SC
/// code (which tells a SIM from a USIM by the `6E 00` to class 00).
#[test]
fn pcsc_2g_sim_ours_and_wpa_supplicant() {
    if !prerequisites(&["hostapd", "ip", "pcscd", "eapol_test", "unshare", "dpkg"]) {
        return;
    }
    assert!(
        vpcd_driver().exists(),
        "vsmartcard-vpcd (libifdvpcd.so) is not installed"
    );
    let lab = Lab::start();
    let sim = lab.dir.path().join("sim2g.toml");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--gsm-sim", "--out"])
        .arg(&sim)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .status()
        .unwrap();
    assert!(st.success());
    let pcsc = Pcsc::start(&lab.peer_ns, lab.dir.path(), &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    assert_eq!(code, 0, "{text}\n{}", pcsc.pcscd.log_text());
    assert!(text.contains("2G SIM") && text.contains(IMSI), "{text}");

    let (k, v) = pcsc.env();
    let (code, json, out) = lab.auth_env("pcsc", &lab.profile("sim"), &[], &[(k, &v)]);
    assert_eq!(code, 0, "auth --sim pcsc, 2G SIM:\n{out}\n{}", lab.logs());
    assert_eq!(json["method"], "EAP-SIM");

    let (ok, text) = eapol_test(&lab, &pcsc, "SIM");
    let tail: Vec<&str> = text.lines().rev().take(80).collect();
    assert!(
        ok,
        "eapol_test SIM with a 2G card via pcsc:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        lab.logs()
    );
    assert!(text.contains("MPPE keys OK: 1"), "2G SIM: MSK mismatch");
    assert!(
        text.contains("SCARD: IMSI"),
        "2G SIM: no IMSI read over PC/SC"
    );
    assert!(
        text.contains("SCARD: USIM is not supported. Trying to use GSM SIM"),
        "wpa_supplicant took the card as a GSM SIM"
    );
}
