//! The `/metrics` endpoint: a minimal HTTP/1.1 server on its own thread.
//! One route, one connection at a time, `Connection: close`, the request
//! head capped at [`MAX_HEAD`] and read with a timeout; `httparse` (hyper's
//! parser) reads it. No HTTP stack (hyper, axum) is pulled in for one GET a
//! scrape interval: the RADIUS path shares nothing with this thread but the
//! registry's atomics. [`parse_request`] and [`respond`] are pure (fuzzed).

use super::Metrics;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Largest request head read (request line and headers).
pub const MAX_HEAD: usize = 8192;

/// How long a client may take to send its request head (in all) or to read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// OpenMetrics text, sent when the Accept header asks for it.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The classic Prometheus text format, sent otherwise.
pub const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Why a request head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not an HTTP/1.x request head.
    #[error("malformed request")]
    Malformed,
    /// The head is larger than [`MAX_HEAD`].
    #[error("request head too large")]
    TooLarge,
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// GET or HEAD (others are answered 405).
    pub method: String,
    /// The path, without a query string.
    pub path: String,
    /// Whether the Accept header asks for OpenMetrics.
    pub openmetrics: bool,
}

/// Parses a request head; `Ok(None)` while it is incomplete.
///
/// # Errors
/// [`HttpError::Malformed`] for anything that is not an HTTP/1.x head;
/// [`HttpError::TooLarge`] once `buf` exceeds [`MAX_HEAD`] without a complete head.
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(HttpError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(HttpError::Malformed),
        Ok(httparse::Status::Complete(_)) => {
            let path = req.path.unwrap_or("/");
            let path = path.split('?').next().unwrap_or(path);
            let openmetrics = req
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("accept"))
                .any(|h| accepts_openmetrics(h.value));
            Ok(Some(Request {
                method: req.method.unwrap_or("").to_string(),
                path: path.to_string(),
                openmetrics,
            }))
        }
    }
}

/// Whether an Accept value lists `application/openmetrics-text` with q > 0.
fn accepts_openmetrics(value: &[u8]) -> bool {
    let Ok(v) = std::str::from_utf8(value) else {
        return false;
    };
    v.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        media.eq_ignore_ascii_case("application/openmetrics-text")
            && parts.all(|p| {
                !p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().map_or(true, |q| q <= 0.0))
            })
    })
}

/// The response bytes to `req` (or to a refused head); `body` makes the
/// exposition in the format asked for.
pub fn respond(req: Result<&Request, HttpError>, body: impl FnOnce(bool) -> String) -> Vec<u8> {
    let (status, ctype, text, head_only) = match req {
        Err(HttpError::TooLarge) => (
            "431 Request Header Fields Too Large",
            "text/plain",
            "request head too large\n".to_string(),
            false,
        ),
        Err(HttpError::Malformed) => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".to_string(),
            false,
        ),
        Ok(r) if r.method != "GET" && r.method != "HEAD" => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET /metrics\n".to_string(),
            false,
        ),
        Ok(r) if r.path != "/metrics" => (
            "404 Not Found",
            "text/plain",
            "see /metrics\n".to_string(),
            r.method == "HEAD",
        ),
        Ok(r) => (
            "200 OK",
            if r.openmetrics {
                OPENMETRICS
            } else {
                PROMETHEUS_TEXT
            },
            body(r.openmetrics),
            r.method == "HEAD",
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        text.len(),
        if status.starts_with("405") {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        }
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Reads one request head from `s` and answers it.
fn serve_one(mut s: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    // A client trickling bytes may not hold the thread past one timeout in all.
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let parsed = loop {
        if std::time::Instant::now() > deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_request(&buf) {
            Ok(None) => continue,
            Ok(Some(r)) => break Ok(r),
            Err(e) => break Err(e),
        }
    };
    let out = respond(parsed.as_ref().map_err(|e| *e), |om| metrics.encode(om));
    s.write_all(&out)?;
    s.flush()
}

/// The running endpoint; [`MetricsServer::stop`] ends it.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` and serves `metrics` on a thread named `metrics-http`.
    ///
    /// # Errors
    /// The address cannot be bound, or the thread not started.
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    match conn {
                        Ok(s) => {
                            if let Err(e) = serve_one(s, &metrics) {
                                tracing::debug!(error = %e, "metrics request");
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "metrics accept");
                            // EMFILE and the like: do not spin.
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            })?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address (the port chosen when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        // Wakes the blocking accept; if that fails the thread ends with the process.
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_scrape_and_negotiates_the_format() {
        let prom = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
        let r = parse_request(prom).unwrap().unwrap();
        assert_eq!(r.path, "/metrics");
        assert!(r.openmetrics);
        let curl = b"GET /metrics?x=1 HTTP/1.1\r\nAccept: */*\r\n\r\n";
        let r = parse_request(curl).unwrap().unwrap();
        assert_eq!(r.path, "/metrics");
        assert!(!r.openmetrics);
        let refused = b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;q=0\r\n\r\n";
        assert!(!parse_request(refused).unwrap().unwrap().openmetrics);
        assert_eq!(parse_request(b"GET /metrics HTTP/1.1\r\n"), Ok(None));
        assert_eq!(
            parse_request(b"\x00\x01garbage\r\n\r\n"),
            Err(HttpError::Malformed)
        );
        let big = [
            b"GET /metrics HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; MAX_HEAD],
        ]
        .concat();
        assert_eq!(parse_request(&big), Err(HttpError::TooLarge));
    }

    #[test]
    fn answers_by_route_and_method() {
        let get = |m: &str, p: &str| Request {
            method: m.into(),
            path: p.into(),
            openmetrics: false,
        };
        let ok =
            String::from_utf8(respond(Ok(&get("GET", "/metrics")), |_| "x 1\n".into())).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(ok.contains("Content-Length: 4\r\n"));
        assert!(ok.ends_with("\r\n\r\nx 1\n"));
        let head =
            String::from_utf8(respond(Ok(&get("HEAD", "/metrics")), |_| "x 1\n".into())).unwrap();
        assert!(head.ends_with("\r\n\r\n"));
        let nf = respond(Ok(&get("GET", "/")), |_| unreachable!());
        assert!(nf.starts_with(b"HTTP/1.1 404"));
        let na = respond(Ok(&get("POST", "/metrics")), |_| unreachable!());
        assert!(na.starts_with(b"HTTP/1.1 405"));
        assert!(
            respond(Err(HttpError::Malformed), |_| unreachable!()).starts_with(b"HTTP/1.1 400")
        );
    }
}
