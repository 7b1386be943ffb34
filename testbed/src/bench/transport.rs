//! `testbed bench --transport udp,radsec`: EAP-AKA' against one
//! `aaa-server serve` that listens on RADIUS/UDP and on RadSec (RFC 6614),
//! the transports alternating at every concurrency level of the sweep:
//! UDP, RadSec over one TLS connection, RadSec over 16 (at most one per
//! authentication in flight). A fresh server per point; the same store,
//! the same subscribers, the same checks as the UDP sweep.
//!
//! The RadSec client is [`crate::loadgen::radsec`]: tokio-rustls with a
//! certificate of a test CA made per run ([`crate::pki`]), requests
//! multiplexed on a connection by Identifier (at most 256 in flight). The
//! server runs with `radsec.max_in_flight = 256` so that one connection is
//! not held to the default 64.

use super::{Bed, Guard, Load, Running, ServerKind, cpu_time_of, free_udp_port, us_per_auth};
use crate::loadgen::auth::Nas;
use crate::loadgen::engine::Stop;
use crate::loadgen::radsec::{self, TlsClient};
use crate::loadgen::subscribers::Card;
use crate::loadgen::{self as lg, Latency, MethodArg, Summary};
use crate::pki::{Leaf, Pki};
use serde::Serialize;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

/// How the load generator reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// RADIUS over UDP (RFC 2865), the sweep.
    Udp,
    /// RADIUS over TLS (RFC 6614): adds the transport comparison.
    Radsec,
}

/// The most TLS connections of the comparison.
pub const MANY_CONNECTIONS: usize = 16;

/// One point of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TransportPoint {
    /// `udp` or `radsec`.
    pub transport: Transport,
    /// TLS connections (`null` for UDP).
    pub connections: Option<usize>,
    /// Always `aka-prime`.
    pub method: MethodArg,
    /// Authentications in flight.
    pub concurrency: usize,
    /// Successful full authentications per second.
    pub auths_per_sec: f64,
    /// Latency percentiles, milliseconds.
    #[serde(flatten)]
    pub latency: Latency,
    /// Failed authentications.
    pub failures: u64,
    /// Failures by reason.
    pub failures_by_reason: std::collections::BTreeMap<String, u64>,
    /// RADIUS requests per second.
    pub requests_per_sec: f64,
    /// Server CPU per successful authentication, µs.
    pub server_cpu_us_per_auth: Option<f64>,
    /// Load generator CPU, percent of one core.
    pub loadgen_cpu_percent: f64,
    /// Server RSS after the point, KiB.
    pub server_rss_kib: u64,
}

/// The `"transport"` section of bench.json.
#[derive(Debug, Clone, Serialize)]
pub struct TransportReport {
    /// Seconds of load per point.
    pub seconds_per_point: f64,
    /// What the connections negotiated (version / cipher suite) and the certificates.
    pub tls: String,
    /// Every point, in run order.
    pub points: Vec<TransportPoint>,
}

impl TransportPoint {
    fn new(transport: Transport, connections: Option<usize>, s: &Summary) -> Self {
        Self {
            transport,
            connections,
            method: s.method,
            concurrency: s.concurrency,
            auths_per_sec: s.auths_per_sec,
            latency: s.latency,
            failures: s.failures,
            failures_by_reason: s.failures_by_reason.clone(),
            requests_per_sec: s.requests_per_sec,
            server_cpu_us_per_auth: s.server_cpu_us_per_auth,
            loadgen_cpu_percent: s.loadgen_cpu_percent,
            server_rss_kib: s.server_rss.map_or(0, |r| r.rss_kib),
        }
    }

    /// `udp`, `radsec x1`, `radsec x16`.
    pub fn label(&self) -> String {
        match (self.transport, self.connections) {
            (Transport::Radsec, Some(n)) => format!("radsec x{n}"),
            _ => "udp".into(),
        }
    }
}

/// The TLS connection counts at concurrency `c`: one, and
/// [`MANY_CONNECTIONS`] when `c` is at least that.
pub fn connection_counts(c: usize) -> Vec<usize> {
    if c >= MANY_CONNECTIONS {
        vec![1, MANY_CONNECTIONS]
    } else {
        vec![1]
    }
}

/// The server's certificate and ours, from a CA made in the bench's work dir.
struct Certificates {
    pki: Pki,
    server: Leaf,
    client: Leaf,
}

fn certificates(bed: &Bed) -> Result<Certificates, String> {
    let dir = bed.dir.join("pki");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pki = Pki::new(&dir)?;
    let server = pki.leaf("server", "aaa.home.example", &["IP:127.0.0.1"])?;
    let client = pki.leaf(
        "loadgen",
        "loadgen.visited.example",
        &["DNS:loadgen.visited.example"],
    )?;
    Ok(Certificates {
        pki,
        server,
        client,
    })
}

fn free_tcp_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("TCP bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("TCP local_addr: {e}"))
}

/// `aaa-server serve` on UDP and RadSec; returns it and the RadSec address.
fn start_server(bed: &mut Bed, certs: &Certificates) -> Result<(Running, SocketAddr), String> {
    bed.runs += 1;
    let port = free_udp_port()?;
    let acct = free_udp_port()?;
    let tls_port = free_tcp_port()?;
    let conf = bed.dir.join(format!("aaa-radsec-{}.toml", bed.runs));
    let (sessions_timeout, max_sessions) = super::SWEEP_SESSIONS;
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:{port}\"\naccounting_listen = \"127.0.0.1:{acct}\"\n\n\
             [[client]]\nname = \"bench\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"{}\"\n\n\
             [hss]\ndatabase = \"{}\"\n\n[eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\n\
             network_name = \"WLAN\"\nsession_timeout = {sessions_timeout}\n\
             max_sessions = {max_sessions}\n\n\
             [radsec]\nlisten = \"127.0.0.1:{tls_port}\"\ncertificate = \"{}\"\n\
             private_key = \"{}\"\nca = \"{}\"\nmax_in_flight = 256\n\n\
             [[radsec.client]]\nname = \"loadgen\"\nsubject_alt_name = \"loadgen.visited.example\"\n",
            super::SECRET,
            bed.db.display(),
            certs.server.cert.display(),
            certs.server.key.display(),
            certs.pki.ca.display(),
        ),
    )
    .map_err(|e| format!("{}: {e}", conf.display()))?;
    let log = bed.dir.join(format!("aaa-radsec-{}.log", bed.runs));
    let mut cmd = Command::new(&bed.aaa_server);
    cmd.arg("serve").arg("--config").arg(&conf);
    let mut guard = Guard::spawn("aaa-server serve", cmd, &log)?;
    let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let r = super::wait_until(
        "aaa-server serve (UDP and RadSec)",
        Duration::from_secs(10),
        || super::udp_port_bound(port) && TcpStream::connect(tls_addr).is_ok(),
    );
    guard.check_alive(&log)?;
    r?;
    Ok((
        Running {
            guard,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        },
        tls_addr,
    ))
}

/// One RadSec point against `running`.
fn radsec_point(
    running: &mut Running,
    tls_addr: SocketAddr,
    tls: &TlsClient,
    concurrency: usize,
    connections: usize,
    duration: Duration,
    cards: &mut Vec<Card>,
) -> Result<Summary, String> {
    let load = radsec::Load {
        server: tls_addr,
        nas: Nas {
            identifier: b"testbed-bench".to_vec(),
            secret: radsec::SECRET.to_vec(),
            require_ma_first: true,
        },
        concurrency,
        connections,
        stop: Stop::Duration(duration),
        method: MethodArg::AkaPrime.method(),
        timeout: Duration::from_millis(1000),
        retries: 2,
    };
    let pid = running.guard.pid();
    let before = cpu_time_of(pid);
    let r = radsec::drive(&load, tls, cards)?;
    let after = cpu_time_of(pid);
    running.guard.check_alive(&running.log)?;
    let rss = lg::rss_of(pid).unwrap_or_default();
    let auths = r.tally.successes;
    let mut s = Summary::new(tls_addr, MethodArg::AkaPrime, concurrency, r, Some(rss));
    s.server_cpu_us_per_auth = match (before, after) {
        (Some(b), Some(a)) => us_per_auth(a.saturating_sub(b), auths),
        _ => None,
    };
    Ok(s)
}

/// Runs the comparison at each level of `concurrency`, EAP-AKA', `duration` per point.
pub(super) fn measure(
    bed: &mut Bed,
    concurrency: &[usize],
    duration: Duration,
    cards: &mut Vec<Card>,
) -> Result<TransportReport, String> {
    let certs = certificates(bed)?;
    let tls = TlsClient::from_files(
        &certs.pki.ca,
        &certs.client.cert,
        &certs.client.key,
        "127.0.0.1",
    )?;
    let mut points = Vec::new();
    let mut negotiated = None;
    for &c in concurrency {
        let mut runs: Vec<Option<usize>> = vec![None];
        runs.extend(connection_counts(c).into_iter().map(Some));
        for conns in runs {
            let (mut running, tls_addr) = start_server(bed, &certs)?;
            let s = match conns {
                None => {
                    let load = Load {
                        method: MethodArg::AkaPrime,
                        concurrency: c,
                        stop: Stop::Duration(duration),
                        rate: None,
                        hold: false,
                    };
                    super::run_load(ServerKind::AaaServer, &mut running, &load, cards, None)?.0
                }
                Some(n) => {
                    if negotiated.is_none() {
                        negotiated = Some(tls.negotiated(tls_addr)?);
                    }
                    radsec_point(&mut running, tls_addr, &tls, c, n, duration, cards)?
                }
            };
            running.guard.stop();
            let p = TransportPoint::new(
                if conns.is_some() {
                    Transport::Radsec
                } else {
                    Transport::Udp
                },
                conns,
                &s,
            );
            eprintln!(
                "  transport  {:<10} aka-prime c={:<4} {:>9.1} auth/s  p50 {:>7.2} ms  p99 {:>7.2} ms  failures {}{}  server CPU {} µs/auth",
                p.label(),
                c,
                p.auths_per_sec,
                p.latency.p50_ms,
                p.latency.p99_ms,
                p.failures,
                if p.failures_by_reason.is_empty() {
                    String::new()
                } else {
                    format!(" {:?}", s.failure_examples)
                },
                p.server_cpu_us_per_auth
                    .map_or("-".into(), |c| format!("{c:.1}"))
            );
            points.push(p);
        }
    }
    Ok(TransportReport {
        seconds_per_point: duration.as_secs_f64(),
        tls: format!(
            "{}, ECDSA P-256 certificates, no session resumption",
            negotiated.unwrap_or_default()
        ),
        points,
    })
}

/// The comparison as a table: one row per concurrency, a column per transport.
pub fn table(r: &TransportReport) -> String {
    let mut s = String::from("EAP-AKA' by transport (auths/s, p99 ms, server CPU µs/auth)\n");
    let mut labels: Vec<String> = Vec::new();
    for p in &r.points {
        if !labels.contains(&p.label()) {
            labels.push(p.label());
        }
    }
    s.push_str(&format!("{:>5}", "conc"));
    for l in &labels {
        s.push_str(&format!(" | {l:>26}"));
    }
    s.push('\n');
    let mut levels: Vec<usize> = r.points.iter().map(|p| p.concurrency).collect();
    levels.dedup();
    for c in levels {
        s.push_str(&format!("{c:>5}"));
        for l in &labels {
            let cell = r
                .points
                .iter()
                .find(|p| p.concurrency == c && &p.label() == l)
                .map_or("-".to_string(), |p| {
                    format!(
                        "{:.1}/s {:.2} ms {}{}",
                        p.auths_per_sec,
                        p.latency.p99_ms,
                        p.server_cpu_us_per_auth
                            .map_or("-".into(), |c| format!("{c:.0}")),
                        if p.failures > 0 {
                            format!(" ({} failed)", p.failures)
                        } else {
                            String::new()
                        }
                    )
                });
            s.push_str(&format!(" | {cell:>26}"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: Transport, conns: Option<usize>, c: usize, rate: f64) -> TransportPoint {
        TransportPoint {
            transport: t,
            connections: conns,
            method: MethodArg::AkaPrime,
            concurrency: c,
            auths_per_sec: rate,
            latency: Latency {
                p50_ms: 1.0,
                p90_ms: 2.0,
                p99_ms: 3.0,
                max_ms: 4.0,
            },
            failures: 0,
            failures_by_reason: Default::default(),
            requests_per_sec: 2.0 * rate,
            server_cpu_us_per_auth: Some(100.0),
            loadgen_cpu_percent: 50.0,
            server_rss_kib: 1000,
        }
    }

    #[test]
    fn connections_and_table() {
        assert_eq!(connection_counts(1), vec![1]);
        assert_eq!(connection_counts(64), vec![1, 16]);
        let r = TransportReport {
            seconds_per_point: 1.0,
            tls: String::new(),
            points: vec![
                point(Transport::Udp, None, 1, 100.0),
                point(Transport::Radsec, Some(1), 1, 90.0),
                point(Transport::Udp, None, 64, 1000.0),
                point(Transport::Radsec, Some(1), 64, 800.0),
                point(Transport::Radsec, Some(16), 64, 900.0),
            ],
        };
        let t = table(&r);
        assert!(t.contains("radsec x16"), "{t}");
        assert!(t.contains("900.0/s 3.00 ms 100"), "{t}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["points"][0]["transport"], "udp");
        assert!(j["points"][0]["connections"].is_null());
        assert_eq!(j["points"][4]["connections"], 16);
        assert_eq!(j["points"][4]["p99_ms"], 3.0);
    }
}
