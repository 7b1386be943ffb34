//! `testbed loadgen` — many NAS + supplicant pairs at once against a RADIUS
//! server: EAP-AKA/AKA' over RADIUS with the supplicant's peer state machine
//! and USIM simulator, every response checked (Response Authenticator,
//! Message-Authenticator first, MS-MPPE keys against the peer's MSK), every
//! failure counted by reason, none retried.
//!
//! Layers: [`radius`] (client codec), [`subscribers`] (reproducible subscriber
//! set and provisioning), [`auth`] (one authentication, sans-IO), [`engine`]
//! (UDP sockets, slots, timeouts, rate, several servers round-robin),
//! [`audit`] (the SQN audit) and this module (CLI, report).

pub mod audit;
pub mod engine;
pub mod radsec;
pub mod subscribers;
/// The NAS + peer exchange of one authentication (the supplicant's, shared with `supplicant probe`).
pub use supplicant::nas::exchange as auth;
/// The NAS side of RADIUS (the supplicant's).
pub use supplicant::nas::radius;

use auth::Nas;
use eap::aka::keys::Method;
use engine::{Config, RunResult, Stop};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use subscribers::Card;
use supplicant::peer::Methods;

/// The EAP method to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodArg {
    /// EAP-AKA (RFC 4187): identity `0<IMSI>@realm`.
    Aka,
    /// EAP-AKA' (RFC 9048): identity `6<IMSI>@realm`.
    AkaPrime,
    /// EAP-SIM (RFC 4186): identity `1<IMSI>@realm`, the card's GSM
    /// context; the server must list `"sim"` in `eap.methods`.
    Sim,
}

impl MethodArg {
    /// The EAP method; for EAP-SIM its key family (`Aka`, as the peer reports it).
    pub fn method(self) -> Method {
        match self {
            MethodArg::Aka | MethodArg::Sim => Method::Aka,
            MethodArg::AkaPrime => Method::AkaPrime,
        }
    }

    /// The methods the simulated peers accept.
    pub fn methods(self) -> Methods {
        match self {
            MethodArg::Sim => Methods::SIM,
            m => Methods::only(m.method()),
        }
    }

    /// `aka` / `aka-prime`.
    pub fn name(self) -> &'static str {
        match self {
            MethodArg::Aka => "aka",
            MethodArg::AkaPrime => "aka-prime",
            MethodArg::Sim => "sim",
        }
    }
}

/// `testbed loadgen` options.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// The RADIUS server (authentication port). Repeat it for several
    /// servers: each authentication (all its rounds) stays on one server,
    /// a subscriber's next one goes to the next server, round-robin.
    #[arg(long = "server", default_value = "127.0.0.1:1812", num_args = 1)]
    pub server: Vec<SocketAddr>,
    /// The RADIUS shared secret.
    #[arg(long, default_value = "testing123")]
    pub secret: String,
    /// Subscribers (IMSI 001019 + 9-digit index, K/OPc derived from the index
    /// and --seed); at least --concurrency.
    #[arg(long)]
    pub subscribers: Option<u32>,
    /// Seed of the subscribers' keys (the server's store must hold the same set).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Provision the subscribers into this store (`aaa-server subscriber
    /// import`) before running: an SQLite path, or PostgreSQL as a
    /// `postgresql://` URL or a libpq `key=value` string (password from
    /// PGPASSFILE); existing ones keep their SQN. Refuses, changing nothing,
    /// when the store holds one of these IMSIs with other K/OPc/AMF.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// With --db: overwrite the K/OPc/AMF of subscribers already in the
    /// store under the load generator's IMSIs.
    #[arg(long, requires = "db")]
    pub force: bool,
    /// Only provision (needs --db), then exit.
    #[arg(long, requires = "db")]
    pub provision_only: bool,
    /// The aaa-server binary for provisioning (default: next to testbed).
    #[arg(long)]
    pub aaa_server: Option<PathBuf>,
    /// Authentications in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Run this long (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// Run this many authentications (default 1000 when no --duration).
    #[arg(long)]
    pub count: Option<u64>,
    /// EAP method.
    #[arg(long, value_enum, default_value = "aka-prime")]
    pub method: MethodArg,
    /// At most this many authentications started per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// The server's pid, for its RSS in the summary.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the summary as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// SQN audit: record the SEQ of every AKA-Challenge each simulated USIM
    /// receives (read from AUTN with the card's keys) and write one line per
    /// challenge to FILE (imsi, seq, ind, server, usim, outcome, times); the
    /// summary counts SEQs a subscriber received twice (the run then fails).
    /// The cards become strict: any SEQ not above the highest accepted one
    /// makes them resynchronise.
    #[arg(long, value_name = "FILE")]
    pub sqn_audit: Option<PathBuf>,
    /// Retransmission timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Retransmissions before an authentication counts as timed out.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// SEQ_MS the simulated USIMs start at (set it above the HSS's to make
    /// every first authentication resynchronise).
    #[arg(long, default_value_t = 0)]
    pub usim_seq: u64,
    /// Accept responses whose Message-Authenticator is not the first
    /// attribute (it is still verified), e.g. hostapd 2.10's RADIUS server.
    #[arg(long)]
    pub allow_ma_not_first: bool,
    /// Leave every AKA-Challenge unanswered: the server keeps the sessions
    /// open (with --server-pid: its memory per in-flight session).
    #[arg(long)]
    pub hold: bool,
    /// NAS-Identifier.
    #[arg(long, default_value = "testbed-loadgen")]
    pub nas_identifier: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `10s`, `250ms`, `2m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with a unit (10s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Latency percentiles of the successful authentications, milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    /// From microsecond samples (sorted here).
    pub fn of(samples: &mut [u32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            f64::from(samples[i]) / 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// A server's memory from /proc/<pid>/status.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rss {
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// VmHWM (peak RSS), KiB.
    pub peak_kib: u64,
}

/// Reads VmRSS and VmHWM of `pid`.
pub fn rss_of(pid: u32) -> Option<Rss> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some(Rss {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// The summary of one run (what the table shows and --json writes).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The server address.
    pub server: String,
    /// `aka` or `aka-prime`.
    pub method: MethodArg,
    /// Authentications in flight.
    pub concurrency: usize,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Successful authentications (keys checked).
    pub successes: u64,
    /// Failed authentications.
    pub failures: u64,
    /// Failures by reason.
    pub failures_by_reason: BTreeMap<String, u64>,
    /// The first failure of each reason, as text.
    pub failure_examples: BTreeMap<String, String>,
    /// Successful authentications per second.
    pub auths_per_sec: f64,
    /// Access-Requests (with retransmissions) per second.
    pub requests_per_sec: f64,
    /// Access-Requests sent (first transmissions).
    pub requests: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Responses that matched no request in flight.
    pub stale_responses: u64,
    /// AUTS resynchronisations.
    pub resyncs: u64,
    /// RADIUS round trips per successful authentication.
    pub round_trips_per_auth: f64,
    /// Latency per successful authentication.
    pub latency: Latency,
    /// The server's memory after the run, when its pid was given.
    pub server_rss: Option<Rss>,
    /// CPU the load generator itself used, in percent of one core.
    pub loadgen_cpu_percent: f64,
    /// Server CPU (utime + stime from /proc/<pid>/stat) during the run per
    /// successful authentication, µs, when the bench measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_auth: Option<f64>,
}

impl Summary {
    /// From a run.
    pub fn new(
        server: SocketAddr,
        method: MethodArg,
        concurrency: usize,
        mut r: RunResult,
        rss: Option<Rss>,
    ) -> Self {
        let t = &mut r.tally;
        let secs = r.elapsed.as_secs_f64().max(1e-9);
        let failures = t.failed();
        Self {
            server: server.to_string(),
            method,
            concurrency,
            elapsed_s: secs,
            successes: t.successes,
            failures,
            failures_by_reason: t
                .failures
                .iter()
                .map(|(k, (n, _))| (k.to_string(), *n))
                .collect(),
            failure_examples: t
                .failures
                .iter()
                .map(|(k, (_, ex))| (k.to_string(), ex.clone()))
                .collect(),
            auths_per_sec: t.successes as f64 / secs,
            requests_per_sec: (t.requests + t.retransmissions) as f64 / secs,
            requests: t.requests,
            retransmissions: t.retransmissions,
            stale_responses: t.stale,
            resyncs: t.resyncs,
            round_trips_per_auth: if t.successes == 0 {
                0.0
            } else {
                t.success_rounds as f64 / t.successes as f64
            },
            latency: Latency::of(&mut t.latencies_us),
            server_rss: rss,
            loadgen_cpu_percent: r.cpu.as_secs_f64() * 100.0 / secs,
            server_cpu_us_per_auth: None,
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let l = &self.latency;
        let mut row = |k: &str, v: String| s.push_str(&format!("  {k:<28} {v}\n"));
        row(
            "server / method",
            format!("{} / {}", self.server, self.method.name()),
        );
        row("concurrency", self.concurrency.to_string());
        row(
            "authentications",
            format!(
                "{} ok, {} failed in {:.2} s",
                self.successes, self.failures, self.elapsed_s
            ),
        );
        row("full auths/s", format!("{:.1}", self.auths_per_sec));
        row(
            "RADIUS requests/s",
            format!(
                "{:.1} ({:.2} round trips/auth, {} retransmissions)",
                self.requests_per_sec, self.round_trips_per_auth, self.retransmissions
            ),
        );
        row(
            "latency p50/p90/p99/max",
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            ),
        );
        row("resyncs (AUTS)", self.resyncs.to_string());
        row(
            "loadgen CPU",
            format!("{:.0}% of one core", self.loadgen_cpu_percent),
        );
        row("stale responses", self.stale_responses.to_string());
        if self.failures_by_reason.is_empty() {
            row("failures", "none".into());
        }
        for (k, n) in &self.failures_by_reason {
            let ex = self.failure_examples.get(k).cloned().unwrap_or_default();
            row(&format!("failure {k}"), format!("{n}  (e.g. {ex})"));
        }
        match self.server_rss {
            Some(r) => row(
                "server RSS",
                format!("{} KiB (peak {} KiB)", r.rss_kib, r.peak_kib),
            ),
            None => row("server RSS", "n/a (no --server-pid)".into()),
        }
        s
    }
}

/// Builds the simulated USIMs of subscribers `0..n`.
pub fn make_cards(seed: u64, n: u32, seq_ms: u64, methods: Methods) -> Result<Vec<Card>, String> {
    make_cards_with(seed, n, seq_ms, methods, false)
}

/// [`make_cards`], with `audit` the SQN audit's strict, recording cards.
pub fn make_cards_with(
    seed: u64,
    n: u32,
    seq_ms: u64,
    methods: Methods,
    audit: bool,
) -> Result<Vec<Card>, String> {
    (0..n)
        .map(|i| Card::with_audit(seed, i, seq_ms, methods, audit))
        .collect()
}

/// The SQN audit of `cards` after a run, written to `path`.
pub fn sqn_audit(
    cards: &mut [Card],
    servers: &[SocketAddr],
    path: &std::path::Path,
) -> Result<audit::Report, String> {
    let names: Vec<String> = servers.iter().map(ToString::to_string).collect();
    let log: Vec<(String, Vec<audit::Challenge>)> = cards
        .iter_mut()
        .map(|c| (subscribers::imsi(c.index), c.challenges().to_vec()))
        .collect();
    let it = || log.iter().map(|(i, c)| (i.as_str(), c.as_slice()));
    audit::write(path, &names, it()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(audit::report(servers.len(), it()))
}

/// The `--json` document: the summary and, with `--sqn-audit`, the audit.
#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqn_audit: Option<&'a audit::Report>,
}

fn aaa_server_binary(explicit: Option<&PathBuf>) -> Result<PathBuf, String> {
    match explicit {
        Some(p) => Ok(p.clone()),
        None => crate::tools::BinDirs::discover(None)
            .find("aaa-server")
            .map_err(|e| e.to_string()),
    }
}

/// `testbed loadgen`.
pub fn run(args: &LoadgenArgs) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("testbed loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &LoadgenArgs) -> Result<ExitCode, String> {
    let n = args
        .subscribers
        .unwrap_or_else(|| (args.concurrency as u32).max(100));
    subscribers::check_count(n)?;
    let servers = &args.server;
    let Some(&first) = servers.first() else {
        return Err("--server: at least one".into());
    };
    if let Some(db) = &args.db {
        let bin = aaa_server_binary(args.aaa_server.as_ref())?;
        let store = subscribers::store_arg(db)?;
        let tmp = std::env::temp_dir();
        let dir = if store.is_postgres {
            tmp.as_path()
        } else {
            db.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
        };
        subscribers::provision(&bin, &store.arg, dir, args.seed, n, args.force)?;
        eprintln!(
            "provisioned {n} subscribers (seed {}) into {}",
            args.seed,
            db.display()
        );
        if args.provision_only {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let method = args.method.method();
    let audit = args.sqn_audit.is_some();
    let mut cards = make_cards_with(args.seed, n, args.usim_seq, args.method.methods(), audit)?;
    let cfg = Config {
        server: first,
        nas: Nas {
            identifier: args.nas_identifier.clone().into_bytes(),
            secret: args.secret.clone().into_bytes(),
            require_ma_first: !args.allow_ma_not_first,
        },
        concurrency: args.concurrency,
        stop: match (args.duration, args.count) {
            (Some(d), _) => Stop::Duration(d),
            (None, Some(c)) => Stop::Count(c),
            (None, None) => Stop::Count(1000),
        },
        method,
        rate: args.rate,
        timeout: Duration::from_millis(args.timeout_ms),
        retries: args.retries,
        progress: !args.quiet,
        hold_at_challenge: args.hold,
    };
    let rss_before = args.server_pid.and_then(rss_of);
    let r = engine::drive_many(&cfg, &servers[1..], &mut cards)?;
    let audit = match &args.sqn_audit {
        Some(path) => Some(sqn_audit(&mut cards, servers, path)?),
        None => None,
    };
    if args.hold {
        let held = r.tally.held;
        println!(
            "held {held} sessions open at the AKA-Challenge ({} failed)",
            r.tally.failed()
        );
        if let (Some(b), Some(a)) = (rss_before, args.server_pid.and_then(rss_of))
            && held > 0
        {
            let grown = a.rss_kib as i64 - b.rss_kib as i64;
            println!(
                "server RSS {} KiB -> {} KiB: {grown} KiB for {held} sessions = {:.0} bytes per in-flight session",
                b.rss_kib,
                a.rss_kib,
                grown as f64 * 1024.0 / held as f64
            );
        }
        return Ok(if r.tally.failed() == 0 && held > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let rss = args.server_pid.and_then(rss_of);
    let mut summary = Summary::new(first, args.method, args.concurrency, r, rss);
    if servers.len() > 1 {
        summary.server = servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
    }
    print!("{}", summary.table());
    if let (Some(a), Some(path)) = (&audit, &args.sqn_audit) {
        let per: Vec<String> = a.per_server.iter().map(ToString::to_string).collect();
        println!(
            "  {:<28} {} challenges to {} subscribers ({} per server), {} resyncs, {} SEQs seen twice ({})",
            "SQN audit",
            a.challenges,
            a.subscribers,
            per.join("/"),
            a.resyncs,
            a.duplicates,
            path.display()
        );
    }
    println!();
    if let Some(p) = &args.json {
        let doc = JsonReport {
            summary: &summary,
            sqn_audit: audit.as_ref(),
        };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let reused = audit.as_ref().is_some_and(|a| a.duplicates > 0);
    Ok(
        if summary.failures == 0 && summary.successes > 0 && !reused {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<u32> = (1..=1000).rev().map(|x| x * 1000).collect();
        let l = Latency::of(&mut v);
        assert_eq!(l.p50_ms, 500.0);
        assert_eq!(l.p90_ms, 900.0);
        assert_eq!(l.p99_ms, 990.0);
        assert_eq!(l.max_ms, 1000.0);
        assert_eq!(Latency::of(&mut []).max_ms, 0.0);
    }

    #[test]
    fn own_rss_is_readable() {
        let r = rss_of(std::process::id()).unwrap();
        assert!(r.rss_kib > 0 && r.peak_kib >= r.rss_kib);
    }
}
