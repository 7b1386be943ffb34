//! `testbed bench` — our AAA server against hostapd's, side by side: one run,
//! one machine, one subscriber store, the same load generator, the servers
//! alternating at every point of a concurrency sweep for EAP-AKA and EAP-AKA'.
//!
//! 1. `aaa-server serve` (embedded SQLite store, `synchronous=FULL`);
//! 2. hostapd 2.10 as a RADIUS server with its own EAP-AKA/AKA' server and
//!    `eap_sim_db` → `aaa-server hlr-gw` on the same store.
//!
//! Each point starts a fresh server process on loopback (free ports), runs the
//! load for a fixed time, reads the server's RSS and stops it. Results go to a
//! table (with the ratio ours/hostapd), JSON and an SVG plot.
//!
//! After the sweep it measures the targets ([`targets`]): the AKA'
//! peak, the ratio to hostapd (sustained, and below hostapd's session cap),
//! p99 at half the peak rate and server memory per in-flight session.
//!
//! Then the floor ([`floor`], unless `--no-floor`): a null RADIUS server in
//! this process doing only the work every EAP-AKA' server must, its CPU per
//! authentication next to `aaa-server`'s.

pub mod floor;
pub mod plot;
pub mod stores;
pub mod targets;
pub mod transport;

use crate::loadgen::auth::Nas;
use crate::loadgen::engine::{self, Config, Stop};
use crate::loadgen::subscribers::{self, Card};
use crate::loadgen::{self as lg, Latency, MethodArg, Summary};
use serde::Serialize;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The RADIUS secret used on loopback.
const SECRET: &str = "bench-secret-0123456789";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// `aaa-server serve`.
    AaaServer,
    /// hostapd's RADIUS + EAP server with `aaa-server hlr-gw`.
    Hostapd,
}

impl ServerKind {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::AaaServer => "aaa-server",
            ServerKind::Hostapd => "hostapd",
        }
    }
}

/// `testbed bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Reduced sweep (concurrency 1 and 64, 1.5 s per point) and targets
    /// (10000 held sessions): under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Concurrency levels (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    pub concurrency: Vec<usize>,
    /// Methods (comma separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "aka,aka-prime"
    )]
    pub methods: Vec<MethodArg>,
    /// Servers (comma separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "aaa-server,hostapd"
    )]
    pub servers: Vec<ServerKind>,
    /// Load time per point (e.g. 5s).
    #[arg(long, value_parser = lg::parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Subscribers provisioned (default: twice the largest concurrency, at least 100).
    #[arg(long)]
    pub subscribers: Option<u32>,
    /// Seed of the subscribers' keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the JSON and the plot go.
    #[arg(long, default_value = "target/bench")]
    pub out_dir: PathBuf,
    /// The JSON file (default: <out-dir>/bench.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The aaa-server binary (default: next to testbed).
    #[arg(long)]
    pub aaa_server: Option<PathBuf>,
    /// The hostapd binary (default: from PATH or /usr/sbin).
    #[arg(long)]
    pub hostapd: Option<PathBuf>,
    /// Keep the work directory (store, configs, server logs).
    #[arg(long)]
    pub keep: bool,
    /// Only the sweep: measure none of the targets after it (no `"targets"`).
    #[arg(long)]
    pub no_targets: bool,
    /// Transports (comma separated): with `radsec`, EAP-AKA' also runs over
    /// RadSec (one TLS connection and 16) next to UDP at each concurrency
    /// (`"transport"` in the JSON).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "udp")]
    pub transport: Vec<transport::Transport>,
    /// Skip the p99-at-half-peak runs.
    #[arg(long)]
    pub no_half_peak: bool,
    /// Skip the floor: a null RADIUS server thread in the testbed doing only
    /// what every EAP-AKA' server must (Message-Authenticator, Milenage,
    /// CK'/IK', PRF', AT_MAC, Response Authenticator, MS-MPPE keys) over
    /// aaa-server's socket pattern, its CPU per authentication split into
    /// user and kernel, and the same work without sockets. On by default
    /// (also with --quick), at the sweep's concurrency levels and 1 and 256.
    #[arg(long)]
    pub no_floor: bool,
    /// Skip hostapd's runs below its session cap.
    #[arg(long)]
    pub no_below_cap: bool,
    /// Skip the memory-per-session run.
    #[arg(long)]
    pub no_memory: bool,
    /// Sessions held open for the memory-per-session run (default 100000,
    /// 10000 with --quick).
    #[arg(long)]
    pub hold_sessions: Option<u64>,
    /// Scale-out instead of the hostapd sweep: N `aaa-server serve` nodes on
    /// one subscriber store (comma separated: sqlite,postgres; postgres is
    /// started by the bench). See [`stores`].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub store: Vec<stores::StoreKind>,
    /// Nodes per point with --store (comma separated, e.g. 1,2,3; default 1).
    #[arg(long, value_delimiter = ',', requires = "store")]
    pub nodes: Vec<usize>,
    /// `[hss] sqn_lease` of the PostgreSQL nodes with --store postgres.
    #[arg(long, default_value_t = 1)]
    pub sqn_lease: u64,
}

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs available.
    pub cores: usize,
    /// /proc/cpuinfo model name.
    pub cpu_model: String,
    /// MemTotal, KiB.
    pub mem_total_kib: u64,
    /// Kernel release.
    pub kernel: String,
    /// `hostapd -v`.
    pub hostapd_version: String,
    /// The aaa-server binary used (target/release for meaningful figures).
    pub aaa_server_binary: String,
    /// /proc/loadavg when the bench started (other work on the machine).
    pub loadavg_at_start: String,
}

/// One point of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `aaa-server` or `hostapd`.
    pub server: ServerKind,
    /// `aka`, `aka-prime` or `sim`.
    pub method: MethodArg,
    /// Authentications in flight.
    pub concurrency: usize,
    /// Successful full authentications per second.
    pub auths_per_sec: f64,
    /// Latency percentiles, milliseconds (flattened into the JSON).
    #[serde(flatten)]
    pub latency: Latency,
    /// Failed authentications.
    pub failures: u64,
    /// Failures by reason.
    pub failures_by_reason: std::collections::BTreeMap<String, u64>,
    /// RADIUS requests per second.
    pub requests_per_sec: f64,
    /// Server RSS after the point, KiB (hostapd: hostapd alone).
    pub server_rss_kib: u64,
    /// Server peak RSS, KiB.
    pub server_peak_rss_kib: u64,
    /// hlr-gw RSS for the hostapd points, KiB.
    pub hlr_gw_rss_kib: Option<u64>,
    /// CPU the load generator used, percent of one core.
    pub loadgen_cpu_percent: f64,
    /// Server CPU (utime + stime) during the point per successful
    /// authentication, µs (hostapd: hostapd alone).
    pub server_cpu_us_per_auth: Option<f64>,
    /// hlr-gw CPU per successful authentication for the hostapd points, µs.
    pub hlr_gw_cpu_us_per_auth: Option<f64>,
}

/// The JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The machine.
    pub machine: Machine,
    /// Seconds of load per point.
    pub seconds_per_point: f64,
    /// Every point.
    pub results: Vec<Point>,
    /// The targets measured after the sweep (`null` with --no-targets).
    pub targets: Option<targets::Targets>,
    /// UDP next to RadSec (`--transport udp,radsec`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<transport::TransportReport>,
    /// The floor (`null` with --no-floor).
    pub floor: Option<floor::FloorReport>,
}

fn read_first(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    })
}

/// Describes this machine.
pub fn machine(hostapd: Option<&Path>, aaa_server: &Path) -> Machine {
    let hostapd_version = hostapd
        .and_then(|h| Command::new(h).arg("-v").output().ok())
        .map(|o| {
            let t = String::from_utf8_lossy(&o.stderr).into_owned()
                + &String::from_utf8_lossy(&o.stdout);
            t.lines()
                .find(|l| l.starts_with("hostapd v"))
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: read_first("/proc/cpuinfo", "model name").unwrap_or_default(),
        mem_total_kib: read_first("/proc/meminfo", "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        hostapd_version,
        aaa_server_binary: aaa_server.display().to_string(),
        loadavg_at_start: std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

/// A free UDP port on 127.0.0.1 (bound, read, released).
pub fn free_udp_port() -> Result<u16, String> {
    let s = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("UDP bind: {e}"))?;
    s.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("UDP local_addr: {e}"))
}

/// CPU time (utime + stime) `pid` has used, from /proc/<pid>/stat.
pub fn cpu_time_of(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ": state is field 3, utime 14, stime 15 (proc(5)).
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0)?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / hz as f64))
}

/// µs of CPU per authentication (`None` when nothing authenticated).
pub fn us_per_auth(cpu: Duration, auths: u64) -> Option<f64> {
    (auths > 0).then(|| cpu.as_secs_f64() * 1e6 / auths as f64)
}

/// Whether something listens on UDP `port` (from /proc/net/udp{,6}).
pub fn udp_port_bound(port: u16) -> bool {
    let needle = format!(":{port:04X}");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|s| {
            s.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|a| a.ends_with(&needle))
            })
        })
    })
}

/// A child process in its own process group: SIGTERM, then SIGKILL, on drop.
#[derive(Debug)]
pub struct Guard {
    child: Option<Child>,
    name: &'static str,
}

impl Guard {
    /// Spawns `cmd` (stdout/stderr to `log`).
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Result<Self, String> {
        let f = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let f2 = f
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .process_group(0);
        let child = cmd.spawn().map_err(|e| format!("{name}: {e}"))?;
        crate::cleanup::register_pgid(child.id() as i32);
        Ok(Self {
            child: Some(child),
            name,
        })
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Fails if the process already exited.
    pub fn check_alive(&mut self, log: &Path) -> Result<(), String> {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(st)) = c.try_wait()
        {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(format!(
                "{} exited ({st}): {}",
                self.name,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Ok(())
    }

    /// Stops the process (SIGTERM, 3 s, SIGKILL) and reaps it.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let pid = c.id() as i32;
        // SAFETY: kill(2) on the process group we created; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = c.try_wait() {
                crate::cleanup::unregister_pgid(pid);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = c.wait();
        crate::cleanup::unregister_pgid(pid);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Result<(), String> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("{what}: not ready after {timeout:?}"))
}

/// The files and helpers one bench run shares.
struct Bed {
    dir: PathBuf,
    db: PathBuf,
    aaa_server: PathBuf,
    hostapd: Option<PathBuf>,
    hlr_gw: Option<Guard>,
    hlr_socket: PathBuf,
    runs: u32,
}

/// A started server for one point.
struct Running {
    guard: Guard,
    log: PathBuf,
    addr: SocketAddr,
}

/// `session_timeout` (seconds) and `max_sessions` of the sweep's aaa-server.
const SWEEP_SESSIONS: (u64, usize) = (30, 100_000);

impl Bed {
    fn start_aaa_server(
        &mut self,
        (session_timeout, max_sessions): (u64, usize),
    ) -> Result<Running, String> {
        self.runs += 1;
        let port = free_udp_port()?;
        let acct = free_udp_port()?;
        let conf = self.dir.join(format!("aaa-{}.toml", self.runs));
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:{port}\"\naccounting_listen = \"127.0.0.1:{acct}\"\n\n\
                 [[client]]\nname = \"bench\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"{SECRET}\"\n\n\
                 [hss]\ndatabase = \"{}\"\n\n[eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\n\
                 network_name = \"WLAN\"\nsession_timeout = {session_timeout}\n\
                 max_sessions = {max_sessions}\n",
                self.db.display()
            ),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = self.dir.join(format!("aaa-{}.log", self.runs));
        let mut cmd = Command::new(&self.aaa_server);
        cmd.arg("serve").arg("--config").arg(&conf);
        let mut guard = Guard::spawn("aaa-server serve", cmd, &log)?;
        let r = wait_until("aaa-server serve", Duration::from_secs(10), || {
            udp_port_bound(port)
        });
        guard.check_alive(&log)?;
        r?;
        Ok(Running {
            guard,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    fn ensure_hlr_gw(&mut self) -> Result<(), String> {
        if self.hlr_gw.is_some() {
            return Ok(());
        }
        let log = self.dir.join("hlr-gw.log");
        let mut cmd = Command::new(&self.aaa_server);
        cmd.arg("hlr-gw")
            .arg("--db")
            .arg(&self.db)
            .arg("--socket")
            .arg(&self.hlr_socket);
        let mut g = Guard::spawn("aaa-server hlr-gw", cmd, &log)?;
        let sock = self.hlr_socket.clone();
        let r = wait_until("aaa-server hlr-gw", Duration::from_secs(10), || {
            sock.exists()
        });
        g.check_alive(&log)?;
        r?;
        self.hlr_gw = Some(g);
        Ok(())
    }

    fn start_hostapd(&mut self) -> Result<Running, String> {
        let hostapd = self
            .hostapd
            .clone()
            .ok_or("hostapd not found (install hostapd 2.10, or --servers aaa-server)")?;
        self.ensure_hlr_gw()?;
        self.runs += 1;
        let port = free_udp_port()?;
        let clients = self.dir.join("radius_clients");
        std::fs::write(&clients, format!("127.0.0.0/8 {SECRET}\n"))
            .map_err(|e| format!("{}: {e}", clients.display()))?;
        let users = self.dir.join("eap_users");
        std::fs::write(&users, "\"0\"*\tAKA\n\"6\"*\tAKA'\n\"1\"*\tSIM\n")
            .map_err(|e| format!("{}: {e}", users.display()))?;
        let conf = self.dir.join(format!("hostapd-{}.conf", self.runs));
        std::fs::write(
            &conf,
            format!(
                "driver=none\ninterface=bench{port}\nradius_server_clients={}\n\
                 radius_server_auth_port={port}\neap_server=1\neap_user_file={}\n\
                 eap_sim_db=unix:{}\n",
                clients.display(),
                users.display(),
                self.hlr_socket.display()
            ),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = self.dir.join(format!("hostapd-{}.log", self.runs));
        let mut cmd = Command::new(hostapd);
        cmd.arg(&conf);
        let mut guard = Guard::spawn("hostapd", cmd, &log)?;
        let r = wait_until("hostapd", Duration::from_secs(10), || udp_port_bound(port));
        guard.check_alive(&log)?;
        r?;
        Ok(Running {
            guard,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}

fn find_hostapd(explicit: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.clone());
    }
    crate::tools::find("hostapd").ok()
}

/// How one load run against a running server goes.
struct Load {
    method: MethodArg,
    concurrency: usize,
    stop: Stop,
    rate: Option<f64>,
    hold: bool,
}

/// Runs `load` against `running`: the summary (with the server's RSS after
/// and its CPU per authentication), the sessions held open at the Challenge
/// (hold mode), and `helper`'s CPU per authentication (hostapd's hlr-gw).
fn run_load(
    server: ServerKind,
    running: &mut Running,
    load: &Load,
    cards: &mut Vec<Card>,
    helper: Option<u32>,
) -> Result<(Summary, u64, Option<f64>), String> {
    let cfg = Config {
        server: running.addr,
        nas: Nas {
            identifier: b"testbed-bench".to_vec(),
            secret: SECRET.as_bytes().to_vec(),
            // hostapd 2.10 sends Message-Authenticator last (pre-BlastRADIUS);
            // ours must send it first. Both are verified.
            require_ma_first: server == ServerKind::AaaServer,
        },
        concurrency: load.concurrency,
        stop: load.stop,
        method: load.method.method(),
        rate: load.rate,
        timeout: Duration::from_millis(1000),
        retries: 2,
        progress: false,
        hold_at_challenge: load.hold,
    };
    let pid = running.guard.pid();
    let cpu_before = cpu_time_of(pid);
    let helper_before = helper.and_then(cpu_time_of);
    let r = engine::drive(&cfg, cards)?;
    let cpu_after = cpu_time_of(pid);
    let helper_after = helper.and_then(cpu_time_of);
    running.guard.check_alive(&running.log)?;
    let rss = lg::rss_of(pid).unwrap_or_default();
    let held = r.tally.held;
    let auths = r.tally.successes;
    let per_auth =
        |a: Option<Duration>, b: Option<Duration>| us_per_auth(b?.saturating_sub(a?), auths);
    let mut s = Summary::new(running.addr, load.method, load.concurrency, r, Some(rss));
    s.server_cpu_us_per_auth = per_auth(cpu_before, cpu_after);
    Ok((s, held, per_auth(helper_before, helper_after)))
}

/// Authenticates every subscriber once against a freshly started
/// `aaa-server` at `concurrency` and discards the result: the first vector
/// of each subscriber after a start commits an SQN range (one `fsync`,
/// shared by the first vectors waiting together), a cost of the start, not
/// of the steady state the point measures. hostapd is not warmed: each
/// warm-up authentication would hold one of its 1000 sessions for 5 s.
fn warm_up(
    running: &mut Running,
    method: MethodArg,
    concurrency: usize,
    cards: &mut Vec<Card>,
) -> Result<(), String> {
    let load = Load {
        method,
        concurrency,
        stop: Stop::Count(cards.len() as u64),
        rate: None,
        hold: false,
    };
    let (s, _, _) = run_load(ServerKind::AaaServer, running, &load, cards, None)?;
    if s.failures > 0 {
        return Err(format!(
            "aaa-server warm-up ({} c={concurrency}): {} of {} authentications failed: {:?}",
            method.name(),
            s.failures,
            cards.len(),
            s.failures_by_reason
        ));
    }
    Ok(())
}

/// Runs one point of the sweep against a running server.
fn point(
    server: ServerKind,
    running: &mut Running,
    method: MethodArg,
    concurrency: usize,
    duration: Duration,
    cards: &mut Vec<Card>,
    hlr_gw_pid: Option<u32>,
) -> Result<(Point, Summary), String> {
    if server == ServerKind::AaaServer {
        warm_up(running, method, concurrency, cards)?;
    }
    let load = Load {
        method,
        concurrency,
        stop: Stop::Duration(duration),
        rate: None,
        hold: false,
    };
    let (s, _, hlr_gw_cpu) = run_load(server, running, &load, cards, hlr_gw_pid)?;
    let rss = s.server_rss.unwrap_or_default();
    Ok((
        Point {
            server,
            method,
            concurrency,
            auths_per_sec: s.auths_per_sec,
            latency: s.latency,
            failures: s.failures,
            failures_by_reason: s.failures_by_reason.clone(),
            requests_per_sec: s.requests_per_sec,
            server_rss_kib: rss.rss_kib,
            server_peak_rss_kib: rss.peak_kib,
            hlr_gw_rss_kib: hlr_gw_pid.and_then(lg::rss_of).map(|r| r.rss_kib),
            loadgen_cpu_percent: s.loadgen_cpu_percent,
            server_cpu_us_per_auth: s.server_cpu_us_per_auth,
            hlr_gw_cpu_us_per_auth: hlr_gw_cpu,
        },
        s,
    ))
}

/// The comparison table: one row per (method, concurrency), both servers and the ratio.
pub fn table(results: &[Point]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<10} {:>5} | {:>10} {:>8} {:>8} {:>6} {:>9} | {:>10} {:>8} {:>8} {:>6} {:>9} | {:>7}\n",
        "method",
        "conc",
        "ours/s",
        "p50 ms",
        "p99 ms",
        "fail",
        "RSS KiB",
        "hostapd/s",
        "p50 ms",
        "p99 ms",
        "fail",
        "RSS KiB",
        "ratio"
    ));
    s.push_str(&"-".repeat(128));
    s.push('\n');
    let mut keys: Vec<(MethodArg, usize)> =
        results.iter().map(|p| (p.method, p.concurrency)).collect();
    keys.sort_by_key(|(m, c)| (m.name(), *c));
    keys.dedup();
    let cell = |p: Option<&Point>| match p {
        Some(p) => format!(
            "{:>10.1} {:>8.2} {:>8.2} {:>6} {:>9}",
            p.auths_per_sec, p.latency.p50_ms, p.latency.p99_ms, p.failures, p.server_rss_kib
        ),
        None => format!("{:>10} {:>8} {:>8} {:>6} {:>9}", "-", "-", "-", "-", "-"),
    };
    for (m, c) in &keys {
        let find = |k: ServerKind| {
            results
                .iter()
                .find(|p| p.server == k && p.method == *m && p.concurrency == *c)
        };
        let (ours, theirs) = (find(ServerKind::AaaServer), find(ServerKind::Hostapd));
        let ratio = match (ours, theirs) {
            (Some(o), Some(t)) if t.auths_per_sec > 0.0 => {
                format!("{:.1}x", o.auths_per_sec / t.auths_per_sec)
            }
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<10} {:>5} | {} | {} | {:>7}\n",
            m.name(),
            c,
            cell(ours),
            cell(theirs),
            ratio
        ));
    }
    for m in [MethodArg::Aka, MethodArg::AkaPrime, MethodArg::Sim] {
        let best = |k: ServerKind| {
            results
                .iter()
                .filter(|p| p.server == k && p.method == m)
                .max_by(|a, b| a.auths_per_sec.total_cmp(&b.auths_per_sec))
        };
        if let (Some(o), Some(t)) = (best(ServerKind::AaaServer), best(ServerKind::Hostapd))
            && t.auths_per_sec > 0.0
        {
            s.push_str(&format!(
                "best {:<9}: aaa-server {:.1}/s (c={}) vs hostapd {:.1}/s (c={}): {:.1}x\n",
                m.name(),
                o.auths_per_sec,
                o.concurrency,
                t.auths_per_sec,
                t.concurrency,
                o.auths_per_sec / t.auths_per_sec
            ));
        }
    }
    s
}

/// `testbed bench`.
pub fn run(args: &BenchArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("testbed bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &BenchArgs) -> Result<bool, String> {
    if !args.store.is_empty() {
        return stores::run(args);
    }
    let (concurrency, duration) = if args.quick {
        (vec![1, 64], Duration::from_millis(1500))
    } else {
        (args.concurrency.clone(), args.duration)
    };
    if concurrency.is_empty() || concurrency.contains(&0) {
        return Err("--concurrency: positive numbers, comma separated".into());
    }
    let aaa_server = match &args.aaa_server {
        Some(p) => p.clone(),
        None => crate::tools::BinDirs::discover(None)
            .find("aaa-server")
            .map_err(|e| e.to_string())?,
    };
    let hostapd = find_hostapd(args.hostapd.as_ref());
    if args.servers.contains(&ServerKind::Hostapd) && hostapd.is_none() {
        return Err("hostapd not found in PATH or /usr/sbin (or pass --servers aaa-server)".into());
    }
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
    let db = dir.join("subscribers.db");
    subscribers::provision(&aaa_server, &db, &dir, args.seed, n, false)?;
    let machine = machine(hostapd.as_deref(), &aaa_server);
    eprintln!(
        "bench: {} cores, {}; {} subscribers; {:?} per point; work dir {}",
        machine.cores,
        machine.cpu_model,
        n,
        duration,
        dir.display()
    );
    let mut bed = Bed {
        dir: dir.clone(),
        db,
        aaa_server: aaa_server.clone(),
        hostapd,
        hlr_gw: None,
        hlr_socket: dir.join("hlr.sock"),
        runs: 0,
    };
    let mut results = Vec::new();
    let mut decks = Vec::new();
    for &method in &args.methods {
        let mut cards = lg::make_cards(args.seed, n, 0, method.methods())?;
        for &c in &concurrency {
            // Alternate the servers at every point.
            for &server in &args.servers {
                let mut running = match server {
                    ServerKind::AaaServer => bed.start_aaa_server(SWEEP_SESSIONS)?,
                    ServerKind::Hostapd => bed.start_hostapd()?,
                };
                let hlr_pid = match server {
                    ServerKind::Hostapd => bed.hlr_gw.as_ref().map(Guard::pid),
                    ServerKind::AaaServer => None,
                };
                let (p, s) = point(
                    server,
                    &mut running,
                    method,
                    c,
                    duration,
                    &mut cards,
                    hlr_pid,
                )?;
                running.guard.stop();
                eprintln!(
                    "  {:<10} {:<9} c={:<4} {:>9.1} auth/s  p50 {:>7.2} ms  p99 {:>7.2} ms  failures {}{}  RSS {} KiB  loadgen CPU {:.0}%  server CPU {} µs/auth",
                    server.name(),
                    method.name(),
                    c,
                    p.auths_per_sec,
                    p.latency.p50_ms,
                    p.latency.p99_ms,
                    p.failures,
                    if s.failures_by_reason.is_empty() {
                        String::new()
                    } else {
                        format!(" {:?}", s.failures_by_reason)
                    },
                    p.server_rss_kib,
                    p.loadgen_cpu_percent,
                    p.server_cpu_us_per_auth
                        .map_or("-".into(), |c| format!("{c:.1}"))
                );
                results.push(p);
            }
        }
        decks.push((method, cards));
    }
    println!("\n{}", table(&results));
    let transport = if args.transport.contains(&transport::Transport::Radsec) {
        // The sweep's AKA' deck (its USIMs know the SQNs the store handed out).
        if !decks.iter().any(|(m, _)| *m == MethodArg::AkaPrime) {
            let cards = lg::make_cards(args.seed, n, 0, MethodArg::AkaPrime.methods())?;
            decks.push((MethodArg::AkaPrime, cards));
        }
        let cards = decks
            .iter_mut()
            .find_map(|(m, c)| (*m == MethodArg::AkaPrime).then_some(c))
            .ok_or("no AKA' subscribers")?;
        let t = transport::measure(&mut bed, &concurrency, duration, cards)?;
        println!("{}", transport::table(&t));
        Some(t)
    } else {
        None
    };
    let floor = if args.no_floor {
        None
    } else {
        let f = floor::measure(&floor::levels(&concurrency), duration)?;
        println!("{}", floor::table(&f));
        Some(f)
    };
    let targets = if args.no_targets {
        None
    } else {
        let mut t = measure_targets(args, &mut bed, &results, &concurrency, duration, &mut decks)?;
        if let (Some(c), Some(f)) = (t.server_cpu_per_auth_aka_prime.as_mut(), &floor) {
            c.floor = f.at(c.concurrency, c.verdict.measured);
        }
        println!("{}", targets::table(&t));
        Some(t)
    };
    if let Some(mut g) = bed.hlr_gw.take() {
        g.stop();
    }
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let report = BenchReport {
        machine,
        seconds_per_point: duration.as_secs_f64(),
        results,
        targets,
        transport,
        floor,
    };
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| args.out_dir.join("bench.json"));
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&json, text).map_err(|e| format!("{}: {e}", json.display()))?;
    let svg = args.out_dir.join("bench.svg");
    plot::write_svg(&svg, &report.results, &report.machine)?;
    println!("wrote {} and {}", json.display(), svg.display());
    if args.keep {
        crate::cleanup::unregister_dir(tmp.path());
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    } else {
        crate::cleanup::unregister_dir(tmp.path());
    }
    // Every point and every target run must have authenticated something
    // (whether a target was met does not decide the exit status).
    let t = report.targets.as_ref();
    Ok(report.results.iter().all(|p| p.auths_per_sec > 0.0)
        && report
            .transport
            .as_ref()
            .is_none_or(|t| t.points.iter().all(|p| p.auths_per_sec > 0.0))
        && report
            .floor
            .as_ref()
            .is_none_or(|f| f.points.iter().all(|p| p.auths > 0))
        && t.is_none_or(|t| {
            t.p99_at_half_peak
                .iter()
                .all(|h| h.achieved_auths_per_sec > 0.0)
                && t.hostapd_below_cap.iter().all(|b| b.auths_per_sec > 0.0)
                && t.memory_per_session.as_ref().is_none_or(|m| m.held > 0)
        }))
}

/// The runs after the sweep that measure the targets (see [`targets`]).
fn measure_targets(
    args: &BenchArgs,
    bed: &mut Bed,
    results: &[Point],
    concurrency: &[usize],
    duration: Duration,
    decks: &mut [(MethodArg, Vec<Card>)],
) -> Result<targets::Targets, String> {
    let mut t = targets::Targets {
        throughput_aka_prime: targets::throughput(results),
        ..Default::default()
    };
    let has = |k: ServerKind| args.servers.contains(&k);
    if t.throughput_aka_prime.is_none() {
        t.skipped
            .push("throughput_aka_prime: no aaa-server aka-prime point in the sweep".into());
    }

    // p99 at half the peak rate, per method, fresh aaa-server each.
    if args.no_half_peak {
        t.skipped.push("p99_at_half_peak: --no-half-peak".into());
    } else if !has(ServerKind::AaaServer) {
        t.skipped
            .push("p99_at_half_peak: aaa-server not in --servers".into());
    } else {
        for (method, cards) in decks.iter_mut() {
            let Some((peak, rate, c)) = targets::half_peak_plan(results, *method) else {
                continue;
            };
            let mut running = bed.start_aaa_server(SWEEP_SESSIONS)?;
            warm_up(&mut running, *method, c, cards)?;
            let load = Load {
                method: *method,
                concurrency: c,
                stop: Stop::Duration(duration),
                rate: Some(rate),
                hold: false,
            };
            let (s, _, _) = run_load(ServerKind::AaaServer, &mut running, &load, cards, None)?;
            running.guard.stop();
            let h = targets::half_peak(peak, rate, &s);
            eprintln!(
                "  half peak  {:<9} c={:<4} rate {:>8.0}/s achieved {:>8.1}/s  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  failures {}",
                method.name(),
                c,
                rate,
                h.achieved_auths_per_sec,
                h.latency.p50_ms,
                h.latency.p99_ms,
                h.latency.max_ms,
                h.failures
            );
            t.p99_at_half_peak.push(h);
        }
    }

    // hostapd's EAP engine below its 1000-session cap: a fresh hostapd per run.
    if args.no_below_cap {
        t.skipped.push("hostapd_below_cap: --no-below-cap".into());
    } else if !has(ServerKind::Hostapd) {
        t.skipped
            .push("hostapd_below_cap: hostapd not in --servers".into());
    } else {
        let mut levels: Vec<usize> = concurrency.to_vec();
        levels.push(8);
        levels.sort_unstable();
        levels.dedup();
        for (method, cards) in decks.iter_mut() {
            for &c in &levels {
                let mut running = bed.start_hostapd()?;
                let load = Load {
                    method: *method,
                    concurrency: c,
                    stop: Stop::Count(targets::BELOW_CAP_COUNT),
                    rate: None,
                    hold: false,
                };
                let hlr = bed.hlr_gw.as_ref().map(Guard::pid);
                let (s, _, hlr_cpu) =
                    run_load(ServerKind::Hostapd, &mut running, &load, cards, hlr)?;
                running.guard.stop();
                let mut b = targets::BelowCap::new(*method, targets::BELOW_CAP_COUNT, &s);
                b.hlr_gw_cpu_us_per_auth = hlr_cpu;
                eprintln!(
                    "  below cap  hostapd {:<9} c={:<4} {:>8.1} auth/s  p50 {:.2} ms  p99 {:.2} ms  failures {}  CPU {} µs/auth (+ hlr-gw {})",
                    method.name(),
                    c,
                    b.auths_per_sec,
                    b.latency.p50_ms,
                    b.latency.p99_ms,
                    b.failures,
                    b.server_cpu_us_per_auth
                        .map_or("-".into(), |c| format!("{c:.1}")),
                    b.hlr_gw_cpu_us_per_auth
                        .map_or("-".into(), |c| format!("{c:.1}"))
                );
                t.hostapd_below_cap.push(b);
            }
        }
    }
    t.ratio_to_hostapd_aka_prime = targets::ratio(results, &t.hostapd_below_cap);
    t.server_cpu_per_auth_aka_prime = targets::cpu_per_auth(results, &t.hostapd_below_cap);
    if t.server_cpu_per_auth_aka_prime.is_none() {
        t.skipped.push(
            "server_cpu_per_auth_aka_prime: no aaa-server aka-prime point with a CPU figure".into(),
        );
    }
    if t.ratio_to_hostapd_aka_prime.is_none() {
        t.skipped
            .push("ratio_to_hostapd_aka_prime: no aaa-server aka-prime point in the sweep".into());
    }

    // Memory per in-flight session: a fresh aaa-server holding N sessions open.
    if args.no_memory {
        t.skipped.push("memory_per_session: --no-memory".into());
    } else if !has(ServerKind::AaaServer) {
        t.skipped
            .push("memory_per_session: aaa-server not in --servers".into());
    } else if let Some((method, cards)) = {
        // AKA' (the method) when it was in the run.
        let i = decks
            .iter()
            .position(|(m, _)| *m == MethodArg::AkaPrime)
            .unwrap_or(0);
        decks.get_mut(i).map(|(m, c)| (*m, c))
    } {
        let n = args
            .hold_sessions
            .unwrap_or(if args.quick { 10_000 } else { 100_000 });
        let sessions = (300, (n as usize).saturating_add(n as usize / 10).max(1000));
        let c = targets::HOLD_CONCURRENCY.min(cards.len());
        let mut running = bed.start_aaa_server(sessions)?;
        let before = lg::rss_of(running.guard.pid()).unwrap_or_default();
        // In two halves: the RSS between them gives the marginal cost of the
        // second half, without the server's one-time growth.
        let mut held = 0;
        let mut failures = 0;
        let mut failures_by_reason = std::collections::BTreeMap::<String, u64>::new();
        let mut rss = Vec::new();
        for part in [n / 2, n - n / 2] {
            let load = Load {
                method,
                concurrency: c,
                stop: Stop::Count(part),
                rate: None,
                hold: true,
            };
            let (s, h, _) = run_load(ServerKind::AaaServer, &mut running, &load, cards, None)?;
            held += h;
            failures += s.failures;
            for (k, v) in s.failures_by_reason {
                *failures_by_reason.entry(k).or_default() += v;
            }
            rss.push((s.server_rss.unwrap_or_default(), h));
        }
        running.guard.stop();
        let (mid, _) = rss[0];
        let (after, second_half) = rss[1];
        let m = targets::Memory {
            verdict: targets::Verdict::at_most(
                targets::bytes_per_session(before.rss_kib, after.rss_kib, held),
                targets::MEMORY_TARGET_BYTES,
                "bytes",
            ),
            method,
            requested: n,
            held,
            failures,
            failures_by_reason,
            concurrency: c,
            rss_before_kib: before.rss_kib,
            rss_half_kib: mid.rss_kib,
            rss_after_kib: after.rss_kib,
            marginal_bytes_per_session: targets::bytes_per_session(
                mid.rss_kib,
                after.rss_kib,
                second_half,
            ),
            peak_rss_kib: after.peak_kib,
            max_sessions: sessions.1,
            session_timeout_s: sessions.0,
        };
        eprintln!(
            "  memory     aaa-server {:<9} c={:<4} {} held ({} failed): RSS {} -> {} -> {} KiB = {:.0} bytes/session (second half {:.0})",
            method.name(),
            c,
            m.held,
            m.failures,
            m.rss_before_kib,
            m.rss_half_kib,
            m.rss_after_kib,
            m.verdict.measured,
            m.marginal_bytes_per_session
        );
        t.memory_per_session = Some(m);
    }
    Ok(t)
}

/// A sweep point with fixed latencies (unit tests of the table and the targets).
#[cfg(test)]
pub(crate) fn test_point(server: ServerKind, method: MethodArg, c: usize, rate: f64) -> Point {
    Point {
        server,
        method,
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
        requests_per_sec: rate * 2.0,
        server_rss_kib: 1000,
        server_peak_rss_kib: 1000,
        hlr_gw_rss_kib: None,
        loadgen_cpu_percent: 50.0,
        server_cpu_us_per_auth: Some(1e6 / rate),
        hlr_gw_cpu_us_per_auth: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_point as p;

    #[test]
    fn table_shows_the_ratio_and_the_best_points() {
        let r = vec![
            p(ServerKind::AaaServer, MethodArg::AkaPrime, 8, 2000.0),
            p(ServerKind::Hostapd, MethodArg::AkaPrime, 8, 200.0),
            p(ServerKind::AaaServer, MethodArg::AkaPrime, 64, 3000.0),
            p(ServerKind::Hostapd, MethodArg::AkaPrime, 64, 150.0),
        ];
        let t = table(&r);
        assert!(t.contains("10.0x"), "{t}");
        assert!(t.contains("20.0x"), "{t}");
        assert!(
            t.contains(
                "best aka-prime: aaa-server 3000.0/s (c=64) vs hostapd 200.0/s (c=8): 15.0x"
            ),
            "{t}"
        );
    }

    #[test]
    fn port_probe_sees_a_bound_socket() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        assert!(udp_port_bound(port));
        drop(s);
        assert!(!udp_port_bound(port));
    }

    #[test]
    fn cpu_time_is_read_from_proc_and_divided_per_auth() {
        let pid = std::process::id();
        let before = cpu_time_of(pid).unwrap();
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = cpu_time_of(pid).unwrap();
        assert!(after > before, "{before:?} -> {after:?}");
        assert_eq!(cpu_time_of(u32::MAX), None);
        assert_eq!(us_per_auth(Duration::from_millis(3), 1000), Some(3.0));
        assert_eq!(us_per_auth(Duration::from_millis(3), 0), None);
    }

    #[test]
    fn machine_is_described() {
        let m = machine(None, Path::new("/x/aaa-server"));
        assert!(m.cores >= 1);
        assert!(!m.cpu_model.is_empty());
        assert!(m.mem_total_kib > 0);
    }
}
