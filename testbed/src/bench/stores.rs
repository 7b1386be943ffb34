//! `testbed bench --store sqlite|postgres --nodes N` — scale-out: N
//! `aaa-server serve` nodes on one subscriber store, driven at once.
//!
//! - `sqlite`: one SQLite file (synchronous=FULL) that every node opens (one
//!   machine only: SQLite cannot be shared over a network).
//! - `postgres`: a PostgreSQL started here ([`crate::pg`]: initdb in a
//!   temporary directory, Unix socket, durable defaults), schema migrated,
//!   the same subscribers imported with `--db postgresql://…`.
//!
//! Each point starts N fresh nodes and runs one load-generator engine per
//! node, in threads, on disjoint slices of the subscribers (so a lease never
//! makes a card see SEQs out of order), all for the same duration, after a
//! discarded warm-up ([`warmup`]: connections opened, first SQN commits and
//! ranges of every subscriber made, caches filled). It reports
//! auths/s per node and in total, latency percentiles over every
//! authentication, the nodes' CPU and PostgreSQL's own CPU (the whole
//! cluster's utime + stime from /proc) per authentication. The target
//! of the issue — one node on PostgreSQL at least half its SQLite
//! throughput — is printed, never asserted.

use super::{BenchArgs, us_per_auth, wait_until};
use super::{Guard, Machine, SECRET, SWEEP_SESSIONS, cpu_time_of, free_udp_port, udp_port_bound};
use crate::loadgen::auth::Nas;
use crate::loadgen::engine::{self, Config, RunResult, Stop};
use crate::loadgen::subscribers::{self, Card};
use crate::loadgen::{self as lg, Latency, MethodArg};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The privacy key every PostgreSQL node shares (a test key).
const PRIVACY_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// Most nodes one point starts.
pub const MAX_NODES: usize = 16;

/// The subscriber store under the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// One SQLite file opened by every node.
    Sqlite,
    /// One PostgreSQL database (started by the bench).
    Postgres,
}

impl StoreKind {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// One node of a point.
#[derive(Debug, Clone, Serialize)]
pub struct NodePoint {
    /// Its RADIUS address.
    pub addr: String,
    /// Authentications in flight against it.
    pub concurrency: usize,
    /// Subscribers in its slice.
    pub subscribers: usize,
    /// Successful authentications per second.
    pub auths_per_sec: f64,
    /// Failed authentications.
    pub failures: u64,
    /// Latency percentiles of its authentications.
    #[serde(flatten)]
    pub latency: Latency,
    /// Its CPU per successful authentication, µs.
    pub cpu_us_per_auth: Option<f64>,
    /// Its RSS after the point, KiB.
    pub rss_kib: u64,
}

/// One point: a store, a node count, a method, a total concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct StorePoint {
    /// `sqlite` or `postgres`.
    pub store: StoreKind,
    /// Nodes serving at once.
    pub nodes: usize,
    /// `aka`, `aka-prime` or `sim`.
    pub method: MethodArg,
    /// Authentications in flight over all nodes.
    pub concurrency: usize,
    /// `[hss] sqn_lease` of the PostgreSQL nodes (`null` for SQLite).
    pub sqn_lease: Option<u64>,
    /// Successful authentications per second, all nodes.
    pub auths_per_sec: f64,
    /// Per node.
    pub per_node: Vec<NodePoint>,
    /// Latency over every authentication of the point (flattened).
    #[serde(flatten)]
    pub latency: Latency,
    /// Failed authentications.
    pub failures: u64,
    /// Failures by reason.
    pub failures_by_reason: BTreeMap<String, u64>,
    /// AUTS resynchronisations (an SQN out of order or reused would show here).
    pub resyncs: u64,
    /// CPU of all nodes per successful authentication, µs.
    pub nodes_cpu_us_per_auth: Option<f64>,
    /// PostgreSQL's own CPU (every process of the cluster) per successful
    /// authentication, µs.
    pub postgres_cpu_us_per_auth: Option<f64>,
    /// PostgreSQL's CPU over the point, percent of one core.
    pub postgres_cpu_percent: Option<f64>,
    /// CPU the load generator used, percent of one core.
    pub loadgen_cpu_percent: f64,
}

/// The target for one method and concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct HalfOfSqlite {
    /// The method.
    pub method: MethodArg,
    /// Total concurrency.
    pub concurrency: usize,
    /// One SQLite node, auths/s.
    pub sqlite_auths_per_sec: f64,
    /// One PostgreSQL node, auths/s.
    pub postgres_auths_per_sec: f64,
    /// PostgreSQL / SQLite.
    pub measured: f64,
    /// 0.5.
    pub target: f64,
    /// `measured >= target`.
    pub met: bool,
}

/// The JSON file of a store run.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    /// The machine.
    pub machine: Machine,
    /// Seconds of load per point.
    pub seconds_per_point: f64,
    /// Every point.
    pub stores: Vec<StorePoint>,
    /// One PostgreSQL node against one SQLite node (target ≥ 0.5).
    pub postgres_one_node_vs_sqlite: Vec<HalfOfSqlite>,
}

/// The discarded load before each point: a fifth of it, 0.3 to 1 s.
pub fn warmup(duration: Duration) -> Duration {
    (duration / 5).clamp(Duration::from_millis(300), Duration::from_secs(1))
}

/// Adds `o` to `into` (the engine's own merge is private to it).
fn merge(into: &mut engine::Tally, o: engine::Tally) {
    into.successes += o.successes;
    into.latencies_us.extend(o.latencies_us);
    for (k, (n, ex)) in o.failures {
        into.failures.entry(k).or_insert((0, ex)).0 += n;
    }
    into.requests += o.requests;
    into.retransmissions += o.retransmissions;
    into.stale += o.stale;
    into.resyncs += o.resyncs;
    into.success_rounds += o.success_rounds;
    into.held += o.held;
}

/// Logical CPUs (at least 1).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The engines of a point: (node index, concurrency), at least `cores`
/// engines in all and the same number per node; each node's share `per[i]`
/// split over its engines.
pub fn engine_plan(per: &[usize], cores: usize) -> Vec<(usize, usize)> {
    let each = cores.div_ceil(per.len().max(1)).max(1);
    per.iter()
        .enumerate()
        .flat_map(|(node, &c)| {
            split(c, each.min(c.max(1)))
                .into_iter()
                .map(move |c| (node, c))
        })
        .collect()
}

/// Cards in engine `e`'s slice (`slice` each, the last one the rest of `total`).
fn slices_len(plan: &[(usize, usize)], e: usize, slice: usize, total: usize) -> usize {
    if e + 1 == plan.len() {
        total - slice * (plan.len() - 1)
    } else {
        slice
    }
}

/// Splits `total` in flight over `nodes` (the first ones take the remainder).
pub fn split(total: usize, nodes: usize) -> Vec<usize> {
    (0..nodes)
        .map(|i| total / nodes + usize::from(i < total % nodes))
        .collect()
}

/// The target comparisons for every (method, concurrency) measured with one
/// node on both stores.
pub fn half_of_sqlite(points: &[StorePoint]) -> Vec<HalfOfSqlite> {
    let one = |s: StoreKind, m: MethodArg, c: usize| {
        points
            .iter()
            .find(|p| p.store == s && p.nodes == 1 && p.method == m && p.concurrency == c)
    };
    let mut out = Vec::new();
    for p in points
        .iter()
        .filter(|p| p.store == StoreKind::Sqlite && p.nodes == 1)
    {
        if let Some(pg) = one(StoreKind::Postgres, p.method, p.concurrency)
            && p.auths_per_sec > 0.0
        {
            let measured = pg.auths_per_sec / p.auths_per_sec;
            out.push(HalfOfSqlite {
                method: p.method,
                concurrency: p.concurrency,
                sqlite_auths_per_sec: p.auths_per_sec,
                postgres_auths_per_sec: pg.auths_per_sec,
                measured,
                target: 0.5,
                met: measured >= 0.5,
            });
        }
    }
    out
}

/// The printed table.
pub fn table(points: &[StorePoint], targets: &[HalfOfSqlite]) -> String {
    let mut s = format!(
        "{:<8} {:>5} {:<9} {:>5} | {:>9} {:<26} | {:>7} {:>7} | {:>5} {:>6} | {:>9} {:>9} {:>6}\n",
        "store",
        "nodes",
        "method",
        "conc",
        "total/s",
        "per node/s",
        "p50 ms",
        "p99 ms",
        "fail",
        "resync",
        "node µs/a",
        "PG µs/a",
        "PG %"
    );
    s.push_str(&"-".repeat(124));
    s.push('\n');
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    for p in points {
        let per: Vec<String> = p
            .per_node
            .iter()
            .map(|n| format!("{:.0}", n.auths_per_sec))
            .collect();
        s.push_str(&format!(
            "{:<8} {:>5} {:<9} {:>5} | {:>9.1} {:<26} | {:>7.2} {:>7.2} | {:>5} {:>6} | {:>9} {:>9} {:>6}\n",
            p.store.name(),
            p.nodes,
            p.method.name(),
            p.concurrency,
            p.auths_per_sec,
            per.join(" + "),
            p.latency.p50_ms,
            p.latency.p99_ms,
            p.failures,
            p.resyncs,
            opt(p.nodes_cpu_us_per_auth),
            opt(p.postgres_cpu_us_per_auth),
            p.postgres_cpu_percent
                .map_or("-".to_string(), |v| format!("{v:.0}"))
        ));
    }
    for t in targets {
        s.push_str(&format!(
            "target: one PostgreSQL node >= half of one SQLite node ({}, c={}): {:.1} / {:.1} = {:.0}% -> {}\n",
            t.method.name(),
            t.concurrency,
            t.postgres_auths_per_sec,
            t.sqlite_auths_per_sec,
            t.measured * 100.0,
            if t.met { "met" } else { "NOT met" }
        ));
    }
    s
}

/// A store set up for the nodes.
enum Store {
    Sqlite(PathBuf),
    Postgres {
        pg: crate::pg::Postgres,
        url: String,
    },
}

impl Store {
    fn kind(&self) -> StoreKind {
        match self {
            Store::Sqlite(_) => StoreKind::Sqlite,
            Store::Postgres { .. } => StoreKind::Postgres,
        }
    }

    fn open(
        kind: StoreKind,
        aaa_server: &Path,
        dir: &Path,
        seed: u64,
        n: u32,
        max_nodes: usize,
    ) -> Result<Self, String> {
        match kind {
            StoreKind::Sqlite => {
                let db = dir.join("subscribers.db");
                subscribers::provision(aaa_server, &db, dir, seed, n, false)?;
                Ok(Store::Sqlite(db))
            }
            StoreKind::Postgres => {
                // Each node: its store workers' connections, the change
                // poller's and the watcher's; headroom for the CLI.
                let pg = crate::pg::Postgres::start(20 + 64 * max_nodes as u32)?;
                pg.create_db("aaa")?;
                let url = pg.url("aaa");
                let out = Command::new(aaa_server)
                    .args(["db", "migrate", "--db", &url])
                    .output()
                    .map_err(|e| format!("{}: {e}", aaa_server.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "aaa-server db migrate: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                subscribers::provision(aaa_server, Path::new(&url), dir, seed, n, false)?;
                Ok(Store::Postgres { pg, url })
            }
        }
    }

    /// The `[hss]` table (and `[privacy]` for PostgreSQL).
    fn config(&self, lease: u64) -> String {
        match self {
            Store::Sqlite(db) => format!("[hss]\ndatabase = \"{}\"\n", db.display()),
            Store::Postgres { url, .. } => format!(
                "[hss]\nbackend = \"postgres\"\nurl = \"{url}\"\nsqn_lease = {lease}\n\n\
                 [privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{PRIVACY_KEY}\"\n"
            ),
        }
    }

    fn cpu(&self) -> Option<Duration> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres { pg, .. } => pg.cpu_time(),
        }
    }
}

/// A started node.
struct Node {
    guard: Guard,
    log: PathBuf,
    addr: SocketAddr,
}

fn start_node(
    aaa_server: &Path,
    dir: &Path,
    name: &str,
    store: &Store,
    lease: u64,
) -> Result<Node, String> {
    let port = free_udp_port()?;
    let acct = free_udp_port()?;
    let (session_timeout, max_sessions) = SWEEP_SESSIONS;
    let conf = dir.join(format!("{name}.toml"));
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:{port}\"\naccounting_listen = \"127.0.0.1:{acct}\"\n\n\
             [[client]]\nname = \"bench\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"{SECRET}\"\n\n\
             {}\n[eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\n\
             network_name = \"WLAN\"\nsession_timeout = {session_timeout}\n\
             max_sessions = {max_sessions}\n",
            store.config(lease)
        ),
    )
    .map_err(|e| format!("{}: {e}", conf.display()))?;
    let log = dir.join(format!("{name}.log"));
    let mut cmd = Command::new(aaa_server);
    cmd.arg("serve").arg("--config").arg(&conf);
    let mut guard = Guard::spawn("aaa-server serve", cmd, &log)?;
    let r = wait_until("aaa-server serve", Duration::from_secs(20), || {
        udp_port_bound(port)
    });
    guard.check_alive(&log)?;
    r?;
    Ok(Node {
        guard,
        log,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    })
}

fn engine_config(server: SocketAddr, method: MethodArg, concurrency: usize, d: Duration) -> Config {
    Config {
        server,
        nas: Nas {
            identifier: b"testbed-bench".to_vec(),
            secret: SECRET.as_bytes().to_vec(),
            require_ma_first: true,
        },
        concurrency,
        stop: Stop::Duration(d),
        method: method.method(),
        rate: None,
        timeout: Duration::from_millis(1000),
        retries: 2,
        progress: false,
        hold_at_challenge: false,
    }
}

/// One point: `nodes` fresh nodes on `store`, one engine per node.
#[allow(clippy::too_many_arguments)]
fn point(
    aaa_server: &Path,
    dir: &Path,
    store: &Store,
    lease: u64,
    nodes: usize,
    method: MethodArg,
    concurrency: usize,
    duration: Duration,
    deck: &mut Vec<Card>,
    run: &mut u32,
) -> Result<StorePoint, String> {
    let mut started = Vec::new();
    for i in 0..nodes {
        *run += 1;
        started.push(start_node(
            aaa_server,
            dir,
            &format!("{}-{}-node{i}", store.kind().name(), run),
            store,
            lease,
        )?);
    }
    let per = split(concurrency, nodes);
    // At least one engine (one load-generator thread) per core whatever the
    // node count, so that 1 node is not measured with less load-generator
    // parallelism than 3: each node's share goes to its engines.
    let plan = engine_plan(&per, cores());
    let slice = deck.len() / plan.len();
    let mut slices: Vec<Vec<Card>> = (0..plan.len())
        .map(|i| {
            let take = if i + 1 == plan.len() {
                deck.len()
            } else {
                slice
            };
            deck.drain(..take).collect()
        })
        .collect();
    let drive_all = |slices: &mut Vec<Vec<Card>>, d: Duration| {
        std::thread::scope(|s| {
            let handles: Vec<_> = plan
                .iter()
                .zip(slices.iter_mut())
                .map(|(&(node, c), cards)| {
                    let cfg = engine_config(started[node].addr, method, c.max(1), d);
                    s.spawn(move || engine::drive(&cfg, cards))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("engine thread panicked".into()))
                })
                .collect::<Vec<Result<RunResult, String>>>()
        })
    };
    for (i, r) in drive_all(&mut slices, warmup(duration))
        .into_iter()
        .enumerate()
    {
        r.map_err(|e| format!("engine {i} warm-up: {e}"))?;
    }
    let cpu0: Vec<Option<Duration>> = started.iter().map(|n| cpu_time_of(n.guard.pid())).collect();
    let pg0 = store.cpu();
    let lg0 = engine::process_cpu();
    let t0 = Instant::now();
    let results = drive_all(&mut slices, duration);
    let wall = t0.elapsed();
    let lg1 = engine::process_cpu();
    let pg1 = store.cpu();
    let cpu1: Vec<Option<Duration>> = started.iter().map(|n| cpu_time_of(n.guard.pid())).collect();
    for s in slices {
        deck.extend(s);
    }
    // Each node's engines, merged: successes over the longest engine's time.
    let mut by_node: Vec<(engine::Tally, Duration, usize)> = (0..nodes)
        .map(|_| (engine::Tally::default(), Duration::ZERO, 0))
        .collect();
    for (e, r) in results.into_iter().enumerate() {
        let (node, _) = plan[e];
        let r = r.map_err(|err| format!("node {node} ({}): {err}", started[node].addr))?;
        let b = &mut by_node[node];
        merge(&mut b.0, r.tally);
        b.1 = b.1.max(r.elapsed);
        b.2 += slices_len(&plan, e, slice, deck.len());
    }
    let mut per_node = Vec::new();
    let mut all_latencies = Vec::new();
    let mut failures_by_reason = BTreeMap::<String, u64>::new();
    let (mut successes, mut failures, mut resyncs, mut total_rate) = (0u64, 0u64, 0u64, 0.0);
    let mut nodes_cpu = Duration::ZERO;
    let mut nodes_cpu_known = true;
    for (i, (mut t, elapsed, subscribers)) in by_node.into_iter().enumerate() {
        let node = &mut started[i];
        node.guard.check_alive(&node.log)?;
        let secs = elapsed.as_secs_f64().max(1e-9);
        let rate = t.successes as f64 / secs;
        let cpu = match (cpu0[i], cpu1[i]) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        match cpu {
            Some(c) => nodes_cpu += c,
            None => nodes_cpu_known = false,
        }
        per_node.push(NodePoint {
            addr: node.addr.to_string(),
            concurrency: per[i],
            subscribers,
            auths_per_sec: rate,
            failures: t.failed(),
            latency: Latency::of(&mut t.latencies_us.clone()),
            cpu_us_per_auth: cpu.and_then(|c| us_per_auth(c, t.successes)),
            rss_kib: lg::rss_of(node.guard.pid()).map_or(0, |r| r.rss_kib),
        });
        total_rate += rate;
        successes += t.successes;
        failures += t.failed();
        resyncs += t.resyncs;
        for (k, (n, _)) in &t.failures {
            *failures_by_reason.entry((*k).to_string()).or_default() += n;
        }
        all_latencies.append(&mut t.latencies_us);
    }
    for n in &mut started {
        n.guard.stop();
    }
    let pg_cpu = match (pg0, pg1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok(StorePoint {
        store: store.kind(),
        nodes,
        method,
        concurrency,
        sqn_lease: (store.kind() == StoreKind::Postgres).then_some(lease),
        auths_per_sec: total_rate,
        per_node,
        latency: Latency::of(&mut all_latencies),
        failures,
        failures_by_reason,
        resyncs,
        nodes_cpu_us_per_auth: nodes_cpu_known
            .then(|| us_per_auth(nodes_cpu, successes))
            .flatten(),
        postgres_cpu_us_per_auth: pg_cpu.and_then(|c| us_per_auth(c, successes)),
        postgres_cpu_percent: pg_cpu.map(|c| c.as_secs_f64() * 100.0 / wall.as_secs_f64()),
        loadgen_cpu_percent: lg1.saturating_sub(lg0).as_secs_f64() * 100.0 / wall.as_secs_f64(),
    })
}

/// `testbed bench --store …`: Ok(true) when every point authenticated.
pub fn run(args: &BenchArgs) -> Result<bool, String> {
    let nodes: Vec<usize> = if args.nodes.is_empty() {
        vec![1]
    } else {
        args.nodes.clone()
    };
    if nodes.iter().any(|&n| n == 0 || n > MAX_NODES) {
        return Err(format!("--nodes: 1 to {MAX_NODES}, comma separated"));
    }
    if !(1..=1024).contains(&args.sqn_lease) {
        return Err("--sqn-lease: 1 to 1024".into());
    }
    let (concurrency, duration) = if args.quick {
        (vec![64], Duration::from_millis(1500))
    } else {
        (args.concurrency.clone(), args.duration)
    };
    if concurrency.is_empty() || concurrency.contains(&0) {
        return Err("--concurrency: positive numbers, comma separated".into());
    }
    let max_nodes = nodes.iter().copied().max().unwrap_or(1);
    if let Some(&c) = concurrency.iter().find(|&&c| c < max_nodes) {
        return Err(format!(
            "--concurrency {c} is below --nodes {max_nodes}: every node needs one in flight"
        ));
    }
    let aaa_server = match &args.aaa_server {
        Some(p) => p.clone(),
        None => crate::tools::BinDirs::discover(None)
            .find("aaa-server")
            .map_err(|e| e.to_string())?,
    };
    let max_c = concurrency.iter().copied().max().unwrap_or(1);
    let n = args.subscribers.unwrap_or(((max_c * 2) as u32).max(100));
    if (n as usize) < max_c {
        return Err(format!(
            "--subscribers {n} is below the concurrency {max_c}"
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix("testbed-bench-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    crate::cleanup::register_dir(tmp.path());
    let dir = tmp.path().to_path_buf();
    let machine = super::machine(None, &aaa_server);
    eprintln!(
        "bench: {} cores, {}; stores {:?}, nodes {:?}, {} subscribers, {:?} per point; load average {}; work dir {}",
        machine.cores,
        machine.cpu_model,
        args.store.iter().map(|s| s.name()).collect::<Vec<_>>(),
        nodes,
        n,
        duration,
        machine.loadavg_at_start,
        dir.display()
    );
    let mut points = Vec::new();
    let mut run = 0u32;
    for &kind in &args.store {
        let sdir = dir.join(kind.name());
        std::fs::create_dir_all(&sdir).map_err(|e| format!("{}: {e}", sdir.display()))?;
        let store = Store::open(kind, &aaa_server, &sdir, args.seed, n, max_nodes)?;
        for &method in &args.methods {
            // Fresh cards per store: a new store starts every SQN at 0.
            let mut deck = lg::make_cards(args.seed, n, 0, method.methods())?;
            for &c in &concurrency {
                for &k in &nodes {
                    let p = point(
                        &aaa_server,
                        &sdir,
                        &store,
                        args.sqn_lease,
                        k,
                        method,
                        c,
                        duration,
                        &mut deck,
                        &mut run,
                    )?;
                    eprintln!(
                        "  {:<8} nodes={} {:<9} c={:<4} {:>9.1} auth/s ({})  p99 {:.2} ms  failures {}  resyncs {}  PG CPU {} µs/auth",
                        kind.name(),
                        k,
                        method.name(),
                        c,
                        p.auths_per_sec,
                        p.per_node
                            .iter()
                            .map(|n| format!("{:.0}", n.auths_per_sec))
                            .collect::<Vec<_>>()
                            .join(" + "),
                        p.latency.p99_ms,
                        p.failures,
                        p.resyncs,
                        p.postgres_cpu_us_per_auth
                            .map_or("-".into(), |v| format!("{v:.1}"))
                    );
                    points.push(p);
                }
            }
        }
        drop(store);
    }
    let targets = half_of_sqlite(&points);
    println!("\n{}", table(&points, &targets));
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let report = StoreReport {
        machine,
        seconds_per_point: duration.as_secs_f64(),
        stores: points,
        postgres_one_node_vs_sqlite: targets,
    };
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| args.out_dir.join("bench.json"));
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&json, text).map_err(|e| format!("{}: {e}", json.display()))?;
    println!("wrote {}", json.display());
    crate::cleanup::unregister_dir(tmp.path());
    if args.keep {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
    Ok(report.stores.iter().all(|p| p.auths_per_sec > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(store: StoreKind, nodes: usize, rate: f64) -> StorePoint {
        StorePoint {
            store,
            nodes,
            method: MethodArg::AkaPrime,
            concurrency: 64,
            sqn_lease: None,
            auths_per_sec: rate,
            per_node: Vec::new(),
            latency: Latency::default(),
            failures: 0,
            failures_by_reason: BTreeMap::new(),
            resyncs: 0,
            nodes_cpu_us_per_auth: None,
            postgres_cpu_us_per_auth: Some(12.5),
            postgres_cpu_percent: Some(40.0),
            loadgen_cpu_percent: 50.0,
        }
    }

    #[test]
    fn warmup_is_a_fifth_within_bounds() {
        assert_eq!(warmup(Duration::from_secs(3)), Duration::from_millis(600));
        assert_eq!(warmup(Duration::from_secs(1)), Duration::from_millis(300));
        assert_eq!(warmup(Duration::from_secs(60)), Duration::from_secs(1));
    }

    #[test]
    fn at_least_one_engine_per_core_and_as_many_per_node() {
        assert_eq!(engine_plan(&[64], 2), vec![(0, 32), (0, 32)]);
        assert_eq!(engine_plan(&[32, 32], 2), vec![(0, 32), (1, 32)]);
        assert_eq!(
            engine_plan(&[22, 21, 21], 2),
            vec![(0, 22), (1, 21), (2, 21)]
        );
        assert_eq!(engine_plan(&[1], 4), vec![(0, 1)]);
        let p = engine_plan(&[64], 3);
        assert_eq!(p.iter().map(|e| e.1).sum::<usize>(), 64);
        assert_eq!(p.len(), 3);
        assert_eq!(slices_len(&p, 0, 33, 100), 33);
        assert_eq!(slices_len(&p, 2, 33, 100), 34);
    }

    #[test]
    fn concurrency_is_split_over_nodes() {
        assert_eq!(split(64, 1), vec![64]);
        assert_eq!(split(64, 3), vec![22, 21, 21]);
        assert_eq!(split(3, 3), vec![1, 1, 1]);
        assert_eq!(split(64, 3).iter().sum::<usize>(), 64);
    }

    #[test]
    fn target_compares_one_node_of_each_store() {
        let pts = vec![
            p(StoreKind::Sqlite, 1, 1000.0),
            p(StoreKind::Sqlite, 2, 1500.0),
            p(StoreKind::Postgres, 1, 600.0),
            p(StoreKind::Postgres, 2, 900.0),
        ];
        let t = half_of_sqlite(&pts);
        assert_eq!(t.len(), 1);
        assert!((t[0].measured - 0.6).abs() < 1e-9);
        assert!(t[0].met);
        let low = half_of_sqlite(&[
            p(StoreKind::Sqlite, 1, 1000.0),
            p(StoreKind::Postgres, 1, 400.0),
        ]);
        assert!(!low[0].met);
        let text = table(&pts, &t);
        assert!(text.contains("60% -> met"), "{text}");
        assert!(text.contains("postgres"), "{text}");
        assert!(half_of_sqlite(&pts[..2]).is_empty());
    }
}
