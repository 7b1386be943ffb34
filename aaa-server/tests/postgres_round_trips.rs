//! The PostgreSQL store's one-statement paths against a real PostgreSQL
//! (tests/common/postgres.rs): [`Hss::authorized_vector`] (barring read and
//! SQN commit in one statement) and [`Hss::confirm`] (version, barring and
//! reply attributes before Access-Accept in one statement) keep what the
//! separate statements guaranteed — a barred subscriber gets no vector and
//! uses no SQN, and a bar, removal or re-key committed on another node
//! before the check turns the Accept down.

#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::authz::ReplyAttributes;
use aaa_server::authz::sqlite::AuthzUpdate;
use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::sqlite::{NewSubscriber, SubscriberUpdate};
use aaa_server::hss::{Hss, HssError, Imsi, VectorKind};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};

const IMSI: &str = "001010000000001";

fn keys() -> SubscriberKeys {
    SubscriberKeys::new(K::new([0x11; 16]), Opc::new([0x22; 16]))
}

fn imsi() -> Imsi {
    Imsi::parse(IMSI).unwrap()
}

fn add(s: &PgStore) {
    s.add(&NewSubscriber {
        imsi: imsi(),
        keys: keys(),
        amf: Amf([0x80, 0]),
        sqn: Sqn::from_seq_ind(10, 0),
    })
    .unwrap();
}

/// The SQN a vector carries, as the USIM reads it from AUTN.
fn sqn_of(v: &eap::umts::AuthVector) -> Sqn {
    keys().authenticate(&v.rand, &v.autn).unwrap().sqn
}

#[test]
fn a_barred_subscriber_gets_no_vector_and_uses_no_sqn() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    for lease in [1, 32] {
        let a = PgStore::open(&pg.conninfo("postgres"), None, lease).unwrap();
        let b = PgStore::open(&pg.conninfo("postgres"), None, lease).unwrap();
        assert_eq!(
            b.authorized_vector(&imsi(), VectorKind::AkaPrime)
                .unwrap_err(),
            HssError::UnknownSubscriber
        );
        add(&a);
        a.set_barred(&imsi(), true).unwrap();
        let stored = a.stored_sqn(&imsi()).unwrap();
        assert_eq!(
            b.authorized_vector(&imsi(), VectorKind::AkaPrime)
                .unwrap_err(),
            HssError::Barred
        );
        assert_eq!(a.stored_sqn(&imsi()).unwrap(), stored, "barred used an SQN");
        a.set_barred(&imsi(), false).unwrap();
        let (v, version) = b.authorized_vector(&imsi(), VectorKind::AkaPrime).unwrap();
        assert!(sqn_of(&v).seq() > stored.seq());
        assert_eq!(a.stored_sqn(&imsi()).unwrap().seq(), stored.seq() + lease);
        let (authz, current) = b.confirm(&imsi(), version);
        assert!(current.unwrap());
        assert!(!authz.unwrap().barred);
        a.remove(&imsi()).unwrap();
    }
}

#[test]
fn a_change_committed_on_another_node_before_confirm_rejects() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    for lease in [1, 32] {
        let a = PgStore::open(&pg.conninfo("postgres"), None, lease).unwrap();
        let b = PgStore::open(&pg.conninfo("postgres"), None, lease).unwrap();
        add(&a);
        a.group_add(
            "gold",
            &ReplyAttributes {
                session_timeout: Some(60),
                vlan: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
        let mut u = AuthzUpdate {
            group: Some(Some("gold".into())),
            ..Default::default()
        };
        u.attributes.set.vlan = Some(20);
        a.set_authz(&imsi(), &u).unwrap();

        // Reply attributes come with the version check: the group's
        // timeout, the subscriber's own VLAN.
        let (_, version) = b.authorized_vector(&imsi(), VectorKind::Aka).unwrap();
        let (authz, current) = b.confirm(&imsi(), version);
        let authz = authz.unwrap();
        assert!(current.unwrap() && !authz.barred);
        assert_eq!(
            (authz.reply.session_timeout, authz.reply.vlan),
            (Some(60), Some(20))
        );

        // A bars between B's vector and B's check before Accept: B sees it
        // in that one statement (barred, and a new version), whatever B's
        // lease or notifications.
        let (_, version) = b.authorized_vector(&imsi(), VectorKind::Aka).unwrap();
        a.set_barred(&imsi(), true).unwrap();
        let (authz, current) = b.confirm(&imsi(), version);
        assert!(authz.unwrap().barred);
        assert!(!current.unwrap());
        // And the next vector on B is refused, lease or not.
        assert_eq!(
            b.authorized_vector(&imsi(), VectorKind::Aka).unwrap_err(),
            HssError::Barred
        );
        a.set_barred(&imsi(), false).unwrap();

        // A re-keys between B's vector and B's check.
        let (_, version) = b.authorized_vector(&imsi(), VectorKind::Aka).unwrap();
        a.set(
            &imsi(),
            &SubscriberUpdate {
                k: Some(K::new([0x33; 16])),
                ..Default::default()
            },
        )
        .unwrap();
        let (authz, current) = b.confirm(&imsi(), version);
        assert!(!authz.unwrap().barred);
        assert!(!current.unwrap());

        // A removes between B's vector and B's check.
        let (_, version) = b.authorized_vector(&imsi(), VectorKind::Aka).unwrap();
        a.set_authz(
            &imsi(),
            &AuthzUpdate {
                group: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
        a.remove(&imsi()).unwrap();
        let (authz, current) = b.confirm(&imsi(), version);
        assert!(!authz.unwrap().barred);
        assert!(!current.unwrap());
        a.group_remove("gold").unwrap();
    }
}
