//! Three `aaa-server serve` nodes on one PostgreSQL database (started here:
//! Debian's `initdb` + `pg_ctl` in a temporary directory, on a Unix socket,
//! aaa-server/tests/common/postgres.rs) under `testbed loadgen`, which spreads
//! the authentications of the same subscribers over the three nodes
//! round-robin and audits every SEQ (`--sqn-audit`: read from each AUTN with
//! the card's keys; the cards are strict and resynchronise on any SEQ not
//! above the highest they accepted):
//! - three nodes: zero failures, zero resyncs, no SEQ seen twice;
//! - a node killed with SIGKILL mid-load four times, each restarted: no SEQ
//!   seen twice, zero resyncs, every node authenticates after its restart;
//! - PostgreSQL stopped and started mid-load: no Access-Accept while it is
//!   down, every accepted SEQ at or below the SQN stored in PostgreSQL after
//!   the run, and every node authenticates again without a restart.
//! - the same with `sqn_lease = 16`: resyncs (the nodes' ranges interleave),
//!   still no SEQ seen twice;
//! - the audit can fail: SQNs rolled back in PostgreSQL mid-load are found,
//!   one reissued SEQ and one resync per subscriber.
//!
//! Each run is a few seconds of load; the figures are printed, no timing is
//! asserted. Needs the `aaa-server` and `testbed` binaries (`cargo build
//! --workspace --bins`) and Debian's `postgresql`; under CI=true a missing
//! one fails the test.

mod common;
#[path = "../../aaa-server/tests/common/postgres.rs"]
mod pgsrv;

use common::{bin, ci};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "pgload-secret";
const KEY1: &str = "0202020202020202020202020202020202020202020202020202020202020202";
/// Subscribers: fewer than the authentications of a run, so that each one
/// authenticates many times, on every node in turn.
const SUBSCRIBERS: u32 = 12;
const CONCURRENCY: u32 = 6;

/// One load test at a time: each runs PostgreSQL, three nodes and the load
/// generator on this (2-core) machine, and the nodes must get to their
/// restarts and recoveries within the run.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `aaa-server serve` on `[hss] backend = "postgres"`, on a fixed port so
/// that a restarted node is where the load generator sends.
struct Node {
    aaa: PathBuf,
    conf: PathBuf,
    port: u16,
    child: Option<Child>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn new(aaa: &Path, dir: &Path, name: &str, url: &str, lease: u32) -> Self {
        let port = free_port();
        let conf = dir.join(format!("{name}.toml"));
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:{port}\"\naccounting_listen = \"127.0.0.1:0\"\n\
                 [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 [hss]\nbackend = \"postgres\"\nurl = \"{url}\"\nworkers = 4\nsqn_lease = {lease}\n\
                 [eap]\nmethods = [\"aka-prime\"]\n\
                 [privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{KEY1}\"\n"
            ),
        )
        .unwrap();
        let mut n = Node {
            aaa: aaa.to_owned(),
            conf,
            port,
            child: None,
            logs: Arc::new(Mutex::new(Vec::new())),
        };
        n.start();
        n
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process and waits until it listens.
    fn start(&mut self) {
        let mut child = Command::new(&self.aaa)
            .args(["serve", "--config"])
            .arg(&self.conf)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let logs = self.logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("aaa-server listening") {
                    let _ = tx.send(());
                }
                logs.lock().unwrap().push(line);
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "node {} did not start: {:#?}",
                self.addr(),
                self.logs.lock().unwrap()
            );
        }
        self.child = Some(child);
    }

    /// SIGKILL, reaped.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Still the process started first (never restarted, not dead).
    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// PostgreSQL, the three nodes, the binaries.
struct Bed {
    pg: pgsrv::Postgres,
    testbed: PathBuf,
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

/// One line of the `--sqn-audit` file.
#[derive(Debug, Clone)]
struct Seen {
    imsi: String,
    seq: u64,
    server: String,
    usim: String,
    outcome: String,
    at_ms: u64,
    end_ms: u64,
}

/// What one load run gave.
struct Run {
    json: serde_json::Value,
    audit: Vec<Seen>,
    stdout: String,
}

impl Run {
    fn n(&self, key: &str) -> u64 {
        self.json[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {}", self.json))
    }

    fn audit_n(&self, key: &str) -> u64 {
        self.json["sqn_audit"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("sqn_audit.{key} in {}", self.json))
    }

    fn failures(&self) -> BTreeMap<String, u64> {
        self.json["failures_by_reason"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }

    /// Accepted challenges per server, at or after `since_ms`.
    fn accepts_since(&self, server: &str, since_ms: u64) -> usize {
        self.audit
            .iter()
            .filter(|s| s.server == server && s.outcome == "accept" && s.at_ms >= since_ms)
            .count()
    }

    /// (subscriber, SEQ) pairs seen more than once, counted from the file.
    fn duplicates_in_file(&self) -> usize {
        let mut seen: HashMap<(&str, u64), u32> = HashMap::new();
        for s in self.audit.iter().filter(|s| s.usim != "mac-failure") {
            *seen.entry((s.imsi.as_str(), s.seq)).or_default() += 1;
        }
        seen.values().filter(|&&n| n > 1).count()
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {} auths ok, {} failed {:?}, {} resyncs, {} retransmissions; \
             SQN audit: {} challenges to {} subscribers, per server {}, {} SEQs seen twice",
            self.n("successes"),
            self.n("failures"),
            self.failures(),
            self.n("resyncs"),
            self.n("retransmissions"),
            self.audit_n("challenges"),
            self.audit_n("subscribers"),
            self.json["sqn_audit"]["per_server"],
            self.audit_n("duplicates"),
        );
    }
}

impl Bed {
    /// `None` (after a note) when a binary or PostgreSQL is missing outside CI.
    /// Nodes with `[hss] sqn_lease = lease`.
    fn start(provision_with_conninfo: bool, lease: u32) -> Option<Self> {
        let (Some(aaa), Some(testbed)) = (bin("aaa-server"), bin("testbed")) else {
            assert!(
                !ci(),
                "CI=true: aaa-server and testbed binaries must be built next to {:?} (cargo build --workspace --bins)",
                std::env::current_exe().ok()
            );
            eprintln!(
                "NOTE: aaa-server/testbed not built (cargo build --workspace --bins); not run"
            );
            return None;
        };
        let pg = pgsrv::Postgres::start()?;
        pg.create_db("aaa");
        let url = pg.url("aaa");
        let dir = tempfile::tempdir().unwrap();
        // The schema first (a node would do it too), then the subscribers
        // through the load generator's own --db.
        let st = Command::new(&aaa)
            .args(["db", "migrate", "--db", &url])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let db = if provision_with_conninfo {
            pg.conninfo("aaa")
        } else {
            url.clone()
        };
        let st = Command::new(&testbed)
            .args(["loadgen", "--provision-only", "--subscribers"])
            .arg(SUBSCRIBERS.to_string())
            .args(["--db", &db, "--aaa-server"])
            .arg(&aaa)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "loadgen --provision-only --db {db}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let listed = pg.psql("aaa", "SELECT count(*) FROM subscriber");
        assert_eq!(listed.trim(), SUBSCRIBERS.to_string());
        let nodes = ["a", "b", "c"]
            .iter()
            .map(|n| Node::new(&aaa, dir.path(), n, &url, lease))
            .collect();
        Some(Bed {
            pg,
            testbed,
            nodes,
            dir,
        })
    }

    /// Starts `testbed loadgen` against the three nodes for `secs`.
    fn load(&self, name: &str, secs: u32) -> (Child, PathBuf, PathBuf) {
        let json = self.dir.path().join(format!("{name}.json"));
        let audit = self.dir.path().join(format!("{name}.audit"));
        let mut cmd = Command::new(&self.testbed);
        cmd.arg("loadgen");
        for n in &self.nodes {
            cmd.args(["--server", &n.addr()]);
        }
        let child = cmd
            .args(["--secret", SECRET, "--subscribers"])
            .arg(SUBSCRIBERS.to_string())
            .arg("--concurrency")
            .arg(CONCURRENCY.to_string())
            .args(["--duration", &format!("{secs}s"), "--quiet"])
            .args(["--timeout-ms", "400", "--retries", "2"])
            .arg("--json")
            .arg(&json)
            .arg("--sqn-audit")
            .arg(&audit)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, json, audit)
    }

    /// Waits for the load generator and reads its summary and audit.
    fn finish(&self, (child, json, audit): (Child, PathBuf, PathBuf)) -> Run {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        // 0: all succeeded; 1: some failed (the summary says which); 2: an error.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "loadgen: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let text = std::fs::read_to_string(&audit).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("# imsi\tseq\tind\tserver\tusim\toutcome\tat_ms\tend_ms")
        );
        let audit = lines
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 8, "{l}");
                Seen {
                    imsi: f[0].into(),
                    seq: f[1].parse().unwrap(),
                    server: f[3].into(),
                    usim: f[4].into(),
                    outcome: f[5].into(),
                    at_ms: f[6].parse().unwrap(),
                    end_ms: f[7].parse().unwrap(),
                }
            })
            .collect();
        Run {
            json,
            audit,
            stdout,
        }
    }

    /// SEQ stored in PostgreSQL per IMSI (the committed high-water mark).
    fn stored_seq(&self) -> HashMap<String, u64> {
        self.pg
            .psql("aaa", "SELECT imsi || ' ' || (sqn >> 5) FROM subscriber")
            .lines()
            .filter_map(|l| {
                let (i, s) = l.split_once(' ')?;
                Some((i.to_owned(), s.parse().ok()?))
            })
            .collect()
    }

    /// Every accepted SEQ is at or below the SEQ PostgreSQL holds for its
    /// subscriber: it was committed before it reached the card.
    fn assert_accepted_seqs_durable(&self, run: &Run) -> usize {
        let stored = self.stored_seq();
        let mut n = 0;
        for s in run.audit.iter().filter(|s| s.usim == "ok") {
            let high = stored.get(&s.imsi).copied().unwrap_or(0);
            assert!(
                s.seq <= high,
                "{} accepted SEQ {} above the stored {high}: {s:?}",
                s.imsi,
                s.seq
            );
            n += 1;
        }
        n
    }

    /// The common checks of every run: the audit file and the summary agree,
    /// no SEQ reached a subscriber twice, no card resynchronised.
    fn assert_no_reuse(&self, run: &Run) {
        assert_eq!(run.audit.len() as u64, run.audit_n("challenges"));
        assert_eq!(run.audit_n("duplicates"), 0, "{}", run.stdout);
        assert_eq!(run.duplicates_in_file(), 0);
        assert_eq!(run.n("resyncs"), 0, "{}", run.stdout);
        assert_eq!(run.audit_n("resyncs"), 0, "{}", run.stdout);
        assert!(run.audit.iter().all(|s| s.usim != "mac-failure"));
    }
}

#[test]
fn three_nodes_one_database_no_seq_twice() {
    let _one = one_at_a_time();
    let Some(bed) = Bed::start(true, 1) else {
        return;
    };
    let run = bed.finish(bed.load("three", 4));
    print!("{}", run.stdout);
    run.print("three nodes");
    bed.assert_no_reuse(&run);
    assert_eq!(run.n("failures"), 0, "{}", run.stdout);
    assert!(run.n("successes") > 0);
    for n in &bed.nodes {
        assert!(
            run.accepts_since(&n.addr(), 0) > 0,
            "node {} authenticated nobody",
            n.addr()
        );
    }
    // The same subscribers on every node: each was accepted on all three.
    let mut nodes_of: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
    for s in run.audit.iter().filter(|s| s.outcome == "accept") {
        nodes_of.entry(&s.imsi).or_default().insert(&s.server);
    }
    assert_eq!(nodes_of.len(), SUBSCRIBERS as usize);
    assert!(nodes_of.values().all(|n| n.len() == 3), "{nodes_of:?}");
    let durable = bed.assert_accepted_seqs_durable(&run);
    println!("three nodes: {durable} accepted SEQs all at or below PostgreSQL's stored SQN");
}

/// Runs the load for 8 s and kills (SIGKILL) one node after another four
/// times, 1 s apart, each restarted on its port after 300 ms; returns the
/// run and when each node was listening again.
fn kill_four_times(bed: &mut Bed, name: &str) -> (Run, Vec<(String, u64)>) {
    let load = bed.load(name, 8);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    let mut restarted_at = Vec::new();
    for k in 0..4 {
        let i = k % bed.nodes.len();
        let node = &mut bed.nodes[i];
        node.kill9();
        let killed = t0.elapsed();
        // Down for a while: conversations sent to it are retransmitted,
        // some into the restarted node.
        std::thread::sleep(Duration::from_millis(300));
        node.start();
        let at = unix_ms();
        println!(
            "{name}: kill -9 of node {} at {:.2} s, restarted after 300 ms, listening after {} ms",
            node.addr(),
            killed.as_secs_f64(),
            (t0.elapsed() - killed).as_millis()
        );
        restarted_at.push((node.addr(), at));
        std::thread::sleep(Duration::from_millis(700));
    }
    let run = bed.finish(load);
    run.print(name);
    (run, restarted_at)
}

/// Failures are only conversations cut by a kill: in flight on the node, or
/// sent to it while it was down, they time out, or the restarted node, which
/// does not know their State, rejects them. Returns how many.
fn assert_only_cut_conversations(run: &Run) -> u64 {
    for reason in run.failures().keys() {
        assert!(
            reason == "timeout" || reason == "access-reject",
            "failure {reason} is not a conversation cut by a kill: {}",
            run.stdout
        );
    }
    run.failures().values().sum()
}

#[test]
fn kill_9_a_node_four_times_mid_load() {
    let _one = one_at_a_time();
    let Some(mut bed) = Bed::start(false, 1) else {
        return;
    };
    let (run, restarted_at) = kill_four_times(&mut bed, "kill -9 x4");
    // Bound on resyncs: zero. With sqn_lease = 1 each SEQ is committed in
    // PostgreSQL before its vector leaves a node, and a node holds no range
    // that a restart could hand out again; a SEQ issued by the killed node
    // that never reached its card only leaves a gap, which a strict USIM
    // accepts. So neither the kill nor the restart may cause a single AUTS.
    bed.assert_no_reuse(&run);
    let cut = assert_only_cut_conversations(&run);
    println!("kill -9 x4: {cut} conversations cut by the kills");
    for (addr, at) in &restarted_at {
        let after = run.accepts_since(addr, *at);
        println!("node {addr}: {after} authentications after its restart");
        assert!(
            after > 0,
            "node {addr} did not authenticate after its restart"
        );
    }
    let durable = bed.assert_accepted_seqs_durable(&run);
    println!("kill -9 x4: {durable} accepted SEQs all at or below PostgreSQL's stored SQN");
}

#[test]
fn kill_9_with_sqn_leases_never_reissues_a_seq() {
    let _one = one_at_a_time();
    let Some(mut bed) = Bed::start(false, 16) else {
        return;
    };
    let (run, restarted_at) = kill_four_times(&mut bed, "kill -9 x4, sqn_lease 16");
    // Resyncs are expected here, and are not counted against the nodes:
    // each node hands out its own range, the load generator alternates the
    // nodes, so a subscriber receives SEQs out of order and the strict cards
    // resynchronise (docs/postgresql.md, "Choosing the lease size"). What
    // must hold is that no SEQ ever reached a subscriber twice, also from
    // the lease a killed node abandoned.
    assert_eq!(run.audit.len() as u64, run.audit_n("challenges"));
    assert_eq!(run.audit_n("duplicates"), 0, "{}", run.stdout);
    assert_eq!(run.duplicates_in_file(), 0);
    assert!(run.audit.iter().all(|s| s.usim != "mac-failure"));
    for reason in run.failures().keys() {
        assert!(
            reason == "timeout" || reason == "access-reject",
            "failure {reason}: {}",
            run.stdout
        );
    }
    // A conversation whose last challenge the card refused ended after a
    // resync (the server gives up after repeated synchronisation failures).
    let after_resync = run
        .audit
        .iter()
        .filter(|s| s.usim == "resync" && s.outcome != "superseded" && s.outcome != "accept")
        .count();
    println!(
        "sqn_lease 16: {} failed {:?} ({after_resync} ended on a refused SEQ), {} resyncs",
        run.n("failures"),
        run.failures(),
        run.n("resyncs")
    );
    for (addr, at) in &restarted_at {
        assert!(
            run.accepts_since(addr, *at) > 0,
            "node {addr} did not authenticate after its restart"
        );
    }
    bed.assert_accepted_seqs_durable(&run);
}

#[test]
fn postgresql_restart_mid_load() {
    let _one = one_at_a_time();
    let Some(mut bed) = Bed::start(false, 1) else {
        return;
    };
    let load = bed.load("pgrestart", 7);
    std::thread::sleep(Duration::from_millis(1500));
    bed.pg.stop_server();
    let down = unix_ms();
    std::thread::sleep(Duration::from_millis(1500));
    let starting = unix_ms();
    bed.pg.start_server();
    let up = unix_ms();
    let run = bed.finish(load);
    run.print("PostgreSQL restart");
    bed.assert_no_reuse(&run);
    // No Access-Accept while PostgreSQL was down: a node asks the store
    // (Hss::current) right before each Accept, so none can arrive between
    // the end of `pg_ctl stop` and the start of `pg_ctl start` (200 ms of
    // grace for an Accept sent just before the stop and delivered late on
    // this loaded machine).
    let during: Vec<&Seen> = run
        .audit
        .iter()
        .filter(|s| s.outcome == "accept" && s.end_ms > down + 200 && s.end_ms < starting)
        .collect();
    assert!(
        during.is_empty(),
        "Access-Accept while PostgreSQL was down: {during:?}"
    );
    // Challenges the cards answered that ended without an Accept: their
    // conversations were cut by the stop (the node could not confirm them).
    let unconfirmed = run
        .audit
        .iter()
        .filter(|s| s.usim == "ok" && s.outcome != "accept")
        .count();
    let failed = run.n("failures");
    println!(
        "PostgreSQL down for {} ms: {failed} authentications failed {:?}, \
         {unconfirmed} answered challenges not accepted, no Access-Accept",
        starting - down,
        run.failures()
    );
    assert!(failed > 0, "PostgreSQL was down and nothing failed?");
    for reason in run.failures().keys() {
        assert!(
            reason == "timeout" || reason == "access-reject",
            "failure {reason} while PostgreSQL was down: {}",
            run.stdout
        );
    }
    // Each node said why it refused.
    for n in &bed.nodes {
        let logs = n.logs.lock().unwrap();
        let why = logs.iter().find(|l| l.contains("PostgreSQL"));
        assert!(
            why.is_some(),
            "node {} never named PostgreSQL: {logs:#?}",
            n.addr()
        );
        if let Some(l) = why.filter(|_| n.port == bed.nodes[0].port) {
            println!("node {} logged: {l}", n.addr());
        }
    }
    // The nodes recover on their own: never restarted, each authenticates
    // after PostgreSQL is back.
    for n in &mut bed.nodes {
        assert!(n.running(), "node {} died", n.addr());
        let after = run.accepts_since(&n.addr(), up);
        println!(
            "node {}: {after} authentications after PostgreSQL was back",
            n.addr()
        );
        assert!(after > 0, "node {} did not recover", n.addr());
    }
    let durable = bed.assert_accepted_seqs_durable(&run);
    println!("PostgreSQL restart: {durable} accepted SEQs all at or below PostgreSQL's stored SQN");
}

/// The audit can fail: SQNs rolled back in PostgreSQL mid-load (as a restore
/// from an old backup would) make the nodes issue SEQs the cards have seen.
/// The audit finds exactly one reissued SEQ per subscriber, each card
/// resynchronises once on it, and the run goes on above it.
#[test]
fn the_audit_catches_an_sqn_rollback() {
    let _one = one_at_a_time();
    let Some(bed) = Bed::start(false, 1) else {
        return;
    };
    let load = bed.load("rollback", 4);
    std::thread::sleep(Duration::from_millis(1500));
    bed.pg.psql("aaa", "UPDATE subscriber SET sqn = 0");
    let rolled_back = unix_ms();
    let run = bed.finish(load);
    run.print("SQN rollback");
    // Every subscriber authenticated after the rollback (the run goes on
    // for 2.5 s more), so each was issued SEQ 1 again: one duplicate and
    // one resync each, then fresh SEQs above what its card had seen.
    let after: std::collections::HashSet<&str> = run
        .audit
        .iter()
        .filter(|s| s.at_ms > rolled_back && s.outcome == "accept")
        .map(|s| s.imsi.as_str())
        .collect();
    assert_eq!(after.len(), SUBSCRIBERS as usize, "{}", run.stdout);
    assert_eq!(run.audit_n("duplicates"), u64::from(SUBSCRIBERS));
    assert_eq!(run.duplicates_in_file(), SUBSCRIBERS as usize);
    assert_eq!(run.n("resyncs"), u64::from(SUBSCRIBERS));
    assert!(
        run.audit
            .iter()
            .filter(|s| s.usim == "resync")
            .all(|s| s.seq == 1 && s.outcome == "superseded"),
        "{}",
        run.stdout
    );
    assert_eq!(run.n("failures"), 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("{SUBSCRIBERS} SEQs seen twice"))
    );
}
