//! The `wifi` flow over a control connection: configure wpa_supplicant
//! (settings, cred or network block), turn its events into reports and SIM
//! answers, and undo everything on the way out. Socket-free: it drives a
//! [`Control`], so tests can script wpa_supplicant's side.

use super::ctrl::{CtrlError, CtrlSocket};
use super::profile::WifiMethod;
use super::profile::{
    NetworkTarget, SimIdentity, WifiProfile, cred_fields, network_fields, oi_fields,
};
use super::proto::{self, Event, ReplyStatus};
use super::report::Report;
use super::sim::ExternalSim;
use std::time::Duration;

/// How long one command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A request/reply + event channel to wpa_supplicant.
pub trait Control {
    /// Sends a command, returns the reply.
    fn request(&mut self, command: &str) -> Result<String, CtrlError>;
    /// The next unsolicited message (level, text), `None` on timeout.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<(u8, String)>, CtrlError>;
}

impl Control for CtrlSocket {
    fn request(&mut self, command: &str) -> Result<String, CtrlError> {
        CtrlSocket::request(self, command, COMMAND_TIMEOUT)
    }
    fn next_event(&mut self, timeout: Duration) -> Result<Option<(u8, String)>, CtrlError> {
        CtrlSocket::next_event(self, timeout)
    }
}

/// What went wrong configuring wpa_supplicant.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The control interface failed.
    #[error(transparent)]
    Ctrl(#[from] CtrlError),
    /// wpa_supplicant lacks Hotspot 2.0 / interworking support.
    #[error(
        "this wpa_supplicant has no Hotspot 2.0 support (built without CONFIG_HS20/CONFIG_INTERWORKING): `{command}` answered {reply:?}; use a build with both, or --network for a plain 802.1X network"
    )]
    NoHs20 {
        /// The command that failed.
        command: String,
        /// Its reply.
        reply: String,
    },
    /// A command was refused.
    #[error("wpa_supplicant refused `{command}`: {reply}")]
    Refused {
        /// The command (values of personal fields left out).
        command: String,
        /// Its reply.
        reply: String,
    },
}

/// Passpoint credential or plain network block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A `cred` and interworking selection.
    Passpoint {
        /// Run `INTERWORKING_SELECT auto` after adding the cred.
        select: bool,
        /// Also set `auto_interworking 1` (restored on exit).
        auto_interworking: bool,
    },
    /// A `network` block.
    Network(NetworkTarget),
}

/// Everything decided before talking to wpa_supplicant.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Passpoint or plain.
    pub mode: Mode,
    /// EAP-AKA or AKA'.
    pub method: WifiMethod,
    /// The profile.
    pub profile: WifiProfile,
    /// The SIM's IMSI and MNC length.
    pub sim: SimIdentity,
    /// cred `sim_num`.
    pub sim_num: u32,
    /// Exit after the first success or failure.
    pub once: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Connected after EAP success (`--once`).
    Success,
    /// EAP failure, no matching network, network disabled (`--once`).
    Failure(String),
    /// Stopped by a signal or the caller.
    Stopped,
    /// `--timeout` passed.
    Timeout,
}

impl Outcome {
    /// Exit code: 0 success/stopped, 1 failure/timeout.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Success | Outcome::Stopped => 0,
            Outcome::Failure(_) | Outcome::Timeout => 1,
        }
    }

    /// The report closing the run.
    pub fn report(&self) -> Report {
        let (outcome, reason) = match self {
            Outcome::Success => ("success", None),
            Outcome::Failure(r) => ("failure", Some(r.clone())),
            Outcome::Stopped => ("stopped", None),
            Outcome::Timeout => ("timeout", None),
        };
        Report::Outcome { outcome, reason }
    }
}

/// One configured wpa_supplicant.
pub struct Session<C: Control> {
    ctrl: C,
    plan: Plan,
    /// (setting, previous value) in the order changed.
    saved: Vec<(String, String)>,
    cred_id: Option<u32>,
    network_id: Option<u32>,
    eap_success: bool,
    last_sim_note: Option<String>,
}

fn method_name(m: WifiMethod) -> &'static str {
    match m {
        WifiMethod::Aka => "EAP-AKA",
        WifiMethod::AkaPrime => "EAP-AKA'",
        WifiMethod::Sim => "EAP-SIM",
    }
}

impl<C: Control> Session<C> {
    /// A session; nothing is sent yet.
    pub fn new(ctrl: C, plan: Plan) -> Self {
        Self {
            ctrl,
            plan,
            saved: Vec::new(),
            cred_id: None,
            network_id: None,
            eap_success: false,
            last_sim_note: None,
        }
    }

    /// The control connection.
    pub fn ctrl(&mut self) -> &mut C {
        &mut self.ctrl
    }

    /// The cred id added, if any.
    pub fn cred_id(&self) -> Option<u32> {
        self.cred_id
    }

    /// The network id added, if any.
    pub fn network_id(&self) -> Option<u32> {
        self.network_id
    }

    fn expect_ok(&mut self, command: &str, shown: &str) -> Result<(), SessionError> {
        let r = self.ctrl.request(command)?;
        match proto::reply_status(&r) {
            ReplyStatus::Ok => Ok(()),
            _ => Err(SessionError::Refused {
                command: shown.to_string(),
                reply: r.trim().to_string(),
            }),
        }
    }

    /// `GET name` then `SET name value`, remembering the old value.
    fn set_global(
        &mut self,
        name: &str,
        value: &str,
        emit: &mut dyn FnMut(Report),
    ) -> Result<(), SessionError> {
        let get = self.ctrl.request(&format!("GET {name}"))?;
        let old = match proto::reply_status(&get) {
            ReplyStatus::Value(v) => Some(v),
            ReplyStatus::Ok => Some(String::new()),
            _ => None,
        };
        if old.as_deref() == Some(value) {
            return Ok(());
        }
        let command = format!("SET {name} {value}");
        let r = self.ctrl.request(&command)?;
        match proto::reply_status(&r) {
            ReplyStatus::Ok => {
                match old {
                    Some(old) => {
                        emit(Report::Setting {
                            name: name.into(),
                            from: old.clone(),
                            to: value.into(),
                        });
                        self.saved.push((name.to_string(), old));
                    }
                    None => emit(Report::Warning {
                        message: format!(
                            "{name} could not be read back; it stays {value} after exit"
                        ),
                    }),
                }
                Ok(())
            }
            _ if matches!(name, "interworking" | "hs20" | "auto_interworking") => {
                Err(SessionError::NoHs20 {
                    command,
                    reply: r.trim().to_string(),
                })
            }
            _ => Err(SessionError::Refused {
                command,
                reply: r.trim().to_string(),
            }),
        }
    }

    /// Configures wpa_supplicant. On error, call [`teardown`](Self::teardown)
    /// all the same: it undoes what was done so far.
    pub fn setup(&mut self, emit: &mut dyn FnMut(Report)) -> Result<(), SessionError> {
        let pong = self.ctrl.request("PING")?;
        if !pong.starts_with("PONG") {
            return Err(SessionError::Refused {
                command: "PING".into(),
                reply: pong.trim().to_string(),
            });
        }
        match self.plan.mode.clone() {
            Mode::Passpoint {
                select,
                auto_interworking,
            } => {
                self.set_global("interworking", "1", emit)?;
                self.set_global("hs20", "1", emit)?;
                self.set_global("external_sim", "1", emit)?;
                if auto_interworking {
                    self.set_global("auto_interworking", "1", emit)?;
                }
                self.add_cred(emit)?;
                self.emit_ready(emit);
                if select {
                    let r = self.ctrl.request("INTERWORKING_SELECT auto")?;
                    if proto::reply_status(&r) != ReplyStatus::Ok {
                        emit(Report::Warning {
                            message: format!(
                                "INTERWORKING_SELECT auto answered {:?}; waiting for wpa_supplicant's own selection",
                                r.trim()
                            ),
                        });
                    }
                }
            }
            Mode::Network(target) => {
                self.set_global("external_sim", "1", emit)?;
                self.add_network(&target)?;
                self.emit_ready(emit);
            }
        }
        Ok(())
    }

    fn emit_ready(&self, emit: &mut dyn FnMut(Report)) {
        let s = &self.plan.sim;
        emit(Report::Ready {
            ctrl: String::new(),
            mode: match self.plan.mode {
                Mode::Passpoint { .. } => "cred",
                Mode::Network(_) => "network",
            },
            cred_id: self.cred_id,
            network_id: self.network_id,
            method: method_name(self.plan.method),
            imsi: s.imsi.masked(s.mnc_len),
            mnc_len: s.mnc_len.get(),
            profile: self.plan.profile.name.clone(),
        });
    }

    fn add_cred(&mut self, emit: &mut dyn FnMut(Report)) -> Result<(), SessionError> {
        let r = self.ctrl.request("ADD_CRED")?;
        let id = match proto::reply_status(&r) {
            ReplyStatus::UnknownCommand => {
                return Err(SessionError::NoHs20 {
                    command: "ADD_CRED".into(),
                    reply: r.trim().to_string(),
                });
            }
            _ => proto::parse_id(&r).ok_or_else(|| SessionError::Refused {
                command: "ADD_CRED".into(),
                reply: r.trim().to_string(),
            })?,
        };
        self.cred_id = Some(id);
        let p = &self.plan;
        let fields = cred_fields(&p.profile, p.method, &p.sim, p.sim_num);
        for (k, v) in &fields {
            self.expect_ok(
                &format!("SET_CRED {id} {k} {v}"),
                &format!("SET_CRED {id} {k}"),
            )?;
        }
        let (modern, _) = oi_fields(&self.plan.profile, false);
        for (i, (k, v)) in modern.iter().enumerate() {
            let r = self.ctrl.request(&format!("SET_CRED {id} {k} {v}"))?;
            if proto::reply_status(&r) == ReplyStatus::Ok {
                continue;
            }
            if i == 0 && matches!(k.as_str(), "home_ois" | "required_home_ois") {
                // wpa_supplicant ≤ 2.10: the older fields.
                let (legacy, warnings) = oi_fields(&self.plan.profile, true);
                for w in warnings {
                    emit(Report::Warning { message: w });
                }
                for (k, v) in &legacy {
                    self.expect_ok(
                        &format!("SET_CRED {id} {k} {v}"),
                        &format!("SET_CRED {id} {k}"),
                    )?;
                }
                break;
            }
            return Err(SessionError::Refused {
                command: format!("SET_CRED {id} {k}"),
                reply: r.trim().to_string(),
            });
        }
        Ok(())
    }

    fn add_network(&mut self, target: &NetworkTarget) -> Result<(), SessionError> {
        let r = self.ctrl.request("ADD_NETWORK")?;
        let id = proto::parse_id(&r).ok_or_else(|| SessionError::Refused {
            command: "ADD_NETWORK".into(),
            reply: r.trim().to_string(),
        })?;
        self.network_id = Some(id);
        let identity = self
            .plan
            .sim
            .identity(self.plan.method, self.plan.profile.realm.as_deref());
        for (k, v) in network_fields(target, self.plan.method, &identity) {
            let shown = format!("SET_NETWORK {id} {k}");
            self.expect_ok(&format!("SET_NETWORK {id} {k} {v}"), &shown)?;
        }
        self.expect_ok(
            &format!("ENABLE_NETWORK {id}"),
            &format!("ENABLE_NETWORK {id}"),
        )?;
        Ok(())
    }

    /// Handles one unsolicited message: answers SIM requests, reports, and
    /// with `--once` says when the run is over.
    pub fn handle(
        &mut self,
        text: &str,
        sim: &mut dyn ExternalSim,
        emit: &mut dyn FnMut(Report),
    ) -> Result<Option<Outcome>, SessionError> {
        let once = self.plan.once;
        let ours =
            |id: Option<u32>, mine: Option<u32>| mine.is_none() || id.is_none() || id == mine;
        match proto::parse_event(text) {
            Event::SimRequest {
                network_id,
                request,
            } => {
                let (resp, note) = sim.answer(&request);
                let cmd = resp.command(network_id);
                let r = self.ctrl.request(&cmd)?;
                if proto::reply_status(&r) != ReplyStatus::Ok {
                    emit(Report::Warning {
                        message: format!(
                            "wpa_supplicant refused the SIM answer for network {network_id}: {}",
                            r.trim()
                        ),
                    });
                }
                if note.is_some() {
                    self.last_sim_note.clone_from(&note);
                }
                emit(Report::SimAuth {
                    network_id,
                    answer: resp.kind(),
                    note,
                });
            }
            Event::OtherRequest { field, network_id } => {
                emit(Report::Request { field, network_id });
            }
            Event::EapStarted => emit(Report::EapStarted),
            Event::EapMethod { method, name } => emit(Report::EapMethod { method, name }),
            Event::EapErrorCode(code) => emit(Report::EapErrorCode { code }),
            Event::EapSuccess => {
                self.eap_success = true;
                self.last_sim_note = None;
                emit(Report::EapSuccess);
            }
            Event::EapFailure => {
                let reason = self.last_sim_note.take();
                emit(Report::EapFailure {
                    reason: reason.clone(),
                });
                if once {
                    return Ok(Some(Outcome::Failure(
                        reason.unwrap_or_else(|| "EAP failure".into()),
                    )));
                }
            }
            Event::Connected { bssid, network_id } => {
                emit(Report::Connected { bssid, network_id });
                if once && self.eap_success && ours(network_id, self.network_id) {
                    return Ok(Some(Outcome::Success));
                }
            }
            Event::Disconnected { bssid, reason } => {
                self.eap_success = false;
                emit(Report::Disconnected { bssid, reason });
            }
            Event::TempDisabled { network_id, reason } => {
                emit(Report::TempDisabled {
                    network_id,
                    reason: reason.clone(),
                });
                if once && ours(network_id, self.network_id) {
                    return Ok(Some(Outcome::Failure(format!(
                        "network temporarily disabled: {reason}"
                    ))));
                }
            }
            Event::InterworkingAp(ap) | Event::InterworkingExcluded(ap)
                if ap.cred_id.is_some() && ap.cred_id != self.cred_id =>
            {
                // Another cred of this wpa_supplicant: not ours to report.
            }
            Event::InterworkingAp(ap) => emit(Report::InterworkingAp {
                bssid: ap.bssid,
                kind: ap.kind,
                cred_id: ap.cred_id,
                soft_constraints: ap.soft_constraints,
                excluded: false,
            }),
            Event::InterworkingExcluded(ap) => emit(Report::InterworkingAp {
                bssid: ap.bssid,
                kind: ap.kind,
                cred_id: ap.cred_id,
                soft_constraints: ap.soft_constraints,
                excluded: true,
            }),
            Event::InterworkingNoMatch => {
                emit(Report::NoMatch);
                if once {
                    return Ok(Some(Outcome::Failure(
                        "no network with matching credentials found".into(),
                    )));
                }
            }
            Event::InterworkingSelected { bssid } => emit(Report::Selected { bssid }),
            Event::InterworkingAlreadyConnected { bssid } => {
                emit(Report::AlreadyConnected { bssid });
                if once {
                    return Ok(Some(Outcome::Success));
                }
            }
            Event::Hs20Notice { kind, detail } => emit(Report::Hs20Notice { kind, detail }),
            Event::Terminating => {
                emit(Report::Terminating);
                return Err(SessionError::Ctrl(CtrlError::Gone(
                    "CTRL-EVENT-TERMINATING".into(),
                )));
            }
            Event::EapProposedMethod { .. } | Event::EapStatus { .. } | Event::Other { .. } => {
                tracing::debug!(event = text, "wpa_supplicant event");
            }
        }
        Ok(None)
    }

    /// Removes the cred / network block and restores the settings changed,
    /// most recent first. Best effort: what fails is listed.
    pub fn teardown(&mut self) -> Report {
        let mut removed = Vec::new();
        let mut restored = Vec::new();
        let mut failed = Vec::new();
        let mut run = |ctrl: &mut C, cmd: String, what: String, into: &mut Vec<String>| match ctrl
            .request(&cmd)
        {
            Ok(r) if proto::reply_status(&r) == ReplyStatus::Ok => into.push(what),
            Ok(r) => failed.push(format!("{cmd}: {}", r.trim())),
            Err(e) => failed.push(format!("{cmd}: {e}")),
        };
        if let Some(id) = self.cred_id.take() {
            // wpa_supplicant also removes the networks it made from the cred.
            run(
                &mut self.ctrl,
                format!("REMOVE_CRED {id}"),
                format!("cred {id}"),
                &mut removed,
            );
        }
        if let Some(id) = self.network_id.take() {
            run(
                &mut self.ctrl,
                format!("REMOVE_NETWORK {id}"),
                format!("network {id}"),
                &mut removed,
            );
        }
        while let Some((name, old)) = self.saved.pop() {
            run(
                &mut self.ctrl,
                format!("SET {name} {old}"),
                format!("{name}={old}"),
                &mut restored,
            );
        }
        Report::Cleanup {
            removed,
            restored,
            failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wifi::proto::{SimRequest, SimResponse};
    use eap::identity::{Imsi, MncLen};
    use std::collections::VecDeque;

    /// A scripted wpa_supplicant: answers by command prefix, records commands.
    struct Script {
        answers: Vec<(&'static str, &'static str)>,
        sent: Vec<String>,
        events: VecDeque<String>,
    }

    impl Control for Script {
        fn request(&mut self, command: &str) -> Result<String, CtrlError> {
            self.sent.push(command.to_string());
            Ok(self
                .answers
                .iter()
                .find(|(p, _)| command.starts_with(p))
                .map_or("OK\n", |(_, a)| a)
                .to_string())
        }
        fn next_event(&mut self, _: Duration) -> Result<Option<(u8, String)>, CtrlError> {
            Ok(self.events.pop_front().map(|e| (3, e)))
        }
    }

    struct FixedSim(SimResponse);
    impl ExternalSim for FixedSim {
        fn answer(&mut self, _: &SimRequest) -> (SimResponse, Option<String>) {
            match &self.0 {
                SimResponse::UmtsFail => (SimResponse::UmtsFail, Some("MAC-A wrong".into())),
                SimResponse::UmtsAuts(a) => (SimResponse::UmtsAuts(*a), None),
                _ => (
                    SimResponse::UmtsAuth {
                        ik: [1; 16],
                        ck: [2; 16],
                        res: vec![3; 8],
                    },
                    None,
                ),
            }
        }
    }

    fn plan(mode: Mode) -> Plan {
        Plan {
            mode,
            method: WifiMethod::AkaPrime,
            profile: WifiProfile {
                name: "t".into(),
                realm: Some("wlan.mnc001.mcc001.3gppnetwork.org".into()),
                domains: vec!["example.com".into()],
                home_ois: vec!["aabbcc".into()],
                roaming_consortiums: vec!["112233".into()],
                ..WifiProfile::default()
            },
            sim: SimIdentity {
                imsi: Imsi::parse("001010123456789").unwrap(),
                mnc_len: MncLen::Two,
            },
            sim_num: 1,
            once: true,
        }
    }

    fn script(answers: Vec<(&'static str, &'static str)>) -> Script {
        Script {
            answers,
            sent: Vec::new(),
            events: VecDeque::new(),
        }
    }

    #[test]
    fn passpoint_setup_events_and_teardown() {
        let s = script(vec![
            ("PING", "PONG\n"),
            ("GET interworking", "0"),
            ("GET hs20", "0"),
            ("GET external_sim", "1"),
            ("ADD_CRED", "4\n"),
            ("SET_CRED 4 home_ois", "FAIL\n"),
        ]);
        let mut sess = Session::new(
            s,
            plan(Mode::Passpoint {
                select: true,
                auto_interworking: false,
            }),
        );
        let mut reports = Vec::new();
        sess.setup(&mut |r| reports.push(r)).unwrap();
        let sent = sess.ctrl().sent.clone();
        assert!(sent.contains(&"SET interworking 1".to_string()));
        assert!(sent.contains(&"SET hs20 1".to_string()));
        assert!(
            !sent.contains(&"SET external_sim 1".to_string()),
            "already 1"
        );
        assert!(sent.contains(&"SET_CRED 4 imsi \"00101-0123456789\"".to_string()));
        assert!(sent.contains(&"SET_CRED 4 eap AKA'".to_string()));
        // home_ois refused → the legacy form.
        assert!(sent.contains(&"SET_CRED 4 roaming_consortiums \"112233,aabbcc\"".to_string()));
        assert_eq!(sent.last().unwrap(), "INTERWORKING_SELECT auto");
        assert!(reports.iter().any(|r| matches!(r, Report::Warning { .. })));
        assert!(matches!(
            reports.iter().find(|r| matches!(r, Report::Ready { .. })),
            Some(Report::Ready {
                cred_id: Some(4),
                ..
            })
        ));

        let mut sim = FixedSim(SimResponse::UmtsAuth {
            ik: [0; 16],
            ck: [0; 16],
            res: vec![],
        });
        let mut emit = |r| reports.push(r);
        for ev in [
            "INTERWORKING-AP 02:00:00:00:01:00 type=home id=4 priority=0 sp_priority=0",
            "INTERWORKING-AP 02:00:00:00:02:00 type=home id=9 priority=0 sp_priority=0",
            "CTRL-EVENT-EAP-STARTED EAP authentication started",
            "CTRL-EVENT-EAP-METHOD EAP vendor 0 method 50 (AKA') selected",
        ] {
            assert_eq!(sess.handle(ev, &mut sim, &mut emit).unwrap(), None);
        }
        let rand = "00".repeat(16);
        let req = format!("CTRL-REQ-SIM-7:UMTS-AUTH:{rand}:{rand} needed for SSID hs20");
        sess.handle(&req, &mut sim, &mut emit).unwrap();
        assert_eq!(
            sess.ctrl().sent.last().unwrap(),
            &format!(
                "CTRL-RSP-SIM-7:UMTS-AUTH:{}:{}:{}",
                "01".repeat(16),
                "02".repeat(16),
                "03".repeat(8)
            )
        );
        sess.handle(
            "CTRL-EVENT-EAP-SUCCESS EAP authentication completed successfully",
            &mut sim,
            &mut emit,
        )
        .unwrap();
        let done = sess
            .handle(
                "CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:01:00 completed [id=7 id_str=]",
                &mut sim,
                &mut emit,
            )
            .unwrap();
        assert_eq!(done, Some(Outcome::Success));
        let aps: Vec<_> = reports
            .iter()
            .filter(|r| matches!(r, Report::InterworkingAp { .. }))
            .collect();
        assert_eq!(aps.len(), 1, "the other cred's AP is not reported");

        let cleanup = sess.teardown();
        let sent = &sess.ctrl().sent;
        let tail: Vec<&str> = sent[sent.len() - 3..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            vec!["REMOVE_CRED 4", "SET hs20 0", "SET interworking 0"]
        );
        assert!(matches!(cleanup, Report::Cleanup { ref failed, .. } if failed.is_empty()));
    }

    #[test]
    fn network_mode_and_failure() {
        let s = script(vec![
            ("PING", "PONG\n"),
            ("GET external_sim", "0"),
            ("ADD_NETWORK", "2\n"),
        ]);
        let mut sess = Session::new(s, plan(Mode::Network(NetworkTarget::Any)));
        sess.setup(&mut |_| {}).unwrap();
        let sent = sess.ctrl().sent.clone();
        assert!(sent.contains(&"SET external_sim 1".to_string()));
        assert!(sent.contains(&"SET_NETWORK 2 key_mgmt IEEE8021X".to_string()));
        assert!(
            sent.contains(
                &"SET_NETWORK 2 identity \"6001010123456789@wlan.mnc001.mcc001.3gppnetwork.org\""
                    .to_string()
            )
        );
        assert_eq!(sent.last().unwrap(), "ENABLE_NETWORK 2");
        let mut sim = FixedSim(SimResponse::UmtsFail);
        let rand = "00".repeat(16);
        let req = format!("CTRL-REQ-SIM-2:UMTS-AUTH:{rand}:{rand} needed for SSID ");
        sess.handle(&req, &mut sim, &mut |_| {}).unwrap();
        assert_eq!(sess.ctrl().sent.last().unwrap(), "CTRL-RSP-SIM-2:UMTS-FAIL");
        let done = sess
            .handle(
                "CTRL-EVENT-EAP-FAILURE EAP authentication failed",
                &mut sim,
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(done, Some(Outcome::Failure("MAC-A wrong".into())));
        sess.teardown();
        let sent = &sess.ctrl().sent;
        assert_eq!(
            &sent[sent.len() - 2..],
            &[
                "REMOVE_NETWORK 2".to_string(),
                "SET external_sim 0".to_string()
            ]
        );
    }

    #[test]
    fn no_hotspot20_is_reported_and_undone() {
        // A build without CONFIG_HS20: `hs20` is an unknown setting.
        let s = script(vec![
            ("PING", "PONG\n"),
            ("GET interworking", "0"),
            ("GET hs20", "FAIL\n"),
            ("SET hs20", "FAIL\n"),
        ]);
        let mut sess = Session::new(
            s,
            plan(Mode::Passpoint {
                select: true,
                auto_interworking: false,
            }),
        );
        let e = sess.setup(&mut |_| {}).unwrap_err();
        assert!(matches!(e, SessionError::NoHs20 { .. }), "{e}");
        assert!(e.to_string().contains("Hotspot 2.0"));
        sess.teardown();
        assert_eq!(sess.ctrl().sent.last().unwrap(), "SET interworking 0");

        // Without CONFIG_INTERWORKING: ADD_CRED is an unknown command.
        let s = script(vec![
            ("PING", "PONG\n"),
            ("GET", "1"),
            ("ADD_CRED", "UNKNOWN COMMAND\n"),
        ]);
        let mut sess = Session::new(
            s,
            plan(Mode::Passpoint {
                select: false,
                auto_interworking: false,
            }),
        );
        let e = sess.setup(&mut |_| {}).unwrap_err();
        assert!(matches!(e, SessionError::NoHs20 { ref command, .. } if command == "ADD_CRED"));
        let Report::Cleanup { removed, .. } = sess.teardown() else {
            panic!()
        };
        assert!(removed.is_empty());
    }

    #[test]
    fn refused_field_names_the_field_not_the_value() {
        let s = script(vec![
            ("PING", "PONG\n"),
            ("GET", "1"),
            ("ADD_CRED", "0\n"),
            ("SET_CRED 0 imsi", "FAIL\n"),
        ]);
        let mut sess = Session::new(
            s,
            plan(Mode::Passpoint {
                select: false,
                auto_interworking: false,
            }),
        );
        let e = sess.setup(&mut |_| {}).unwrap_err().to_string();
        assert!(e.contains("SET_CRED 0 imsi"), "{e}");
        assert!(!e.contains("0123456789"), "{e}");
        let Report::Cleanup { removed, .. } = sess.teardown() else {
            panic!()
        };
        assert_eq!(removed, vec!["cred 0"]);
    }

    #[test]
    fn no_match_and_terminating() {
        let mut sess = Session::new(
            script(vec![]),
            plan(Mode::Passpoint {
                select: false,
                auto_interworking: false,
            }),
        );
        let mut sim = FixedSim(SimResponse::UmtsFail);
        assert!(matches!(
            sess.handle(
                "INTERWORKING-NO-MATCH No network with matching credentials found",
                &mut sim,
                &mut |_| {}
            ),
            Ok(Some(Outcome::Failure(_)))
        ));
        assert!(matches!(
            sess.handle("CTRL-EVENT-TERMINATING", &mut sim, &mut |_| {}),
            Err(SessionError::Ctrl(CtrlError::Gone(_)))
        ));
        // Success without EAP first is not a success.
        assert_eq!(
            sess.handle(
                "CTRL-EVENT-CONNECTED - Connection to 00:00:00:00:00:00 completed [id=0 id_str=]",
                &mut sim,
                &mut |_| {}
            )
            .unwrap(),
            None
        );
    }
}
