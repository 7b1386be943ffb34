//! The PostgreSQL store against a real PostgreSQL (started per test in a
//! temporary directory, see tests/common/postgres.rs): no SQN issued twice
//! by concurrent stores or across `kill -9`, resync and subscriber changes
//! seen by every node, idempotent accounting, newer schemas refused, and the
//! subscriber CLI with a URL.

#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::sqlite::{NewSubscriber, SubscriberUpdate};
use aaa_server::hss::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::collections::HashSet;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IMSI: &str = "001010000000001";
const KEY: [u8; 16] = [0x11; 16];
const OPC: [u8; 16] = [0x22; 16];

fn keys() -> SubscriberKeys {
    SubscriberKeys::new(K::new(KEY), Opc::new(OPC))
}

fn imsi() -> Imsi {
    Imsi::parse(IMSI).unwrap()
}

fn add(s: &PgStore, sqn: Sqn) {
    s.add(&NewSubscriber {
        imsi: imsi(),
        keys: keys(),
        amf: Amf([0x80, 0]),
        sqn,
    })
    .unwrap();
}

/// The SQN a vector carries, as the USIM reads it from AUTN (SQN ⊕ AK).
fn sqn_of(v: &eap::umts::AuthVector) -> Sqn {
    keys().authenticate(&v.rand, &v.autn).unwrap().sqn
}

#[test]
fn concurrent_vectors_from_two_stores_never_share_an_sqn() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    // One node commits every SQN, the other leases 16 at a time.
    let a = Arc::new(PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap());
    let b = Arc::new(PgStore::open(&pg.url("postgres"), None, 16).unwrap());
    add(&a, Sqn::from_seq_ind(100, 0));
    let started = Instant::now();
    let mut threads = Vec::new();
    for (i, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        threads.push(std::thread::spawn(move || {
            (0..750)
                .map(|_| {
                    let kind = if i % 2 == 0 {
                        VectorKind::Aka
                    } else {
                        VectorKind::AkaPrime
                    };
                    sqn_of(&s.vector(&imsi(), kind).unwrap()).seq()
                })
                .collect::<Vec<u64>>()
        }));
    }
    let mut seen = HashSet::new();
    let mut n = 0;
    for t in threads {
        for seq in t.join().unwrap() {
            n += 1;
            assert!(seq > 100, "SEQ {seq} not above the stored one");
            assert!(seen.insert(seq), "SEQ {seq} issued twice");
        }
    }
    assert_eq!(n, 3000);
    let wall = started.elapsed();
    eprintln!(
        "3000 vectors (4 threads, two stores, lease 1 and 16) in {wall:?}: {:.0} vectors/s",
        3000.0 / wall.as_secs_f64()
    );
    // Nothing above the committed mark was issued.
    let stored = a.stored_sqn(&imsi()).unwrap().seq();
    assert!(
        seen.iter().all(|s| *s <= stored),
        "an SEQ above the committed mark {stored}"
    );
}

#[test]
fn resync_and_subscriber_changes_reach_the_other_node() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let a = PgStore::open(&pg.conninfo("postgres"), None, 32).unwrap();
    let b = PgStore::open(&pg.conninfo("postgres"), None, 32).unwrap();
    add(&a, Sqn::from_seq_ind(10, 0));
    // Node B holds a lease; the USIM is far ahead (SEQ 5000) and resyncs on A.
    let (vb, version_b) = b.vector_versioned(&imsi(), VectorKind::Aka).unwrap();
    assert_eq!(sqn_of(&vb).seq(), 11);
    let rand = [7u8; 16];
    let auts = keys().auts(&rand, Sqn::from_seq_ind(5000, 3));
    assert_eq!(a.resync(&imsi(), &rand, &auts).unwrap().seq(), 5000);
    assert!(a.stored_sqn(&imsi()).unwrap().seq() > 5000);
    // The resync invalidates B's lease: an Accept from B's old vector is refused,
    // and B's next vectors are above SQN_MS once it polled.
    assert!(!b.current(&imsi(), version_b).unwrap());
    std::thread::sleep(aaa_server::hss::postgres::POLL * 3);
    let next = sqn_of(&b.vector(&imsi(), VectorKind::Aka).unwrap()).seq();
    assert!(
        next > 5000,
        "B issued SEQ {next} from its old lease after the resync"
    );
    let (va, version_a) = a.vector_versioned(&imsi(), VectorKind::Aka).unwrap();
    assert!(sqn_of(&va).seq() > 5000 && sqn_of(&va).seq() != next);
    assert!(b.current(&imsi(), version_a).unwrap());
    // A bad AUTS changes nothing.
    assert_eq!(
        a.resync(&imsi(), &[8u8; 16], &auts),
        Err(HssError::ResyncMacFailure)
    );
    // K changed on A: B turns down the authentication in flight.
    a.set(
        &imsi(),
        &SubscriberUpdate {
            k: Some(K::new([0x33; 16])),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!b.current(&imsi(), version_a).unwrap());
    // Removed on A: B refuses at once.
    let (_, v) = b.vector_versioned(&imsi(), VectorKind::Aka).unwrap();
    a.remove(&imsi()).unwrap();
    assert!(!b.current(&imsi(), v).unwrap());
    std::thread::sleep(aaa_server::hss::postgres::POLL * 3);
    assert_eq!(
        b.vector(&imsi(), VectorKind::Aka).err(),
        Some(HssError::UnknownSubscriber)
    );
}

#[test]
fn accounting_retransmissions_are_stored_once() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let a = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    let b = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    let rec = AccountingRecord {
        client: "ap1".into(),
        session_id: "5f3a".into(),
        status_type: 3,
        user: "anonymous@example".into(),
        nas: "ap1".into(),
        input_octets: 1000,
        output_octets: 2000,
        session_time: 60,
        event_timestamp: Some(1_700_000_000),
        delay_time: None,
        calling_station_id: "02-00-00-00-00-01".into(),
    };
    a.record(&rec).unwrap();
    // The NAS retransmits to the other node.
    b.record(&rec).unwrap();
    assert_eq!(a.accounting_count().unwrap(), 1);
    let later = AccountingRecord {
        event_timestamp: Some(1_700_000_060),
        session_time: 120,
        ..rec.clone()
    };
    b.record(&later).unwrap();
    let stop = AccountingRecord {
        status_type: 2,
        event_timestamp: None,
        delay_time: Some(0),
        ..later.clone()
    };
    a.record(&stop).unwrap();
    a.record(&stop).unwrap();
    assert_eq!(a.accounting_count().unwrap(), 3);
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    drop(PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap());
    pg.psql(
        "postgres",
        "INSERT INTO schema_version (version) VALUES (999)",
    );
    let e = PgStore::open(&pg.conninfo("postgres"), None, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("schema version 999 is newer"), "{e}");
    let out = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["db", "migrate", "--db", &pg.url("postgres")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer than this build knows"), "{err}");
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .output()
        .unwrap();
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
fn subscriber_cli_and_db_migrate_with_a_url() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    let (ok, out) = cli(&["db", "migrate", "--db", &url]);
    assert!(ok && out.contains("migrated to schema version"), "{out}");
    let (ok, out) = cli(&["db", "migrate", "--db", &url]);
    assert!(ok && out.contains("schema up to date"), "{out}");
    let k = hex::encode(KEY);
    let opc = hex::encode(OPC);
    let (ok, out) = cli(&[
        "subscriber",
        "add",
        "--db",
        &url,
        "--imsi",
        IMSI,
        "--k",
        &k,
        "--opc",
        &opc,
        "--sqn",
        "20",
    ]);
    assert!(ok && out.contains("added"), "{out}");
    let (ok, out) = cli(&[
        "subscriber",
        "add",
        "--db",
        &url,
        "--imsi",
        IMSI,
        "--k",
        &k,
        "--opc",
        &opc,
    ]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = cli(&[
        "subscriber",
        "set",
        "--db",
        &url,
        "--imsi",
        IMSI,
        "--amf",
        "9000",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["subscriber", "list", "--db", &url, "--json"]);
    assert!(ok, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["imsi"], IMSI);
    assert_eq!(list[0]["amf"], "9000");
    assert_eq!(list[0]["sqn"], "000000000020");
    assert!(!out.contains(&k));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("milenage_db");
    std::fs::write(
        &file,
        format!("001010000000002 {k} {opc} 8000 000000000040\n"),
    )
    .unwrap();
    let (ok, out) = cli(&[
        "subscriber",
        "import",
        "--db",
        &url,
        "--milenage-db",
        file.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("1 added"), "{out}");
    let (ok, out) = cli(&["subscriber", "remove", "--db", &url, "--imsi", IMSI]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["subscriber", "remove", "--db", &url, "--imsi", IMSI]);
    assert!(!ok && out.contains("unknown subscriber"), "{out}");
    let (ok, out) = cli(&["subscriber", "list", "--db", &url]);
    assert!(
        ok && out.contains("001010000000002") && !out.contains(IMSI),
        "{out}"
    );
    // A password in the URL is refused.
    let bad = url.replace("postgres@", "postgres:secret@");
    let (ok, out) = cli(&["subscriber", "list", "--db", &bad]);
    assert!(
        !ok && out.contains("carries a password") && !out.contains("secret@"),
        "{out}"
    );
}

struct HlrGw {
    child: Child,
}

impl Drop for HlrGw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hlr_gw(url: &str, sock: &std::path::Path, lease: &str) -> HlrGw {
    let _ = std::fs::remove_file(sock);
    let child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args([
            "hlr-gw",
            "--db",
            url,
            "--socket",
            sock.to_str().unwrap(),
            "--sqn-lease",
            lease,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "hlr-gw did not bind");
        std::thread::sleep(Duration::from_millis(20));
    }
    HlrGw { child }
}

/// One AKA-REQ-AUTH through hostapd's hlr_auc_gw protocol; the SEQ of the vector.
fn request(client: &UnixDatagram, gw: &std::path::Path) -> Option<u64> {
    client
        .send_to(format!("AKA-REQ-AUTH {IMSI}").as_bytes(), gw)
        .ok()?;
    let mut buf = [0u8; 512];
    let n = client.recv(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    let f: Vec<&str> = text.split(' ').collect();
    if f.len() < 7 {
        return None;
    }
    let mut rand = [0u8; 16];
    let mut autn = [0u8; 16];
    hex::decode_to_slice(f[2], &mut rand).unwrap();
    hex::decode_to_slice(f[3], &mut autn).unwrap();
    Some(
        keys()
            .authenticate(&rand, &eap::umts::Autn(autn))
            .unwrap()
            .sqn
            .seq(),
    )
}

#[test]
fn kill_9_of_a_node_never_reissues_an_sqn() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let url = pg.url("postgres");
    add(
        &PgStore::open(&url, None, 1).unwrap(),
        Sqn::from_seq_ind(0, 0),
    );
    let dir = tempfile::tempdir().unwrap();
    let (sa, sb) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let client_path = dir.path().join("client.sock");
    let client = UnixDatagram::bind(&client_path).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Node A leases 64 SEQs at a time, node B commits each one.
    let mut a = hlr_gw(&url, &sa, "64");
    let _b = hlr_gw(&url, &sb, "1");
    let mut seen = HashSet::new();
    for round in 0..4 {
        for i in 0..60 {
            let gw = if i % 2 == 0 { &sa } else { &sb };
            let seq = request(&client, gw).expect("a vector");
            assert!(seen.insert(seq), "SEQ {seq} issued twice (round {round})");
        }
        // SIGKILL node A, holding most of a lease, and restart it.
        unsafe { libc::kill(a.child.id() as i32, libc::SIGKILL) };
        let _ = a.child.wait();
        a = hlr_gw(&url, &sa, "64");
    }
    for i in 0..40 {
        let gw = if i % 2 == 0 { &sa } else { &sb };
        let seq = request(&client, gw).expect("a vector");
        assert!(
            seen.insert(seq),
            "SEQ {seq} issued twice after the restarts"
        );
    }
    let max = *seen.iter().max().unwrap();
    // Each kill abandons at most one lease (64 SEQs).
    assert!(
        max <= 280 + 5 * 64,
        "gaps larger than the abandoned leases: max SEQ {max}"
    );
    eprintln!(
        "kill -9 audit: {} vectors, {} distinct SEQs, highest {max}",
        280,
        seen.len()
    );
}

#[test]
fn db_copy_sqlite_to_postgres_and_back_loses_nothing() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.db");
    let last = dir.path().join("back/last.db");
    {
        let s = aaa_server::hss::SqliteStore::create(&first).unwrap();
        for (i, seq) in [(1, 7u64), (2, 900)] {
            s.add(&NewSubscriber {
                imsi: Imsi::parse(&format!("00101000000000{i}")).unwrap(),
                keys: keys(),
                amf: Amf([0x80, i as u8]),
                sqn: Sqn::from_seq_ind(seq, 3),
            })
            .unwrap();
        }
        // Authorization: a group, a subscriber's own VLAN over it, a bar.
        s.group_add(
            "gold",
            &aaa_server::authz::ReplyAttributes {
                session_timeout: Some(600),
                vlan: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
        let mut u = aaa_server::authz::sqlite::AuthzUpdate {
            group: Some(Some("gold".into())),
            ..Default::default()
        };
        u.attributes.set.vlan = Some(20);
        s.set_authz(&imsi(), &u).unwrap();
        s.set_barred(&imsi(), true).unwrap();
        for id in ["a", "b"] {
            s.record(&AccountingRecord {
                client: "ap".into(),
                session_id: id.into(),
                status_type: 1,
                nas: "ap".into(),
                ..Default::default()
            })
            .unwrap();
        }
    }
    let first_s = first.to_str().unwrap();
    let last_s = last.to_str().unwrap();
    let (ok, out) = cli(&["db", "copy", "--from", first_s, "--to", &url]);
    assert!(
        ok && out.contains("copied 2 subscriber(s) (2 new) and 2 accounting"),
        "{out}"
    );
    let (ok, out) = cli(&["db", "copy", "--from", &url, "--to", last_s]);
    assert!(
        ok && out.contains("copied 2 subscriber(s) (2 new) and 2 accounting"),
        "{out}"
    );
    let list = |db: &str| cli(&["subscriber", "list", "--db", db, "--json"]).1;
    assert_eq!(list(first_s), list(&url));
    assert_eq!(list(first_s), list(last_s));
    let back = aaa_server::hss::SqliteStore::open(&last).unwrap();
    assert_eq!(back.accounting_count().unwrap(), 2);
    // Groups, the override and the bar came through both ways.
    let show = |db: &str| cli(&["subscriber", "show", "--db", db, "--imsi", IMSI]).1;
    assert_eq!(show(first_s), show(&url));
    assert_eq!(show(first_s), show(last_s));
    let a = back.authorization_of(&imsi()).unwrap();
    assert!(a.barred);
    assert_eq!(
        (a.reply.session_timeout, a.reply.vlan),
        (Some(600), Some(20))
    );
    back.set_barred(&imsi(), false).unwrap();
    // The keys came through: the USIM accepts a vector from the copy.
    let v = back.vector(&imsi(), VectorKind::Aka).unwrap();
    assert!(sqn_of(&v).seq() > 7);
    // Copying again adds nothing (accounting into PostgreSQL is idempotent).
    let (ok, out) = cli(&["db", "copy", "--from", first_s, "--to", &url]);
    assert!(ok && out.contains("(0 new)"), "{out}");
    assert_eq!(
        pg.psql("aaa", "SELECT count(*) FROM accounting").trim(),
        "2"
    );
}

#[test]
fn gsm_milenage_triplets_come_from_the_stored_keys_without_an_sqn() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let a = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    add(&a, Sqn::from_seq_ind(7, 0));
    let (t, version) = a.triplets(&imsi(), 3).unwrap();
    assert_eq!(t.len(), 3);
    let rands: HashSet<[u8; 16]> = t.iter().map(|t| t.rand).collect();
    assert_eq!(rands.len(), 3, "RANDs must be distinct (RFC 4186 §9.3)");
    for x in &t {
        // TS 55.205 GSM-Milenage from the subscriber's K/OPc.
        assert_eq!(x, &keys().gsm_triplet(x.rand));
    }
    assert!(a.current(&imsi(), version).unwrap());
    // GSM uses no SQN: the next vector still carries the stored SEQ + 1.
    let v = a.vector(&imsi(), VectorKind::Aka).unwrap();
    assert_eq!(sqn_of(&v), Sqn::from_seq_ind(8, 1));
    let unknown = Imsi::parse("001019999999999").unwrap();
    assert!(matches!(
        a.triplets(&unknown, 2),
        Err(HssError::UnknownSubscriber)
    ));
}

#[test]
fn groups_and_barring_are_seen_by_every_node_at_once() {
    use aaa_server::authz::ReplyAttributes;
    use aaa_server::authz::sqlite::AuthzUpdate;
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let a = PgStore::open(&pg.conninfo("postgres"), None, 32).unwrap();
    let b = PgStore::open(&pg.conninfo("postgres"), None, 32).unwrap();
    add(&a, Sqn::from_seq_ind(10, 0));
    a.group_add(
        "gold",
        &ReplyAttributes {
            session_timeout: Some(60),
            vlan: Some(10),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        a.group_add("gold", &ReplyAttributes::default()),
        Err(HssError::Exists)
    );
    let mut u = AuthzUpdate {
        group: Some(Some("gold".into())),
        ..Default::default()
    };
    u.attributes.set.vlan = Some(20);
    a.set_authz(&imsi(), &u).unwrap();
    // The subscriber's own VLAN beats the group's; the group's timeout stays.
    let seen = b.authorization(&imsi()).unwrap();
    assert!(!seen.barred);
    assert_eq!(
        (seen.reply.session_timeout, seen.reply.vlan),
        (Some(60), Some(20))
    );
    assert_eq!(a.group_remove("gold"), Err(HssError::GroupInUse(1)));
    // B holds a lease and an authentication in flight; A bars.
    let (_, version) = b.vector_versioned(&imsi(), VectorKind::Aka).unwrap();
    let stored = a.stored_sqn(&imsi()).unwrap();
    a.set_barred(&imsi(), true).unwrap();
    assert!(b.authorization(&imsi()).unwrap().barred);
    assert!(!b.current(&imsi(), version).unwrap());
    assert_eq!(
        a.stored_sqn(&imsi()).unwrap(),
        stored,
        "barring used an SQN"
    );
    a.set_barred(&imsi(), false).unwrap();
    assert!(!b.authorization(&imsi()).unwrap().barred);
    let other = Imsi::parse("001010000000002").unwrap();
    assert_eq!(a.set_barred(&other, true), Err(HssError::UnknownSubscriber));
    // Removing the subscriber drops its authorization row with it.
    a.remove(&imsi()).unwrap();
    a.group_remove("gold").unwrap();
}

#[test]
fn accounting_start_and_stop_build_and_close_sessions_on_every_node() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let a = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    let b = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    let rec = |status: u32, client: &str, id: &str, user: &str| AccountingRecord {
        client: client.into(),
        session_id: id.into(),
        status_type: status,
        user: user.into(),
        nas: "ap1".into(),
        calling_station_id: "02-00-00-00-00-01".into(),
        delay_time: Some(0),
        ..Default::default()
    };
    let user = "0001010000000001@wlan.mnc001.mcc001.3gppnetwork.org";
    a.record(&rec(1, "nas-a", "s1", user)).unwrap();
    b.record(&rec(3, "nas-a", "s2", "pseudonym@x")).unwrap();
    b.record(&rec(1, "nas-b", "s3", user)).unwrap();
    let all = a.sessions(None).unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0].imsi.as_deref(), Some(IMSI));
    assert_eq!(all[0].calling_station_id, "02-00-00-00-00-01");
    assert_eq!(b.sessions(Some(&imsi())).unwrap().len(), 2);
    let (ok, out) = cli(&[
        "session",
        "list",
        "--db",
        &pg.url("postgres"),
        "--imsi",
        IMSI,
    ]);
    assert!(ok && out.contains("s1") && out.contains("s3"), "{out}");
    b.record(&rec(2, "nas-a", "s1", user)).unwrap();
    assert_eq!(a.sessions(None).unwrap().len(), 2);
    // Accounting-Off from nas-a closes its sessions.
    a.record(&rec(8, "nas-a", "", "")).unwrap();
    let left = b.sessions(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].client, "nas-b");
}

#[test]
fn stored_triplets_imported_with_a_url_are_served_by_every_node() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let url = pg.url("postgres");
    let a = PgStore::open(&url, None, 1).unwrap();
    let b = PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap();
    // A 2G-only SIM: no K/OPc, three triplets from an hlr_auc_gw file.
    let two_g = Imsi::parse("001010000000077").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("triplets.txt");
    let line = |i: u8| {
        format!(
            "{}:{}:{}:{}\n",
            two_g.as_str(),
            hex::encode([i; 8]),
            hex::encode([0x50 + i; 4]),
            hex::encode([0xa0 + i; 16])
        )
    };
    std::fs::write(
        &file,
        format!("# IMSI:Kc:SRES:RAND\n{}{}", line(1), line(2)),
    )
    .unwrap();
    let import = || {
        cli(&[
            "subscriber",
            "import",
            "--db",
            &url,
            "--triplets",
            file.to_str().unwrap(),
        ])
    };
    let (ok, out) = import();
    assert!(ok && out.contains("2 added, 0 replaced"), "{out}");
    std::fs::write(&file, format!("{}{}", line(2), line(3))).unwrap();
    let (ok, out) = import();
    assert!(ok && out.contains("1 added, 1 replaced"), "{out}");
    // Least used first, in file order; each node sees the other's use.
    let (t, version) = a.triplets(&two_g, 2).unwrap();
    assert_eq!(
        t.iter().map(|t| t.rand[0]).collect::<Vec<_>>(),
        [0xa1, 0xa2]
    );
    assert_eq!(t[0].sres.as_bytes(), &[0x51; 4]);
    let (t, _) = b.triplets(&two_g, 2).unwrap();
    assert_eq!(t[0].rand[0], 0xa3);
    assert!(b.current(&two_g, version).unwrap());
    // A new import is a change: an authentication in flight is turned down.
    let (ok, out) = import();
    assert!(ok && out.contains("0 added, 2 replaced"), "{out}");
    assert!(!b.current(&two_g, version).unwrap());
    // One triplet is not enough (RFC 4186 needs 2 or 3 distinct RANDs).
    std::fs::write(&file, line(9).replace("077:", "078:")).unwrap();
    assert!(import().0);
    let one = Imsi::parse("001010000000078").unwrap();
    assert!(matches!(
        a.triplets(&one, 3),
        Err(HssError::UnknownSubscriber)
    ));
}
