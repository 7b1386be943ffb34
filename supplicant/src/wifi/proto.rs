//! The wpa_supplicant control-interface protocol without I/O: how a datagram
//! is classified (reply or `<level>EVENT`), typed events, reply checks and the
//! command texts this bridge sends.
//!
//! The framing is the one of hostap's `src/common/wpa_ctrl.c`: a client sends
//! a command as one datagram and the next datagram that does not start with
//! `<` is its reply; an attached client (`ATTACH`) also gets unsolicited
//! messages `<N>TEXT`, N being the wpa_debug level, which can arrive before
//! the reply to a pending command.

use std::fmt;

/// One datagram received from wpa_supplicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// An unsolicited message `<level>text` (only sent to attached clients).
    Event {
        /// wpa_debug level (2 = warning, 3 = info, …).
        level: u8,
        /// The text after `<level>`.
        text: String,
    },
    /// The reply to the last command.
    Reply(String),
}

/// Classifies a datagram as wpa_ctrl.c does: `<` starts an event.
pub fn classify(datagram: &[u8]) -> Message {
    let text = String::from_utf8_lossy(datagram);
    if let Some(rest) = text.strip_prefix('<')
        && let Some((level, body)) = rest.split_once('>')
        && let Ok(level) = level.parse::<u8>()
    {
        return Message::Event {
            level,
            text: body.to_string(),
        };
    }
    Message::Reply(text.into_owned())
}

/// The three answers an external SIM gives (wpa_supplicant `eap_aka.c`,
/// `eap_aka_ext_sim_result`).
#[derive(Clone, PartialEq, Eq)]
pub enum SimResponse {
    /// `UMTS-AUTH:<IK>:<CK>:<RES>` — AUTN accepted (3GPP TS 33.102 §6.3.3).
    UmtsAuth {
        /// IK.
        ik: [u8; 16],
        /// CK.
        ck: [u8; 16],
        /// RES, 4..16 bytes.
        res: Vec<u8>,
    },
    /// `UMTS-AUTS:<AUTS>` — SQN out of range, resynchronisation (TS 33.102 §6.3.5).
    UmtsAuts([u8; 14]),
    /// `UMTS-FAIL` — MAC-A wrong or the card failed; wpa_supplicant sends
    /// EAP-AKA Authentication-Reject.
    UmtsFail,
    /// `GSM-AUTH:<Kc1>:<SRES1>:<Kc2>:<SRES2>[…]` — the card's (Kc, SRES)
    /// per RAND, in request order (wpa_supplicant `eap_sim_ext_sim_result`).
    GsmAuth(Vec<([u8; 8], [u8; 4])>),
    /// `GSM-FAIL` — the card could not answer a `GSM-AUTH` request
    /// (wpa_supplicant ends EAP-SIM on any answer but `GSM-AUTH`).
    GsmFail,
}

impl fmt::Debug for SimResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SimResponse::UmtsAuth { .. } => "UmtsAuth(<redacted>)",
            SimResponse::UmtsAuts(_) => "UmtsAuts",
            SimResponse::UmtsFail => "UmtsFail",
            SimResponse::GsmAuth(_) => "GsmAuth(<redacted>)",
            SimResponse::GsmFail => "GsmFail",
        })
    }
}

impl Drop for SimResponse {
    fn drop(&mut self) {
        if let SimResponse::UmtsAuth { ik, ck, res } = self {
            zeroize::Zeroize::zeroize(ik);
            zeroize::Zeroize::zeroize(ck);
            zeroize::Zeroize::zeroize(res);
        }
        if let SimResponse::GsmAuth(pairs) = self {
            for (kc, sres) in pairs.iter_mut() {
                zeroize::Zeroize::zeroize(kc);
                zeroize::Zeroize::zeroize(sres);
            }
        }
    }
}

impl SimResponse {
    /// The kind, for reports (never the values).
    pub fn kind(&self) -> &'static str {
        match self {
            SimResponse::UmtsAuth { .. } => "UMTS-AUTH",
            SimResponse::UmtsAuts(_) => "UMTS-AUTS",
            SimResponse::UmtsFail => "UMTS-FAIL",
            SimResponse::GsmAuth(_) => "GSM-AUTH",
            SimResponse::GsmFail => "GSM-FAIL",
        }
    }

    /// The command `CTRL-RSP-SIM-<id>:…`. It carries CK and IK: the buffer
    /// wipes itself when dropped.
    pub fn command(&self, network_id: u32) -> zeroize::Zeroizing<String> {
        let body = match self {
            SimResponse::UmtsAuth { ik, ck, res } => format!(
                "UMTS-AUTH:{}:{}:{}",
                zeroize::Zeroizing::new(hex::encode(ik)).as_str(),
                zeroize::Zeroizing::new(hex::encode(ck)).as_str(),
                zeroize::Zeroizing::new(hex::encode(res)).as_str()
            ),
            SimResponse::UmtsAuts(auts) => format!("UMTS-AUTS:{}", hex::encode(auts)),
            SimResponse::UmtsFail => "UMTS-FAIL".to_string(),
            SimResponse::GsmAuth(pairs) => {
                let mut s = String::from("GSM-AUTH");
                for (kc, sres) in pairs {
                    s.push(':');
                    s.push_str(zeroize::Zeroizing::new(hex::encode(kc)).as_str());
                    s.push(':');
                    s.push_str(zeroize::Zeroizing::new(hex::encode(sres)).as_str());
                }
                s
            }
            SimResponse::GsmFail => "GSM-FAIL".to_string(),
        };
        let body = zeroize::Zeroizing::new(body);
        zeroize::Zeroizing::new(format!("CTRL-RSP-SIM-{network_id}:{}", body.as_str()))
    }
}

/// What wpa_supplicant asks of its external SIM in `CTRL-REQ-SIM-<id>:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimRequest {
    /// `UMTS-AUTH:<RAND>:<AUTN>` (EAP-AKA/AKA').
    UmtsAuth {
        /// RAND.
        rand: [u8; 16],
        /// AUTN.
        autn: [u8; 16],
    },
    /// `GSM-AUTH:<RAND1>:<RAND2>[:<RAND3>]` (EAP-SIM): GSM authentication
    /// on the card for each RAND.
    GsmAuth {
        /// The RANDs, in the order of the EAP-SIM AT_RAND.
        rands: Vec<[u8; 16]>,
    },
    /// Anything else, kept verbatim.
    Other(String),
}

/// The kind of home/roaming match in `INTERWORKING-AP` (wpa_supplicant
/// `interworking.c`, `interworking_home_sp_cred`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    /// The ANQP Domain Name list holds one of the cred's domains.
    Home,
    /// A Domain Name list without our domain.
    Roaming,
    /// No Domain Name ANQP element.
    Unknown,
}

/// An `INTERWORKING-AP` / `INTERWORKING-EXCLUDED` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterworkingAp {
    /// The BSSID.
    pub bssid: String,
    /// Home, roaming or unknown.
    pub kind: MatchType,
    /// The matching cred's id.
    pub cred_id: Option<u32>,
    /// `below_min_backhaul=1`, `over_max_bss_load=1`, `conn_capab_missing=1` flags seen.
    pub soft_constraints: Vec<String>,
}

/// A typed unsolicited message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `CTRL-REQ-SIM-<id>:<request> needed for SSID <ssid>`.
    SimRequest {
        /// The network block asking.
        network_id: u32,
        /// What it asks.
        request: SimRequest,
    },
    /// `CTRL-REQ-<FIELD>-<id>:…` other than SIM (IDENTITY, PASSWORD, PIN, …):
    /// the network block lacks something.
    OtherRequest {
        /// The field (`IDENTITY`, `PASSWORD`, …).
        field: String,
        /// The network block.
        network_id: u32,
    },
    /// `CTRL-EVENT-EAP-STARTED`.
    EapStarted,
    /// `CTRL-EVENT-EAP-PROPOSED-METHOD vendor=0 method=23`.
    EapProposedMethod {
        /// The EAP type the server proposed.
        method: u32,
    },
    /// `CTRL-EVENT-EAP-METHOD EAP vendor 0 method 50 (AKA') selected`.
    EapMethod {
        /// The EAP type number.
        method: u32,
        /// The name wpa_supplicant gives it.
        name: String,
    },
    /// `CTRL-EVENT-EAP-STATUS status='…' parameter='…'`.
    EapStatus {
        /// status.
        status: String,
        /// parameter.
        parameter: String,
    },
    /// `CTRL-EVENT-EAP-ERROR-CODE <n>` (e.g. an EAP-AKA notification code).
    EapErrorCode(u32),
    /// `CTRL-EVENT-EAP-SUCCESS`.
    EapSuccess,
    /// `CTRL-EVENT-EAP-FAILURE`.
    EapFailure,
    /// `CTRL-EVENT-CONNECTED - Connection to <bssid> completed [id=N id_str=]`.
    Connected {
        /// The BSSID (00:00:00:00:00:00 on a wired port).
        bssid: String,
        /// The network block.
        network_id: Option<u32>,
    },
    /// `CTRL-EVENT-DISCONNECTED bssid=… reason=N [locally_generated=1]`.
    Disconnected {
        /// The BSSID.
        bssid: String,
        /// IEEE 802.11 reason code.
        reason: Option<u32>,
    },
    /// `CTRL-EVENT-SSID-TEMP-DISABLED id=N ssid="…" auth_failures=N duration=N reason=…`.
    TempDisabled {
        /// The network block.
        network_id: Option<u32>,
        /// Why.
        reason: String,
    },
    /// `INTERWORKING-AP <bssid> type=home|roaming|unknown id=N …`.
    InterworkingAp(InterworkingAp),
    /// `INTERWORKING-EXCLUDED …` (`INTERWORKING-BLACKLISTED …` up to 2.10):
    /// a match on an excluded SSID.
    InterworkingExcluded(InterworkingAp),
    /// `INTERWORKING-ALREADY-CONNECTED <bssid>`: the current connection
    /// already matches a cred; no new association.
    InterworkingAlreadyConnected {
        /// The BSSID.
        bssid: String,
    },
    /// `HS20-DEAUTH-IMMINENT-NOTICE`, `HS20-SUBSCRIPTION-REMEDIATION`,
    /// `HS20-T-C-ACCEPTANCE`: the operator's server wants something.
    Hs20Notice {
        /// The event name.
        kind: String,
        /// Its arguments (codes, URL).
        detail: String,
    },
    /// `INTERWORKING-NO-MATCH`.
    InterworkingNoMatch,
    /// `INTERWORKING-SELECTED <bssid>`.
    InterworkingSelected {
        /// The BSSID.
        bssid: String,
    },
    /// `CTRL-EVENT-TERMINATING`: wpa_supplicant is going away.
    Terminating,
    /// Anything else: the first word and the rest.
    Other {
        /// `CTRL-EVENT-SCAN-RESULTS`, `ANQP-QUERY-DONE`, …
        name: String,
        /// The rest of the line.
        rest: String,
    },
}

fn kv<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

fn hex16(s: &str) -> Option<[u8; 16]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

fn parse_sim_request(body: &str) -> SimRequest {
    // `<request> needed for SSID <ssid>`: the request has no blanks.
    let req = body.split(' ').next().unwrap_or("");
    let mut f = req.split(':');
    match f.next() {
        Some("UMTS-AUTH") => match (f.next().and_then(hex16), f.next().and_then(hex16)) {
            (Some(rand), Some(autn)) => SimRequest::UmtsAuth { rand, autn },
            _ => SimRequest::Other(req.to_string()),
        },
        Some("GSM-AUTH") => {
            let rands: Option<Vec<[u8; 16]>> = f.map(hex16).collect();
            match rands {
                Some(rands) if (2..=3).contains(&rands.len()) => SimRequest::GsmAuth { rands },
                _ => SimRequest::Other(req.to_string()),
            }
        }
        _ => SimRequest::Other(req.to_string()),
    }
}

fn parse_interworking_ap(rest: &str) -> Option<InterworkingAp> {
    let bssid = rest.split_whitespace().next()?.to_string();
    let kind = match kv(rest, "type")? {
        "home" => MatchType::Home,
        "roaming" => MatchType::Roaming,
        _ => MatchType::Unknown,
    };
    let soft_constraints = [
        "below_min_backhaul",
        "over_max_bss_load",
        "conn_capab_missing",
    ]
    .into_iter()
    .filter(|k| kv(rest, k) == Some("1"))
    .map(String::from)
    .collect();
    Some(InterworkingAp {
        bssid,
        kind,
        cred_id: kv(rest, "id").and_then(|v| v.parse().ok()),
        soft_constraints,
    })
}

/// `status='started' parameter=''` → (started, "").
fn quoted_kv(text: &str, key: &str) -> String {
    let pat = format!("{key}='");
    text.find(&pat)
        .and_then(|i| {
            let v = &text[i + pat.len()..];
            v.find('\'').map(|j| v[..j].to_string())
        })
        .unwrap_or_default()
}

/// Parses the text of an unsolicited message (after `<level>`). Never fails:
/// what is not recognised is [`Event::Other`].
pub fn parse_event(text: &str) -> Event {
    let text = text.trim_end_matches(['\n', '\0']);
    let (name, rest) = text.split_once(' ').unwrap_or((text, ""));
    let other = || Event::Other {
        name: name.to_string(),
        rest: rest.to_string(),
    };
    if let Some(req) = text.strip_prefix("CTRL-REQ-") {
        // CTRL-REQ-<FIELD>-<id>:<text>
        let Some((head, body)) = req.split_once(':') else {
            return other();
        };
        let Some((field, id)) = head.rsplit_once('-') else {
            return other();
        };
        let Ok(network_id) = id.parse() else {
            return other();
        };
        return if field == "SIM" {
            Event::SimRequest {
                network_id,
                request: parse_sim_request(body),
            }
        } else {
            Event::OtherRequest {
                field: field.to_string(),
                network_id,
            }
        };
    }
    match name {
        "CTRL-EVENT-EAP-STARTED" => Event::EapStarted,
        "CTRL-EVENT-EAP-PROPOSED-METHOD" => match kv(rest, "method").and_then(|m| m.parse().ok()) {
            Some(method) => Event::EapProposedMethod { method },
            None => other(),
        },
        "CTRL-EVENT-EAP-METHOD" => {
            // EAP vendor 0 method 23 (AKA) selected
            let w: Vec<&str> = rest.split_whitespace().collect();
            let method = w
                .iter()
                .position(|x| *x == "method")
                .and_then(|i| w.get(i + 1))
                .and_then(|m| m.parse().ok());
            let name = rest
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            match method {
                Some(method) => Event::EapMethod { method, name },
                None => other(),
            }
        }
        "CTRL-EVENT-EAP-STATUS" => Event::EapStatus {
            status: quoted_kv(rest, "status"),
            parameter: quoted_kv(rest, "parameter"),
        },
        "CTRL-EVENT-EAP-ERROR-CODE" => match rest.trim().parse() {
            Ok(c) => Event::EapErrorCode(c),
            Err(_) => other(),
        },
        "CTRL-EVENT-EAP-SUCCESS" => Event::EapSuccess,
        "CTRL-EVENT-EAP-FAILURE" => Event::EapFailure,
        "CTRL-EVENT-CONNECTED" => {
            let bssid = rest
                .split_whitespace()
                .skip_while(|w| *w != "to")
                .nth(1)
                .unwrap_or("")
                .to_string();
            let network_id = rest
                .split(['[', ' '])
                .find_map(|w| w.strip_prefix("id="))
                .and_then(|v| v.parse().ok());
            Event::Connected { bssid, network_id }
        }
        "CTRL-EVENT-DISCONNECTED" => Event::Disconnected {
            bssid: kv(rest, "bssid").unwrap_or("").to_string(),
            reason: kv(rest, "reason").and_then(|v| v.parse().ok()),
        },
        "CTRL-EVENT-SSID-TEMP-DISABLED" => Event::TempDisabled {
            network_id: kv(rest, "id").and_then(|v| v.parse().ok()),
            reason: kv(rest, "reason").unwrap_or("").to_string(),
        },
        "INTERWORKING-AP" => parse_interworking_ap(rest).map_or_else(other, Event::InterworkingAp),
        "INTERWORKING-EXCLUDED" | "INTERWORKING-BLACKLISTED" => {
            parse_interworking_ap(rest).map_or_else(other, Event::InterworkingExcluded)
        }
        "INTERWORKING-NO-MATCH" => Event::InterworkingNoMatch,
        "INTERWORKING-ALREADY-CONNECTED" => Event::InterworkingAlreadyConnected {
            bssid: rest.split_whitespace().next().unwrap_or("").to_string(),
        },
        "HS20-DEAUTH-IMMINENT-NOTICE" | "HS20-SUBSCRIPTION-REMEDIATION" | "HS20-T-C-ACCEPTANCE" => {
            Event::Hs20Notice {
                kind: name.to_string(),
                detail: rest.trim().to_string(),
            }
        }
        "INTERWORKING-SELECTED" => Event::InterworkingSelected {
            bssid: rest.split_whitespace().next().unwrap_or("").to_string(),
        },
        "CTRL-EVENT-TERMINATING" => Event::Terminating,
        _ => other(),
    }
}

/// How a command's reply went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus {
    /// `OK`.
    Ok,
    /// `FAIL…` (`FAIL`, `FAIL-BUSY`, …).
    Fail(String),
    /// `UNKNOWN COMMAND`: this wpa_supplicant was built without it.
    UnknownCommand,
    /// Anything else (a value).
    Value(String),
}

/// Classifies a reply.
pub fn reply_status(reply: &str) -> ReplyStatus {
    let r = reply.trim_end_matches(['\n', '\0']);
    if r == "OK" {
        ReplyStatus::Ok
    } else if r.starts_with("UNKNOWN COMMAND") {
        ReplyStatus::UnknownCommand
    } else if r.starts_with("FAIL") {
        ReplyStatus::Fail(r.to_string())
    } else {
        ReplyStatus::Value(r.to_string())
    }
}

/// The id `ADD_CRED` / `ADD_NETWORK` returns.
pub fn parse_id(reply: &str) -> Option<u32> {
    reply.trim().parse().ok()
}

/// A string value for `SET_CRED` / `SET_NETWORK`: quoted when it is plain
/// printable text, else the hex form wpa_supplicant accepts for strings
/// (`wpa_config_parse_string`: an unquoted value is hex).
pub fn string_value(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"') {
        format!("\"{s}\"")
    } else {
        hex::encode(s.as_bytes())
    }
}

/// Reads `GET_CRED`/`GET_NETWORK`/`GET` values back: list fields (`domain`,
/// `excluded_ssid`, `roaming_partner`) come one per line.
pub fn value_lines(reply: &str) -> Vec<String> {
    reply
        .trim_end_matches(['\n', '\0'])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines of `LIST_CREDS` (`id / realm / username / domain / imsi`) or
/// `LIST_NETWORKS` after the header, split on tabs.
pub fn table_rows(reply: &str) -> Vec<Vec<String>> {
    reply
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAND: &str = "00112233445566778899aabbccddeeff";
    const AUTN: &str = "ffeeddccbbaa99887766554433221100";

    #[test]
    fn classifies_events_and_replies() {
        assert_eq!(
            classify(b"<3>CTRL-EVENT-EAP-STARTED EAP authentication started"),
            Message::Event {
                level: 3,
                text: "CTRL-EVENT-EAP-STARTED EAP authentication started".into()
            }
        );
        assert_eq!(classify(b"OK\n"), Message::Reply("OK\n".into()));
        assert_eq!(classify(b"0"), Message::Reply("0".into()));
        // Not an event: no level.
        assert_eq!(classify(b"<x>y"), Message::Reply("<x>y".into()));
        assert_eq!(classify(b""), Message::Reply(String::new()));
        assert_eq!(
            classify(&[0xff, 0xfe]),
            Message::Reply("\u{fffd}\u{fffd}".into())
        );
    }

    #[test]
    fn sim_requests() {
        let ev = format!("CTRL-REQ-SIM-3:UMTS-AUTH:{RAND}:{AUTN} needed for SSID test");
        match parse_event(&ev) {
            Event::SimRequest {
                network_id: 3,
                request: SimRequest::UmtsAuth { rand, autn },
            } => {
                assert_eq!(hex::encode(rand), RAND);
                assert_eq!(hex::encode(autn), AUTN);
            }
            other => panic!("{other:?}"),
        }
        // The SSID may be empty (wired).
        let ev = format!("CTRL-REQ-SIM-0:UMTS-AUTH:{RAND}:{AUTN} needed for SSID ");
        assert!(matches!(
            parse_event(&ev),
            Event::SimRequest {
                network_id: 0,
                request: SimRequest::UmtsAuth { .. }
            }
        ));
        assert_eq!(
            parse_event(&format!(
                "CTRL-REQ-SIM-1:GSM-AUTH:{RAND}:{RAND} needed for SSID x"
            )),
            Event::SimRequest {
                network_id: 1,
                request: SimRequest::GsmAuth {
                    rands: vec![hex16(RAND).unwrap(); 2]
                }
            }
        );
        // One RAND or a bad one: kept verbatim.
        assert_eq!(
            parse_event(&format!("CTRL-REQ-SIM-1:GSM-AUTH:{RAND} needed for SSID x")),
            Event::SimRequest {
                network_id: 1,
                request: SimRequest::Other(format!("GSM-AUTH:{RAND}"))
            }
        );
        assert_eq!(
            SimResponse::GsmAuth(vec![([1; 8], [2; 4]), ([3; 8], [4; 4])])
                .command(5)
                .as_str(),
            "CTRL-RSP-SIM-5:GSM-AUTH:0101010101010101:02020202:0303030303030303:04040404"
        );
        // Short RAND → kept verbatim, never a panic.
        assert_eq!(
            parse_event("CTRL-REQ-SIM-1:UMTS-AUTH:0011:22 needed for SSID x"),
            Event::SimRequest {
                network_id: 1,
                request: SimRequest::Other("UMTS-AUTH:0011:22".into())
            }
        );
        assert_eq!(
            parse_event("CTRL-REQ-IDENTITY-2:Identity needed for SSID x"),
            Event::OtherRequest {
                field: "IDENTITY".into(),
                network_id: 2
            }
        );
        assert!(matches!(
            parse_event("CTRL-REQ-SIM-x:UMTS-AUTH"),
            Event::Other { .. }
        ));
        assert!(matches!(parse_event("CTRL-REQ-"), Event::Other { .. }));
    }

    #[test]
    fn eap_events() {
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-STARTED EAP authentication started"),
            Event::EapStarted
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-PROPOSED-METHOD vendor=0 method=50"),
            Event::EapProposedMethod { method: 50 }
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-METHOD EAP vendor 0 method 50 (AKA') selected"),
            Event::EapMethod {
                method: 50,
                name: "AKA'".into()
            }
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-STATUS status='completion' parameter='failure'"),
            Event::EapStatus {
                status: "completion".into(),
                parameter: "failure".into()
            }
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-ERROR-CODE 16384"),
            Event::EapErrorCode(16384)
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-SUCCESS EAP authentication completed successfully"),
            Event::EapSuccess
        );
        assert_eq!(
            parse_event("CTRL-EVENT-EAP-FAILURE EAP authentication failed"),
            Event::EapFailure
        );
        assert!(matches!(
            parse_event("CTRL-EVENT-EAP-METHOD garbage"),
            Event::Other { .. }
        ));
    }

    #[test]
    fn connection_events() {
        assert_eq!(
            parse_event(
                "CTRL-EVENT-CONNECTED - Connection to 02:00:00:00:03:00 completed [id=4 id_str=]"
            ),
            Event::Connected {
                bssid: "02:00:00:00:03:00".into(),
                network_id: Some(4)
            }
        );
        assert_eq!(
            parse_event(
                "CTRL-EVENT-DISCONNECTED bssid=02:00:00:00:03:00 reason=3 locally_generated=1"
            ),
            Event::Disconnected {
                bssid: "02:00:00:00:03:00".into(),
                reason: Some(3)
            }
        );
        assert_eq!(
            parse_event(
                "CTRL-EVENT-SSID-TEMP-DISABLED id=0 ssid=\"hs20\" auth_failures=1 duration=10 reason=AUTH_FAILED"
            ),
            Event::TempDisabled {
                network_id: Some(0),
                reason: "AUTH_FAILED".into()
            }
        );
        assert_eq!(parse_event("CTRL-EVENT-TERMINATING"), Event::Terminating);
    }

    #[test]
    fn interworking_events() {
        assert_eq!(
            parse_event(
                "INTERWORKING-AP 02:00:00:00:01:00 type=home id=0 priority=0 sp_priority=0"
            ),
            Event::InterworkingAp(InterworkingAp {
                bssid: "02:00:00:00:01:00".into(),
                kind: MatchType::Home,
                cred_id: Some(0),
                soft_constraints: vec![]
            })
        );
        assert_eq!(
            parse_event(
                "INTERWORKING-AP 02:00:00:00:01:00 type=roaming below_min_backhaul=1 id=2 priority=1 sp_priority=0"
            ),
            Event::InterworkingAp(InterworkingAp {
                bssid: "02:00:00:00:01:00".into(),
                kind: MatchType::Roaming,
                cred_id: Some(2),
                soft_constraints: vec!["below_min_backhaul".into()]
            })
        );
        assert!(matches!(
            parse_event(
                "INTERWORKING-EXCLUDED 02:00:00:00:01:00 type=unknown id=1 priority=0 sp_priority=0"
            ),
            Event::InterworkingExcluded(InterworkingAp {
                kind: MatchType::Unknown,
                ..
            })
        ));
        assert_eq!(
            parse_event("INTERWORKING-NO-MATCH No network with matching credentials found"),
            Event::InterworkingNoMatch
        );
        // wpa_supplicant 2.10 still says BLACKLISTED.
        assert!(matches!(
            parse_event(
                "INTERWORKING-BLACKLISTED 02:00:00:00:01:00 type=roaming id=0 priority=0 sp_priority=0"
            ),
            Event::InterworkingExcluded(InterworkingAp {
                kind: MatchType::Roaming,
                ..
            })
        ));
        assert_eq!(
            parse_event("INTERWORKING-ALREADY-CONNECTED 02:00:00:00:01:00"),
            Event::InterworkingAlreadyConnected {
                bssid: "02:00:00:00:01:00".into()
            }
        );
        assert_eq!(
            parse_event("HS20-DEAUTH-IMMINENT-NOTICE 1 60 https://example.com/"),
            Event::Hs20Notice {
                kind: "HS20-DEAUTH-IMMINENT-NOTICE".into(),
                detail: "1 60 https://example.com/".into()
            }
        );
        assert_eq!(
            parse_event("INTERWORKING-SELECTED 02:00:00:00:01:00"),
            Event::InterworkingSelected {
                bssid: "02:00:00:00:01:00".into()
            }
        );
        // No type= → Other, not a panic.
        assert!(matches!(
            parse_event("INTERWORKING-AP 02:00:00:00:01:00"),
            Event::Other { .. }
        ));
        assert_eq!(
            parse_event("CTRL-EVENT-SCAN-RESULTS "),
            Event::Other {
                name: "CTRL-EVENT-SCAN-RESULTS".into(),
                rest: String::new()
            }
        );
    }

    #[test]
    fn replies() {
        assert_eq!(reply_status("OK\n"), ReplyStatus::Ok);
        assert_eq!(reply_status("FAIL\n"), ReplyStatus::Fail("FAIL".into()));
        assert_eq!(
            reply_status("FAIL-BUSY\n"),
            ReplyStatus::Fail("FAIL-BUSY".into())
        );
        assert_eq!(
            reply_status("UNKNOWN COMMAND\n"),
            ReplyStatus::UnknownCommand
        );
        assert_eq!(reply_status("1"), ReplyStatus::Value("1".into()));
        assert_eq!(parse_id("3\n"), Some(3));
        assert_eq!(parse_id("FAIL\n"), None);
        assert_eq!(
            value_lines("a.example\nb.example"),
            vec!["a.example", "b.example"]
        );
        assert_eq!(
            table_rows(
                "cred id / realm / username / domain / imsi\n0\texample.com\t\ta.example\t00101-0123\n"
            ),
            vec![vec!["0", "example.com", "", "a.example", "00101-0123"]]
        );
    }

    #[test]
    fn values_and_sim_responses() {
        assert_eq!(string_value("example.com"), "\"example.com\"");
        assert_eq!(string_value("a\"b"), "612262");
        assert_eq!(string_value("é"), "c3a9");
        let r = SimResponse::UmtsAuth {
            ik: [0x11; 16],
            ck: [0x22; 16],
            res: vec![0x33; 8],
        };
        assert_eq!(
            r.command(7).as_str(),
            format!(
                "CTRL-RSP-SIM-7:UMTS-AUTH:{}:{}:{}",
                "11".repeat(16),
                "22".repeat(16),
                "33".repeat(8)
            )
        );
        assert!(!format!("{r:?}").contains("1111"));
        assert_eq!(
            SimResponse::UmtsAuts([0xab; 14]).command(0).as_str(),
            format!("CTRL-RSP-SIM-0:UMTS-AUTS:{}", "ab".repeat(14))
        );
        assert_eq!(
            SimResponse::UmtsFail.command(2).as_str(),
            "CTRL-RSP-SIM-2:UMTS-FAIL"
        );
    }

    proptest::proptest! {
        /// Whatever wpa_supplicant (or anything on its socket) sends, the
        /// classifier and the event parser return a value.
        #[test]
        fn any_datagram_parses(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Message::Event { text, .. } = classify(&bytes) {
                let _ = parse_event(&text);
            }
            let _ = parse_event(&String::from_utf8_lossy(&bytes));
            let _ = reply_status(&String::from_utf8_lossy(&bytes));
        }

        /// A UMTS-AUTH request comes back with the RAND and AUTN it carried.
        #[test]
        fn sim_request_round_trip(id in 0u32..10_000, rand in proptest::prelude::any::<[u8; 16]>(), autn in proptest::prelude::any::<[u8; 16]>(), ssid in "[ -~]{0,32}") {
            let text = format!("CTRL-REQ-SIM-{id}:UMTS-AUTH:{}:{} needed for SSID {ssid}", hex::encode(rand), hex::encode(autn));
            proptest::prop_assert_eq!(
                parse_event(&text),
                Event::SimRequest { network_id: id, request: SimRequest::UmtsAuth { rand, autn } }
            );
        }
    }
}
