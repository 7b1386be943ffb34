//! `[metrics] listen`: `aaa-server serve` with the endpoint on, an accept
//! (hostap's eapol_test), a reject (unknown subscriber) and a packet signed
//! with the wrong shared secret; the scrape is read over HTTP, its counters
//! checked, and Prometheus's own `promtool check metrics` must accept it.
//! The Grafana dashboard in docs/ may only use metric names a real scrape has.

mod common;

use common::{
    SECRET, Server, identity_access_request, sign_ma_last, tool, usim_answer, vector_subscriber,
};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

const NAS: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

/// Starts a server with the metrics endpoint on a free loopback port.
fn start(subscribers: &[(String, [u8; 16], [u8; 16], Sqn)]) -> (Server, SocketAddr) {
    let server = Server::start_with(
        "\"aka-prime\", \"aka\"",
        subscribers,
        "[metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let line = server
        .wait_log("metrics endpoint listening")
        .unwrap_or_else(|| panic!("no metrics line: {:#?}", server.logs()));
    let start = line.find("addr=").expect("addr field") + 5;
    let addr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (server, addr)
}

/// GET /metrics with `accept` (if any): (headers, body).
fn scrape(addr: SocketAddr, accept: Option<&str>) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{accept}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    (head.to_string(), body.to_string())
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{body}"))
}

/// Sends `datagram` to the auth port; the reply's code, if one comes within 5 s.
fn send(server: &Server, datagram: &[u8]) -> Option<u8> {
    send_wait(server, datagram, Duration::from_secs(5))
}

/// As [`send`], waiting `wait` for the reply.
fn send_wait(server: &Server, datagram: &[u8], wait: Duration) -> Option<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(datagram, server.auth).unwrap();
    let mut buf = [0u8; 4096];
    s.recv(&mut buf).ok().map(|_| buf[0])
}

/// `promtool check metrics` (Debian's prometheus package) on `text`.
fn promtool_check(bin: &std::path::Path, text: &str) -> (bool, String) {
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn counters_move_and_promtool_accepts_the_scrape() {
    let (Some(eapol), Some(promtool)) = (tool("eapol_test"), tool("promtool")) else {
        return;
    };
    let (imsi, k, opc) = vector_subscriber(0);
    let (server, addr) = start(&[(imsi.clone(), k, opc, Sqn::default())]);
    let client = "127.0.0.1/32";

    // An accept: EAP-AKA' with a real peer.
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let (ok, stdout, _) = common::eapol_test_external_sim(
        &eapol,
        SECRET,
        server.auth.port(),
        "AKA'",
        &format!("  identity=\"6{imsi}@{NAS}\"\n"),
        0,
        |rand, autn| usim_answer(&keys, rand, autn),
    );
    assert!(ok, "eapol_test failed:\n{stdout}\n{:#?}", server.logs());

    // A reject: a subscriber the store does not have.
    let unknown = identity_access_request(1, &format!("6001019999999999@{NAS}"));
    assert_eq!(send(&server, &unknown), Some(3), "Access-Reject");

    // A packet from a NAS with the wrong shared secret: dropped, and said so.
    let wrong = sign_ma_last(
        identity_access_request(2, &format!("6{imsi}@{NAS}")),
        b"not-the-secret",
    );
    assert_eq!(
        send_wait(&server, &wrong, Duration::from_millis(500)),
        None,
        "no answer to a bad Message-Authenticator"
    );
    let warn = server
        .wait_log("wrong shared secret?")
        .unwrap_or_else(|| panic!("no drop warning: {:#?}", server.logs()));
    assert!(warn.contains("WARN"), "{warn}");
    assert!(warn.contains("from 127.0.0.1"), "{warn}");
    assert!(warn.contains("client=\"127.0.0.1/32\""), "{warn}");
    eprintln!("{warn}");
    // Two more within the 10 s window: counted, not logged again.
    for id in [3, 4] {
        let again = sign_ma_last(
            identity_access_request(id, &format!("6{imsi}@{NAS}")),
            b"not-the-secret",
        );
        assert_eq!(send_wait(&server, &again, Duration::from_millis(500)), None);
    }

    let (head, body) = scrape(addr, None);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let v = |s: &str| value(&body, s);
    assert_eq!(v(r#"aaa_auth_accepts_total{method="aka_prime"}"#), 1.0);
    assert_eq!(v(r#"aaa_auth_rejects_total{method="aka_prime"}"#), 1.0);
    assert_eq!(
        v(r#"aaa_auth_reject_reasons_total{reason="unknown_subscriber"}"#),
        1.0
    );
    assert_eq!(
        v(&format!(
            r#"aaa_radius_responses_total{{client="{client}",code="access_accept"}}"#
        )),
        1.0
    );
    assert_eq!(
        v(&format!(
            r#"aaa_radius_responses_total{{client="{client}",code="access_reject"}}"#
        )),
        1.0
    );
    assert!(
        v(&format!(
            r#"aaa_radius_responses_total{{client="{client}",code="access_challenge"}}"#
        )) >= 1.0
    );
    assert_eq!(
        v(&format!(
            r#"aaa_radius_dropped_total{{client="{client}",reason="bad_authenticator"}}"#
        )),
        3.0
    );
    let warned = server
        .logs()
        .iter()
        .filter(|l| l.contains("wrong shared secret?"))
        .count();
    assert_eq!(warned, 1, "rate-limited per client and reason");
    // Every parsed request from the client, the wrong-secret one included.
    let requests = v(&format!(
        r#"aaa_radius_requests_total{{client="{client}",code="access_request"}}"#
    ));
    let received = v("aaa_radius_received_total");
    assert!(requests >= 6.0, "{requests}");
    assert_eq!(requests, received);
    assert_eq!(
        v(r#"aaa_auth_duration_seconds_count{method="aka_prime"}"#),
        2.0
    );
    assert_eq!(v(r#"aaa_hss_call_errors_total{call="vector"}"#), 1.0);
    assert!(v(r#"aaa_hss_call_duration_seconds_count{call="vector"}"#) >= 1.0);
    assert_eq!(v("aaa_sqn_reservations_total"), 1.0);
    assert_eq!(v("aaa_eap_sessions"), 0.0);
    assert_eq!(v("aaa_privacy_decrypt_failures_total"), 0.0);
    assert_eq!(v("aaa_auth_log_lines_dropped_total"), 0.0);

    let (passed, report) = promtool_check(&promtool, &body);
    assert!(passed, "promtool check metrics:\n{report}\n{body}");
    eprintln!(
        "scrape: {} bytes, {} samples; promtool: ok\n{}",
        body.len(),
        body.lines().filter(|l| !l.starts_with('#')).count(),
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with(" 0") && !l.contains("_bucket"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // OpenMetrics when asked for (what Prometheus asks for first).
    let (head, om) = scrape(
        addr,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    );
    assert!(
        head.contains("Content-Type: application/openmetrics-text"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE aaa_auth_accepts counter"));
    // Debian's promtool 2.42 parses only the classic text: what it says of
    // the OpenMetrics text is printed, not asserted (Prometheus itself reads both).
    let (om_ok, om_report) = promtool_check(&promtool, &om);
    eprintln!(
        "promtool on OpenMetrics text: ok={om_ok} {}",
        om_report.trim()
    );

    assert!(server.stop().success());
}

#[test]
fn shutdown_counters_are_fields() {
    let (imsi, k, opc) = vector_subscriber(1);
    let (server, _) = start(&[(imsi, k, opc, Sqn::default())]);
    let unknown = identity_access_request(1, &format!("6001019999999999@{NAS}"));
    assert_eq!(send(&server, &unknown), Some(3));
    let logs = server_logs_after_stop(server);
    let line = logs
        .iter()
        .find(|l| l.contains("stopped"))
        .unwrap_or_else(|| panic!("no stopped line: {logs:#?}"));
    assert!(!line.contains("Counters {"), "{line}");
    assert!(line.contains("received=1"), "{line}");
    assert!(line.contains("rejected_by_store=1"), "{line}");
    assert!(line.contains("bad_authenticator=0"), "{line}");
    eprintln!("{line}");
}

/// SIGTERM, then every log line (the shutdown line included).
fn server_logs_after_stop(server: Server) -> Vec<String> {
    let logs = server.logs_handle();
    assert!(server.stop().success());
    for _ in 0..200 {
        if logs().iter().any(|l| l.contains("stopped")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    logs()
}

/// Metric names in the dashboard's queries (`expr`, template `query` and
/// `definition` strings).
fn dashboard_names(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(s)) = (
                    matches!(k.as_str(), "expr" | "query" | "definition"),
                    v.as_str(),
                ) {
                    let mut rest = s;
                    while let Some(i) = rest.find("aaa_") {
                        let name: String = rest[i..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        rest = &rest[i + name.len()..];
                        out.insert(name);
                    }
                }
                dashboard_names(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| dashboard_names(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_uses_only_scraped_metrics() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana-dashboard.json"
    );
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut used = BTreeSet::new();
    dashboard_names(&dash, &mut used);
    assert!(used.len() >= 10, "{used:?}");

    let (imsi, k, opc) = vector_subscriber(2);
    let (server, addr) = start(&[(imsi, k, opc, Sqn::default())]);
    // A reject, so that the reject-reason family has a series.
    let unknown = identity_access_request(1, &format!("6001019999999999@{NAS}"));
    assert_eq!(send(&server, &unknown), Some(3));
    let (_, body) = scrape(addr, None);
    let scraped: BTreeSet<String> = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect();
    let missing: Vec<_> = used.difference(&scraped).collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics the server does not expose: {missing:?}\nscraped: {scraped:?}"
    );
    // docs/metrics.md lists every metric exposed.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
        .unwrap();
    let undocumented: Vec<_> = scraped
        .iter()
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
        })
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/metrics.md: {undocumented:?}"
    );
    assert!(server.stop().success());
}
