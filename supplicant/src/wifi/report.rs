//! What `supplicant wifi` reports: one line per event, or one JSON object
//! per line with `--json`. Never key material; IMSIs masked.

use super::proto::MatchType;
use serde::Serialize;
use std::fmt;

/// One reported event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    /// Connected and configured.
    Ready {
        /// The control socket.
        ctrl: String,
        /// `cred` (Passpoint) or `network` (plain 802.1X).
        mode: &'static str,
        /// The cred id added, in Passpoint mode.
        #[serde(skip_serializing_if = "Option::is_none")]
        cred_id: Option<u32>,
        /// The network id added, in network mode.
        #[serde(skip_serializing_if = "Option::is_none")]
        network_id: Option<u32>,
        /// `EAP-AKA` or `EAP-AKA'`.
        method: &'static str,
        /// IMSI with the MSIN masked.
        imsi: String,
        /// MNC length used.
        mnc_len: usize,
        /// The profile's name.
        profile: String,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        /// What.
        message: String,
    },
    /// A global setting changed (restored on exit).
    Setting {
        /// Name.
        name: String,
        /// Previous value.
        from: String,
        /// New value.
        to: String,
    },
    /// A BSS matched the cred (ANQP done).
    InterworkingAp {
        /// BSSID.
        bssid: String,
        /// home / roaming / unknown.
        kind: MatchType,
        /// Matching cred.
        #[serde(skip_serializing_if = "Option::is_none")]
        cred_id: Option<u32>,
        /// Soft constraints the BSS violates.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        soft_constraints: Vec<String>,
        /// The SSID is in the cred's excluded list.
        excluded: bool,
    },
    /// No BSS matched.
    NoMatch,
    /// The current connection already matches the cred.
    AlreadyConnected {
        /// BSSID.
        bssid: String,
    },
    /// A Hotspot 2.0 notice from the operator (deauthentication imminent,
    /// subscription remediation, terms and conditions).
    Hs20Notice {
        /// The wpa_supplicant event.
        kind: String,
        /// Its arguments.
        detail: String,
    },
    /// wpa_supplicant chose a BSS.
    Selected {
        /// BSSID.
        bssid: String,
    },
    /// EAP started.
    EapStarted,
    /// EAP method chosen.
    EapMethod {
        /// EAP type number.
        method: u32,
        /// Its name.
        name: String,
    },
    /// The USIM answered a request.
    SimAuth {
        /// Network block that asked.
        network_id: u32,
        /// UMTS-AUTH, UMTS-AUTS, UMTS-FAIL, GSM-AUTH, GSM-FAIL.
        answer: &'static str,
        /// Why, when not UMTS-AUTH.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// wpa_supplicant asked for something other than the SIM.
    Request {
        /// IDENTITY, PASSWORD, …
        field: String,
        /// Network block.
        network_id: u32,
    },
    /// An EAP error code (e.g. EAP-AKA notification).
    EapErrorCode {
        /// The code.
        code: u32,
    },
    /// EAP success.
    EapSuccess,
    /// EAP failure.
    EapFailure {
        /// Why, when the SIM side knows.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Connected (after the 4-way handshake on Wi-Fi; after EAP on a wired port).
    Connected {
        /// BSSID (zeros on a wired port).
        bssid: String,
        /// Network block.
        #[serde(skip_serializing_if = "Option::is_none")]
        network_id: Option<u32>,
    },
    /// Disconnected.
    Disconnected {
        /// BSSID.
        bssid: String,
        /// IEEE 802.11 reason code.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<u32>,
    },
    /// wpa_supplicant disabled the network for a while after failures.
    TempDisabled {
        /// Network block.
        #[serde(skip_serializing_if = "Option::is_none")]
        network_id: Option<u32>,
        /// Why.
        reason: String,
    },
    /// wpa_supplicant is terminating.
    Terminating,
    /// What was undone on exit.
    Cleanup {
        /// `cred 0`, `network 3`.
        removed: Vec<String>,
        /// `interworking=0`, …
        restored: Vec<String>,
        /// What could not be undone.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        failed: Vec<String>,
    },
    /// The run's result.
    Outcome {
        /// success, failure, stopped, timeout.
        outcome: &'static str,
        /// Why, on failure.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Report {
    /// The `--json` line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"event\":\"unprintable\"}".into())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Ready {
                ctrl,
                mode,
                cred_id,
                network_id,
                method,
                imsi,
                mnc_len,
                profile,
            } => {
                write!(f, "ready: {ctrl}, {mode}")?;
                if let Some(c) = cred_id {
                    write!(f, " {c}")?;
                }
                if let Some(n) = network_id {
                    write!(f, " {n}")?;
                }
                write!(
                    f,
                    ", {method}, IMSI {imsi} (MNC {mnc_len} digits), profile {profile}"
                )
            }
            Report::Warning { message } => write!(f, "warning: {message}"),
            Report::Setting { name, from, to } => write!(f, "set {name}: {from} -> {to}"),
            Report::InterworkingAp {
                bssid,
                kind,
                cred_id,
                soft_constraints,
                excluded,
            } => {
                let kind = match kind {
                    MatchType::Home => "home",
                    MatchType::Roaming => "roaming",
                    MatchType::Unknown => "unknown (no Domain Name ANQP)",
                };
                write!(f, "network {bssid}: {kind}")?;
                if let Some(c) = cred_id {
                    write!(f, ", cred {c}")?;
                }
                if *excluded {
                    write!(f, ", SSID excluded by the profile")?;
                }
                if !soft_constraints.is_empty() {
                    write!(f, ", {}", soft_constraints.join(", "))?;
                }
                Ok(())
            }
            Report::NoMatch => write!(f, "no network matches the credential"),
            Report::AlreadyConnected { bssid } => {
                write!(
                    f,
                    "already connected to {bssid}, which matches the credential"
                )
            }
            Report::Hs20Notice { kind, detail } => write!(f, "Hotspot 2.0 notice {kind}: {detail}"),
            Report::Selected { bssid } => write!(f, "selected {bssid}"),
            Report::EapStarted => write!(f, "EAP started"),
            Report::EapMethod { method, name } => write!(f, "EAP method {name} ({method})"),
            Report::SimAuth {
                network_id,
                answer,
                note,
            } => {
                write!(f, "SIM: {answer} for network {network_id}")?;
                if let Some(n) = note {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            Report::Request { field, network_id } => write!(
                f,
                "wpa_supplicant asks for {field} for network {network_id} (not answered: only the SIM is provided)"
            ),
            Report::EapErrorCode { code } => write!(f, "EAP error code {code}"),
            Report::EapSuccess => write!(f, "EAP success"),
            Report::EapFailure { reason } => match reason {
                Some(r) => write!(f, "EAP failure: {r}"),
                None => write!(f, "EAP failure"),
            },
            Report::Connected { bssid, network_id } => {
                write!(f, "connected to {bssid}")?;
                if let Some(n) = network_id {
                    write!(f, " (network {n})")?;
                }
                Ok(())
            }
            Report::Disconnected { bssid, reason } => {
                write!(f, "disconnected from {bssid}")?;
                if let Some(r) = reason {
                    write!(f, " (reason {r})")?;
                }
                Ok(())
            }
            Report::TempDisabled { network_id, reason } => {
                write!(f, "network")?;
                if let Some(n) = network_id {
                    write!(f, " {n}")?;
                }
                write!(f, " temporarily disabled: {reason}")
            }
            Report::Terminating => write!(f, "wpa_supplicant is terminating"),
            Report::Cleanup {
                removed,
                restored,
                failed,
            } => {
                write!(f, "cleanup: removed [{}]", removed.join(", "))?;
                write!(f, ", restored [{}]", restored.join(", "))?;
                if !failed.is_empty() {
                    write!(f, ", FAILED [{}]", failed.join("; "))?;
                }
                Ok(())
            }
            Report::Outcome { outcome, reason } => match reason {
                Some(r) => write!(f, "outcome: {outcome}: {r}"),
                None => write!(f, "outcome: {outcome}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json() {
        let r = Report::InterworkingAp {
            bssid: "02:00:00:00:01:00".into(),
            kind: MatchType::Roaming,
            cred_id: Some(1),
            soft_constraints: vec![],
            excluded: false,
        };
        assert_eq!(r.to_string(), "network 02:00:00:00:01:00: roaming, cred 1");
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["event"], "interworking_ap");
        assert_eq!(v["kind"], "roaming");
        let r = Report::Outcome {
            outcome: "failure",
            reason: Some("x".into()),
        };
        assert_eq!(r.to_string(), "outcome: failure: x");
        assert_eq!(
            Report::EapMethod {
                method: 50,
                name: "AKA'".into()
            }
            .json(),
            r#"{"event":"eap_method","method":50,"name":"AKA'"}"#
        );
    }
}
