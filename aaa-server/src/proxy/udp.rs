//! The UDP shell of the proxy: sends a [`Forward`] to the realm's live home
//! servers in order, retransmits after `timeout` (`retries` times, same
//! Identifier and authenticator, RFC 5080 §2.2.1), marks a silent server
//! dead and fails over to the next. Runs on a store worker (it blocks);
//! one ephemeral socket per request keeps Identifiers apart.

use super::{AnswerError, Forward, Proxy, ProxyError};
use crate::radius::wire;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

/// The home server's answer, ready for the NAS, and who gave it.
pub struct Answered {
    /// The response (the RADIUS server adds Proxy-State and signs it).
    pub response: wire::Response,
    /// The home server's URI.
    pub server: String,
}

impl std::fmt::Debug for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answered")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Forwards `fwd` and waits for an answer; `nas_*` describe the NAS's request.
pub fn exchange(
    proxy: &Proxy,
    fwd: &Forward,
    nas_identifier: u8,
    nas_secret: &[u8],
    nas_authenticator: &[u8; 16],
) -> Result<Answered, ProxyError> {
    if proxy.is_discover(fwd.realm) {
        return super::discover::exchange(
            proxy,
            fwd,
            nas_identifier,
            nas_secret,
            nas_authenticator,
        );
    }
    let Some(secret) = proxy.secret(fwd.realm) else {
        return Err(ProxyError::NoLiveServer);
    };
    let secret = secret.expose();
    let settings = proxy.settings();
    let request_state = fwd.state.as_deref();
    for (j, server) in proxy.plan(fwd.realm, request_state, Instant::now())? {
        if let Some(host) = &server.tls_host {
            let Some(tls) = proxy.tls_client.as_ref() else {
                continue;
            };
            proxy.count_forwarded();
            let budget = settings.timeout * (settings.retries + 1);
            match super::radsec::exchange(
                &proxy.tls_pool,
                tls,
                (host, server.addr),
                budget,
                fwd,
                (nas_identifier, nas_secret, nas_authenticator),
            ) {
                Ok((response, state)) => {
                    proxy.mark_alive(fwd.realm, j);
                    proxy.answered(
                        fwd.realm,
                        j,
                        request_state,
                        state.as_deref(),
                        Instant::now(),
                    );
                    proxy.count_answered();
                    return Ok(Answered {
                        response,
                        server: server.uri,
                    });
                }
                Err(super::radsec::TlsExchangeError::Refused(e)) => {
                    proxy.count_bad_answer();
                    tracing::warn!(realm = %fwd.realm_name, server = %server.uri, error = %e, "home server answer refused");
                    if e == AnswerError::Encode {
                        return Err(ProxyError::Encode);
                    }
                    continue;
                }
                Err(super::radsec::TlsExchangeError::Unreachable) => {
                    tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "home server did not answer over TLS; marked dead");
                    proxy.mark_dead(fwd.realm, j, Instant::now());
                    continue;
                }
            }
        }
        let mut rnd = [0u8; 17];
        crate::hss::rng::fill(&mut rnd).map_err(|_| ProxyError::Send)?;
        let identifier = rnd[0];
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&rnd[1..]);
        let packet = fwd.request(identifier, &authenticator, secret);
        // An Accounting-Request's authenticator is computed (RFC 2866 §3).
        authenticator.copy_from_slice(&packet[4..20]);
        let bind: SocketAddr = if server.addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(bind).map_err(|_| ProxyError::Send)?;
        if sock.connect(fwd.home_addr(server.addr)).is_err() {
            proxy.mark_dead(fwd.realm, j, Instant::now());
            continue;
        }
        if proxy.was_dead(fwd.realm, j) {
            if !probe(&sock, settings.timeout, secret) {
                tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "Status-Server probe unanswered; still dead");
                proxy.mark_dead(fwd.realm, j, Instant::now());
                continue;
            }
            tracing::info!(realm = %fwd.realm_name, server = %server.uri, "home server answered Status-Server; revived");
            proxy.mark_alive(fwd.realm, j);
        }
        proxy.count_forwarded();
        let mut buf = [0u8; 4096];
        'tries: for _ in 0..=settings.retries {
            // An ICMP unreachable from an earlier send shows up as an error here or on recv.
            let _ = sock.send(&packet);
            let deadline = Instant::now() + settings.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
                    continue 'tries;
                }
                let n = match sock.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue 'tries;
                    }
                    // ECONNREFUSED (ICMP port unreachable): wait out the timeout.
                    Err(_) => {
                        std::thread::sleep(left);
                        continue 'tries;
                    }
                };
                match fwd.answer_with_state(
                    &buf[..n],
                    identifier,
                    &authenticator,
                    secret,
                    nas_identifier,
                    nas_secret,
                    nas_authenticator,
                ) {
                    Ok((response, state)) => {
                        proxy.mark_alive(fwd.realm, j);
                        proxy.answered(
                            fwd.realm,
                            j,
                            request_state,
                            state.as_deref(),
                            Instant::now(),
                        );
                        proxy.count_answered();
                        return Ok(Answered {
                            response,
                            server: server.uri,
                        });
                    }
                    Err(e) => {
                        proxy.count_bad_answer();
                        tracing::debug!(server = %server.uri, error = %e, "home server datagram discarded");
                        if e == AnswerError::Encode {
                            return Err(ProxyError::Encode);
                        }
                    }
                }
            }
        }
        tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "home server did not answer; marked dead");
        proxy.mark_dead(fwd.realm, j, Instant::now());
    }
    proxy.count_no_live_server();
    Err(ProxyError::NoLiveServer)
}

/// Sends a Status-Server on `sock` (connected) and waits `timeout` for its answer.
fn probe(sock: &UdpSocket, timeout: std::time::Duration, secret: &[u8]) -> bool {
    let mut rnd = [0u8; 17];
    if crate::hss::rng::fill(&mut rnd).is_err() {
        return false;
    }
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&rnd[1..]);
    if sock
        .send(&super::status_server(rnd[0], &auth, secret))
        .is_err()
    {
        return false;
    }
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match sock.recv(&mut buf) {
            Ok(n) if super::is_status_answer(&buf[..n], rnd[0], &auth, secret) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
