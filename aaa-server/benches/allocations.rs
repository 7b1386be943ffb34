//! Heap allocations per full EAP-AKA' authentication on the server's
//! request path, counted by a global allocator: real RADIUS Access-Requests
//! (User-Name, Calling-Station-Id, EAP-Message, State, Message-Authenticator)
//! go through `RadiusServer::receive` / `perform` / `resume` (`handle`) on a
//! SQLite file store, and each answer's effects through the socket worker's
//! `log_effects` (the per-authentication line goes to the log thread), as
//! `serve` runs them. Only the calling thread's calls are counted, and only
//! inside the server calls: building the requests and the peer's side
//! (the `radius` crate, Milenage) are not.
//!
//! Prints, per authentication and per round trip, the allocation calls
//! (`alloc` + `realloc`) and the bytes they asked for. No timing here and
//! nothing asserted about the counts: see docs/performance.md.
//!
//! Run: `cargo bench -p aaa-server --bench allocations`.

use aaa_server::config::Config;
use aaa_server::hss::sqlite::NewSubscriber;
use aaa_server::hss::{Imsi, SqliteStore};
use aaa_server::radius::{Listener, RadiusServer};
use eap::aka::attr::{AtMac, AtRes};
use eap::aka::keys::{self, Method};
use eap::aka::mac::{self, NO_EXTRA};
use eap::aka::message::{Message, Subtype};
use eap::packet::{Packet as EapPacket, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2869};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

struct Counting;

thread_local! {
    /// (calls, bytes) on this thread while counting is on.
    static COUNT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn note(bytes: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| {
                let (n, b) = c.get();
                c.set((n + 1, b + bytes as u64));
            });
        }
    });
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f` with this thread's allocations counted; returns (calls, bytes) too.
fn counted<T>(f: impl FnOnce() -> T) -> (T, (u64, u64)) {
    let before = COUNT.with(Cell::get);
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    let after = COUNT.with(Cell::get);
    (out, (after.0 - before.0, after.1 - before.1))
}

const SECRET: &[u8] = b"testing123";
const SUBSCRIBERS: u64 = 64;
const WARMUP: u64 = 2_000;
const AUTHS: u64 = 20_000;

fn keys_of(i: u64) -> (Imsi, [u8; 16], [u8; 16]) {
    let imsi = Imsi::parse(&format!("0010100{i:08}")).unwrap();
    let mut k = [0x46; 16];
    k[..8].copy_from_slice(&i.to_be_bytes());
    (imsi, k, [0xcd; 16])
}

/// An Access-Request as a NAS sends it, Message-Authenticator last.
fn access_request(id: u8, user: &str, eap: &[u8], state: Option<&[u8]>) -> Vec<u8> {
    let mut p = Packet::new_with_identifier(Code::AccessRequest, SECRET, id);
    rfc2865::add_user_name(&mut p, user);
    rfc2865::add_calling_station_id(&mut p, "02-00-00-00-00-01");
    rfc2869::add_eap_message(&mut p, eap);
    if let Some(s) = state {
        rfc2865::add_state(&mut p, s);
    }
    p.add(AVP::from_bytes(80, &[0; 16]));
    let mut bytes = p.encode().unwrap();
    use hmac::{Hmac, KeyInit, Mac};
    let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(SECRET).unwrap();
    m.update(&bytes);
    let n = bytes.len();
    bytes[n - 16..].copy_from_slice(&m.finalize().into_bytes());
    bytes
}

/// The peer's AKA'-Challenge response (RFC 9048 §3): RES and AT_MAC under K_aut.
fn challenge_response(challenge: &[u8], identity: &[u8], k: [u8; 16], opc: [u8; 16]) -> Vec<u8> {
    let pkt = EapPacket::decode(challenge).unwrap();
    let id = pkt.identifier();
    let (method, msg) = pkt.aka().unwrap();
    assert_eq!(method, Method::AkaPrime);
    let rand = *msg.rand().unwrap();
    let autn = *msg.autn().unwrap();
    let usim = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let u = usim.authenticate(&rand, &autn).unwrap();
    let (ck, ik) = keys::ck_ik_prime(&u.ck, &u.ik, b"WLAN", &autn.sqn_xor_ak()).unwrap();
    let keys = keys::derive_aka_prime(identity, &ck, &ik);
    let m = Message::new(Subtype::Challenge)
        .with(AtRes { res: u.res.clone() })
        .with(AtMac::ZEROED);
    let (mut bytes, off) = EapPacket::Response {
        identifier: id,
        data: TypeData::from_aka(method, m),
    }
    .encode_with_mac_offset()
    .unwrap();
    mac::sign(&keys.k_aut, &mut bytes, off.unwrap(), NO_EXTRA).unwrap();
    bytes
}

/// Counts per round: [Identity → Challenge, Challenge response → Accept].
type Rounds = [(u64, u64); 2];

fn authenticate(srv: &RadiusServer, nas: SocketAddr, i: u64, n: u64) -> Rounds {
    let (imsi, k, opc) = keys_of(i % SUBSCRIBERS);
    let nai = format!("6{}@wlan.mnc001.mcc001.3gppnetwork.org", imsi.as_str());
    let id_resp = EapPacket::Response {
        identifier: 1,
        data: TypeData::Identity(nai.as_bytes().to_vec()),
    }
    .encode()
    .unwrap();
    let rid = (n * 2) as u8;
    let req = access_request(rid, &nai, &id_resp, None);
    let (resp, c1) = counted(|| {
        let (resp, effects) = srv.handle(Listener::Auth, nas, &req, Instant::now());
        aaa_server::radius::udp::log_effects(srv, nas, effects);
        resp
    });
    let p = Packet::decode(&resp.expect("answered"), SECRET).unwrap();
    assert_eq!(p.get_code(), Code::AccessChallenge);
    let state = rfc2865::lookup_state(&p).unwrap();
    let eap = rfc2869::lookup_eap_message(&p).unwrap();
    let answer = challenge_response(&eap, nai.as_bytes(), k, opc);
    let req = access_request(rid.wrapping_add(1), &nai, &answer, Some(&state));
    let (resp, c2) = counted(|| {
        let (resp, effects) = srv.handle(Listener::Auth, nas, &req, Instant::now());
        aaa_server::radius::udp::log_effects(srv, nas, effects);
        resp
    });
    let p = Packet::decode(&resp.expect("answered"), SECRET).unwrap();
    assert_eq!(p.get_code(), Code::AccessAccept, "authentication {n}");
    [c1, c2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = SqliteStore::create(&db).unwrap();
    for i in 0..SUBSCRIBERS {
        let (imsi, k, opc) = keys_of(i);
        store
            .add(&NewSubscriber {
                imsi,
                keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
                amf: Amf([0x80, 0]),
                sqn: Sqn::default(),
            })
            .unwrap();
    }
    drop(store);
    let text = format!(
        "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
         [[client]]\nname = \"bench\"\nnetwork = \"127.0.0.0/8\"\nsecret = \"testing123\"\n\
         [hss]\ndatabase = {:?}\n\
         [eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\nnetwork_name = \"WLAN\"\n\
         session_timeout = 30\nmax_sessions = 100000\n",
        db.display().to_string()
    );
    let cfg = Config::parse(&text, &dir.path().join("a.toml")).unwrap();
    // As `serve` opens it: the file store behind the metrics wrapper.
    let metrics = Arc::new(aaa_server::metrics::Metrics::new());
    let store = Arc::new(SqliteStore::open(&cfg.database).unwrap());
    let metered = Arc::new(aaa_server::metrics::metered::Metered::new(
        store,
        metrics.clone(),
    ));
    let srv = RadiusServer::with_metrics(&cfg, metered.clone(), metered, metrics);
    let mut srv = srv;
    srv.set_privacy(Arc::new(
        aaa_server::privacy::startup::build(&cfg.privacy, &cfg.database).unwrap(),
    ));
    let srv = srv;
    aaa_server::auth_log::start().unwrap();
    let nas: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut n = 0;
    for _ in 0..WARMUP {
        authenticate(&srv, nas, n, n);
        n += 1;
    }
    let mut total: Rounds = [(0, 0); 2];
    for _ in 0..AUTHS {
        let r = authenticate(&srv, nas, n, n);
        for (t, c) in total.iter_mut().zip(r) {
            t.0 += c.0;
            t.1 += c.1;
        }
        n += 1;
    }
    aaa_server::auth_log::stop();
    let per = |v: u64| v as f64 / AUTHS as f64;
    let (calls, bytes) = (total[0].0 + total[1].0, total[0].1 + total[1].1);
    println!(
        "full EAP-AKA' authentication through RadiusServer::handle ({AUTHS} after {WARMUP} warm-up, {SUBSCRIBERS} subscribers):"
    );
    println!(
        "  allocations/auth: {:.2}  bytes allocated/auth: {:.0}",
        per(calls),
        per(bytes)
    );
    println!(
        "  Identity -> AKA'-Challenge: {:.2} allocations, {:.0} bytes",
        per(total[0].0),
        per(total[0].1)
    );
    println!(
        "  Challenge response -> Access-Accept: {:.2} allocations, {:.0} bytes",
        per(total[1].0),
        per(total[1].1)
    );
}
