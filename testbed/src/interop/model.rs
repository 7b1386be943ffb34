//! The matrix model: the scenarios (rows), the peer pairs (columns), the
//! verdict of a cell, and which cells do not apply (with why).

use super::roaming;
use crate::capture::CheckReport;
use crate::scenario::{Method, Subscriber};
use std::path::PathBuf;

/// A scenario (row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Row {
    /// EAP-AKA full authentication.
    AkaFull,
    /// EAP-AKA' full authentication.
    AkaPrimeFull,
    /// USIM SQN ahead of the HSS: one Synchronization-Failure, then success.
    SqnResync,
    /// The USIM holds another K: MAC-A fails, Authentication-Reject, failure.
    WrongK,
    /// The HSS does not know the IMSI: failure.
    UnknownSubscriber,
    /// AKA'-only peer against an AKA-only server: failure, no downgrade.
    AkaPrimePeerAkaOnlyServer,
    /// Server offers AKA with AT_BIDDING D=1 to a peer that supports AKA':
    /// the peer refuses (RFC 9048 §4).
    BiddingDownRefused,
    /// AKA' through the real PC/SC stack: pcscd + vpcd + our USIM simulator.
    PcscVirtualCard,
    /// Fast re-authentication (RFC 4187 §5): a second run with the identity
    /// learned in the first (AT_NEXT_REAUTH_ID) re-authenticates.
    FastReauth,
    /// Pseudonym (RFC 4187 §4.1.1.7): a run that knows only the pseudonym
    /// learned in the first (AT_NEXT_PSEUDONYM) authenticates fully with it.
    Pseudonym,
    /// Protected result indication (RFC 4187 §6.2): AT_RESULT_IND both ways,
    /// then a success AKA-Notification before EAP-Success.
    ResultIndication,
    /// IMSI privacy (3GPP TS 33.402 §6.4.7, RFC 9048 §3.5): the permanent
    /// identity goes out encrypted with the operator's RSA public key.
    ImsiPrivacy,
    /// EAP-SIM full authentication (RFC 4186): GSM-Milenage triplets, the
    /// USIM answering in its GSM context (external SIM: `GSM-AUTH`).
    SimFull,
    /// EAP-SIM through the real PC/SC stack: pcscd + vpcd + our USIM
    /// simulator, AUTHENTICATE in the GSM context.
    SimPcsc,
}

impl Row {
    /// All rows in display order.
    pub const ALL: [Row; 14] = [
        Row::AkaFull,
        Row::AkaPrimeFull,
        Row::SqnResync,
        Row::WrongK,
        Row::UnknownSubscriber,
        Row::AkaPrimePeerAkaOnlyServer,
        Row::BiddingDownRefused,
        Row::PcscVirtualCard,
        Row::FastReauth,
        Row::Pseudonym,
        Row::ResultIndication,
        Row::ImsiPrivacy,
        Row::SimFull,
        Row::SimPcsc,
    ];

    /// Short id (`--only`, JSON, JUnit).
    pub fn id(self) -> &'static str {
        match self {
            Row::AkaFull => "aka",
            Row::AkaPrimeFull => "aka-prime",
            Row::SqnResync => "sqn-resync",
            Row::WrongK => "wrong-k",
            Row::UnknownSubscriber => "unknown-subscriber",
            Row::AkaPrimePeerAkaOnlyServer => "aka-prime-peer-aka-only-server",
            Row::BiddingDownRefused => "bidding-down-refused",
            Row::PcscVirtualCard => "pcsc-virtual-card",
            Row::FastReauth => "fast-reauth",
            Row::Pseudonym => "pseudonym",
            Row::ResultIndication => "result-ind",
            Row::ImsiPrivacy => "imsi-privacy",
            Row::SimFull => "sim",
            Row::SimPcsc => "sim-pcsc",
        }
    }

    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            Row::AkaFull => "AKA full auth",
            Row::AkaPrimeFull => "AKA' full auth",
            Row::SqnResync => "SQN resync",
            Row::WrongK => "wrong K",
            Row::UnknownSubscriber => "unknown subscriber",
            Row::AkaPrimePeerAkaOnlyServer => "AKA' peer vs AKA-only server",
            Row::BiddingDownRefused => "bidding-down refused",
            Row::PcscVirtualCard => "PC/SC virtual card",
            Row::FastReauth => "fast re-auth",
            Row::Pseudonym => "pseudonym",
            Row::ResultIndication => "protected result ind.",
            Row::ImsiPrivacy => "IMSI privacy",
            Row::SimFull => "SIM full auth",
            Row::SimPcsc => "SIM via PC/SC card",
        }
    }

    /// The method the peer runs.
    pub fn method(self) -> Method {
        match self {
            Row::AkaFull | Row::BiddingDownRefused => Method::Aka,
            Row::SimFull | Row::SimPcsc => Method::Sim,
            _ => Method::AkaPrime,
        }
    }

    /// Whether the authentication should succeed.
    pub fn expect_success(self) -> bool {
        matches!(
            self,
            Row::AkaFull
                | Row::AkaPrimeFull
                | Row::SqnResync
                | Row::PcscVirtualCard
                | Row::FastReauth
                | Row::Pseudonym
                | Row::ResultIndication
                | Row::ImsiPrivacy
                | Row::SimFull
                | Row::SimPcsc
        )
    }

    /// Whether the peer reaches the card through pcscd + vpcd.
    pub fn pcsc(self) -> bool {
        matches!(self, Row::PcscVirtualCard | Row::SimPcsc)
    }

    /// Whether the row exercises the identity-privacy features (the server
    /// runs with a `[privacy]` table, the supplicant with `--state`).
    pub fn is_privacy(self) -> bool {
        matches!(
            self,
            Row::FastReauth | Row::Pseudonym | Row::ResultIndication | Row::ImsiPrivacy
        )
    }

    /// Methods the server side enables, in preference order.
    pub fn server_methods(self) -> Vec<Method> {
        match self {
            Row::AkaPrimePeerAkaOnlyServer => vec![Method::Aka],
            Row::SimFull | Row::SimPcsc => vec![Method::AkaPrime, Method::Aka, Method::Sim],
            _ => vec![Method::AkaPrime, Method::Aka],
        }
    }

    /// The subscriber as the HSS holds it (`None`: not provisioned).
    pub fn hss_subscriber(self) -> Option<Subscriber> {
        match self {
            Row::UnknownSubscriber => None,
            _ => Some(Subscriber::demo()),
        }
    }

    /// The subscriber as the USIM holds it.
    pub fn sim_subscriber(self) -> Subscriber {
        let mut s = Subscriber::demo();
        match self {
            // The USIM has seen SQNs far ahead of the HSS.
            Row::SqnResync => s.sqn = "000000100000".into(),
            Row::WrongK => s.k = "00112233445566778899aabbccddeeff".into(),
            _ => {}
        }
        s
    }

    /// EAP-AKA subtypes the transcript must contain one of, if any. A
    /// bidding-down refusal is an Authentication-Reject in wpa_supplicant
    /// 2.10 (`eap_aka.c`: "Bidding down from AKA' to AKA detected") and may
    /// be a Client-Error in other peers.
    pub(super) fn must_see(self) -> Option<&'static [&'static str]> {
        match self {
            Row::SqnResync => Some(&["SynchronizationFailure"]),
            Row::WrongK => Some(&["AuthenticationReject"]),
            Row::BiddingDownRefused => Some(&["AuthenticationReject", "ClientError"]),
            Row::FastReauth => Some(&["AKA'/Reauthentication"]),
            Row::ResultIndication => Some(&["AKA'/Notification"]),
            _ => None,
        }
    }
}

/// A peer pair (column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Column {
    /// our supplicant → hostapd (wired) → our aaa-server.
    OursAaa,
    /// our supplicant → hostapd (wired) → hostapd's EAP server, HSS = `aaa-server hlr-gw`.
    OursHostapdEap,
    /// wpa_supplicant -Dwired (external SIM answered by the testbed) → hostapd → our aaa-server.
    WpasAaa,
    /// eapol_test (external SIM, or PC/SC through our virtual card) → our aaa-server.
    EapolTestAaa,
    /// Reference: wpa_supplicant -Dwired → hostapd → hostapd's EAP server,
    /// HSS = the testbed's hlr_auc_gw stub. Nothing of ours but the testbed
    /// (and, for PC/SC, our USIM simulator).
    Reference,
    /// Roaming: eapol_test → our aaa-server as the visited network's proxy
    /// → RadSec → our aaa-server as home server; the RadSec hop decrypted
    /// by tshark with the TLS key log ([`roaming`]).
    Roaming,
}

impl Column {
    /// All columns in display order.
    pub const ALL: [Column; 6] = [
        Column::OursAaa,
        Column::OursHostapdEap,
        Column::WpasAaa,
        Column::EapolTestAaa,
        Column::Reference,
        Column::Roaming,
    ];

    /// Short id.
    pub fn id(self) -> &'static str {
        match self {
            Column::OursAaa => "supplicant>hostapd>aaa-server",
            Column::OursHostapdEap => "supplicant>hostapd>hostapd-eap(hlr-gw)",
            Column::WpasAaa => "wpa_supplicant>hostapd>aaa-server",
            Column::EapolTestAaa => "eapol_test>aaa-server",
            Column::Reference => "wpa_supplicant>hostapd>hostapd-eap(stub)",
            Column::Roaming => "eapol_test>aaa-server(proxy)>radsec>aaa-server",
        }
    }

    /// Our binaries the column needs, with the subcommands it drives.
    pub(super) fn needs(self, row: Row) -> Vec<(&'static str, Vec<&'static str>)> {
        let pcsc = row.pcsc();
        let mut sup = vec!["sim"];
        if matches!(self, Column::OursAaa | Column::OursHostapdEap) {
            sup.insert(0, "auth");
        }
        let mut v = match self {
            Column::OursAaa => vec![("aaa-server", vec!["serve", "subscriber"])],
            Column::OursHostapdEap => vec![("aaa-server", vec!["hlr-gw", "subscriber"])],
            Column::WpasAaa | Column::EapolTestAaa | Column::Roaming => {
                vec![("aaa-server", vec!["serve", "subscriber"])]
            }
            Column::Reference => vec![],
        };
        if pcsc || matches!(self, Column::OursAaa | Column::OursHostapdEap) {
            v.insert(0, ("supplicant", sup));
        }
        v
    }
}

/// The verdict of one cell.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "kebab-case")]
pub enum Verdict {
    /// As expected.
    Pass(String),
    /// Not as expected.
    Fail(String),
    /// Not applicable here (with why).
    NotApplicable(String),
}

impl Verdict {
    pub(super) fn short(&self) -> &'static str {
        match self {
            Verdict::Pass(_) => "pass",
            Verdict::Fail(_) => "FAIL",
            Verdict::NotApplicable(_) => "n/a",
        }
    }
    pub(super) fn reason(&self) -> &str {
        match self {
            Verdict::Pass(r) | Verdict::Fail(r) | Verdict::NotApplicable(r) => r,
        }
    }
}

/// One cell's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cell {
    /// Row id.
    pub row: Row,
    /// Column id.
    pub column: Column,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Whether success was expected.
    pub expect_success: bool,
    /// Wall time of the cell, seconds.
    pub seconds: f64,
    /// Kept pcap, if any.
    pub pcap: Option<PathBuf>,
    /// Wireshark check.
    pub capture: Option<CheckReport>,
}

pub(super) fn not_applicable(row: Row, col: Column) -> Option<String> {
    match (row, col) {
        (r, Column::Roaming) => (!roaming::runs(r)).then(|| roaming::not_applicable_reason(r)),
        (Row::BiddingDownRefused, Column::Reference | Column::OursHostapdEap) => Some(
            "hostapd's EAP server starts with AKA' when the user allows it and never bids an AKA'-capable peer down"
                .into(),
        ),
        (Row::BiddingDownRefused, Column::OursAaa) => Some(
            "our supplicant announces 6<IMSI> whenever AKA' is enabled, so an honest server never offers it AKA; its AT_BIDDING check is covered by the peer's scripted-server tests"
                .into(),
        ),
        (Row::FastReauth | Row::ResultIndication, Column::EapolTestAaa)
        | (Row::FastReauth | Row::Pseudonym, Column::OursHostapdEap) => None,
        (r, c) if r.is_privacy() && c != Column::OursAaa => Some(privacy_not_applicable(r, c)),
        _ => None,
    }
}

/// Why a privacy row does not run in a column other than ours-aaa.
fn privacy_not_applicable(row: Row, col: Column) -> String {
    match (row, col) {
        (Row::ImsiPrivacy, Column::OursHostapdEap | Column::Reference) => {
            "hostapd 2.10's EAP server has no imsi_privacy_key: it cannot decrypt an encrypted permanent identity".into()
        }
        (Row::ImsiPrivacy, Column::WpasAaa | Column::EapolTestAaa) => {
            "wpa_supplicant/eapol_test 2.10 have no imsi_privacy_cert: they only send a pre-encrypted identity (covered by aaa-server's privacy_serve test), not one they encrypt".into()
        }
        (_, Column::WpasAaa) => {
            match row {
                Row::ResultIndication => "not wired in the testbed yet: the wpas-aaa column does not generate a network block with phase1=\"result_ind=1\" (eapol_test>aaa-server covers wpa_supplicant's EAP peer with it)".into(),
                _ => "not wired in the testbed yet: needs a second EAP run inside the same wpa_supplicant (its pseudonym/re-auth id live in memory), which the wpas-aaa column does not drive".into(),
            }
        }
        (_, Column::Reference) => {
            "reference column covers the base protocol only; the privacy features of hostapd's EAP server are exercised in ours-hostapd-eap when wired".into()
        }
        (Row::Pseudonym, Column::EapolTestAaa) => {
            "eapol_test keeps its pseudonym only in memory and uses the re-auth id first on -r; a pseudonym-only start cannot be set up from outside".into()
        }
        _ => "not wired in the testbed yet: hostapd's EAP server needs eap_sim_aka_result_ind=1, which the generated hostapd.conf (bed.rs → scenario::hostapd_radius_server) does not pass (covered by supplicant's privacy_auth test)".into(),
    }
}
