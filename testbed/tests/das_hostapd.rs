//! Disconnect through a real NAS: wpa_supplicant -Dwired (external SIM
//! answered by the testbed's soft USIM) → hostapd (wired, accounting on,
//! `radius_das_port`) → our `aaa-server serve` with `[[client]] das`. The
//! station authenticates with EAP-AKA', hostapd's Accounting-Start fills the
//! session table; `subscriber bar` makes the running server send a
//! Disconnect-Request, hostapd finds the station and disconnects it and
//! ACKs; the station's next authentication is rejected as barred.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testbed::bed::Bed;
use testbed::netns::{addr, iface};
use testbed::preflight;
use testbed::process::{Probe, Spec};
use testbed::scenario::{self, Method, RADIUS_SECRET, Subscriber};

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

/// The server's `[metrics] listen` port (on its address in the aaa netns).
const METRICS_PORT: u16 = 9812;

/// The server's /metrics body, fetched from inside its netns (bash's
/// /dev/tcp: no HTTP client needed).
fn scrape(bed: &Bed) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/{}/{METRICS_PORT} && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
        addr::AAA
    );
    run_ok(
        bed,
        &Spec::new("scrape", "/bin/bash")
            .netns(bed.net.aaa.name())
            .args(["-c", &script]),
    )
}

fn run_ok(bed: &Bed, spec: &Spec) -> String {
    let (st, out) = bed.run(spec, Duration::from_secs(10)).unwrap();
    assert!(st.success(), "{}: {out}", spec.command_line());
    out
}

/// A running bed with the station authenticated and its session listed.
struct Up {
    bed: Bed,
    aaa: PathBuf,
    db: PathBuf,
    wctrl: PathBuf,
    hlog: PathBuf,
    alog: PathBuf,
    sub: Subscriber,
}

fn up(test: &str) -> Option<Up> {
    if !preflight::ready_or_skip(test) {
        return None;
    }
    let Some(aaa) = common::bin("aaa-server") else {
        assert!(
            !common::ci(),
            "aaa-server binary missing (cargo build --workspace --bins)"
        );
        eprintln!("NOTE: aaa-server not built; this test did not run");
        return None;
    };
    let mut bed = Bed::new("das-hostapd").unwrap();
    let sub = Subscriber::demo();
    let db = bed.dir.join("subscribers.db");
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
        "listen = \"{aaa_ip}:1812\"\naccounting_listen = \"{aaa_ip}:1813\"\n\
         [[client]]\nname = \"ap\"\nnetwork = \"{net}\"\nsecret = \"{RADIUS_SECRET}\"\n\
         das = \"{ap}:3799\"\n\
         [hss]\ndatabase = \"{db}\"\n[eap]\nmethods = [\"aka-prime\"]\nnetwork_name = \"WLAN\"\n\
         [metrics]\nlisten = \"{aaa_ip}:{METRICS_PORT}\"\n",
        aaa_ip = addr::AAA,
        net = addr::NETWORK,
        ap = addr::AP,
        db = db.display()
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
    let hctrl = bed.dir.subdir("hostapd-ctrl").unwrap();
    let hconf = format!(
        "{}acct_server_addr={aaa_ip}\nacct_server_port=1813\nacct_server_shared_secret={RADIUS_SECRET}\n\
         radius_das_port=3799\nradius_das_client={aaa_ip} {RADIUS_SECRET}\n\
         radius_das_require_event_timestamp=1\nradius_das_require_message_authenticator=1\n",
        scenario::hostapd_wired(&hctrl, 1812),
        aaa_ip = addr::AAA,
    );
    let hconf = bed.dir.write("hostapd-das.conf", &hconf).unwrap();
    bed.start(
        &Spec::new("hostapd-das", testbed::tools::find("hostapd").unwrap())
            .netns(bed.net.ap.name())
            .arg("-dd")
            .arg(&hconf),
        &Probe::CtrlPing(hctrl.join(iface::AP_STA)),
    )
    .unwrap();
    let hlog = bed.dir.join("hostapd-das.log");
    let alog = bed.dir.join("aaa-server.log");

    let wctrl = bed
        .start_wpa_supplicant(Method::AkaPrime, &sub.permanent_nai(Method::AkaPrime))
        .unwrap();
    bed.attach_extsim(&wctrl, &sub).unwrap();
    bed.kick_wpa_supplicant(&wctrl).unwrap();
    let st = bed.wait_eap_state(&wctrl, Duration::from_secs(10)).unwrap();
    let eap = st
        .iter()
        .find(|(k, _)| k == "EAP state")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        eap,
        Some("SUCCESS"),
        "{st:?}\n{}",
        std::fs::read_to_string(&alog).unwrap_or_default()
    );

    // hostapd's Accounting-Start reaches the session table.
    let t0 = Instant::now();
    let mut listed = String::new();
    while t0.elapsed() < Duration::from_secs(10) && !listed.contains(&sub.imsi) {
        listed = run_ok(
            &bed,
            &Spec::new("session-list", &aaa)
                .args(["session", "list", "--db"])
                .arg(&db),
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(listed.contains(&sub.imsi), "no session:\n{listed}");
    eprintln!("session table:\n{listed}");
    Some(Up {
        bed,
        aaa,
        db,
        wctrl,
        hlog,
        alog,
        sub,
    })
}

#[test]
fn barring_a_connected_subscriber_disconnects_it_through_hostapd_das() {
    let Some(Up {
        bed,
        aaa,
        db,
        wctrl,
        hlog,
        alog,
        sub,
    }) = up("barring_a_connected_subscriber_disconnects_it_through_hostapd_das")
    else {
        return;
    };

    // Bar: the running server disconnects the station through hostapd's DAS.
    let barred_at = Instant::now();
    run_ok(
        &bed,
        &Spec::new("subscriber-bar", &aaa)
            .args(["subscriber", "bar", "--db"])
            .arg(&db)
            .args(["--imsi", &sub.imsi]),
    );
    let found = wait_file(
        &hlog,
        "RADIUS DAS: Found a matching session",
        Duration::from_secs(10),
    );
    assert!(
        found.is_some(),
        "hostapd did not disconnect:\n{}\naaa-server:\n{}",
        std::fs::read_to_string(&hlog)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n"),
        std::fs::read_to_string(&alog).unwrap_or_default()
    );
    let ack = wait_file(
        &alog,
        "Disconnect-Request acknowledged (ACK)",
        Duration::from_secs(10),
    );
    assert!(
        ack.is_some(),
        "{}",
        std::fs::read_to_string(&alog).unwrap_or_default()
    );
    eprintln!(
        "bar → hostapd disconnect and ACK in {:?}: {}",
        barred_at.elapsed(),
        found.unwrap_or_default()
    );

    // The station authenticates again (it may already have, by itself) and
    // is rejected as barred. (hostapd then holds the port for its 60 s
    // quietPeriod; `unbar` → success is in aaa-server's authz_eapol_test.)
    run_ok(
        &bed,
        &Spec::new(
            "wpa_cli-reauthenticate",
            testbed::tools::find("wpa_cli").unwrap(),
        )
        .netns(bed.net.sta.name())
        .arg("-p")
        .arg(wctrl.parent().unwrap())
        .args(["-i", iface::STA, "reauthenticate"]),
    );
    let barred = wait_file(&alog, "result=subscriber barred", Duration::from_secs(10));
    assert!(
        barred.is_some_and(|l| l.contains("authentication finished")),
        "{}",
        std::fs::read_to_string(&alog).unwrap_or_default()
    );
}

/// A group change reaches the connected station's NAS as a CoA-Request
/// carrying the new reply attributes; hostapd 2.10 takes CoA only for
/// HS 2.0 T&C filtering and NAKs it, so the server sends a
/// Disconnect-Request, which hostapd ACKs (all three counted at /metrics,
/// `aaa_das_*`). Authenticating again, the station
/// gets the group's Session-Timeout and hostapd re-authenticates it at that
/// interval.
#[test]
fn a_group_change_sends_coa_then_disconnect_when_hostapd_naks_it() {
    let Some(Up {
        bed,
        aaa,
        db,
        wctrl,
        hlog,
        alog,
        sub,
    }) = up("a_group_change_sends_coa_then_disconnect_when_hostapd_naks_it")
    else {
        return;
    };
    let cli = |args: &[&str]| {
        run_ok(
            &bed,
            &Spec::new("subscriber", &aaa)
                .arg("subscriber")
                .args(args)
                .arg("--db")
                .arg(&db),
        )
    };
    // The server's watcher (every 250 ms) learns what the session was given.
    std::thread::sleep(Duration::from_secs(1));
    cli(&[
        "group",
        "add",
        "gold",
        "--session-timeout",
        "3",
        "--termination-action",
        "radius-request",
    ]);
    cli(&["set", "--imsi", &sub.imsi, "--group", "gold"]);
    let coa = wait_file(&alog, "CoA-Request sent", Duration::from_secs(10));
    assert!(
        coa.as_deref()
            .is_some_and(|l| l.contains("reply attributes changed")),
        "{}",
        std::fs::read_to_string(&alog).unwrap_or_default()
    );
    let nak = wait_file(&alog, "CoA-Request refused (NAK)", Duration::from_secs(10));
    let ack = wait_file(
        &alog,
        "Disconnect-Request acknowledged (ACK)",
        Duration::from_secs(10),
    );
    let hostapd: Vec<String> = std::fs::read_to_string(&hlog)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("RADIUS DAS"))
        .map(str::to_string)
        .collect();
    eprintln!("CoA: {nak:?}\nDisconnect: {ack:?}\nhostapd: {hostapd:#?}");
    assert!(
        nak.is_some() && ack.is_some(),
        "{}",
        std::fs::read_to_string(&alog).unwrap_or_default()
    );
    // The same at /metrics: hostapd's CoA-NAK by its Error-Cause, the
    // fallback Disconnect-Request and its ACK.
    let body = scrape(&bed);
    let das: Vec<&str> = body.lines().filter(|l| l.starts_with("aaa_das_")).collect();
    eprintln!("aaa_das_*:\n{}", das.join("\n"));
    for sample in [
        "aaa_das_requests_total{kind=\"coa\"} 1",
        "aaa_das_requests_total{kind=\"disconnect\"} 1",
        "aaa_das_naks_total{kind=\"coa\",error_cause=\"401\"} 1",
        "aaa_das_acks_total{kind=\"disconnect\"} 1",
        "aaa_das_coa_fallbacks_total 1",
    ] {
        assert!(das.contains(&sample), "{sample} not in\n{body}");
    }
    assert!(
        hostapd.iter().any(|l| l.contains("disconnecting")),
        "{hostapd:#?}"
    );

    // The station authenticates again (by itself after the disconnect) and
    // now gets the group's Session-Timeout 3 s with Termination-Action
    // RADIUS-Request: hostapd re-authenticates it when that runs out — a
    // success about 3 s after the previous one, nothing else triggering it.
    let seconds = |l: &str| -> Option<f64> {
        let t = l
            .split_whitespace()
            .next()?
            .split('T')
            .nth(1)?
            .trim_end_matches('Z');
        let mut p = t.split(':');
        let h: f64 = p.next()?.parse().ok()?;
        let m: f64 = p.next()?.parse().ok()?;
        let s: f64 = p.next()?.parse().ok()?;
        Some(h * 3600.0 + m * 60.0 + s)
    };
    let successes = || -> Vec<(f64, String)> {
        std::fs::read_to_string(&alog)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("authentication finished") && l.contains("result=success"))
            .filter_map(|l| Some((seconds(l)?, l.to_string())))
            .collect()
    };
    let periodic = |v: &[(f64, String)]| v.windows(2).any(|w| w[1].0 - w[0].0 >= 2.5);
    let first = successes().len();
    std::thread::sleep(Duration::from_secs(1));
    if successes().len() == first {
        // It did not come back by itself: EAPOL-Start through wpa_cli.
        run_ok(
            &bed,
            &Spec::new(
                "wpa_cli-reauthenticate",
                testbed::tools::find("wpa_cli").unwrap(),
            )
            .netns(bed.net.sta.name())
            .arg("-p")
            .arg(wctrl.parent().unwrap())
            .args(["-i", iface::STA, "reauthenticate"]),
        );
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(15) && !periodic(&successes()) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = successes();
    eprintln!(
        "authentications:\n{}",
        v.iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        periodic(&v),
        "no re-authentication at Session-Timeout: {v:#?}"
    );
}
