//! The socket shell around [`Authentication`]: groups of up to
//! [`MAX_IN_FLIGHT_PER_SOCKET`] slots, each group one connected UDP socket and
//! one task; a slot's RADIUS identifier is its index, so a response finds its
//! authentication without a lookup table. Timeouts and retransmissions run
//! off a 5 ms tick; the rate limit ([`Pacer`]) wakes the group with a timer
//! at the next permit, so starts are spread evenly instead of released in
//! bursts on the tick. With several servers ([`drive_many`]) the socket is
//! not connected: each slot remembers its conversation's server, sends there
//! and takes answers only from there.

use super::auth::{Authentication, Failure, Nas, Step};
use super::subscribers::Card;
use eap::aka::keys::Method;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// In-flight requests per UDP socket (RADIUS identifiers are 8 bits).
pub const MAX_IN_FLIGHT_PER_SOCKET: usize = 200;

/// When the run stops starting new authentications.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many authentications were started.
    Count(u64),
    /// After this long.
    Duration(Duration),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The RADIUS server.
    pub server: SocketAddr,
    /// Shared secret and NAS-Identifier.
    pub nas: Nas,
    /// Authentications in flight at once.
    pub concurrency: usize,
    /// When to stop.
    pub stop: Stop,
    /// EAP-AKA or EAP-AKA'.
    pub method: Method,
    /// At most this many authentications started per second.
    pub rate: Option<f64>,
    /// Retransmission timeout.
    pub timeout: Duration,
    /// Retransmissions before a timeout counts as a failure.
    pub retries: u32,
    /// Show a progress bar.
    pub progress: bool,
    /// Leave each AKA-Challenge unanswered (sessions stay open on the server).
    pub hold_at_challenge: bool,
}

/// How far the [`Pacer`] may fall behind its schedule and catch up: tokio
/// timers have 1 ms resolution, so a wake-up is up to ~1 ms late; a later
/// one forfeits the missed permits rather than releasing them in a burst.
pub const PACER_MAX_LAG: Duration = Duration::from_millis(1);

/// The start-rate limit: one permit every `interval`, on a fixed schedule
/// that may lag `now` by at most `max_lag` (a wake-up that late releases at
/// most `max_lag / interval + 1` starts at once; permits older than that are
/// dropped, so the achieved rate can fall below the target, never exceed it
/// by more than that burst). Sans-IO: the caller passes `now` and sleeps
/// until [`Pacer::next_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    next: Instant,
    interval: Duration,
    max_lag: Duration,
}

impl Pacer {
    /// `rate` permits per second (clamped to at least one per 10^6 s), the
    /// first one at `now`.
    pub fn new(rate: f64, now: Instant, max_lag: Duration) -> Self {
        let rate = if rate.is_finite() {
            rate.max(1e-6)
        } else {
            1e-6
        };
        Self {
            next: now,
            interval: Duration::from_secs_f64(1.0 / rate),
            max_lag,
        }
    }

    /// Takes a permit if one is due at `now`.
    pub fn permit(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        let floor = now.checked_sub(self.max_lag).unwrap_or(now);
        self.next = self.next.max(floor) + self.interval;
        true
    }

    /// When the next permit is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }
}

/// Counters of one run (merged over the groups).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Successful authentications (keys checked).
    pub successes: u64,
    /// Latency of each successful authentication, microseconds.
    pub latencies_us: Vec<u32>,
    /// Failures by [`Failure::key`], with the first example's text.
    pub failures: BTreeMap<&'static str, (u64, String)>,
    /// Access-Requests sent (first transmissions).
    pub requests: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Responses that matched no outstanding request.
    pub stale: u64,
    /// AUTS resynchronisations.
    pub resyncs: u64,
    /// Access-Requests of the successful authentications.
    pub success_rounds: u64,
    /// Authentications left open at the Challenge (hold mode).
    pub held: u64,
}

impl Tally {
    fn fail(&mut self, f: Failure) {
        let e = self
            .failures
            .entry(f.key())
            .or_insert_with(|| (0, f.to_string()));
        e.0 += 1;
    }

    fn merge(&mut self, o: Tally) {
        self.successes += o.successes;
        self.latencies_us.extend(o.latencies_us);
        for (k, (n, ex)) in o.failures {
            let e = self.failures.entry(k).or_insert((0, ex));
            e.0 += n;
        }
        self.requests += o.requests;
        self.retransmissions += o.retransmissions;
        self.stale += o.stale;
        self.resyncs += o.resyncs;
        self.success_rounds += o.success_rounds;
        self.held += o.held;
    }

    /// Total failures.
    pub fn failed(&self) -> u64 {
        self.failures.values().map(|(n, _)| n).sum()
    }
}

/// The outcome of [`drive`].
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The counters.
    pub tally: Tally,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// CPU time (user + system) the load generator itself used.
    pub cpu: Duration,
}

/// CPU time (user + system) of this process so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Shared {
    started: AtomicU64,
    done_ok: AtomicU64,
    done_failed: AtomicU64,
    stop_all: AtomicBool,
    deadline: Option<Instant>,
    cards: Mutex<VecDeque<Card>>,
    /// The servers, [`Config::server`] first; each card goes round them
    /// ([`Card::next_server`]).
    servers: Vec<SocketAddr>,
}

impl Shared {
    fn may_start(&self, stop: Stop) -> bool {
        if self.stop_all.load(Ordering::Relaxed) {
            return false;
        }
        match stop {
            Stop::Count(n) => {
                if self.started.fetch_add(1, Ordering::Relaxed) < n {
                    true
                } else {
                    self.started.fetch_sub(1, Ordering::Relaxed);
                    false
                }
            }
            Stop::Duration(_) => self.deadline.is_none_or(|d| Instant::now() < d),
        }
    }

    /// Whether a datagram from `from` may answer a conversation on `server`.
    fn answers_from(&self, from: SocketAddr, server: usize) -> bool {
        self.servers.len() == 1 || self.servers.get(server) == Some(&from)
    }

    fn take_card(&self) -> Option<Card> {
        self.cards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn put_card(&self, c: Card) {
        self.cards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(c);
    }
}

/// Request Authenticators: OS randomness fetched 4 KiB at a time.
struct Randomness {
    buf: Vec<u8>,
    pos: usize,
}

impl Randomness {
    fn new() -> Self {
        Self {
            buf: vec![0; 4096],
            pos: 4096,
        }
    }

    fn next(&mut self) -> Result<[u8; 16], String> {
        if self.pos + 16 > self.buf.len() {
            getrandom::fill(&mut self.buf).map_err(|e| format!("getrandom: {e}"))?;
            self.pos = 0;
        }
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf[self.pos..self.pos + 16]);
        self.pos += 16;
        Ok(a)
    }
}

struct Slot {
    auth: Authentication,
    card: Card,
    /// When the first Access-Request of this authentication was handed to the
    /// socket (the real start, not the scheduled permit): latency runs from here.
    started: Instant,
    sent_at: Instant,
    packet: Vec<u8>,
    retries: u32,
    /// Index of the server this conversation runs on.
    server: usize,
}

/// Sends on a socket connected to the only server, or to `server` of several.
async fn send(sock: &UdpSocket, shared: &Shared, server: usize, p: &[u8]) {
    let _ = match shared.servers.get(server) {
        Some(&to) if shared.servers.len() > 1 => sock.send_to(p, to).await,
        _ => sock.send(p).await,
    };
}

/// Runs the load: `cards` are the subscribers (at least `concurrency`); they
/// come back with their SQN state so a later run can reuse them.
pub fn drive(cfg: &Config, cards: &mut Vec<Card>) -> Result<RunResult, String> {
    drive_many(cfg, &[], cards)
}

/// [`drive`] against [`Config::server`] and `more` servers: each
/// conversation (every round of one EAP authentication) stays on one
/// server; a subscriber's next conversation goes to the next server,
/// round-robin ([`Card::next_server`]).
pub fn drive_many(
    cfg: &Config,
    more: &[SocketAddr],
    cards: &mut Vec<Card>,
) -> Result<RunResult, String> {
    if cfg.concurrency == 0 {
        return Err("concurrency must be at least 1".into());
    }
    if let Some(s) = more.iter().find(|s| s.is_ipv4() != cfg.server.is_ipv4()) {
        return Err(format!(
            "servers {} and {s}: all IPv4 or all IPv6 (one socket sends to every server)",
            cfg.server
        ));
    }
    if cards.len() < cfg.concurrency {
        return Err(format!(
            "{} subscribers cannot keep {} authentications in flight (one per subscriber)",
            cards.len(),
            cfg.concurrency
        ));
    }
    let groups = cfg.concurrency.div_ceil(MAX_IN_FLIGHT_PER_SOCKET);
    let threads = groups
        .min(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let shared = Arc::new(Shared {
        started: AtomicU64::new(0),
        done_ok: AtomicU64::new(0),
        done_failed: AtomicU64::new(0),
        stop_all: AtomicBool::new(false),
        deadline: match cfg.stop {
            Stop::Duration(d) => Some(Instant::now() + d),
            Stop::Count(_) => None,
        },
        cards: Mutex::new(std::mem::take(cards).into()),
        servers: std::iter::once(cfg.server)
            .chain(more.iter().copied())
            .collect(),
    });
    let several = !more.is_empty();
    let t0 = Instant::now();
    let cpu0 = process_cpu();
    let result = rt.block_on(async {
        let mut tasks = Vec::new();
        let mut left = cfg.concurrency;
        for _ in 0..groups {
            let n = left.min(MAX_IN_FLIGHT_PER_SOCKET);
            left -= n;
            let bind: SocketAddr = if cfg.server.is_ipv4() {
                "0.0.0.0:0"
                    .parse()
                    .map_err(|_| "bind address".to_string())?
            } else {
                "[::]:0".parse().map_err(|_| "bind address".to_string())?
            };
            let sock = UdpSocket::bind(bind)
                .await
                .map_err(|e| format!("UDP bind: {e}"))?;
            enlarge_buffers(&sock);
            // Several servers: one unconnected socket, answers matched by source.
            if !several {
                sock.connect(cfg.server)
                    .await
                    .map_err(|e| format!("UDP connect {}: {e}", cfg.server))?;
            }
            let rate = cfg.rate.map(|r| r * n as f64 / cfg.concurrency as f64);
            tasks.push(tokio::spawn(group(
                sock,
                n,
                rate,
                cfg.clone(),
                shared.clone(),
            )));
        }
        let progress = cfg
            .progress
            .then(|| tokio::spawn(progress(cfg.stop, shared.clone())));
        let mut tally = Tally::default();
        let mut err = None;
        for t in tasks {
            match t.await {
                Ok(Ok(g)) => tally.merge(g),
                Ok(Err(e)) => err = Some(e),
                Err(e) => err = Some(format!("load task: {e}")),
            }
        }
        shared.stop_all.store(true, Ordering::Relaxed);
        if let Some(p) = progress {
            let _ = p.await;
        }
        match err {
            Some(e) => Err(e),
            None => Ok(tally),
        }
    });
    let elapsed = t0.elapsed();
    let cpu = process_cpu().saturating_sub(cpu0);
    *cards = std::mem::take(&mut *shared.cards.lock().unwrap_or_else(|e| e.into_inner())).into();
    cards.sort_by_key(|c| c.index);
    Ok(RunResult {
        tally: result?,
        elapsed,
        cpu,
    })
}

/// 4 MiB socket buffers, so a burst of answers is not dropped while this
/// process is descheduled (SO_RCVBUFFORCE as root, else capped by rmem_max).
fn enlarge_buffers(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let size: libc::c_int = 4 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        for opt in [force, plain] {
            // SAFETY: setsockopt on a socket we own with a c_int option value.
            let r = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                break;
            }
        }
    }
}

async fn progress(stop: Stop, shared: Arc<Shared>) {
    use indicatif::{ProgressBar, ProgressStyle};
    let t0 = Instant::now();
    let bar = match stop {
        Stop::Count(n) => ProgressBar::new(n),
        Stop::Duration(d) => ProgressBar::new(d.as_millis() as u64),
    };
    let template = match stop {
        Stop::Count(_) => "{bar:40} {pos}/{len} auths  {msg}",
        Stop::Duration(_) => "{bar:40} {elapsed}  {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let ok = shared.done_ok.load(Ordering::Relaxed);
        let failed = shared.done_failed.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (ok - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
        last = (now, ok);
        match stop {
            Stop::Count(_) => bar.set_position(ok + failed),
            Stop::Duration(_) => bar.set_position(t0.elapsed().as_millis() as u64),
        }
        bar.set_message(format!("{ok} ok  {failed} failed  {rate:.0} auth/s"));
        if shared.stop_all.load(Ordering::Relaxed) {
            break;
        }
    }
    bar.finish_and_clear();
}

async fn group(
    sock: UdpSocket,
    n: usize,
    rate: Option<f64>,
    cfg: Config,
    shared: Arc<Shared>,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut rnd = Randomness::new();
    let mut slots: Vec<Option<Slot>> = (0..n).map(|_| None).collect();
    let mut idle: Vec<usize> = (0..n).rev().collect();
    let mut pacer = rate.map(|r| Pacer::new(r, Instant::now(), PACER_MAX_LAG));
    let mut stopped = false;
    // Timeouts and retransmissions only; the pacer has its own timer.
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pace = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(pace);
    let mut buf = vec![0u8; 4096];

    // Starts authentications in idle slots while the stop rule and the rate allow.
    macro_rules! fill {
        () => {
            while !stopped && let Some(&i) = idle.last() {
                if let Some(p) = pacer.as_mut()
                    && !p.permit(Instant::now())
                {
                    break;
                }
                if !shared.may_start(cfg.stop) {
                    stopped = true;
                    break;
                }
                let Some(mut card) = shared.take_card() else {
                    return Err("no free subscriber".into());
                };
                idle.pop();
                let server = card.next_server(shared.servers.len());
                card.begin(server);
                let (mut auth, step) = Authentication::start(
                    &card.peer,
                    card.calling_station_id(),
                    cfg.method,
                    &cfg.nas,
                    i as u8,
                    rnd.next()?,
                    Vec::with_capacity(256),
                );
                if cfg.hold_at_challenge {
                    auth = auth.hold_at_challenge();
                }
                match step {
                    Step::Send(p) => {
                        tally.requests += 1;
                        let started = Instant::now();
                        send(&sock, &shared, server, &p).await;
                        slots[i] = Some(Slot {
                            auth,
                            card,
                            started,
                            sent_at: started,
                            packet: p,
                            retries: 0,
                            server,
                        });
                    }
                    Step::Failed(f) => {
                        card.end(f.key());
                        tally.fail(f);
                        shared.done_failed.fetch_add(1, Ordering::Relaxed);
                        shared.put_card(card);
                        idle.push(i);
                    }
                    Step::Success | Step::Held => {
                        // Cannot happen before any answer; count it as a peer failure.
                        let f = Failure::PeerFailure("success before any answer".into());
                        card.end(f.key());
                        tally.fail(f);
                        shared.put_card(card);
                        idle.push(i);
                    }
                }
            }
        };
    }

    loop {
        fill!();
        if stopped && idle.len() == n {
            break;
        }
        // Rate-limited with idle slots: wake at the next permit.
        let pacing = match &pacer {
            Some(p) if !stopped && !idle.is_empty() => {
                let at = tokio::time::Instant::from_std(p.next_at());
                if pace.deadline() != at {
                    pace.as_mut().reset(at);
                }
                true
            }
            _ => false,
        };
        tokio::select! {
            () = &mut pace, if pacing => {}
            r = sock.recv_from(&mut buf) => {
                let (len, from) = match r {
                    Ok(l) => l,
                    // ICMP port unreachable and the like: the timeouts count it.
                    Err(_) => continue,
                };
                let d = &buf[..len];
                let Some(i) = super::radius::identifier(d).map(usize::from).filter(|&i| i < n) else {
                    tally.stale += 1;
                    continue;
                };
                let Some(slot) = slots[i].as_mut().filter(|s| shared.answers_from(from, s.server)) else {
                    tally.stale += 1;
                    continue;
                };
                let next = rnd.next()?;
                let Some(step) = slot.auth.on_datagram(&mut slot.card.usim, &cfg.nas, d, next, Vec::with_capacity(256)) else {
                    tally.stale += 1;
                    continue;
                };
                match step {
                    Step::Send(p) => {
                        tally.requests += 1;
                        send(&sock, &shared, slot.server, &p).await;
                        slot.packet = p;
                        slot.sent_at = Instant::now();
                        slot.retries = 0;
                    }
                    Step::Success => {
                        let Some(mut s) = slots[i].take() else { continue };
                        s.card.end("accept");
                        tally.successes += 1;
                        tally.success_rounds += u64::from(s.auth.rounds());
                        tally.resyncs += u64::from(s.auth.resyncs());
                        tally.latencies_us.push(s.started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        shared.done_ok.fetch_add(1, Ordering::Relaxed);
                        shared.put_card(s.card);
                        idle.push(i);
                    }
                    Step::Held => {
                        let Some(mut s) = slots[i].take() else { continue };
                        s.card.end("held");
                        tally.held += 1;
                        shared.done_ok.fetch_add(1, Ordering::Relaxed);
                        shared.put_card(s.card);
                        idle.push(i);
                    }
                    Step::Failed(f) => {
                        let Some(mut s) = slots[i].take() else { continue };
                        s.card.end(f.key());
                        tally.resyncs += u64::from(s.auth.resyncs());
                        tally.fail(f);
                        shared.done_failed.fetch_add(1, Ordering::Relaxed);
                        shared.put_card(s.card);
                        idle.push(i);
                    }
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                for (i, slot) in slots.iter_mut().enumerate() {
                    let Some(s) = slot.as_mut() else { continue };
                    if now.duration_since(s.sent_at) < cfg.timeout {
                        continue;
                    }
                    if s.retries < cfg.retries {
                        s.retries += 1;
                        tally.retransmissions += 1;
                        send(&sock, &shared, s.server, &s.packet).await;
                        s.sent_at = now;
                    } else if let Some(mut s) = slot.take() {
                        s.card.end(Failure::Timeout.key());
                        tally.fail(Failure::Timeout);
                        shared.done_failed.fetch_add(1, Ordering::Relaxed);
                        shared.put_card(s.card);
                        idle.push(i);
                    }
                }
            }
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Permits taken at `now`, until the pacer refuses.
    fn drain(p: &mut Pacer, now: Instant) -> u32 {
        let mut n = 0;
        while p.permit(now) {
            n += 1;
            assert!(n < 1_000_000, "pacer never refuses");
        }
        n
    }

    #[test]
    fn on_time_wake_ups_release_one_permit_each() {
        let t0 = Instant::now();
        // 10 000/s: one permit every 100 µs.
        let mut p = Pacer::new(10_000.0, t0, MS);
        assert_eq!(p.next_at(), t0);
        let mut now = t0;
        for _ in 0..1000 {
            assert_eq!(drain(&mut p, now), 1);
            assert!(p.next_at() > now);
            now = p.next_at();
        }
        // 1000 permits in exactly 1000 intervals.
        assert_eq!(now.duration_since(t0), Duration::from_millis(100));
    }

    #[test]
    fn a_late_wake_up_catches_up_at_most_max_lag() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10_000.0, t0, MS);
        assert_eq!(drain(&mut p, t0), 1);
        // 0.5 ms late: the 5 permits due by then (t0+100 µs … t0+500 µs) are released.
        assert_eq!(drain(&mut p, t0 + MS / 2), 5);
        // 20 ms late: only 1 ms worth (10 permits) + the one due now, not 200.
        let late = t0 + 20 * MS;
        assert_eq!(drain(&mut p, late), 11);
        assert!(p.next_at() > late);
        // And the schedule goes on evenly from there.
        let next = p.next_at();
        assert_eq!(drain(&mut p, next), 1);
        assert_eq!(p.next_at().duration_since(next), Duration::from_micros(100));
    }

    #[test]
    fn the_long_run_rate_is_the_target_with_timer_granularity_wake_ups() {
        // 18 000/s with wake-ups on whole milliseconds (tokio's resolution).
        let t0 = Instant::now();
        let mut p = Pacer::new(18_000.0, t0, MS);
        let mut total = 0;
        let mut burst = 0;
        for ms in 0..1000u32 {
            let n = drain(&mut p, t0 + ms * MS);
            burst = burst.max(n);
            total += n;
        }
        assert!((17_980..=18_001).contains(&total), "{total}");
        // At most one millisecond worth (+1) at once.
        assert!(burst <= 19, "{burst}");
    }

    #[test]
    fn odd_rates_do_not_panic() {
        let t0 = Instant::now();
        for r in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e12] {
            let mut p = Pacer::new(r, t0, MS);
            assert!(p.permit(t0));
        }
        // The first permit is due at once even right after boot (no underflow).
        let mut p = Pacer::new(1.0, t0, Duration::from_secs(1_000_000_000));
        assert!(p.permit(t0));
        assert!(!p.permit(t0));
    }
}
