//! Dynamic Authorization (RFC 5176) counters of the disconnect watcher
//! (`[[client]] das`): requests sent and retransmitted, ACKs, NAKs by
//! Error-Cause, requests given up, CoA fallbacks and responses dropped.
//! Registered only when some client has a `das`; bumped by the watcher
//! thread alone.

use super::{Labels, Metrics};
use crate::authz::das::{DasDrop, DasEvent, DasKind};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Error-Cause values of RFC 5176 §3.5 kept as their own `error_cause`
/// label; any other value is `other`, none given is `none` (a NAS chooses
/// the value, so the label set stays bounded).
const ERROR_CAUSES: [u32; 17] = [
    201, 202, 401, 402, 403, 404, 405, 406, 407, 501, 502, 503, 504, 505, 506, 507, 508,
];

/// The `error_cause` label of a NAK.
pub fn error_cause_label(cause: Option<u32>) -> String {
    match cause {
        None => "none".into(),
        Some(c) if ERROR_CAUSES.contains(&c) => c.to_string(),
        Some(_) => "other".into(),
    }
}

fn kind_label(k: DasKind) -> &'static str {
    match k {
        DasKind::Disconnect => "disconnect",
        DasKind::Coa => "coa",
    }
}

/// The `reason` label of a dropped response.
fn drop_label(d: DasDrop) -> &'static str {
    match d {
        DasDrop::Malformed => "malformed",
        DasDrop::Unsolicited => "unsolicited",
        DasDrop::BadAuthenticator => "bad_authenticator",
    }
}

/// The watcher's handles (cheap to clone: each family is shared).
#[derive(Clone, Debug)]
pub struct DasMetrics {
    requests: Family<Labels, Counter>,
    retransmissions: Counter,
    acks: Family<Labels, Counter>,
    naks: Family<Labels, Counter>,
    timeouts: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    coa_fallbacks: Counter,
    claimed_elsewhere: Family<Labels, Counter>,
}

impl DasMetrics {
    /// Registers the `aaa_das_*` families in `m`'s registry, every series
    /// that needs no NAS input present at 0.
    pub fn register(m: &Metrics) -> Self {
        let d = DasMetrics {
            requests: Family::default(),
            retransmissions: Counter::default(),
            acks: Family::default(),
            naks: Family::default(),
            timeouts: Family::default(),
            dropped: Family::default(),
            coa_fallbacks: Counter::default(),
            claimed_elsewhere: Family::default(),
        };
        for k in [DasKind::Disconnect, DasKind::Coa] {
            let l = vec![("kind", kind_label(k).to_string())];
            let _ = d.requests.get_or_create(&l);
            let _ = d.acks.get_or_create(&l);
            let _ = d.timeouts.get_or_create(&l);
            let _ = d.claimed_elsewhere.get_or_create(&l);
        }
        for r in [
            DasDrop::Malformed,
            DasDrop::Unsolicited,
            DasDrop::BadAuthenticator,
        ] {
            let _ = d
                .dropped
                .get_or_create(&vec![("reason", drop_label(r).to_string())]);
        }
        let mut reg = m.registry.lock().unwrap_or_else(|e| e.into_inner());
        reg.register(
            "aaa_das_requests",
            "Disconnect-Requests and CoA-Requests sent to a NAS's DAS (first transmissions), by kind",
            d.requests.clone(),
        );
        reg.register(
            "aaa_das_retransmissions",
            "Disconnect/CoA-Requests sent again after no answer",
            d.retransmissions.clone(),
        );
        reg.register(
            "aaa_das_acks",
            "Disconnect-ACKs and CoA-ACKs received, by kind",
            d.acks.clone(),
        );
        reg.register(
            "aaa_das_naks",
            "Disconnect-NAKs and CoA-NAKs received, by kind and Error-Cause (RFC 5176 section 3.5)",
            d.naks.clone(),
        );
        reg.register(
            "aaa_das_timeouts",
            "Disconnect/CoA-Requests given up after every retransmission went unanswered, by kind",
            d.timeouts.clone(),
        );
        reg.register(
            "aaa_das_responses_dropped",
            "Datagrams on the DAS client socket dropped (malformed, unsolicited, bad authenticator), by reason",
            d.dropped.clone(),
        );
        reg.register(
            "aaa_das_coa_fallbacks",
            "Disconnect-Requests sent because a CoA-Request was NAKed or unanswered",
            d.coa_fallbacks.clone(),
        );
        reg.register(
            "aaa_das_claimed_elsewhere",
            "Disconnect/CoA-Requests this node did not send because another node on the same PostgreSQL store claimed them first, by kind",
            d.claimed_elsewhere.clone(),
        );
        d
    }

    /// A first transmission of a `kind` request.
    pub fn sent(&self, kind: DasKind) {
        self.requests
            .get_or_create(&vec![("kind", kind_label(kind).to_string())])
            .inc();
    }

    /// A `kind` request left to the node that claimed it first.
    pub fn claimed_elsewhere(&self, kind: DasKind) {
        self.claimed_elsewhere
            .get_or_create(&vec![("kind", kind_label(kind).to_string())])
            .inc();
    }

    /// `n` retransmissions.
    pub fn retransmitted(&self, n: usize) {
        self.retransmissions.inc_by(n as u64);
    }

    /// A Disconnect-Request sent in place of a failed CoA-Request.
    pub fn coa_fallback(&self) {
        self.coa_fallbacks.inc();
    }

    /// What became of a request.
    pub fn event(&self, ev: &DasEvent) {
        match ev {
            DasEvent::Ack { kind, .. } => {
                self.acks
                    .get_or_create(&vec![("kind", kind_label(*kind).to_string())])
                    .inc();
            }
            DasEvent::Nak {
                kind, error_cause, ..
            } => {
                self.naks
                    .get_or_create(&vec![
                        ("kind", kind_label(*kind).to_string()),
                        ("error_cause", error_cause_label(*error_cause)),
                    ])
                    .inc();
            }
            DasEvent::TimedOut { kind, .. } => {
                self.timeouts
                    .get_or_create(&vec![("kind", kind_label(*kind).to_string())])
                    .inc();
            }
        }
    }

    /// A response dropped.
    pub fn dropped(&self, why: DasDrop) {
        self.dropped
            .get_or_create(&vec![("reason", drop_label(why).to_string())])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn das_outcomes_are_exposed_by_kind_and_error_cause() {
        let m = Metrics::new();
        let d = DasMetrics::register(&m);
        let nas = "192.0.2.1:3799".parse().unwrap();
        d.sent(DasKind::Disconnect);
        d.sent(DasKind::Coa);
        d.retransmitted(2);
        d.event(&DasEvent::Ack {
            kind: DasKind::Disconnect,
            nas,
            session: "s".into(),
        });
        for cause in [Some(503), Some(503), Some(9999), None] {
            d.event(&DasEvent::Nak {
                kind: DasKind::Coa,
                nas,
                session: "s".into(),
                error_cause: cause,
            });
        }
        d.event(&DasEvent::TimedOut {
            kind: DasKind::Coa,
            nas,
            session: "s".into(),
        });
        d.coa_fallback();
        d.claimed_elsewhere(DasKind::Disconnect);
        d.dropped(DasDrop::Unsolicited);
        let t = m.encode(false);
        for line in [
            r#"aaa_das_requests_total{kind="disconnect"} 1"#,
            r#"aaa_das_requests_total{kind="coa"} 1"#,
            "aaa_das_retransmissions_total 2",
            r#"aaa_das_acks_total{kind="disconnect"} 1"#,
            r#"aaa_das_acks_total{kind="coa"} 0"#,
            r#"aaa_das_naks_total{kind="coa",error_cause="503"} 2"#,
            r#"aaa_das_naks_total{kind="coa",error_cause="other"} 1"#,
            r#"aaa_das_naks_total{kind="coa",error_cause="none"} 1"#,
            r#"aaa_das_timeouts_total{kind="coa"} 1"#,
            r#"aaa_das_timeouts_total{kind="disconnect"} 0"#,
            "aaa_das_coa_fallbacks_total 1",
            r#"aaa_das_responses_dropped_total{reason="unsolicited"} 1"#,
            r#"aaa_das_responses_dropped_total{reason="malformed"} 0"#,
            r#"aaa_das_claimed_elsewhere_total{kind="disconnect"} 1"#,
            r#"aaa_das_claimed_elsewhere_total{kind="coa"} 0"#,
        ] {
            assert!(t.contains(line), "{line} not in\n{t}");
        }
    }
}
