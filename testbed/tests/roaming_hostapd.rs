//! Roaming through a real NAS: wpa_supplicant -Dwired (EAP-PEAP/MSCHAPv2)
//! ⇄ EAPOL over the station—AP veth ⇄ hostapd (wired, `auth_server_addr` =
//! our server) → `aaa-server serve` as proxy (`[[realm]] action = "proxy"`)
//! → RadSec → FreeRADIUS 3.2 as the home server, which runs the EAP.
//! Our server and FreeRADIUS share the AAA namespace (RadSec on its
//! loopback); the WBA-like 4-level test PKI and the FreeRADIUS launcher
//! come from aaa-server/tests/common (pki.rs, freeradius.rs).
//!
//! The station reaches EAP SUCCESS (CTRL-EVENT-CONNECTED) and hostapd
//! authorizes its port; the MS-MPPE keys FreeRADIUS sent (encrypted with the
//! RadSec secret), the ones hostapd decrypted with its own RADIUS secret and
//! the MSK wpa_supplicant derived are one key: our proxy re-encrypted them
//! per hop. Needs root, hostapd, wpa_supplicant, FreeRADIUS
//! and the `aaa-server` binary; under CI=true a missing one fails the test.

mod common;
#[path = "../../aaa-server/tests/common/freeradius.rs"]
mod freeradius;
#[path = "../../aaa-server/tests/common/pki.rs"]
mod pki;

use std::path::Path;
use std::time::{Duration, Instant};
use testbed::bed::Bed;
use testbed::netns::{addr, iface};
use testbed::preflight;
use testbed::process::{Probe, Spec};
use testbed::scenario::{self, RADIUS_SECRET, Subscriber};

/// FreeRADIUS's RadSec port on the AAA namespace's loopback.
const RADSEC_PORT: u16 = 2083;

fn run_ok(bed: &Bed, spec: &Spec) -> String {
    let (st, out) = bed.run(spec, Duration::from_secs(10)).unwrap();
    assert!(st.success(), "{}: {out}", spec.command_line());
    out
}

fn wait_file(path: &Path, needle: &str, timeout: Duration) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(needle)) {
            return Some(l.to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn peap_through_hostapd_and_our_proxy_over_radsec_to_freeradius() {
    let test = "peap_through_hostapd_and_our_proxy_over_radsec_to_freeradius";
    if !preflight::ready_or_skip(test) {
        return;
    }
    let Some(aaa) = common::bin("aaa-server") else {
        assert!(
            !common::ci(),
            "aaa-server binary missing (cargo build --workspace --bins)"
        );
        eprintln!("NOTE: aaa-server not built; this test did not run");
        return;
    };
    let Some(fr_bin) = freeradius::freeradius() else {
        return;
    };
    let mut bed = Bed::new("roaming-hostapd").unwrap();

    // FreeRADIUS: RadSec listener and PEAP server, one leaf from the test PKI.
    let pki = pki::Pki::wba_like();
    let home = pki.leaf(
        "freeradius-home",
        "aaa.partner.example",
        &["DNS:aaa.partner.example", "IP:127.0.0.1"],
    );
    let visited = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    let fr_dir = bed.dir.subdir("freeradius").unwrap();
    std::fs::write(
        fr_dir.join("users"),
        "alice Cleartext-Password := \"wonderland\"\n",
    )
    .unwrap();
    freeradius::write_config(
        &fr_dir,
        &freeradius::home_body(&pki, &home, &home, RADSEC_PORT),
    );
    bed.start(
        &Spec::new("freeradius", &fr_bin)
            .netns(bed.net.aaa.name())
            .args(freeradius::ARGS)
            .arg(&fr_dir),
        &Probe::LogLine(freeradius::READY.into()),
    )
    .unwrap();
    let fr_log = bed.dir.join("freeradius.log");

    // Our server: hostapd's RADIUS server, a proxy for *.partner.example.
    // Its subscriber store is required by the configuration and unused here.
    let db = bed.dir.join("subscribers.db");
    let sub = Subscriber::demo();
    run_ok(
        &bed,
        &Spec::new("subscriber-add", &aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args([
                "--imsi", &sub.imsi, "--k", &sub.k, "--opc", &sub.opc, "--amf", &sub.amf, "--sqn",
                &sub.sqn,
            ]),
    );
    let toml = format!(
        "listen = \"{aaa_ip}:1812\"\n\
         [[client]]\nname = \"ap\"\nnetwork = \"{net}\"\nsecret = \"{RADIUS_SECRET}\"\n\
         [hss]\ndatabase = \"{db}\"\n[eap]\nmethods = [\"aka-prime\"]\nnetwork_name = \"WLAN\"\n\
         [[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
         servers = [\"radsec://127.0.0.1:{RADSEC_PORT}\"]\n\
         [tls_client]\ncertificate = \"{cert}\"\nprivate_key = \"{key}\"\nca = \"{ca}\"\n\
         [proxy]\ntimeout = 5\nretries = 0\noperator_name = \"1visited.example\"\n",
        aaa_ip = addr::AAA,
        net = addr::NETWORK,
        db = db.display(),
        cert = visited.chain.display(),
        key = visited.key.display(),
        ca = pki.root_pem.display(),
    );
    let conf = bed.dir.write("aaa.toml", &toml).unwrap();
    bed.start(
        &Spec::new("aaa-server", &aaa)
            .netns(bed.net.aaa.name())
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info"),
        &Probe::UdpBound(1812),
    )
    .unwrap();
    let alog = bed.dir.join("aaa-server.log");

    // hostapd: the wired authenticator, RADIUS to our server.
    let hctrl = bed.dir.subdir("hostapd-ctrl").unwrap();
    let hconf = bed
        .dir
        .write(
            "hostapd-roaming.conf",
            &scenario::hostapd_wired(&hctrl, 1812),
        )
        .unwrap();
    bed.start(
        &Spec::new("hostapd-roaming", testbed::tools::find("hostapd").unwrap())
            .netns(bed.net.ap.name())
            .args(["-dd", "-K"])
            .arg(&hconf),
        &Probe::CtrlPing(hctrl.join(iface::AP_STA)),
    )
    .unwrap();
    let hlog = bed.dir.join("hostapd-roaming.log");

    // wpa_supplicant: PEAP/MSCHAPv2, the outer identity in the partner's
    // realm, the server certificate checked against the test root.
    let wctrl_dir = bed.dir.subdir("wpas-ctrl").unwrap();
    let wconf = bed
        .dir
        .write(
            "wpa_supplicant-peap.conf",
            &format!(
                "ctrl_interface={}\nap_scan=0\neapol_version=2\n\
                 network={{\n  key_mgmt=IEEE8021X\n  eapol_flags=0\n  eap=PEAP\n\
                 \x20 identity=\"alice\"\n  anonymous_identity=\"anonymous@wlan.partner.example\"\n\
                 \x20 password=\"wonderland\"\n  phase2=\"auth=MSCHAPV2\"\n  ca_cert=\"{}\"\n\
                 \x20 domain_suffix_match=\"partner.example\"\n}}\n",
                wctrl_dir.display(),
                pki.root_pem.display()
            ),
        )
        .unwrap();
    let wctrl = wctrl_dir.join(iface::STA);
    bed.start(
        &Spec::new(
            "wpa_supplicant",
            testbed::tools::find("wpa_supplicant").unwrap(),
        )
        .netns(bed.net.sta.name())
        .args(["-Dwired", "-i", iface::STA, "-dd", "-K", "-t", "-c"])
        .arg(&wconf),
        &Probe::CtrlPing(wctrl.clone()),
    )
    .unwrap();
    let wlog = bed.dir.join("wpa_supplicant.log");
    bed.kick_wpa_supplicant(&wctrl).unwrap();
    let st = bed.wait_eap_state(&wctrl, Duration::from_secs(20)).unwrap();
    let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let tail = |p: &Path| {
        let t = text(p);
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    let eap = st
        .iter()
        .find(|(k, _)| k == "EAP state")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        eap,
        Some("SUCCESS"),
        "{st:?}\nwpa_supplicant:\n{}\nhostapd:\n{}\naaa-server:\n{}\nfreeradius:\n{}",
        tail(&wlog),
        tail(&hlog),
        text(&alog),
        tail(&fr_log)
    );
    let connected = wait_file(&wlog, "CTRL-EVENT-CONNECTED", Duration::from_secs(5));
    assert!(connected.is_some(), "{}", tail(&wlog));
    // hostapd authorized the port, after taking the MSK from the Accept.
    let authorized = wait_file(
        &hlog,
        "IEEE 802.1X: authorizing port",
        Duration::from_secs(5),
    );
    assert!(authorized.is_some(), "{}", tail(&hlog));
    eprintln!("hostapd: {authorized:?}\nwpa_supplicant: {connected:?}");

    // One MSK at all three: the MS-MPPE keys FreeRADIUS sent (encrypted
    // with the RadSec secret), the keys hostapd decrypted with its own
    // secret (so our proxy re-encrypted them), and the key wpa_supplicant
    // derived (RFC 3079: MSK = MS-MPPE-Recv-Key | MS-MPPE-Send-Key).
    // hostapd and wpa_supplicant print keys only with -K (test keys here).
    let fr_out = text(&fr_log);
    let accept = fr_out
        .split("Sent Access-Accept")
        .nth(1)
        .unwrap_or_else(|| panic!("no Access-Accept from FreeRADIUS:\n{}", tail(&fr_log)));
    let fr_key = |name: &str| {
        accept
            .lines()
            .find_map(|l| l.split(&format!("{name} = 0x")).nth(1))
            .map(|h| h.trim().to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{name} not in FreeRADIUS's Access-Accept:\n{accept}"))
    };
    let hexdump = |log: &str, label: &str| {
        log.lines()
            .find_map(|l| l.split(&format!("{label} - hexdump(")).nth(1))
            .and_then(|h| h.split("): ").nth(1))
            .map(|h| h.split_whitespace().collect::<String>())
            .unwrap_or_else(|| panic!("no {label} hexdump"))
    };
    let (recv, send) = (fr_key("MS-MPPE-Recv-Key"), fr_key("MS-MPPE-Send-Key"));
    let h = text(&hlog);
    assert_eq!(hexdump(&h, "MS-MPPE-Recv-Key"), recv, "hostapd's Recv-Key");
    assert_eq!(hexdump(&h, "MS-MPPE-Send-Key"), send, "hostapd's Send-Key");
    let msk = hexdump(&text(&wlog), "EAP-PEAP: Derived key");
    assert_eq!(msk, format!("{recv}{send}"), "wpa_supplicant's MSK");
    eprintln!(
        "MSK: FreeRADIUS = hostapd = wpa_supplicant ({} octets)",
        msk.len() / 2
    );

    // The proxy proxied and ran no EAP; FreeRADIUS authenticated the inner
    // identity and saw our Operator-Name (RFC 5580).
    assert!(
        wait_file(&alog, "proxied", Duration::from_secs(1)).is_some(),
        "{}",
        text(&alog)
    );
    assert!(
        !text(&alog).contains("authentication finished"),
        "the proxy ran no EAP"
    );
    assert!(fr_out.contains("Login OK: [alice"), "{}", tail(&fr_log));
    assert!(
        fr_out.contains("Operator-Name = \"1visited.example\""),
        "{}",
        tail(&fr_log)
    );
}
