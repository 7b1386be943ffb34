//! A slow or stuck subscriber store does not hold up other subscribers:
//! the socket workers hand store work to the store workers and go on, and
//! a retransmission of a request still in the store is answered once.

use super::*;
use crate::hss::sqlite::NewSubscriber;
use crate::hss::{HssError, Imsi, VectorKind};
use crate::radius::pool::{Replier, StorePool};
use eap::secret::{K, Opc};
use eap::umts::{Amf, AuthVector, Auts, Sqn, SubscriberKeys};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

/// Added to every store call.
const DELAY: Duration = Duration::from_millis(20);

/// Concurrent authentications.
const C: usize = 32;

fn imsi(i: usize) -> String {
    format!("00101{:010}", 100 + i)
}

fn keys(i: usize) -> ([u8; 16], [u8; 16]) {
    ([i as u8 + 1; 16], [i as u8 + 101; 16])
}

/// A store with `n` subscribers of their own (no two peers share an SQN).
fn store(n: usize) -> Arc<SqliteStore> {
    let s = SqliteStore::open_in_memory().unwrap();
    for i in 0..n {
        let (k, opc) = keys(i);
        s.add(&NewSubscriber {
            imsi: Imsi::parse(&imsi(i)).unwrap(),
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            amf: Amf([0x80, 0]),
            sqn: Sqn::default(),
        })
        .unwrap();
    }
    Arc::new(s)
}

fn test_peer(i: usize) -> TestPeer {
    let (k, opc) = keys(i);
    TestPeer::new(&imsi(i), k, opc, Method::AkaPrime)
}

/// The store `inner` with [`DELAY`] added to every call, and calls for
/// `stuck` (or only its subscriber check, `stuck_current`) held until
/// [`SlowStore::release`].
struct SlowStore {
    inner: Arc<SqliteStore>,
    delay: Duration,
    stuck: Option<Imsi>,
    stuck_current: Option<Imsi>,
    released: Mutex<bool>,
    wake: Condvar,
    calls: AtomicU64,
    current_calls: AtomicU64,
}

impl SlowStore {
    fn new(inner: Arc<SqliteStore>, delay: Duration, stuck: Option<Imsi>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            delay,
            stuck,
            stuck_current: None,
            released: Mutex::new(false),
            wake: Condvar::new(),
            calls: AtomicU64::new(0),
            current_calls: AtomicU64::new(0),
        })
    }

    fn wait(&self, imsi: &Imsi) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(self.delay);
        if self.stuck.as_ref() == Some(imsi) {
            self.hold();
        }
    }

    fn hold(&self) {
        let mut r = self.released.lock().unwrap();
        while !*r {
            r = self.wake.wait(r).unwrap();
        }
    }

    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.wake.notify_all();
    }
}

impl Hss for SlowStore {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.wait(imsi);
        self.inner.vector(imsi, kind)
    }
    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        self.wait(imsi);
        self.inner.vector_versioned(imsi, kind)
    }
    /// Slow like every call (a remote store); no `try_current`.
    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        self.current_calls.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(self.delay);
        if self.stuck_current.as_ref() == Some(imsi) {
            self.hold();
        }
        self.inner.current(imsi, version)
    }
    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        self.wait(imsi);
        self.inner.resync(imsi, rand, auts)
    }
}

/// Releases the held calls when dropped.
struct ReleaseOnDrop(Arc<SlowStore>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// `serve` in miniature: socket workers, store workers, loopback sockets.
struct Running {
    auth: SocketAddr,
    core: Arc<RadiusServer>,
    shutdown: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    pool: Option<StorePool>,
}

impl Running {
    fn start(hss: Arc<dyn Hss>, store_workers: usize) -> Self {
        Self::start_with(hss, store_workers, 2)
    }

    fn start_with(hss: Arc<dyn Hss>, store_workers: usize, socket_workers: usize) -> Self {
        let auth = UdpSocket::bind("127.0.0.1:0").unwrap();
        let acct = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut cfg = config(true, "WLAN");
        cfg.eap.max_sessions = 10_000;
        let core = Arc::new(RadiusServer::new(&cfg, hss, store(0)));
        let replier: Replier =
            pool::socket_replier(auth.try_clone().unwrap(), acct.try_clone().unwrap());
        let pool = StorePool::start(&core, replier, store_workers).unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let queue = pool.queue();
        let threads = udp::spawn_workers(
            &auth,
            Listener::Auth,
            &core,
            &queue,
            &shutdown,
            socket_workers,
        )
        .unwrap();
        Self {
            auth: auth.local_addr().unwrap(),
            core,
            shutdown,
            threads,
            pool: Some(pool),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(p) = self.pool.take() {
            p.join();
        }
    }
}

/// A NAS socket with a receive timeout.
fn nas_socket(timeout: Duration) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s
}

/// Sends `req`, returns the decoded answer (None: none within the timeout).
fn exchange(sock: &UdpSocket, to: SocketAddr, req: &[u8]) -> Option<Packet> {
    sock.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    Some(check(&buf[..n], req))
}

/// One full authentication over UDP; true on Access-Accept.
fn authenticate_udp(sock: &UdpSocket, to: SocketAddr, peer: &mut TestPeer, id0: u8) -> bool {
    let mut eap = peer.identity_response(1);
    let mut state: Option<Vec<u8>> = None;
    for round in 0..5u8 {
        let req = access_request(
            id0.wrapping_add(round),
            SECRET,
            &eap,
            state.as_deref(),
            true,
        );
        let Some(p) = exchange(sock, to, &req) else {
            return false;
        };
        match p.get_code() {
            Code::AccessChallenge => {
                state = rfc2865::lookup_state(&p);
                eap = peer.handle(&rfc2869::lookup_eap_message(&p).unwrap());
            }
            Code::AccessAccept => return true,
            _ => return false,
        }
    }
    false
}

/// With every store call 20 ms slow, C concurrent authentications run
/// side by side: throughput is far above one store call at a time
/// (1 / 20 ms = 50/s). Each authentication makes two store calls (the
/// vector, then the subscriber check before Access-Accept), so the ideal
/// is C / 40 ms; the bound asked for is four times the one-call-at-a-time
/// rate of 50/s, generous for a loaded 2-core machine running debug builds.
#[test]
fn slow_store_does_not_serialise_authentications() {
    let hss = SlowStore::new(store(C), DELAY, None);
    let server = Running::start(hss.clone(), C);
    let run_for = Duration::from_secs(3);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for i in 0..C {
            let (done, failed, to) = (&done, &failed, server.auth);
            scope.spawn(move || {
                let sock = nas_socket(Duration::from_secs(5));
                let mut id = 0u8;
                while t0.elapsed() < run_for {
                    let mut peer = test_peer(i);
                    peer.sqn_ms = Sqn::default();
                    if authenticate_udp(&sock, to, &mut peer, id) {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    id = id.wrapping_add(8);
                }
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let rate = n as f64 / secs;
    let serialised = 1.0 / DELAY.as_secs_f64();
    let floor = 4.0 * serialised;
    eprintln!(
        "slow store ({} ms/call), {C} concurrent: {n} authentications in {secs:.2} s = {rate:.0}/s \
         (one call at a time: {serialised:.0}/s; ideal {:.0}/s); store calls {} + {} checks; counters {:?}",
        DELAY.as_millis(),
        C as f64 / (2.0 * DELAY.as_secs_f64()),
        hss.calls.load(Ordering::Relaxed),
        hss.current_calls.load(Ordering::Relaxed),
        server.core.counters()
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "every authentication succeeds"
    );
    assert!(
        rate > floor,
        "{rate:.0} authentications/s with a {} ms store: expected > {floor:.0}/s",
        DELAY.as_millis()
    );
}

/// A subscriber whose store call never returns holds up nobody: another
/// subscriber authenticates meanwhile, the stuck request's retransmission
/// is dropped (not run twice), and once the store answers the NAS gets
/// exactly one Access-Challenge.
#[test]
fn stuck_store_call_does_not_delay_other_subscribers() {
    let stuck = Imsi::parse(&imsi(0)).unwrap();
    let hss = SlowStore::new(store(2), Duration::ZERO, Some(stuck));
    // Two store workers: the stuck call occupies one.
    let server = Running::start(hss.clone(), 2);
    let slow_nas = nas_socket(Duration::from_millis(300));
    let slow_peer = test_peer(0);
    let req = access_request(1, SECRET, &slow_peer.identity_response(1), None, true);
    assert!(
        exchange(&slow_nas, server.auth, &req).is_none(),
        "stuck in the store: no answer yet"
    );
    // The retransmission is recognised while its original is in the store.
    assert!(exchange(&slow_nas, server.auth, &req).is_none());
    assert_eq!(server.core.counters().duplicates_in_progress, 1);

    // Meanwhile another subscriber authenticates from start to end.
    let fast_nas = nas_socket(Duration::from_secs(10));
    let mut fast_peer = test_peer(1);
    assert!(
        authenticate_udp(&fast_nas, server.auth, &mut fast_peer, 50),
        "the other subscriber is served while the store is stuck"
    );

    hss.release();
    let mut buf = [0u8; 4096];
    slow_nas
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (n, _) = slow_nas
        .recv_from(&mut buf)
        .expect("the answer once the store answers");
    let p = check(&buf[..n], &req);
    assert_eq!(p.get_code(), Code::AccessChallenge);
    slow_nas
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(
        slow_nas.recv_from(&mut buf).is_err(),
        "one answer for the request and its retransmission"
    );
    // A later retransmission gets the same answer from the cache.
    let again = exchange(&slow_nas, server.auth, &req).unwrap();
    assert_eq!(again.get_code(), Code::AccessChallenge);
    assert_eq!(server.core.counters().duplicates, 1);
    assert_eq!(
        hss.calls.load(Ordering::Relaxed),
        2,
        "one vector per subscriber"
    );
}

/// The subscriber check right before Access-Accept (`Hss::current`) is
/// store work as well: with ONE socket worker and one subscriber's check
/// stuck in a slow store, another subscriber is served from start to end
/// meanwhile, and the stuck one gets its Access-Accept once the store answers.
#[test]
fn stuck_subscriber_check_does_not_block_the_socket_worker() {
    let mut hss = SlowStore::new(store(2), DELAY, None);
    Arc::get_mut(&mut hss).unwrap().stuck_current = Some(Imsi::parse(&imsi(0)).unwrap());
    let server = Running::start_with(hss.clone(), 2, 1);
    // Dropped before `server`: a failing run releases the stuck call, so
    // the workers can be joined and the test fails instead of hanging.
    let _release = ReleaseOnDrop(hss.clone());
    let slow_nas = nas_socket(Duration::from_secs(10));
    let mut slow_peer = test_peer(0);
    let req = access_request(1, SECRET, &slow_peer.identity_response(1), None, true);
    let c = exchange(&slow_nas, server.auth, &req).expect("the Challenge");
    assert_eq!(c.get_code(), Code::AccessChallenge);
    let state = rfc2865::lookup_state(&c).unwrap();
    let answer = slow_peer.handle(&rfc2869::lookup_eap_message(&c).unwrap());
    let req2 = access_request(2, SECRET, &answer, Some(&state), true);
    slow_nas.send_to(&req2, server.auth).unwrap();
    let t0 = Instant::now();
    while hss.current_calls.load(Ordering::Relaxed) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the check reaches the store"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // The only socket worker is free: another subscriber, start to end.
    let fast_nas = nas_socket(Duration::from_secs(10));
    let mut fast_peer = test_peer(1);
    assert!(
        authenticate_udp(&fast_nas, server.auth, &mut fast_peer, 50),
        "the other subscriber is served while the check is stuck"
    );

    hss.release();
    let mut buf = [0u8; 4096];
    let (n, _) = slow_nas
        .recv_from(&mut buf)
        .expect("the answer once the store answers");
    assert_eq!(check(&buf[..n], &req2).get_code(), Code::AccessAccept);
    assert_eq!(
        hss.current_calls.load(Ordering::Relaxed),
        2,
        "one check each"
    );
}

/// When the store workers cannot take a job, the request is dropped and
/// counted, and its session is left as it was: the NAS's retransmission
/// is then served normally (here a Synchronization-Failure, whose AUTS
/// goes to the store).
#[test]
fn abandoned_store_work_leaves_the_session_for_the_retransmission() {
    let store = crate::eap_server::tests::Remote(store_with_vectors());
    let srv = RadiusServer::new(&config(true, "WLAN"), Arc::new(store), store_with_vectors());
    let mut p = peer(1, Method::AkaPrime);
    p.sqn_ms = Sqn::from_seq_ind(5000, 7);
    let now = Instant::now();
    let req = access_request(1, SECRET, &p.identity_response(1), None, true);
    let Handled::Deferred(job) = srv.receive(Listener::Auth, nas(), &req, now) else {
        panic!("a permanent identity needs a vector from the store");
    };
    // Its retransmission while the job waits: dropped, not run twice.
    assert!(matches!(
        srv.receive(Listener::Auth, nas(), &req, now),
        Handled::Reply((None, ref e)) if e[..] == [Effect::DuplicateInProgress]
    ));
    let Handled::Reply((Some(challenge), _)) = srv.resume(srv.perform(job), now) else {
        panic!("the Challenge once the vector is there");
    };
    let c = check(&challenge, &req);
    let state = rfc2865::lookup_state(&c).unwrap();
    let sync = p.handle(&rfc2869::lookup_eap_message(&c).unwrap());
    assert_eq!(p.syncs, 1);
    let req2 = access_request(2, SECRET, &sync, Some(&state), true);
    let Handled::Deferred(job) = srv.receive(Listener::Auth, nas(), &req2, now) else {
        panic!("AUTS goes to the store");
    };
    let (reply, effects) = srv.abandon(job);
    assert_eq!(reply, None);
    assert_eq!(effects, vec![Effect::Dropped(DropReason::StoreBusy)]);
    assert_eq!(srv.counters().store_busy, 1);
    assert_eq!(srv.eap_sessions(), 1, "the session is kept");
    // The NAS retransmits: handled as new, in the session as it was.
    let (resp, _) = srv.handle(Listener::Auth, nas(), &req2, now);
    let c2 = check(
        &resp.expect("a new Challenge after resynchronisation"),
        &req2,
    );
    assert_eq!(c2.get_code(), Code::AccessChallenge);
    let answer = p.handle(&rfc2869::lookup_eap_message(&c2).unwrap());
    let req3 = access_request(3, SECRET, &answer, Some(&state), true);
    let (resp, effects) = srv.handle(Listener::Auth, nas(), &req3, now);
    assert_eq!(check(&resp.unwrap(), &req3).get_code(), Code::AccessAccept);
    assert!(matches!(&effects[..], [Effect::AuthFinished { .. }]));
    assert_eq!(srv.counters().accepted, 1);
}
