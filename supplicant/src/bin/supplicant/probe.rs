//! `supplicant probe`: one EAP-AKA/AKA' authentication against a RADIUS
//! server, as NAS and peer at once — what `radtest` is for PAP, with the
//! built-in USIM simulator holding the subscriber's K/OPc. Each step is
//! printed; the MS-MPPE keys of the Access-Accept are checked against the MSK.
//! The exchange itself is `supplicant::nas::exchange` (sans-IO); this is the
//! socket shell.

use crate::cli::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use clap::ValueEnum;
use eap::aka::keys::Method;
use eap::identity::MncLen;
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use supplicant::nas::card::SimulatedCard;
use supplicant::nas::exchange::{Authentication, Failure, Nas, Step, calling_station_id};
use supplicant::nas::radius;
use supplicant::peer::Methods;
use zeroize::Zeroize;

/// The method to probe with.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeMethod {
    /// EAP-AKA (RFC 4187).
    Aka,
    /// EAP-AKA' (RFC 9048).
    AkaPrime,
}

/// `supplicant probe` arguments.
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The RADIUS server's authentication port, HOST:PORT.
    #[arg(long)]
    server: String,
    /// The shared secret (visible to `ps`: prefer --secret-file).
    #[arg(
        long,
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    secret: Option<String>,
    /// A file whose first line is the shared secret.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// The subscriber's IMSI.
    #[arg(long)]
    imsi: String,
    /// The subscriber's K, 32 hex digits (as stored in the server).
    #[arg(long)]
    k: String,
    /// The subscriber's OPc, 32 hex digits.
    #[arg(long)]
    opc: String,
    /// EAP method.
    #[arg(long, value_enum, default_value = "aka-prime")]
    method: ProbeMethod,
    /// The simulated card's highest accepted SQN, 12 hex digits; one above
    /// the server's makes it resynchronise (AUTS).
    #[arg(long, default_value = "000000000000")]
    sqn: String,
    /// MNC length of the IMSI (2 or 3), for the 3GPP realm.
    #[arg(long, default_value_t = 2)]
    mnc_len: u8,
    /// Realm of the identity (default: the 3GPP realm of the IMSI).
    #[arg(long)]
    realm: Option<String>,
    /// NAS-Identifier to send.
    #[arg(long, default_value = "probe")]
    nas_identifier: String,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
    /// Transmissions of each request (the same packet again, RFC 5080 §2.2.1).
    #[arg(long, default_value_t = 3)]
    tries: u32,
    /// Require Message-Authenticator as the first attribute of every answer
    /// (BlastRADIUS hardening; hostapd puts it last).
    #[arg(long)]
    require_ma_first: bool,
}

/// What the probe is set up with, after the arguments were checked.
struct Setup {
    server: SocketAddr,
    card: SimulatedCard,
    method: Method,
    nas: Nas,
    timeout: Duration,
    tries: u32,
}

fn hex16(name: &str, s: &str) -> Result<[u8; 16], String> {
    let mut v = hex::decode(s.trim()).map_err(|_| format!("--{name}: not hex"))?;
    let r =
        <[u8; 16]>::try_from(v.as_slice()).map_err(|_| format!("--{name}: must be 32 hex digits"));
    v.zeroize();
    r
}

fn setup(mut a: ProbeArgs) -> Result<Setup, String> {
    let keys = (|| {
        Ok::<_, String>(SubscriberKeys::new(
            K::new(hex16("k", &a.k)?),
            Opc::new(hex16("opc", &a.opc)?),
        ))
    })();
    a.k.zeroize();
    a.opc.zeroize();
    let keys = keys?;
    let sqn: [u8; 6] = hex::decode(a.sqn.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("--sqn: must be 12 hex digits")?;
    let mnc_len = match a.mnc_len {
        2 => MncLen::Two,
        3 => MncLen::Three,
        n => return Err(format!("--mnc-len: {n}: must be 2 or 3")),
    };
    let method = match a.method {
        ProbeMethod::Aka => Method::Aka,
        ProbeMethod::AkaPrime => Method::AkaPrime,
    };
    let secret = match (&a.secret, &a.secret_file) {
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--secret-file {}: {e}", f.display()))?;
            let line = text.lines().next().unwrap_or("").trim_end().to_owned();
            if line.is_empty() {
                return Err(format!("{}:1: secret: empty", f.display()));
            }
            line.into_bytes()
        }
        (None, None) => return Err("--secret or --secret-file is required".into()),
    };
    if let Some(s) = a.secret.as_mut() {
        s.zeroize();
    }
    let server = a
        .server
        .to_socket_addrs()
        .map_err(|e| format!("--server {}: {e} (expected HOST:PORT)", a.server))?
        .next()
        .ok_or_else(|| format!("--server {}: no address", a.server))?;
    let card = SimulatedCard::new(
        &a.imsi,
        mnc_len,
        keys,
        Sqn::from_bytes(sqn),
        Methods::only(method),
        a.realm.clone(),
    )
    .map_err(|e| format!("--imsi: {e}"))?;
    Ok(Setup {
        server,
        card,
        method,
        nas: Nas {
            identifier: a.nas_identifier.into_bytes(),
            secret,
            require_ma_first: a.require_ma_first,
        },
        timeout: Duration::from_secs(a.timeout.max(1)),
        tries: a.tries.max(1),
    })
}

/// One line for an EAP packet: code, type, AKA subtype (RFC 3748 §4–5,
/// RFC 4187 §11), and the identity of an EAP-Response/Identity.
pub fn describe_eap(eap: &[u8]) -> String {
    let code = match eap.first() {
        Some(1) => "EAP-Request",
        Some(2) => "EAP-Response",
        Some(3) => return "EAP-Success".into(),
        Some(4) => return "EAP-Failure".into(),
        Some(c) => return format!("EAP code {c}"),
        None => return "empty EAP-Message".into(),
    };
    let Some(&t) = eap.get(4) else {
        return format!("{code} without a type");
    };
    let method = match t {
        1 => {
            let id = eap.get(5..).unwrap_or(&[]);
            return format!("{code}/Identity \"{}\"", String::from_utf8_lossy(id));
        }
        2 => return format!("{code}/Notification"),
        3 => return format!("{code}/Nak {:?}", eap.get(5..).unwrap_or(&[])),
        18 => "SIM",
        23 => "AKA",
        50 => "AKA'",
        t => return format!("{code}/type {t}"),
    };
    let sub = match eap.get(5) {
        Some(1) => "Challenge",
        Some(2) => "Authentication-Reject",
        Some(4) => "Synchronization-Failure",
        Some(5) => "Identity",
        Some(10) => "Start",
        Some(11) => "Challenge",
        Some(12) => "Notification",
        Some(13) => "Reauthentication",
        Some(14) => "Client-Error",
        Some(_) | None => "?",
    };
    format!("{code}/{method}-{sub}")
}

fn code_name(code: u8) -> String {
    match code {
        radius::ACCESS_ACCEPT => "Access-Accept".into(),
        radius::ACCESS_REJECT => "Access-Reject".into(),
        radius::ACCESS_CHALLENGE => "Access-Challenge".into(),
        c => format!("RADIUS code {c}"),
    }
}

/// What to check next, for a failure.
fn hint(f: &Failure, last_sent: &str) -> &'static str {
    match f {
        Failure::Timeout => {
            "a RADIUS server drops, without answering, requests from an unknown client and \
             those with a wrong shared secret: check that this host's address is in a \
             [[client]] with this secret, that the server listens there, and the server's log"
        }
        Failure::AccessReject(_) if last_sent.contains("Authentication-Reject") => {
            "the simulated USIM refused the network's AUTN: --k/--opc differ from the \
             server's for this IMSI"
        }
        Failure::AccessReject(_) => {
            "the server's log names the reason (unknown subscriber, method not allowed, …)"
        }
        Failure::BadResponse(radius::ResponseError::BadResponseAuthenticator)
        | Failure::BadResponse(radius::ResponseError::BadMessageAuthenticator) => {
            "wrong shared secret?"
        }
        Failure::MppeMismatch | Failure::MppeMissing => {
            "the server's MS-MPPE keys do not carry the MSK of this authentication"
        }
        Failure::WrongMethod(_) => "the server chose another method than --method",
        _ => "",
    }
}

/// Runs the probe; returns the exit code.
pub fn main(args: ProbeArgs) -> i32 {
    let mut s = match setup(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("supplicant probe: {e}");
            return EXIT_USAGE;
        }
    };
    let method_name = match s.method {
        Method::Aka => "EAP-AKA",
        Method::AkaPrime => "EAP-AKA'",
    };
    println!(
        "probe: {} as NAS \"{}\", IMSI {}, {method_name}",
        s.server,
        String::from_utf8_lossy(&s.nas.identifier),
        s.card.peer.imsi.as_str()
    );
    match run(&mut s) {
        Ok((rounds, took)) => {
            println!(
                "OK: authenticated with {method_name} in {rounds} round trips, {} ms; \
                 MS-MPPE-Recv-Key and MS-MPPE-Send-Key match the MSK",
                took.as_millis()
            );
            EXIT_OK
        }
        Err(ProbeError::Failed(f, last_sent)) => {
            println!("FAILED: {f}");
            let h = hint(&f, &last_sent);
            if !h.is_empty() {
                println!("hint: {h}");
            }
            EXIT_FAILURE
        }
        Err(ProbeError::Socket(e)) => {
            println!("FAILED: socket to {}: {e}", s.server);
            EXIT_FAILURE
        }
    }
}

fn authenticator() -> [u8; 16] {
    let mut a = [0u8; 16];
    // The Request Authenticator must be unpredictable (RFC 2865 §3); a
    // failing RNG leaves it zero and the exchange still runs (a probe).
    let _ = openssl::rand::rand_bytes(&mut a);
    a
}

/// Why the probe did not authenticate.
enum ProbeError {
    /// The exchange failed; with the description of the last request sent.
    Failed(Failure, String),
    /// The local socket failed.
    Socket(std::io::Error),
}

/// The exchange: (round trips, time) or why not.
fn run(s: &mut Setup) -> Result<(u32, Duration), ProbeError> {
    let io = ProbeError::Socket;
    let local = if s.server.is_ipv4() {
        SocketAddr::from(([0u8; 4], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(local).map_err(io)?;
    sock.connect(s.server).map_err(io)?;
    let started = Instant::now();
    let mac = {
        let d = s.card.peer.imsi.as_str().as_bytes();
        let n = d.len();
        [2, 0, d[n - 4], d[n - 3], d[n - 2], d[n - 1]]
    };
    let identifier = authenticator()[0];
    let (auth, mut step) = Authentication::start(
        &s.card.peer,
        calling_station_id(mac),
        s.method,
        &s.nas,
        identifier,
        authenticator(),
        Vec::new(),
    );
    let mut auth = auth.with_fresh_identifiers();
    let mut last_sent = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let packet = match step {
            Step::Send(p) => p,
            Step::Success => return Ok((auth.rounds(), started.elapsed())),
            Step::Failed(f) => return Err(ProbeError::Failed(f, last_sent)),
            Step::Held => {
                return Err(ProbeError::Failed(
                    Failure::PeerFailure("held at the challenge".into()),
                    last_sent,
                ));
            }
        };
        last_sent = radius::eap_message_of(&packet)
            .map(|e| describe_eap(&e))
            .unwrap_or_else(|| "no EAP-Message".into());
        println!("→ Access-Request id {}: {last_sent}", auth.identifier());
        let resyncs = auth.resyncs();
        let sent_at = Instant::now();
        let mut next = None;
        'tries: for _ in 0..s.tries {
            sock.send(&packet).map_err(io)?;
            let deadline = Instant::now() + s.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    continue 'tries;
                }
                sock.set_read_timeout(Some(left)).map_err(io)?;
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
                    // ICMP port unreachable from an earlier send: keep waiting.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(io(e)),
                };
                let d = &buf[..n];
                if radius::identifier(d) != Some(auth.identifier()) {
                    continue;
                }
                let Some(st) =
                    auth.on_datagram(&mut s.card.usim, &s.nas, d, authenticator(), Vec::new())
                else {
                    println!("  (ignored an answer that is not signed for this request)");
                    continue;
                };
                let eap = radius::eap_message_of(d)
                    .map(|e| describe_eap(&e))
                    .unwrap_or_else(|| "no EAP-Message".into());
                println!(
                    "← {} id {}: {eap} ({} ms)",
                    code_name(d[0]),
                    d[1],
                    sent_at.elapsed().as_millis()
                );
                next = Some(st);
                break 'tries;
            }
        }
        let Some(st) = next else {
            println!(
                "  no answer after {} tries of {} s",
                s.tries,
                s.timeout.as_secs()
            );
            return Err(ProbeError::Failed(Failure::Timeout, last_sent));
        };
        if auth.resyncs() > resyncs {
            println!("  USIM: SQN out of range (TS 33.102 §6.3.5): AUTS sent, resynchronising");
        }
        step = st;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eap_packets_are_named() {
        assert_eq!(describe_eap(&[3, 1, 0, 4]), "EAP-Success");
        assert_eq!(describe_eap(&[4, 1, 0, 4]), "EAP-Failure");
        assert_eq!(
            describe_eap(b"\x02\x01\x00\x0a\x01abcde"),
            "EAP-Response/Identity \"abcde\""
        );
        assert_eq!(
            describe_eap(&[1, 2, 0, 8, 50, 1, 0, 0]),
            "EAP-Request/AKA'-Challenge"
        );
        assert_eq!(
            describe_eap(&[2, 2, 0, 8, 23, 4, 0, 0]),
            "EAP-Response/AKA-Synchronization-Failure"
        );
        assert_eq!(describe_eap(&[1, 2, 0, 4]), "EAP-Request without a type");
        assert_eq!(describe_eap(&[]), "empty EAP-Message");
    }

    /// The arguments with `changes` (option, value) replacing or adding to defaults.
    fn args(changes: &[&str]) -> Result<Setup, String> {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: ProbeArgs,
        }
        let mut opts = vec![
            ("--server", "127.0.0.1:1812"),
            ("--secret", "s"),
            ("--imsi", "001010000000001"),
            ("--k", "465b5ce8b199b49faa5f0a2ee238a6bc"),
            ("--opc", "cd63cb71954a9f4e48a5994e37a02baf"),
        ];
        for c in changes.chunks(2) {
            opts.retain(|(o, _)| *o != c[0]);
            opts.push((c[0], c[1]));
        }
        let mut v = vec!["t"];
        for (o, x) in opts {
            v.push(o);
            v.push(x);
        }
        setup(T::try_parse_from(v).map_err(|e| e.to_string())?.a)
    }

    #[test]
    fn arguments_are_checked_with_the_option_named() {
        let s = args(&[]).unwrap();
        assert_eq!(s.method, Method::AkaPrime);
        assert_eq!(s.server.port(), 1812);
        assert!(!s.nas.require_ma_first);
        let e = |x: &[&str]| args(x).err().unwrap();
        assert!(e(&["--sqn", "12"]).contains("--sqn"));
        assert!(e(&["--mnc-len", "4"]).contains("--mnc-len"));
        assert!(e(&["--imsi", "12a"]).contains("--imsi"));
        assert!(e(&["--k", "00"]).contains("--k: must be 32 hex digits"));
        assert!(e(&["--opc", "zz"]).contains("--opc: not hex"));
    }

    #[test]
    fn hints_name_the_likely_cause() {
        assert!(hint(&Failure::Timeout, "").contains("[[client]]"));
        assert!(
            hint(
                &Failure::AccessReject("x".into()),
                "EAP-Response/AKA'-Authentication-Reject"
            )
            .contains("--k/--opc")
        );
    }
}
