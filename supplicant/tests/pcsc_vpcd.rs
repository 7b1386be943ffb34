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
