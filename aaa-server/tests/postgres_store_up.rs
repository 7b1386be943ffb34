//! "Database unreachable" as a signal: one `aaa-server serve` node on a
//! PostgreSQL started here (tests/common/postgres.rs) with `[metrics]` on.
//! - running: `aaa_hss_store_up 1`, `aaa_hss_store_unreachable_total 0`;
//! - PostgreSQL stopped (`pg_ctl stop -m fast`): the gauge goes to 0 without
//!   any RADIUS traffic (the change poller notices), the counter to 1, and
//!   the log has exactly one `warn` line saying so, however long it stays down;
//! - PostgreSQL started again: the gauge goes back to 1, one `info` line,
//!   the counter stays 1, and the node never restarted;
//! - Prometheus's `promtool check metrics` accepts the scrape.
//!
//! And the SQN bump after a restore that docs/deployment.md gives, run as
//! written on a real PostgreSQL: SEQ moves by 2^20, IND stays.

mod common;
#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::hss::Imsi;
use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::sqlite::NewSubscriber;
use common::{SECRET, tool};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const KEY1: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const DOWN_LINE: &str = "PostgreSQL unreachable";
const UP_LINE: &str = "PostgreSQL reachable again";

struct Node {
    child: Child,
    metrics: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("aaa.toml");
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
                 [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 [hss]\nbackend = \"postgres\"\nurl = \"{url}\"\n\
                 [eap]\nmethods = [\"aka-prime\"]\n\
                 [metrics]\nlisten = \"127.0.0.1:0\"\n\
                 [privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{KEY1}\"\n"
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                // The metrics line comes first; the probes are registered
                // once the store is open, before "aaa-server listening".
                if line.contains("metrics endpoint listening")
                    || line.contains("aaa-server listening")
                {
                    let _ = tx.send(line.clone());
                }
                l.lock().unwrap().push(line);
            }
        });
        let wait = || {
            rx.recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("node did not start: {:#?}", logs.lock().unwrap()))
        };
        let line = wait();
        assert!(line.contains("metrics endpoint listening"), "{line}");
        wait();
        let start = line.find("addr=").unwrap() + 5;
        let metrics = line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Node {
            child,
            metrics,
            logs,
            _dir: dir,
        }
    }

    fn scrape(&self) -> String {
        let mut s = TcpStream::connect(self.metrics).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", self.metrics).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        body.to_string()
    }

    fn value(&self, series: &str) -> u64 {
        let body = self.scrape();
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {series} in\n{body}"))
    }

    /// Waits up to 10 s for `series` to read `want`.
    fn wait_value(&self, series: &str, want: u64) {
        for _ in 0..1000 {
            if self.value(series) == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{series} did not become {want}: {}\nlog: {:#?}",
            self.scrape(),
            self.logs()
        );
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.logs().iter().filter(|l| l.contains(needle)).count()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn promtool_accepts(text: &str) {
    let Some(bin) = tool("promtool") else {
        return;
    };
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
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("aaa_hss_store"),
        "promtool on the store metrics: {report}"
    );
}

#[test]
fn store_up_follows_postgresql_and_logs_each_transition_once() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let mut node = Node::start(&pg.url("aaa"));
    assert_eq!(node.value("aaa_hss_store_up"), 1);
    assert_eq!(node.value("aaa_hss_store_unreachable_total"), 0);
    let body = node.scrape();
    assert!(
        body.contains("# TYPE aaa_hss_store_up gauge"),
        "gauge type: {body}"
    );
    promtool_accepts(&body);
    assert_eq!(node.count(DOWN_LINE), 0);

    pg.stop_server();
    node.wait_value("aaa_hss_store_up", 0);
    assert_eq!(node.value("aaa_hss_store_unreachable_total"), 1);
    // Several polls later, still one line for the whole outage.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(node.value("aaa_hss_store_up"), 0);
    assert_eq!(node.count(DOWN_LINE), 1, "{:#?}", node.logs());
    let down = node
        .logs()
        .into_iter()
        .find(|l| l.contains(DOWN_LINE))
        .unwrap();
    assert!(down.contains("WARN"), "{down}");
    eprintln!("{down}");
    assert_eq!(node.count(UP_LINE), 0);

    pg.start_server();
    node.wait_value("aaa_hss_store_up", 1);
    assert_eq!(node.value("aaa_hss_store_unreachable_total"), 1);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(node.count(UP_LINE), 1, "{:#?}", node.logs());
    let up = node
        .logs()
        .into_iter()
        .find(|l| l.contains(UP_LINE))
        .unwrap();
    assert!(up.contains("INFO"), "{up}");
    eprintln!("{up}");
    assert_eq!(node.count(DOWN_LINE), 1);
    assert!(node.alive(), "the node recovered without a restart");
    promtool_accepts(&node.scrape());
}

/// The ```sql block of docs/deployment.md that advances every SQN.
fn restore_bump_sql() -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/deployment.md"
    ))
    .unwrap();
    doc.split("```sql\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("UPDATE subscriber SET sqn"))
        .expect("docs/deployment.md has the SQN bump")
        .to_string()
}

#[test]
fn the_documented_restore_bump_advances_seq_and_keeps_ind() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let store = PgStore::open(&pg.url("aaa"), None, 1).unwrap();
    let subs = [
        ("001010000000101", Sqn::from_seq_ind(0, 0)),
        ("001010000000102", Sqn::from_seq_ind(77, 13)),
        ("001010000000103", Sqn::from_seq_ind(5_000_000, 31)),
    ];
    for (imsi, sqn) in subs {
        store
            .add(&NewSubscriber {
                imsi: Imsi::parse(imsi).unwrap(),
                keys: SubscriberKeys::new(K::new([0x11; 16]), Opc::new([0x22; 16])),
                amf: Amf([0x80, 0]),
                sqn,
            })
            .unwrap();
    }
    let sql = restore_bump_sql();
    pg.psql("aaa", &sql);
    for (imsi, before) in subs {
        let after = store.stored_sqn(&Imsi::parse(imsi).unwrap()).unwrap();
        assert_eq!(after.seq(), before.seq() + (1 << 20), "{imsi}");
        assert_eq!(after.ind(), before.ind(), "{imsi}");
    }
}
