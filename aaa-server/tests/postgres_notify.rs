//! Subscriber changes by LISTEN/NOTIFY: two PostgreSQL stores (two nodes)
//! on one database started here (tests/common/postgres.rs). A change made
//! through node A (`set`, `remove`) is delivered to node B as a
//! notification on the `aaa_subscriber_change` channel when it commits;
//! B then drops its SQN lease of that subscriber, and a removed subscriber
//! gets no vector on B. The 250 ms version poll stays as the fallback for
//! changes made without a notification.

#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::sqlite::{NewSubscriber, SubscriberUpdate};
use aaa_server::hss::{Hss, HssError, Imsi, VectorKind};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::time::{Duration, Instant};

const IMSI: &str = "001010000000077";

fn wait(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{what}: not within 10 s");
}

#[test]
fn a_change_on_one_node_is_notified_to_the_other() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    let a = PgStore::open(&url, None, 1).unwrap();
    // B leases 16 SEQ values at a time, so a change must reach it.
    let b = PgStore::open(&url, None, 16).unwrap();
    let imsi = Imsi::parse(IMSI).unwrap();
    a.add(&NewSubscriber {
        imsi: imsi.clone(),
        keys: SubscriberKeys::new(K::new([0x31; 16]), Opc::new([0x32; 16])),
        amf: Amf([0x80, 0]),
        sqn: Sqn::from_seq_ind(0, 0),
    })
    .unwrap();
    b.vector(&imsi, VectorKind::AkaPrime).unwrap();

    // B's LISTEN connection is opened by its poller thread: change the
    // subscriber until B has one notification (the first change may commit
    // before B listens).
    let t0 = Instant::now();
    let mut amf = 0u8;
    while b.change_notifications() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no notification reached node B"
        );
        amf = amf.wrapping_add(1);
        a.set(
            &imsi,
            &SubscriberUpdate {
                amf: Some(Amf([0x80, amf])),
                ..Default::default()
            },
        )
        .unwrap();
        let t = Instant::now();
        while b.change_notifications() == 0 && t.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    // B is listening now: a removal through A is notified to B...
    b.vector(&imsi, VectorKind::AkaPrime).unwrap();
    let before = b.change_notifications();
    a.remove(&imsi).unwrap();
    wait("the removal's notification on B", || {
        b.change_notifications() > before
    });
    // ... and B drops its lease: no vector for a removed subscriber.
    wait("B refusing the removed subscriber", || {
        matches!(
            b.vector(&imsi, VectorKind::AkaPrime),
            Err(HssError::UnknownSubscriber)
        )
    });
}
