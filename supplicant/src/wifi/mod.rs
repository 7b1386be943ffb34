//! `supplicant wifi`: Wi-Fi (and wired 802.1X) through wpa_supplicant, with
//! this supplicant as wpa_supplicant's Passpoint credential provider and
//! external SIM.
//!
//! wpa_supplicant keeps the radio, scanning, ANQP and the 4-way handshake.
//! Over its control interface ([`ctrl`], protocol in [`proto`]) we set
//! `interworking 1`, `hs20 1`, `external_sim 1`, add a `cred` built from the
//! profile and the SIM ([`profile`]) or a plain `network` block, answer
//! `CTRL-REQ-SIM-<id>:UMTS-AUTH:<RAND>:<AUTN>` from the USIM ([`sim`]), report
//! events ([`report`]) and, on exit, undo what we changed ([`session`]).

pub mod ctrl;
pub mod profile;
pub mod proto;
pub mod report;
pub mod session;
pub mod sim;

use crate::usim::spec::SimSource;
use crate::{EXIT_FAILURE, EXIT_USAGE};
use ctrl::{CtrlError, CtrlSocket};
use eap::secret::SecretBytes;
use profile::WifiMethod;
use profile::{NetworkTarget, WifiProfile};
use report::Report;
use session::{Mode, Outcome, Plan, Session, SessionError};
use sim::SimCard;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Options of a run (what the `wifi` command line becomes).
#[derive(Debug, Clone)]
pub struct WifiOptions {
    /// `--ctrl`.
    pub ctrl: String,
    /// `--iface`.
    pub iface: Option<String>,
    /// `--client-dir`.
    pub client_dir: PathBuf,
    /// `--profile`.
    pub profile: Option<PathBuf>,
    /// `--sim`.
    pub sim: SimSource,
    /// PIN1.
    pub pin: Option<SecretBytes>,
    /// `--network`.
    pub network: Option<NetworkTarget>,
    /// `--method`.
    pub method: Option<WifiMethod>,
    /// `--sim-num`.
    pub sim_num: u32,
    /// Run `INTERWORKING_SELECT auto`.
    pub select: bool,
    /// Set `auto_interworking 1`.
    pub auto_interworking: bool,
    /// `--once`.
    pub once: bool,
    /// `--timeout`.
    pub timeout: Option<Duration>,
}

impl WifiOptions {
    /// Options with defaults for everything but the socket and the SIM.
    pub fn new(ctrl: impl Into<String>, sim: SimSource) -> Self {
        Self {
            ctrl: ctrl.into(),
            iface: None,
            client_dir: PathBuf::from("/tmp"),
            profile: None,
            sim,
            pin: None,
            network: None,
            method: None,
            sim_num: 1,
            select: true,
            auto_interworking: false,
            once: false,
            timeout: None,
        }
    }
}

/// Why `supplicant wifi` could not run.
#[derive(Debug, thiserror::Error)]
pub enum WifiError {
    /// Bad arguments or profile (`file:line: what`).
    #[error("{0}")]
    Usage(String),
    /// The SIM cannot be used.
    #[error("SIM not ready: {0}")]
    Sim(String),
    /// wpa_supplicant: unreachable, refused, without Hotspot 2.0, gone.
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<CtrlError> for WifiError {
    fn from(e: CtrlError) -> Self {
        WifiError::Session(SessionError::Ctrl(e))
    }
}

impl WifiError {
    /// Exit code: 1 when wpa_supplicant went away mid-run, else 2.
    pub fn exit_code(&self) -> i32 {
        match self {
            WifiError::Session(SessionError::Ctrl(
                CtrlError::Gone(_) | CtrlError::Timeout { .. },
            )) => EXIT_FAILURE,
            _ => EXIT_USAGE,
        }
    }
}

/// How often an idle run checks that wpa_supplicant is still there.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Runs with a caller-owned stop flag and report sink (no signal handling,
/// nothing printed): the library entry point, also used by tests.
pub fn run_with(
    opts: &WifiOptions,
    stop: &AtomicBool,
    emit: &mut dyn FnMut(Report),
) -> Result<Outcome, WifiError> {
    let profile = match (&opts.profile, &opts.network) {
        (Some(p), _) => profile::load(p).map_err(|e| WifiError::Usage(e.0))?,
        (None, Some(_)) => WifiProfile {
            name: "(none)".into(),
            ..WifiProfile::default()
        },
        (None, None) => {
            return Err(WifiError::Usage(
                "--profile is needed for a Passpoint credential (or use --network <ssid|any>)"
                    .into(),
            ));
        }
    };
    let method = opts
        .method
        .or(profile.method)
        .unwrap_or(WifiMethod::AkaPrime);

    let card = opts.sim.open().map_err(WifiError::Sim)?;
    let mut sim = SimCard::prepare(card, opts.pin.as_ref(), &profile).map_err(WifiError::Sim)?;

    let path = ctrl::resolve(&opts.ctrl, opts.iface.as_deref())?;
    let mut socket = CtrlSocket::connect(&path, &opts.client_dir)?;
    socket.attach(session::COMMAND_TIMEOUT)?;
    let ctrl_name = path.display().to_string();
    let mut emit = |r: Report| {
        emit(match r {
            Report::Ready {
                ctrl: _,
                mode,
                cred_id,
                network_id,
                method,
                imsi,
                mnc_len,
                profile,
            } => Report::Ready {
                ctrl: ctrl_name.clone(),
                mode,
                cred_id,
                network_id,
                method,
                imsi,
                mnc_len,
                profile,
            },
            other => other,
        })
    };

    let mode = match &opts.network {
        Some(t) => Mode::Network(t.clone()),
        None => Mode::Passpoint {
            select: opts.select,
            auto_interworking: opts.auto_interworking,
        },
    };
    let plan = Plan {
        mode,
        method,
        profile,
        sim: sim.identity.clone(),
        sim_num: opts.sim_num,
        once: opts.once,
    };
    let mut session = Session::new(socket, plan);
    if let Err(e) = session.setup(&mut emit) {
        emit(session.teardown());
        return Err(e.into());
    }

    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let mut last_traffic = Instant::now();
    let result = loop {
        if stop.load(Ordering::SeqCst) || SIGNALLED.load(Ordering::SeqCst) {
            break Ok(Outcome::Stopped);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Ok(Outcome::Timeout);
        }
        match session.ctrl().next_event(Duration::from_millis(200)) {
            Ok(Some((_level, text))) => {
                last_traffic = Instant::now();
                match session.handle(&text, &mut sim, &mut emit) {
                    Ok(Some(outcome)) => break Ok(outcome),
                    Ok(None) => {}
                    Err(e) => break Err(WifiError::from(e)),
                }
            }
            Ok(None) if last_traffic.elapsed() >= PING_EVERY => {
                last_traffic = Instant::now();
                match session.ctrl().request("PING", session::COMMAND_TIMEOUT) {
                    Ok(r) if r.starts_with("PONG") => {}
                    Ok(r) => {
                        break Err(WifiError::Session(SessionError::Refused {
                            command: "PING".into(),
                            reply: r.trim().to_string(),
                        }));
                    }
                    Err(e) => break Err(e.into()),
                }
            }
            Ok(None) => {}
            Err(e) => break Err(e.into()),
        }
    };
    if let Ok(o) = &result {
        emit(o.report());
    }
    emit(session.teardown());
    result
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// SIGINT/SIGTERM set a flag (no SA_RESTART, so a blocked receive returns);
/// the previous handlers come back on drop.
struct SignalGuard {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalGuard {
    fn install() -> Self {
        let mut old = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is valid; the handler only stores
            // to an atomic, which is async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = 0;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Self { old }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores the action saved by install().
            unsafe {
                libc::sigaction(*sig, prev, std::ptr::null_mut());
            }
        }
    }
}

/// Runs with SIGINT/SIGTERM handling, printing reports to stdout (lines or
/// JSON): what the `wifi` subcommand calls.
pub fn run(opts: &WifiOptions, json: bool) -> Result<Outcome, WifiError> {
    use std::io::Write;
    SIGNALLED.store(false, Ordering::SeqCst);
    let _guard = SignalGuard::install();
    let stop = AtomicBool::new(false);
    let mut out = std::io::stdout();
    run_with(opts, &stop, &mut |r| {
        let line = if json { r.json() } else { r.to_string() };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Success.exit_code(), 0);
        assert_eq!(Outcome::Stopped.exit_code(), 0);
        assert_eq!(Outcome::Failure("x".into()).exit_code(), 1);
        assert_eq!(Outcome::Timeout.exit_code(), 1);
        assert_eq!(WifiError::Sim("x".into()).exit_code(), 2);
        assert_eq!(WifiError::from(CtrlError::Gone("x".into())).exit_code(), 1);
    }
}
