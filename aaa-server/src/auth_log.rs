//! The per-authentication log line, written off the request path: socket
//! workers hand a finished authentication to a bounded queue
//! ([`submit`], never blocking); one log thread drains it every
//! [`DRAIN_EVERY`] and writes the whole batch to stderr with one write.
//! Lines that find the queue full are dropped and counted ([`dropped`]).
//!
//! Until [`start`] runs (unit tests, tools), [`submit`] logs inline.
//!
//! [`MakeStderr`] is the `tracing` writer of the process: on the log
//! thread it appends to the batch, everywhere else it writes to stderr.

use crate::eap_server::Report;
use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the log thread drains the queue (workers never wake it).
pub const DRAIN_EVERY: Duration = Duration::from_millis(20);

/// Lines the queue holds: 20 ms at 3 million authentications/s.
pub const CAPACITY: usize = 65_536;

/// One finished authentication.
#[derive(Debug)]
pub struct AuthLine {
    /// The client's name.
    pub client: std::sync::Arc<str>,
    /// The NAS address.
    pub nas: SocketAddr,
    /// What happened.
    pub report: Report,
}

impl AuthLine {
    fn emit(&self) {
        if PLAIN_TEXT.load(Ordering::Relaxed)
            && tracing::enabled!(target: TARGET, tracing::Level::INFO)
            && BATCH.with(|b| {
                let mut b = b.borrow_mut();
                let Some(buf) = b.as_mut() else {
                    return false;
                };
                LINE.with(|l| {
                    let mut l = l.borrow_mut();
                    l.clear();
                    self.write_plain(&mut l);
                    buf.extend_from_slice(l.as_bytes());
                });
                true
            })
        {
            return;
        }
        self.emit_tracing();
    }

    /// The line exactly as `tracing_subscriber`'s plain-text format
    /// (no ANSI colours, default fields) writes the event of
    /// [`Self::emit_tracing`], without its per-event dispatch and field
    /// visitors (about a tenth of the server's instructions per
    /// authentication). `plain_text_is_tracing_s` checks the two agree.
    fn write_plain(&self, out: &mut String) {
        use std::fmt::Write as _;
        let r = &self.report;
        write_timestamp(out, std::time::SystemTime::now());
        out.push_str("  INFO ");
        out.push_str(TARGET);
        out.push_str(": authentication finished client=");
        out.push_str(&self.client);
        out.push_str(" nas=");
        match self.nas {
            SocketAddr::V4(a) => {
                for (i, o) in a.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    push_u64(out, o.into());
                }
                out.push(':');
                push_u64(out, a.port().into());
            }
            SocketAddr::V6(a) => {
                let _ = write!(out, "{a}");
            }
        }
        out.push_str(" identity=");
        out.push_str(&r.identity);
        // `{:?}` of a method name: quoted (the names have nothing to escape).
        out.push_str(" method=\"");
        out.push_str(r.method_name().unwrap_or("-"));
        let _ = write!(out, "\" result={} round_trips=", r.result);
        push_u64(out, r.round_trips.into());
        out.push_str(" duration_ms=");
        push_duration_ms(out, r.duration);
        out.push('\n');
    }

    fn emit_tracing(&self) {
        let r = &self.report;
        tracing::info!(
            client = %self.client,
            nas = %self.nas,
            identity = %r.identity,
            method = r.method_name().unwrap_or("-"),
            result = %r.result,
            round_trips = r.round_trips,
            duration_ms = format_args!("{:.1}", r.duration.as_secs_f64() * 1000.0),
            "authentication finished"
        );
    }
}

/// Appends `d` in milliseconds as `{:.1}` writes `d.as_secs_f64() * 1000.0`,
/// with integer arithmetic (float formatting was a tenth of the line's
/// cost). The float is within a fraction of a nanosecond of the exact
/// value, so both round the same way unless the exact value is a tie
/// (`…x.x5` ms to the nanosecond) or too large for that bound: those go
/// through the float formatting.
fn push_duration_ms(out: &mut String, d: Duration) {
    let ns = d.as_nanos();
    if ns % 100_000 == 50_000 || ns >= 1 << 40 {
        use std::fmt::Write as _;
        let _ = write!(out, "{:.1}", d.as_secs_f64() * 1000.0);
        return;
    }
    let tenths = (ns + 50_000) / 100_000;
    push_u64(out, (tenths / 10) as u64);
    out.push('.');
    out.push(char::from(b'0' + (tenths % 10) as u8));
}

/// Appends `v` in decimal.
fn push_u64(out: &mut String, mut v: u64) {
    let mut d = [0u8; 20];
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&d[i..]).unwrap_or("0"));
}

/// Appends `t` as `tracing_subscriber`'s `SystemTime` timer writes it
/// (RFC 3339, UTC, microseconds: `2026-12-03T09:01:14.891472Z`). The
/// date and time to the second are computed once per second.
fn write_timestamp(out: &mut String, t: std::time::SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) else {
        out.push_str("<unknown time>");
        return;
    };
    let secs = d.as_secs();
    SECOND.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            c.0 = secs;
            c.1.clear();
            let (y, mo, day) = civil_from_days(secs / 86_400);
            let sod = secs % 86_400;
            let w = &mut c.1;
            let _ = if y > 9999 {
                std::fmt::Write::write_fmt(w, format_args!("+{y}"))
            } else {
                std::fmt::Write::write_fmt(w, format_args!("{y:04}"))
            };
            let _ = std::fmt::Write::write_fmt(
                w,
                format_args!(
                    "-{mo:02}-{day:02}T{:02}:{:02}:{:02}.",
                    sod / 3600,
                    sod / 60 % 60,
                    sod % 60
                ),
            );
        }
        out.push_str(&c.1);
    });
    let micros = d.subsec_micros();
    let mut m = [b'0'; 6];
    let mut v = micros;
    for b in m.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&m).unwrap_or("000000"));
    out.push('Z');
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The target of the line (this module's path).
const TARGET: &str = "aaa_server::auth_log";

/// Whether the process logs in `tracing_subscriber`'s plain-text format
/// without ANSI colours ([`set_plain_text`]).
static PLAIN_TEXT: AtomicBool = AtomicBool::new(false);

/// Tells the log thread the process's `tracing` output is the plain-text
/// format without ANSI colours: it then writes the line itself, byte for
/// byte the same. Off (the default), the line goes through `tracing`.
pub fn set_plain_text(on: bool) {
    PLAIN_TEXT.store(on, Ordering::Relaxed);
}

struct Queue {
    tx: SyncSender<AuthLine>,
}

static QUEUE: OnceLock<Queue> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
static THREAD: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

thread_local! {
    /// `Some` on the log thread: tracing output collected for one write.
    static BATCH: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    /// The log thread's reused buffer for one hand-written line.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Hands `line` to the log thread; when the queue is full the line is
/// dropped and counted. Logs inline when no log thread runs.
pub fn submit(line: AuthLine) {
    match QUEUE.get() {
        None => line.emit(),
        Some(q) => match q.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        },
    }
}

/// Lines dropped because the queue was full.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Starts the log thread (once per process; later calls do nothing).
pub fn start() -> std::io::Result<()> {
    start_with(CAPACITY)
}

fn start_with(capacity: usize) -> std::io::Result<()> {
    let (tx, rx) = sync_channel(capacity);
    if QUEUE.set(Queue { tx }).is_err() {
        return Ok(());
    }
    let h = std::thread::Builder::new()
        .name("auth-log".into())
        .spawn(move || run(rx))?;
    *THREAD.lock().unwrap_or_else(|e| e.into_inner()) = Some(h);
    Ok(())
}

/// Writes what is queued and stops the log thread (at shutdown; lines
/// submitted after it are dropped and counted).
pub fn stop() {
    STOP.store(true, Ordering::Relaxed);
    if let Some(h) = THREAD.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = h.join();
    }
}

fn run(rx: Receiver<AuthLine>) {
    BATCH.with(|b| *b.borrow_mut() = Some(Vec::with_capacity(1 << 16)));
    loop {
        let stopping = STOP.load(Ordering::Relaxed);
        while let Ok(line) = rx.try_recv() {
            line.emit();
        }
        flush();
        if stopping {
            return;
        }
        std::thread::sleep(DRAIN_EVERY);
    }
}

/// Writes the log thread's batch to stderr in one write.
fn flush() {
    BATCH.with(|b| {
        if let Some(buf) = b.borrow_mut().as_mut()
            && !buf.is_empty()
        {
            let _ = std::io::stderr().lock().write_all(buf);
            buf.clear();
        }
    });
}

/// The `tracing` writer: the log thread's batch, or stderr.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeStderr;

/// What [`MakeStderr`] hands to one event.
pub struct Writer;

impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let batched = BATCH.with(|b| match b.borrow_mut().as_mut() {
            Some(buf) => {
                buf.extend_from_slice(data);
                true
            }
            None => false,
        });
        if batched {
            Ok(data.len())
        } else {
            std::io::stderr().write(data)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeStderr {
    type Writer = Writer;

    fn make_writer(&'a self) -> Writer {
        Writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u32) -> AuthLine {
        AuthLine {
            client: "nas".into(),
            nas: "127.0.0.1:1".parse().unwrap(),
            report: Report {
                identity: format!("6{i}"),
                method: None,
                result: crate::eap_server::AuthResult::Success(crate::eap_server::Success::Full),
                round_trips: 2,
                duration: Duration::from_millis(1),
                eap_sim: false,
            },
        }
    }

    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    /// The hand-written line is byte for byte what `tracing`'s plain-text
    /// format writes, but for the timestamp's value (same shape).
    #[test]
    fn plain_text_is_tracing_s() {
        use crate::eap_server::{AuthResult, Reject, Success};
        let mut lines = vec![line(1), line(2), line(3)];
        lines[0].report.method = Some(eap::aka::keys::Method::AkaPrime);
        lines[1].report.method = Some(eap::aka::keys::Method::Aka);
        lines[1].report.result = AuthResult::Reject(Reject::UnknownState);
        lines[1].report.duration = Duration::from_micros(123_456_789);
        lines[2].report.eap_sim = true;
        lines[2].report.result = AuthResult::Success(Success::Full);
        lines[2].client = "nas \"one\" é".into();
        lines[2].nas = "[2001:db8::1]:1812".parse().unwrap();
        lines[0].nas = "255.0.10.1:65535".parse().unwrap();
        let cap = Capture::default();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(cap.clone())
                .with_ansi(false)
                .finish(),
        );
        for l in &lines {
            cap.0.lock().unwrap().clear();
            tracing::dispatcher::with_default(&dispatch, || l.emit_tracing());
            let theirs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
            let mut ours = String::new();
            l.write_plain(&mut ours);
            let (t_ts, t_rest) = theirs.split_once(' ').unwrap();
            let (o_ts, o_rest) = ours.split_once(' ').unwrap();
            assert_eq!(o_rest, t_rest);
            assert_eq!(o_ts.len(), t_ts.len(), "{o_ts} / {t_ts}");
            assert_eq!(o_ts.as_bytes()[10], b'T');
            assert!(o_ts.ends_with('Z'), "{o_ts}");
        }
    }

    /// The timestamp is tracing's: taken between two of tracing's, it sorts
    /// between them (same fixed-width format); known dates convert right.
    #[test]
    fn timestamp_is_tracing_s() {
        use tracing_subscriber::fmt::time::FormatTime as _;
        let tracing_now = || {
            let mut s = String::new();
            tracing_subscriber::fmt::time::SystemTime
                .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut s))
                .unwrap();
            s
        };
        for _ in 0..1000 {
            let a = tracing_now();
            let mut ours = String::new();
            write_timestamp(&mut ours, std::time::SystemTime::now());
            let b = tracing_now();
            assert_eq!(ours.len(), a.len(), "{ours} / {a}");
            assert!(a <= ours && ours <= b, "{a} {ours} {b}");
        }
        let at = |s: u64, us: u64| {
            let mut o = String::new();
            write_timestamp(
                &mut o,
                std::time::UNIX_EPOCH + Duration::from_micros(s * 1_000_000 + us),
            );
            o
        };
        assert_eq!(at(0, 7), "1970-01-01T00:00:00.000007Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(at(1_796_293_274, 891_472), "2026-12-03T10:21:14.891472Z");
        assert_eq!(at(4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z");
        // Milliseconds with one decimal exactly as `{:.1}` of the float.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases: Vec<Duration> = [0u64, 1, 49_999, 50_000, 50_001, 99_999, 100_000, 150_000]
            .iter()
            .map(|&n| Duration::from_nanos(n))
            .collect();
        for _ in 0..100_000 {
            let r = next();
            cases.push(Duration::from_nanos(r % 10_000_000_000));
            cases.push(Duration::from_nanos(r % 1_000_000 * 100_000 + 50_000));
            cases.push(Duration::from_micros(r % 100_000_000));
        }
        cases.push(Duration::from_secs(1 << 40));
        for d in cases {
            let mut ours = String::new();
            push_duration_ms(&mut ours, d);
            assert_eq!(ours, format!("{:.1}", d.as_secs_f64() * 1000.0), "{d:?}");
        }
        let mut n = String::new();
        push_u64(&mut n, 0);
        push_u64(&mut n, u64::MAX);
        assert_eq!(n, format!("0{}", u64::MAX));
    }

    /// A full queue drops and counts instead of blocking; the log thread
    /// drains it; the writer batches on the log thread only.
    #[test]
    fn overload_drops_and_counts_never_blocks() {
        start_with(4).unwrap();
        for i in 0..10_000 {
            submit(line(i));
        }
        // 10 000 submissions to a 4-line queue: nearly all dropped rather
        // than waiting for the log thread. Each drain (every DRAIN_EVERY,
        // but a loaded machine may run the log thread more often than the
        // timer says) lets at most 4 more in; 1 000 accepted lines would
        // take 250 drains, seconds of a loop that takes milliseconds.
        assert!(dropped() >= 9_000, "dropped {}", dropped());
        // The log thread drains the queue: a line gets in again.
        let drained = (0..500).any(|_| {
            std::thread::sleep(DRAIN_EVERY);
            let before = dropped();
            submit(line(0));
            dropped() == before
        });
        assert!(drained, "the log thread never drained the queue");

        BATCH.with(|b| assert!(b.borrow().is_none(), "not the log thread"));
        assert_eq!(Writer.write(b"").unwrap(), 0);
    }
}
