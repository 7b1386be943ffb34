//! The RadSec client shell (RFC 6614) for `radsec://HOST:PORT` home
//! servers: `[tls_client]` (our certificate, key and the CA the home
//! server's certificate must chain to; rustls with the ring provider, TLS
//! 1.2 and 1.3), then a blocking TLS connection per request in flight, kept
//! and reused afterwards ([`Pool`]), one request at a time each (no
//! retransmission over TCP, RFC 6614 §2.4; the whole exchange is bounded by
//! `timeout × (retries + 1)`). Shared secret `radsec` (RFC 6614 §2.3).

use super::{AnswerError, Forward};
use crate::input::{MAX_KEY_FILE, read_capped};
use crate::radius::wire;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared secret over TLS (RFC 6614 §2.3).
pub const RADSEC_SECRET: &[u8] = b"radsec";

/// The CA certificates of `[tls_client] ca` as a root store.
pub fn ca_roots(ca: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots
            .add(c)
            .map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    Ok(roots)
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read_capped(path, MAX_KEY_FILE).map_err(|e| e.to_string())?;
    let v = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if v.is_empty() {
        return Err(format!("{}: no CERTIFICATE in the file", path.display()));
    }
    Ok(v)
}

/// The rustls client configuration for `[tls_client]`.
///
/// # Errors
/// `(key, message)`: a file unreadable or not PEM, the key readable by
/// others or not the certificate's.
pub fn client_config(
    certificate: &Path,
    private_key: &Path,
    ca: &Path,
) -> Result<Arc<rustls::ClientConfig>, (&'static str, String)> {
    use std::os::unix::fs::PermissionsExt;
    let chain = certs(certificate).map_err(|m| ("tls_client.certificate", m))?;
    let mode = std::fs::metadata(private_key)
        .map_err(|e| {
            (
                "tls_client.private_key",
                format!("{}: {e}", private_key.display()),
            )
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err((
            "tls_client.private_key",
            format!(
                "{}: readable by group/others (mode {mode:03o}); run chmod 600 {}",
                private_key.display(),
                private_key.display()
            ),
        ));
    }
    let bytes = zeroize::Zeroizing::new(
        read_capped(private_key, MAX_KEY_FILE)
            .map_err(|e| ("tls_client.private_key", e.to_string()))?,
    );
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        (
            "tls_client.private_key",
            format!("{}: no usable private key: {e}", private_key.display()),
        )
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca).map_err(|m| ("tls_client.ca", m))? {
        roots
            .add(c)
            .map_err(|e| ("tls_client.ca", format!("unusable CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ("tls_client", e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| ("tls_client.private_key", e.to_string()))?;
    // No session resumption: radsecproxy 1.9 (OpenSSL, client certificates
    // required, no session id context) fails a resumed handshake with
    // "session id context uninitialized" (found by tests/proxy.rs).
    config.resumption = rustls::client::Resumption::disabled();
    // SSLKEYLOGFILE, when set, lets tshark decode captures (tests, debugging).
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(Arc::new(config))
}

/// Why a RadSec exchange gave no answer.
#[derive(Debug)]
pub(crate) enum TlsExchangeError {
    /// Connect, handshake, write or read failed or timed out: try the next server.
    Unreachable,
    /// The answer was refused; it is counted, the server is not dead.
    Refused(AnswerError),
}

type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// The answer for the NAS and the State of an Access-Challenge.
pub(crate) type Reply = (wire::Response, Option<Vec<u8>>);

/// Idle TLS connections to RadSec home servers, reused one request at a
/// time each (a connection the server closed meanwhile is replaced).
#[derive(Default)]
pub(crate) struct Pool {
    idle: std::sync::Mutex<std::collections::HashMap<(String, SocketAddr), Vec<Stream>>>,
}

/// At most this many idle connections are kept per home server.
const MAX_IDLE: usize = 16;

impl Pool {
    fn take(&self, key: &str, addr: SocketAddr) -> Option<Stream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.get_mut(&(key.to_string(), addr))?.pop()
    }

    fn give_back(&self, key: &str, addr: SocketAddr, s: Stream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let v = idle.entry((key.to_string(), addr)).or_default();
        if v.len() < MAX_IDLE {
            v.push(s);
        }
    }
}

/// One request to `addr` (certificate checked against `host`) over an idle
/// connection from `pool` or a new one, answered or not within `budget`.
/// A reused connection that fails is replaced by a new one, once.
pub(crate) fn exchange(
    pool: &Pool,
    config: &Arc<rustls::ClientConfig>,
    (host, addr): (&str, SocketAddr),
    budget: Duration,
    fwd: &Forward,
    nas: (u8, &[u8], &[u8; 16]),
) -> Result<Reply, TlsExchangeError> {
    exchange_keyed(pool, host, config, (host, addr), budget, fwd, nas)
}

/// [`exchange`] with idle connections kept under `key` (the names the
/// certificate was checked against) as well as the address.
pub(crate) fn exchange_keyed(
    pool: &Pool,
    key: &str,
    config: &Arc<rustls::ClientConfig>,
    (host, addr): (&str, SocketAddr),
    budget: Duration,
    fwd: &Forward,
    nas: (u8, &[u8], &[u8; 16]),
) -> Result<Reply, TlsExchangeError> {
    let deadline = Instant::now() + budget;
    if let Some(s) = pool.take(key, addr) {
        match exchange_on(s, deadline, fwd, nas) {
            Ok((resp, s)) => {
                pool.give_back(key, addr, s);
                return Ok(resp);
            }
            Err(TlsExchangeError::Unreachable) => {}
            Err(e) => return Err(e),
        }
    }
    let s = connect(config, host, addr, deadline)?;
    let (resp, s) = exchange_on(s, deadline, fwd, nas)?;
    pool.give_back(key, addr, s);
    Ok(resp)
}

fn connect(
    config: &Arc<rustls::ClientConfig>,
    host: &str,
    addr: SocketAddr,
    deadline: Instant,
) -> Result<Stream, TlsExchangeError> {
    use TlsExchangeError::Unreachable;
    let name = ServerName::try_from(host.to_string()).map_err(|_| Unreachable)?;
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Unreachable);
    }
    let tcp = TcpStream::connect_timeout(&addr, left).map_err(|_| Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|_| Unreachable)?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// [`TlsExchangeError::Unreachable`], after a warning when TLS itself failed:
/// the home server's certificate was refused (expired, another CA, not
/// naming the server…) or its alert says it refused ours. The NAS gets
/// Access-Reject either way; the log says why.
fn tls_refused(tls: &Stream, e: &std::io::Error) -> TlsExchangeError {
    if let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        let peer = tls
            .sock
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::warn!(peer = %peer, error = %err, "RadSec TLS with home server failed");
    }
    TlsExchangeError::Unreachable
}

/// One request and its answer on `tls`, handed back for reuse.
fn exchange_on(
    mut tls: Stream,
    deadline: Instant,
    fwd: &Forward,
    nas: (u8, &[u8], &[u8; 16]),
) -> Result<(Reply, Stream), TlsExchangeError> {
    use TlsExchangeError::Unreachable;
    let left = || {
        let l = deadline.saturating_duration_since(Instant::now());
        (!l.is_zero()).then_some(l).ok_or(Unreachable)
    };
    tls.sock
        .set_read_timeout(Some(left()?))
        .map_err(|_| Unreachable)?;
    tls.sock
        .set_write_timeout(Some(left()?))
        .map_err(|_| Unreachable)?;
    let mut rnd = [0u8; 17];
    crate::hss::rng::fill(&mut rnd).map_err(|_| Unreachable)?;
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&rnd[1..]);
    let packet = fwd.request(rnd[0], &auth, RADSEC_SECRET);
    // An Accounting-Request's authenticator is computed (RFC 2866 §3).
    auth.copy_from_slice(&packet[4..20]);
    tls.write_all(&packet).map_err(|e| tls_refused(&tls, &e))?;
    tls.flush().map_err(|e| tls_refused(&tls, &e))?;
    let mut head = [0u8; 4];
    tls.read_exact(&mut head)
        .map_err(|e| tls_refused(&tls, &e))?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if !(20..=4096).contains(&len) {
        return Err(TlsExchangeError::Refused(AnswerError::Malformed));
    }
    let mut buf = vec![0u8; len];
    buf[..4].copy_from_slice(&head);
    tls.read_exact(&mut buf[4..]).map_err(|_| Unreachable)?;
    fwd.answer_with_state(&buf, rnd[0], &auth, RADSEC_SECRET, nas.0, nas.1, nas.2)
        .map(|r| (r, tls))
        .map_err(TlsExchangeError::Refused)
}
