//! The `auth` command: profile + USIM + peer + EAPOL shell. All protocol
//! decisions are in [`supplicant::peer`]; this file only moves bytes and time.

use crate::cli::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE, MethodArg};
use eap::aka::keys::Method;
use eap::identity::{Imsi, MncLen};
use eap::secret::SecretBytes;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use supplicant::eapol::{self, Frame, PacketType, StartSchedule, socket::EapolSocket};
use supplicant::peer::{
    Action, AuthKind, IdentityKind, Methods, Outcome, Peer, PeerConfig, PrivacyOptions,
};
use supplicant::privacy::{OperatorCert, PrivacyState};
use supplicant::profile::Profile;
use supplicant::usim::spec::SimSource;
use supplicant::usim::{CardTransport, Usim};

/// Options of `supplicant auth`.
#[derive(Debug)]
pub struct AuthOptions {
    /// Interface.
    pub iface: String,
    /// Profile file.
    pub profile: PathBuf,
    /// USIM.
    pub sim: SimSource,
    /// Method override.
    pub method: Option<MethodArg>,
    /// PIN1.
    pub pin: Option<SecretBytes>,
    /// PIN1 file.
    pub pin_file: Option<PathBuf>,
    /// Overall timeout.
    pub timeout: Duration,
    /// JSON output.
    pub json: bool,
    /// Privacy state file override.
    pub state: Option<PathBuf>,
    /// IMSI privacy certificate override.
    pub imsi_privacy_cert: Option<PathBuf>,
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// SIGINT/SIGTERM end the run through the normal path, so EAPOL-Logoff is sent.
fn install_signal_handlers() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only performs an atomic store.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
}

/// The result of one run, as printed.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// "success", "failure" or "timeout".
    pub outcome: &'static str,
    /// "EAP-AKA" / "EAP-AKA'" / "EAP-SIM".
    pub method: Option<&'static str>,
    /// The identity used.
    pub identity: String,
    /// EAP request/response round trips.
    pub round_trips: u32,
    /// Milliseconds from the first EAPOL-Start to the outcome.
    pub time_ms: f64,
    /// "full" or "reauth" (fast re-authentication), on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthKind>,
    /// The kind of identity presented last.
    pub identity_kind: IdentityKind,
    /// SHA-256 of the MSK (hex), for comparison with the server; never the MSK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msk_sha256: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("supplicant auth: {msg}");
    EXIT_USAGE
}

/// Runs `auth`; returns the exit code.
pub fn auth(opts: AuthOptions) -> i32 {
    let profile = match Profile::load(&opts.profile) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let pin = match (&opts.pin, &opts.pin_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(f)) => match supplicant::input::read_pin_file(f) {
            Ok(p) => Some(p),
            Err(e) => return usage(e),
        },
        (None, None) => None,
    };
    let methods = match opts.method {
        Some(MethodArg::Aka) => Methods::only(Method::Aka),
        Some(MethodArg::AkaPrime) => Methods::only(Method::AkaPrime),
        Some(MethodArg::Sim) => Methods::SIM,
        None => profile.methods,
    };
    let card = match opts.sim.open() {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let mut usim = Usim::new(card);
    let sim_only = methods.sim && !methods.aka && !methods.aka_prime;
    let (imsi, mnc_len) = match prepare_usim(&mut usim, pin.as_ref(), &profile, sim_only) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("supplicant auth: USIM: {e}");
            return EXIT_FAILURE;
        }
    };
    let config = PeerConfig {
        imsi,
        mnc_len,
        realm: profile.realm.clone(),
        methods,
        network_name: profile.network_name.as_ref().map(|n| n.as_bytes().to_vec()),
    };
    let state_path = opts.state.clone().or(profile.privacy_state.clone());
    let state = match &state_path {
        Some(p) => match PrivacyState::load(p) {
            Ok(s) => s,
            Err(e) => return usage(format!("{e}")),
        },
        None => PrivacyState::default(),
    };
    let cert = match opts
        .imsi_privacy_cert
        .as_ref()
        .or(profile.imsi_privacy_cert.as_ref())
    {
        Some(p) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            match OperatorCert::load_pem(p, now) {
                Ok(c) => Some(c),
                // Names the file itself.
                Err(e @ supplicant::privacy::CertError::Read(_)) => return usage(e),
                Err(e) => return usage(format!("{}:0: {e}", p.display())),
            }
        }
        None => None,
    };
    let privacy = PrivacyOptions {
        state,
        cert,
        cert_attr: profile.imsi_privacy_attr.clone(),
        result_ind: profile.result_indication,
    };
    let socket = match EapolSocket::open(&opts.iface) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    install_signal_handlers();
    let mut peer = Peer::with_privacy(config, privacy);
    let Some(nonce) = random_iv() else {
        return usage("no randomness for NONCE_MT");
    };
    peer.set_nonce_mt(nonce);
    let report = run_exchange(
        &socket,
        &mut usim,
        &mut peer,
        opts.timeout,
        state_path.as_deref(),
    );
    let report = match (&state_path, peer.take_privacy_changed()) {
        (Some(p), true) => match peer.privacy_state().save(p) {
            Ok(()) => report,
            Err(e) => Report {
                outcome: "failure",
                reason: Some(format!("saving the privacy state: {e}")),
                ..report
            },
        },
        _ => report,
    };
    let _ = socket.send(&eapol::logoff());
    print_report(&report, opts.json);
    if report.outcome == "success" {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

/// Selects the USIM, verifies the PIN once if needed, and reads the IMSI and
/// MNC length the profile does not give.
fn prepare_usim<T: CardTransport>(
    usim: &mut Usim<T>,
    pin: Option<&SecretBytes>,
    profile: &Profile,
    profile_or_flag_sim: bool,
) -> Result<(Imsi, MncLen), String> {
    usim.select_application().map_err(|e| e.to_string())?;
    if usim.is_gsm_sim() && !profile_or_flag_sim {
        return Err(
            "the card is a 2G SIM (no USIM application): only EAP-SIM works with it (--method sim)"
                .into(),
        );
    }
    usim.unlock(pin).map_err(|e| e.to_string())?;
    let imsi = match &profile.imsi {
        Some(i) => i.clone(),
        None => usim.read_imsi().map_err(|e| e.to_string())?,
    };
    let imsi = Imsi::parse(&imsi).map_err(|e| format!("IMSI: {e}"))?;
    let mnc = match profile.mnc_len {
        Some(n) => Some(n),
        None if profile.realm.is_some() => {
            usim.read_mnc_len().map_err(|e| e.to_string())?.or(Some(2))
        }
        None => usim.read_mnc_len().map_err(|e| e.to_string())?,
    };
    let mnc =
        mnc.ok_or("EF_AD has no MNC length and the profile sets neither realm nor mnc_len")?;
    let mnc_len = MncLen::new(usize::from(mnc)).map_err(|e| e.to_string())?;
    Ok((imsi, mnc_len))
}

/// The EAPOL loop: Start, then EAP in EAPOL until an outcome or the deadline.
/// With `state_path`, a changed privacy state is saved before the response
/// that depends on it is sent.
pub fn run_exchange<T: CardTransport>(
    socket: &EapolSocket,
    usim: &mut Usim<T>,
    peer: &mut Peer,
    timeout: Duration,
    state_path: Option<&std::path::Path>,
) -> Report {
    let started = Instant::now();
    let deadline = started + timeout;
    let report = |outcome,
                  method: Option<Method>,
                  peer: &Peer,
                  msk: Option<String>,
                  reason: Option<String>| Report {
        outcome,
        method: method.map(Method::name).or(peer.method_name()),
        identity: peer.identity().to_string(),
        auth: None,
        identity_kind: peer.identity_kind(),
        round_trips: peer.round_trips(),
        time_ms: started.elapsed().as_secs_f64() * 1000.0,
        msk_sha256: msk,
        reason,
    };
    let mut starts = StartSchedule::new(started);
    let mut heard = false;
    let mut buf = vec![0u8; 4096];
    loop {
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            return report(
                "failure",
                None,
                peer,
                None,
                Some("interrupted by a signal".into()),
            );
        }
        let now = Instant::now();
        if now >= deadline {
            let reason = if heard {
                format!("no outcome within {} s", timeout.as_secs())
            } else {
                format!(
                    "no authenticator answered {} EAPOL-Starts in {} s",
                    starts.count(),
                    timeout.as_secs()
                )
            };
            return report("timeout", None, peer, None, Some(reason));
        }
        if !heard && starts.due(now) {
            if let Err(e) = socket.send(&eapol::start()) {
                return report(
                    "failure",
                    None,
                    peer,
                    None,
                    Some(format!("cannot send EAPOL-Start: {e}")),
                );
            }
            starts.sent(now);
            continue;
        }
        let wait = if heard {
            deadline - now
        } else {
            starts
                .next_at()
                .min(deadline)
                .saturating_duration_since(now)
        };
        let n = match socket.recv(&mut buf, wait) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(e) => return report("failure", None, peer, None, Some(format!("receive: {e}"))),
        };
        let Ok(frame) = Frame::parse(&buf[..n]) else {
            continue;
        };
        if frame.packet_type != PacketType::Eap {
            continue;
        }
        heard = true;
        let Some(iv) = random_iv() else {
            return report(
                "failure",
                None,
                peer,
                None,
                Some("no randomness for AT_IV".into()),
            );
        };
        peer.set_iv(iv);
        let mut action = peer.handle(frame.body);
        loop {
            match action {
                Action::Authenticate { rand, autn } => {
                    action = match usim.authenticate(&rand, &autn) {
                        Ok(r) => peer.usim_result(r),
                        Err(e) => {
                            return report(
                                "failure",
                                None,
                                peer,
                                None,
                                Some(format!("USIM AUTHENTICATE: {e}")),
                            );
                        }
                    };
                }
                Action::Send(resp) => {
                    if let Some(p) = state_path
                        && peer.take_privacy_changed()
                        && let Err(e) = peer.privacy_state().save(p)
                    {
                        return report(
                            "failure",
                            None,
                            peer,
                            None,
                            Some(format!("saving the privacy state: {e}")),
                        );
                    }
                    if let Some(pdu) = eapol::encode(PacketType::Eap, &resp)
                        && let Err(e) = socket.send(&pdu)
                    {
                        return report("failure", None, peer, None, Some(format!("send: {e}")));
                    }
                    break;
                }
                Action::Discard(why) => {
                    tracing::debug!("discarded: {why}");
                    break;
                }
                Action::GsmAuthenticate { rands } => {
                    let mut triplets = Vec::with_capacity(rands.len());
                    for rand in &rands {
                        match usim.gsm_triplet(rand) {
                            Ok(t) => triplets.push(t),
                            Err(e) => {
                                return report(
                                    "failure",
                                    None,
                                    peer,
                                    None,
                                    Some(format!("SIM GSM authentication: {e}")),
                                );
                            }
                        }
                    }
                    action = peer.gsm_result(&triplets);
                }
                Action::Done(Outcome::Success(s)) => {
                    let digest = hex::encode(Sha256::digest(s.keys.msk.expose()));
                    let mut r = report("success", None, peer, Some(digest), None);
                    r.method = Some(s.method_name);
                    r.auth = Some(s.kind);
                    r.identity_kind = s.identity_kind;
                    return r;
                }
                Action::Done(Outcome::Failure { method, reason }) => {
                    return report("failure", method, peer, None, Some(reason));
                }
            }
        }
    }
}

/// A fresh random AT_IV (RFC 4187 §10.12).
fn random_iv() -> Option<[u8; 16]> {
    let mut iv = [0u8; 16];
    openssl::rand::rand_bytes(&mut iv).ok()?;
    Some(iv)
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    println!("outcome:     {}", r.outcome);
    println!("method:      {}", r.method.unwrap_or("-"));
    println!("identity:    {}", r.identity);
    println!("round trips: {}", r.round_trips);
    println!("time:        {:.1} ms", r.time_ms);
    if let Some(reason) = &r.reason {
        println!("reason:      {reason}");
    }
}
