//! The interop matrix: rows are scenarios, columns are peer pairs; every
//! cell is pass / fail / n-a with a reason, a pcap and the tshark check.

use crate::bed::{Bed, RADIUS_PORT};
use crate::capture::CheckReport;
use crate::error::{Error, Result};
use crate::netns::{addr, iface};
use crate::process::{Probe, Spec};
use crate::scenario::{self, Method, Subscriber};
use crate::tools::{self, BinDirs};
use crate::transcript::{self, Event};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod roaming;

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
    fn must_see(self) -> Option<&'static [&'static str]> {
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
    fn needs(self, row: Row) -> Vec<(&'static str, Vec<&'static str>)> {
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
    fn short(&self) -> &'static str {
        match self {
            Verdict::Pass(_) => "pass",
            Verdict::Fail(_) => "FAIL",
            Verdict::NotApplicable(_) => "n/a",
        }
    }
    fn reason(&self) -> &str {
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

/// What a run observed, before it is judged.
#[derive(Debug, Default)]
struct Observed {
    success: bool,
    detail: String,
}

/// Options of the matrix run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where our binaries are.
    pub bins: BinDirs,
    /// Rows to run (all when empty).
    pub rows: Vec<Row>,
    /// Columns to run (all when empty).
    pub columns: Vec<Column>,
    /// Where to keep pcaps and logs (`None`: removed with the run dirs).
    pub artifacts: Option<PathBuf>,
}

/// Runs the matrix.
pub fn run(opts: &Options, mut progress: impl FnMut(&Cell)) -> Vec<Cell> {
    let rows = if opts.rows.is_empty() {
        Row::ALL.to_vec()
    } else {
        opts.rows.clone()
    };
    let cols = if opts.columns.is_empty() {
        Column::ALL.to_vec()
    } else {
        opts.columns.clone()
    };
    let mut out = Vec::new();
    for &row in &rows {
        for &col in &cols {
            let cell = run_cell(opts, row, col);
            progress(&cell);
            out.push(cell);
        }
    }
    out
}

fn not_applicable(row: Row, col: Column) -> Option<String> {
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

/// Runs one cell (never panics; errors become `Fail`).
pub fn run_cell(opts: &Options, row: Row, col: Column) -> Cell {
    let t0 = Instant::now();
    let mut cell = Cell {
        row,
        column: col,
        verdict: Verdict::NotApplicable(String::new()),
        expect_success: row.expect_success(),
        seconds: 0.0,
        pcap: None,
        capture: None,
    };
    if let Some(why) = not_applicable(row, col) {
        cell.verdict = Verdict::NotApplicable(why);
        return cell;
    }
    let mut bins = Vec::new();
    for (b, subs) in col.needs(row) {
        match opts.bins.find_with(b, &subs) {
            Ok(p) => bins.push((b, p)),
            Err(missing) => {
                cell.verdict = Verdict::NotApplicable(missing.to_string());
                return cell;
            }
        }
    }
    let bin = |name: &str| {
        bins.iter()
            .find(|(b, _)| *b == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::MissingBinary(name.into(), String::new()))
    };
    let name = format!("{}--{}", row.id(), col_file_id(col));
    let result = (|| -> Result<(Observed, Vec<Event>, PathBuf, CheckReport, Bed)> {
        let capture_in_aaa = matches!(col, Column::EapolTestAaa | Column::Roaming);
        let mut bed = Bed::new_at(&name, capture_in_aaa)?;
        let obs = match col {
            Column::Reference => run_reference(&mut bed, row, &bins)?,
            Column::WpasAaa => {
                let wifi = opts.bins.find_with("supplicant", &["wifi", "sim"]).ok();
                run_wpas_aaa(&mut bed, row, &bins, wifi.as_deref())?
            }
            Column::EapolTestAaa => run_eapol_test_aaa(&mut bed, row, &bins)?,
            Column::Roaming => roaming::run(&mut bed, row, &bin("aaa-server")?, &bins)?,
            Column::OursAaa => run_ours(
                &mut bed,
                row,
                &bin("supplicant")?,
                &bin("aaa-server")?,
                false,
            )?,
            Column::OursHostapdEap => run_ours(
                &mut bed,
                row,
                &bin("supplicant")?,
                &bin("aaa-server")?,
                true,
            )?,
        };
        let (pcap, report) = bed.finish_capture()?;
        let events = std::fs::read(&pcap)
            .map_err(|e| Error::Io {
                context: format!("reading {}", pcap.display()),
                source: e,
            })
            .and_then(|d| transcript::parse_pcap(&d).map_err(|e| Error::Invalid(e.to_string())))?;
        Ok((obs, events, pcap, report, bed))
    })();
    cell.seconds = t0.elapsed().as_secs_f64();
    match result {
        Err(e) => {
            let text = e.to_string();
            cell.verdict = match not_implemented(&text) {
                Some(why) => Verdict::NotApplicable(why),
                None => Verdict::Fail(text),
            }
        }
        Ok((obs, events, pcap, report, mut bed)) => {
            cell.verdict = judge(row, &obs, &events);
            cell.capture = Some(report);
            if let Some(dir) = &opts.artifacts {
                let kept = dir.join(format!("{name}.pcap"));
                if std::fs::create_dir_all(dir).is_ok() && std::fs::copy(&pcap, &kept).is_ok() {
                    cell.pcap = Some(kept);
                }
                for entry in std::fs::read_dir(bed.dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let p = entry.path();
                    if p.extension().is_some_and(|x| x == "log") {
                        let _ = std::fs::copy(
                            &p,
                            dir.join(format!(
                                "{name}.{}",
                                p.file_name().unwrap_or_default().to_string_lossy()
                            )),
                        );
                    }
                }
            }
            if matches!(cell.verdict, Verdict::Fail(_)) && opts.artifacts.is_none() {
                let kept = bed.dir.keep();
                cell.verdict = Verdict::Fail(format!(
                    "{} (logs kept in {})",
                    cell.verdict.reason(),
                    kept.display()
                ));
            }
        }
    }
    cell
}

/// A component that answers "not built yet" / "not implemented yet" is not
/// applicable (yet), not a failure: the phrase, and the line saying it.
fn not_implemented(err: &str) -> Option<String> {
    let line = err
        .lines()
        .flat_map(|l| l.split(": exit status"))
        .flat_map(|l| l.split("failed: "))
        .find(|l| l.contains("not built yet") || l.contains("not implemented yet"))?;
    let line = line
        .split(" (log: ")
        .next()
        .unwrap_or(line)
        .trim_start_matches(|c: char| c == ':' || c == ' ' || c.is_ascii_digit());
    let short: String = line.chars().take(120).collect();
    Some(format!("component not built yet: {short}"))
}

fn col_file_id(c: Column) -> &'static str {
    match c {
        Column::OursAaa => "ours-aaa",
        Column::OursHostapdEap => "ours-hostapd-eap",
        Column::WpasAaa => "wpas-aaa",
        Column::EapolTestAaa => "eapol_test-aaa",
        Column::Reference => "reference",
        Column::Roaming => "roaming",
    }
}

fn judge(row: Row, obs: &Observed, events: &[Event]) -> Verdict {
    let text = transcript::eap_descriptions(events).join("\n");
    let eap_end = events.iter().rev().find_map(|e| match e {
        Event::Eap { eap, .. } | Event::Radius { eap: Some(eap), .. } => match eap.first() {
            Some(3) => Some(true),
            Some(4) => Some(false),
            _ => None,
        },
        _ => None,
    });
    let rt = transcript::radius_round_trips(events);
    if obs.success != row.expect_success() {
        return Verdict::Fail(format!(
            "expected {}, got {}: {}",
            if row.expect_success() {
                "success"
            } else {
                "failure"
            },
            if obs.success { "success" } else { "failure" },
            obs.detail
        ));
    }
    if eap_end != Some(row.expect_success()) {
        return Verdict::Fail(format!(
            "capture does not end in EAP-{} ({})",
            if row.expect_success() {
                "Success"
            } else {
                "Failure"
            },
            obs.detail
        ));
    }
    if row == Row::BiddingDownRefused && !text.contains("AT_BIDDING(D=1)") {
        return Verdict::Fail(format!(
            "the server sent no AT_BIDDING with D=1 ({})",
            obs.detail
        ));
    }
    let mut seen = String::new();
    if let Some(subs) = row.must_see() {
        match subs.iter().find(|s| text.contains(*s)) {
            Some(s) => seen = format!(", {s} seen"),
            None => {
                return Verdict::Fail(format!(
                    "none of {} in the capture ({})",
                    subs.join("/"),
                    obs.detail
                ));
            }
        }
    }
    if row == Row::ImsiPrivacy {
        let imsi = row.sim_subscriber().imsi;
        if let Some(l) = text.lines().find(|l| l.contains(&imsi)) {
            return Verdict::Fail(format!("the clear IMSI is in the capture: {l}"));
        }
        if !(text.contains("AT_IDENTITY=\"\u{0}") || text.contains("Identity \"\u{0}")) {
            return Verdict::Fail(format!(
                "no encrypted identity (leading NUL) in the capture ({})",
                obs.detail
            ));
        }
        seen = ", identity encrypted (NUL-prefixed), IMSI never in clear".into();
    }
    if row == Row::Pseudonym {
        // RFC 9048 §3 / hostapd: AKA' pseudonyms start with '7'.
        if !(text.contains("Identity \"7") || text.contains("AT_IDENTITY=\"7")) {
            return Verdict::Fail(format!(
                "no pseudonym (7…) identity in the capture ({})",
                obs.detail
            ));
        }
        seen = ", pseudonym identity seen".into();
    }
    if row.expect_success() {
        let want = if row.method() == Method::Aka {
            "EAP-Request id="
        } else {
            ""
        };
        let method_tag = match row.method() {
            Method::AkaPrime => "AKA'/Challenge",
            Method::Sim => "SIM/Challenge",
            _ => "AKA/Challenge",
        };
        if !text.contains(method_tag) || !text.contains(want) {
            return Verdict::Fail(format!("no {method_tag} in the capture"));
        }
    }
    Verdict::Pass(format!(
        "{}{seen}{}",
        obs.detail,
        if rt > 0 {
            format!(", {rt} RADIUS round trips")
        } else {
            String::new()
        }
    ))
}

// ---------- column runners ----------

fn wpas_methods(row: Row) -> Vec<Method> {
    match row {
        Row::BiddingDownRefused => vec![Method::Aka, Method::AkaPrime],
        r => vec![r.method()],
    }
}

/// wpa_supplicant -Dwired with the external SIM answered by the testbed
/// (or PC/SC through the virtual card); returns success and detail.
fn run_wpa_supplicant(bed: &mut Bed, row: Row, pcsc_sock: Option<&Path>) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let identity = sim.permanent_nai(row.method());
    let ctrl = bed.start_wpa_supplicant_with(&wpas_methods(row), &identity, pcsc_sock)?;
    if pcsc_sock.is_none() {
        bed.attach_extsim(&ctrl, &sim)?;
    }
    bed.kick_wpa_supplicant(&ctrl)?;
    let st = bed.wait_eap_state(&ctrl, Duration::from_secs(8))?;
    let get = |k: &str| {
        st.iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let eap = get("EAP state");
    let method = get("selectedMethod");
    let success = eap == "SUCCESS" && get("Supplicant PAE state") == "AUTHENTICATED";
    if success && !method.starts_with(&format!("{} ", row.method().eap_type())) {
        return Ok(Observed {
            success: false,
            detail: format!("EAP state=SUCCESS but selectedMethod={method}"),
        });
    }
    Ok(Observed {
        success,
        detail: format!(
            "wpa_cli: EAP state={eap}, selectedMethod={method}; SIM: {}",
            if pcsc_sock.is_some() {
                "wpa_supplicant PC/SC -> pcscd -> our USIM simulator (vpcd)"
            } else {
                "external SIM answered by the testbed's soft USIM"
            }
        ),
    })
}

fn run_reference(bed: &mut Bed, row: Row, bins: &[(&str, PathBuf)]) -> Result<Observed> {
    let subs: Vec<Subscriber> = row.hss_subscriber().into_iter().collect();
    let sock = bed.start_hlr_stub(&subs)?;
    bed.start_hostapd_radius_users(&reference_users(row), Some(&sock))?;
    bed.start_hostapd_wired()?;
    let pcsc = if row.pcsc() {
        Some(start_pcsc(
            bed,
            &row.sim_subscriber(),
            &find_supplicant(bins)?,
        )?)
    } else {
        None
    };
    run_wpa_supplicant(bed, row, pcsc.as_deref())
}

fn find_supplicant(bins: &[(&str, PathBuf)]) -> Result<PathBuf> {
    bins.iter()
        .find(|(b, _)| *b == "supplicant")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("supplicant".into(), String::new()))
}

/// hostapd eap_user_file for the reference / hostapd-EAP columns.
fn reference_users(row: Row) -> String {
    match row {
        Row::AkaPrimePeerAkaOnlyServer => "\"0\"* AKA\n\"6\"* AKA\n".into(),
        // hostapd's default eap_sim_id=3 issues AKA' pseudonyms (7…) and
        // re-auth ids (8…); they must be users too.
        Row::FastReauth | Row::Pseudonym => {
            "\"0\"* AKA\n\"6\"* AKA'\n\"7\"* AKA'\n\"8\"* AKA'\n".into()
        }
        Row::SimFull | Row::SimPcsc => "\"0\"* AKA\n\"6\"* AKA'\n\"1\"* SIM\n".into(),
        _ => "\"0\"* AKA\n\"6\"* AKA'\n".into(),
    }
}

fn provision_aaa(bed: &mut Bed, row: Row, aaa: &Path) -> Result<PathBuf> {
    let db = bed.dir.join("subscribers.db");
    if let Some(s) = row.hss_subscriber() {
        let spec = Spec::new("aaa-server-subscriber-add", aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args([
                "--imsi", &s.imsi, "--k", &s.k, "--opc", &s.opc, "--amf", &s.amf, "--sqn", &s.sqn,
            ]);
        let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
        if !st.success() {
            return Err(Error::Command {
                cmd: spec.command_line(),
                detail: out,
            });
        }
    } else {
        // An empty store: provision someone else.
        let mut other = Subscriber::demo();
        other.imsi = "001010999999999".into();
        let spec = Spec::new("aaa-server-subscriber-add", aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args(["--imsi", &other.imsi, "--k", &other.k, "--opc", &other.opc]);
        let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
        if !st.success() {
            return Err(Error::Command {
                cmd: spec.command_line(),
                detail: out,
            });
        }
    }
    Ok(db)
}

/// Starts `aaa-server serve` in the AAA namespace on `listen`.
pub(crate) fn start_aaa_server(
    bed: &mut Bed,
    row: Row,
    aaa: &Path,
    listen: &str,
    clients: &[&str],
) -> Result<()> {
    let db = provision_aaa(bed, row, aaa)?;
    let mut toml = scenario::aaa_server_toml(listen, &db, &row.server_methods(), clients);
    if row.is_privacy() {
        let key = if row == Row::ImsiPrivacy {
            Some(imsi_privacy_keypair(bed)?.0)
        } else {
            None
        };
        toml.push_str(&scenario::aaa_privacy_toml(
            row == Row::ResultIndication,
            key.as_deref(),
        ));
    }
    let conf = bed.dir.write("aaa.toml", &toml)?;
    let spec = Spec::new("aaa-server", aaa)
        .netns(bed.net.aaa.name())
        .args(["serve", "--config"])
        .arg(&conf)
        .env("RUST_LOG", "debug");
    bed.start(&spec, &Probe::UdpBound(RADIUS_PORT))?;
    Ok(())
}

/// The operator's IMSI-privacy RSA key (0600, for aaa-server) and its
/// self-signed certificate (for the supplicant), made by `openssl req`.
fn imsi_privacy_keypair(bed: &Bed) -> Result<(PathBuf, PathBuf)> {
    let key = bed.dir.join("imsi-privacy-key.pem");
    let cert = bed.dir.join("imsi-privacy-cert.pem");
    if key.exists() && cert.exists() {
        return Ok((key, cert));
    }
    let spec = Spec::new("openssl-req", tools::find("openssl")?)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=passpoint-aka testbed IMSI privacy",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    let (st, out) = bed.run(&spec, Duration::from_secs(20))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::Io {
            context: format!("chmod 600 {}", key.display()),
            source: e,
        }
    })?;
    Ok((key, cert))
}

fn run_wpas_aaa(
    bed: &mut Bed,
    row: Row,
    bins: &[(&str, PathBuf)],
    wifi: Option<&Path>,
) -> Result<Observed> {
    let aaa = bins
        .iter()
        .find(|(b, _)| *b == "aaa-server")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("aaa-server".into(), String::new()))?;
    let aaa = aaa.as_path();
    start_aaa_server(
        bed,
        row,
        aaa,
        &format!("{}:{RADIUS_PORT}", addr::AAA),
        &[addr::NETWORK],
    )?;
    bed.start_hostapd_wired()?;
    let pcsc = if row.pcsc() {
        Some(start_pcsc(
            bed,
            &row.sim_subscriber(),
            &find_supplicant(bins)?,
        )?)
    } else {
        None
    };
    match (wifi, &pcsc) {
        // The bidding-down row needs a peer that allows both methods but
        // announces an AKA identity: a hand-written network block.
        (Some(sup), None) if row != Row::BiddingDownRefused => run_supplicant_wifi(bed, row, sup),
        _ => run_wpa_supplicant(bed, row, pcsc.as_deref()),
    }
}

/// wpa_supplicant -Dwired whose network and external SIM come from
/// `supplicant wifi --network any` (our USIM simulator answers CTRL-REQ-SIM).
fn run_supplicant_wifi(bed: &mut Bed, row: Row, sup: &Path) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let usim = create_usim(bed, &sim, sup)?;
    let ctrl = bed.start_wpa_supplicant_bare()?;
    let spec = Spec::new("supplicant-wifi", sup)
        .netns(bed.net.sta.name())
        .args(["wifi", "--ctrl"])
        .arg(&ctrl)
        .arg("--client-dir")
        .arg(bed.dir.path())
        .arg("--sim")
        .arg(format!("soft:{}", usim.display()))
        .args(["--network", "any", "--method", row.method().cli_name()])
        .args(["--once", "--timeout", "8", "--json"])
        .env("RUST_LOG", "debug");
    let mut p = crate::process::Process::spawn(&spec, bed.dir.path())?;
    bed.kick_wpa_supplicant(&ctrl)?;
    let st = p.wait_exit(Duration::from_secs(12))?;
    let out = p.log_text();
    let code = st.code();
    if code == Some(2) || code.is_none() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: format!(
                "{st}: {}",
                out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    // supplicant wifi undoes its changes on exit (network removed), so the
    // outcome is its exit status; the method is checked in the capture.
    let json_line = out.lines().rev().find(|l| l.trim_start().starts_with('{'));
    Ok(Observed {
        success: code == Some(0),
        detail: format!(
            "supplicant wifi (our USIM simulator as wpa_supplicant's external SIM) exit {}{}",
            code.unwrap_or(-1),
            json_line
                .map(|j| format!(" {}", j.trim()))
                .unwrap_or_default()
        ),
    })
}

fn run_eapol_test_aaa(bed: &mut Bed, row: Row, bins: &[(&str, PathBuf)]) -> Result<Observed> {
    let aaa = bins
        .iter()
        .find(|(b, _)| *b == "aaa-server")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("aaa-server".into(), String::new()))?;
    start_aaa_server(
        bed,
        row,
        &aaa,
        &format!("127.0.0.1:{RADIUS_PORT}"),
        &["127.0.0.1/32"],
    )?;
    eapol_test_against(bed, row, bins)
}

/// eapol_test (external SIM answered by the testbed, or PC/SC) against the
/// RADIUS server on 127.0.0.1:1812 of the AAA namespace.
fn eapol_test_against(bed: &mut Bed, row: Row, bins: &[(&str, PathBuf)]) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let pcsc = if row.pcsc() {
        let sup = bins
            .iter()
            .find(|(b, _)| *b == "supplicant")
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::MissingBinary("supplicant".into(), String::new()))?;
        Some(start_pcsc_in(bed, &sim, &sup, true)?)
    } else {
        None
    };
    let ctrl_dir = bed.dir.subdir("eapol_test-ctrl")?;
    let identity = sim.permanent_nai(row.method());
    let mut conf_text =
        scenario::eapol_test(&ctrl_dir, &wpas_methods(row), &identity, pcsc.is_some());
    if row == Row::ResultIndication {
        conf_text = scenario::with_network_line(&conf_text, "phase1=\"result_ind=1\"");
    }
    // Fast re-authentication: two EAPOL re-authentications after the full one.
    let reauths: u32 = if row == Row::FastReauth { 2 } else { 0 };
    let conf = bed.dir.write("eapol_test.conf", &conf_text)?;
    let mut spec = Spec::new("eapol_test", tools::find("eapol_test")?)
        .netns(bed.net.aaa.name())
        .arg("-c")
        .arg(&conf)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &RADIUS_PORT.to_string(),
            "-s",
            scenario::RADIUS_SECRET,
            "-t",
            "8",
            "-r",
            &reauths.to_string(),
        ]);
    if let Some(sock) = &pcsc {
        spec = spec.env("PCSCLITE_CSOCK_NAME", sock);
    } else {
        spec = spec.arg("-W");
    }
    let mut p = crate::process::Process::spawn(&spec, bed.dir.path())?;
    if pcsc.is_none() {
        bed.attach_extsim(&ctrl_dir.join("test"), &sim)?;
    }
    let st = p.wait_exit(Duration::from_secs(15))?;
    let log = p.log_text();
    let mppe_ok = log.contains(&format!("MPPE keys OK: {}  mismatch: 0", reauths + 1));
    let success = st.success() && log.lines().any(|l| l.trim() == "SUCCESS");
    if success && !mppe_ok {
        return Ok(Observed {
            success: false,
            detail: "eapol_test SUCCESS but MPPE keys do not match the MSK".into(),
        });
    }
    Ok(Observed {
        success,
        detail: format!(
            "eapol_test{} {}{}",
            if reauths > 0 {
                format!(" -r {reauths}")
            } else {
                String::new()
            },
            if success { "SUCCESS" } else { "FAILURE" },
            if mppe_ok {
                format!(", MPPE keys OK x{}", reauths + 1)
            } else {
                String::new()
            }
        ),
    })
}

/// Our supplicant over hostapd, to aaa-server (`hostapd_eap = false`) or to
/// hostapd's EAP server with `aaa-server hlr-gw` as HSS.
fn run_ours(
    bed: &mut Bed,
    row: Row,
    sup: &Path,
    aaa: &Path,
    hostapd_eap: bool,
) -> Result<Observed> {
    if hostapd_eap {
        start_hostapd_eap_with_hlr_gw(bed, row, aaa)?;
    } else {
        start_aaa_server(
            bed,
            row,
            aaa,
            &format!("{}:{RADIUS_PORT}", addr::AAA),
            &[addr::NETWORK],
        )?;
    }
    bed.start_hostapd_wired()?;
    let sim = row.sim_subscriber();
    let usim = create_usim(bed, &sim, sup)?;
    let profile_text = if row == Row::ResultIndication {
        scenario::supplicant_profile_result_ind(&sim, row.method())
    } else {
        scenario::supplicant_profile(&sim, row.method())
    };
    let profile = bed.dir.write("profile.toml", &profile_text)?;
    let state = bed.dir.join("privacy-state.toml");
    let mut base = Spec::new("supplicant", sup)
        .netns(bed.net.sta.name())
        .args(["auth", "--iface", iface::STA, "--profile"])
        .arg(&profile)
        .args([
            "--method",
            row.method().cli_name(),
            "--timeout",
            "8",
            "--json",
        ])
        .env("RUST_LOG", "debug");
    if row.is_privacy() {
        base = base.arg("--state").arg(&state);
    }
    if row == Row::ImsiPrivacy {
        let (_, cert) = imsi_privacy_keypair(bed)?;
        base = base.arg("--imsi-privacy-cert").arg(cert);
    }
    if row.pcsc() {
        let sock = start_pcsc(bed, &sim, sup)?;
        base = base
            .args(["--sim", "pcsc"])
            .env("PCSCLITE_CSOCK_NAME", &sock);
    } else {
        base = base.arg("--sim").arg(format!("soft:{}", usim.display()));
    }
    let first = run_supplicant(bed, &base)?;
    let obs = match row {
        Row::FastReauth | Row::Pseudonym => {
            if !first.success {
                return Ok(Observed {
                    success: false,
                    detail: format!("run 1: {}", first.detail),
                });
            }
            if row == Row::Pseudonym {
                keep_only_pseudonym(&state)?;
            }
            new_station_mac(bed)?;
            let mut again = base.clone();
            again.name = "supplicant-2".into();
            let second = run_supplicant(bed, &again)?;
            let (auth, kind) = if row == Row::FastReauth {
                ("reauth", "reauth")
            } else {
                ("full", "pseudonym")
            };
            let json = second.json.clone().unwrap_or_default();
            let ok = second.success
                && json["auth"] == auth
                && json["identity_kind"] == kind
                && first.json.as_ref().is_some_and(|j| j["auth"] == "full");
            Observed {
                success: ok,
                detail: format!(
                    "run 1: {}; run 2 (same --state{}): {}{}",
                    first.detail,
                    if row == Row::Pseudonym {
                        ", re-auth id removed"
                    } else {
                        ""
                    },
                    second.detail,
                    if second.success && !ok {
                        format!(" — expected auth={auth}, identity_kind={kind}")
                    } else {
                        String::new()
                    }
                ),
            }
        }
        _ => Observed {
            success: first.success,
            detail: first.detail,
        },
    };
    Ok(obs)
}

/// hostapd ignores a station for 5 s after its EAPOL-Logoff
/// (`AP_MAX_INACTIVITY_AFTER_DEAUTH`): the second run presents a new MAC,
/// as a station roaming back would.
fn new_station_mac(bed: &Bed) -> Result<()> {
    let spec = Spec::new("ip-link-mac", tools::find("ip")?).args([
        "-n",
        bed.net.sta.name(),
        "link",
        "set",
        "dev",
        iface::STA,
        "address",
        "02:00:5e:00:8a:02",
    ]);
    let (st, out) = bed.run(&spec, Duration::from_secs(5))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    Ok(())
}

/// One `supplicant auth` run: exit status and its `--json` line.
struct AuthRun {
    success: bool,
    detail: String,
    json: Option<serde_json::Value>,
}

fn run_supplicant(bed: &Bed, spec: &Spec) -> Result<AuthRun> {
    let (st, out) = bed.run(spec, Duration::from_secs(12))?;
    let code = st.code();
    if code == Some(2) || code.is_none() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: format!(
                "{st}: {}",
                out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    let json_line = out.lines().rev().find(|l| l.trim_start().starts_with('{'));
    Ok(AuthRun {
        success: code == Some(0),
        detail: format!(
            "supplicant exit {}{}",
            code.unwrap_or(-1),
            json_line
                .map(|j| format!(" {}", j.trim()))
                .unwrap_or_default()
        ),
        json: json_line.and_then(|j| serde_json::from_str(j.trim()).ok()),
    })
}

/// Drops the `[reauth]` table from the supplicant's state file (written by
/// `supplicant auth --state`), keeping the pseudonym: the next run must use
/// the pseudonym. The file keeps its 0600 mode (rewritten in place).
fn keep_only_pseudonym(state: &Path) -> Result<()> {
    let io = |e| Error::Io {
        context: format!("rewriting {}", state.display()),
        source: e,
    };
    let text = std::fs::read_to_string(state).map_err(io)?;
    if !text
        .lines()
        .any(|l| l.trim_start().starts_with("pseudonym"))
    {
        return Err(Error::Invalid(format!(
            "{}: no pseudonym after the first authentication",
            state.display()
        )));
    }
    let mut out = String::new();
    let mut in_reauth = false;
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            in_reauth = t == "[reauth]";
        }
        if !in_reauth {
            out.push_str(l);
            out.push('\n');
        }
    }
    std::fs::write(state, out).map_err(io)
}

/// `aaa-server hlr-gw` on a fresh store and hostapd as RADIUS/EAP server using it.
pub(crate) fn start_hostapd_eap_with_hlr_gw(bed: &mut Bed, row: Row, aaa: &Path) -> Result<()> {
    let db = provision_aaa(bed, row, aaa)?;
    let sock = bed.dir.join("hlr-gw.sock");
    let spec = Spec::new("aaa-server-hlr-gw", aaa)
        .netns(bed.net.aaa.name())
        .args(["hlr-gw", "--db"])
        .arg(&db)
        .arg("--socket")
        .arg(&sock)
        .env("RUST_LOG", "debug");
    bed.start(&spec, &Probe::PathExists(sock.clone()))?;
    bed.start_hostapd_radius_users(&reference_users(row), Some(&sock))
}

/// `supplicant sim create` → the simulator file.
pub(crate) fn create_usim(bed: &Bed, sim: &Subscriber, sup: &Path) -> Result<PathBuf> {
    let file = bed.dir.join("usim.toml");
    let spec = Spec::new("supplicant-sim-create", sup)
        .args(["sim", "create", "--out"])
        .arg(&file)
        .args([
            "--imsi",
            &sim.imsi,
            "--k",
            &sim.k,
            "--opc",
            &sim.opc,
            "--amf",
            &sim.amf,
            "--sqn",
            &sim.sqn,
            "--mnc-len",
            &sim.mnc_len.to_string(),
        ]);
    let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    Ok(file)
}

/// pcscd (isolated: own mount namespace with a private /run/pcscd) with the
/// vpcd driver, and `supplicant sim serve-vpcd`, in the station namespace.
/// Returns the pcscd socket for `PCSCLITE_CSOCK_NAME`.
pub(crate) fn start_pcsc(bed: &mut Bed, sim: &Subscriber, sup: &Path) -> Result<PathBuf> {
    start_pcsc_in(bed, sim, sup, false)
}

fn start_pcsc_in(bed: &mut Bed, sim: &Subscriber, sup: &Path, in_aaa: bool) -> Result<PathBuf> {
    let ns = if in_aaa {
        bed.net.aaa.name().to_owned()
    } else {
        bed.net.sta.name().to_owned()
    };
    let usim = bed.dir.join("usim.toml");
    if !usim.exists() {
        create_usim(bed, sim, sup)?;
    }
    let run_dir = bed.dir.subdir("pcscd-run")?;
    let conf_dir = bed.dir.subdir("pcscd-conf")?;
    std::fs::write(
        conf_dir.join("vpcd.conf"),
        scenario::pcscd_reader_conf(&tools::vpcd_driver()?),
    )
    .map_err(|e| Error::Io {
        context: "writing reader.conf".into(),
        source: e,
    })?;
    let pcscd = tools::find("pcscd")?;
    let script = format!(
        "mkdir -p /run/pcscd && mount --bind {run} /run/pcscd && exec {pcscd} -f -d -c {conf}",
        run = run_dir.display(),
        pcscd = pcscd.display(),
        conf = conf_dir.join("vpcd.conf").display()
    );
    let spec = Spec::new("pcscd", tools::find("unshare")?)
        .netns(&ns)
        .args(["-m", "sh", "-c", &script]);
    bed.start(&spec, &Probe::TcpListen(scenario::VPCD_PORT))?;
    let vspec = Spec::new("serve-vpcd", sup)
        .netns(&ns)
        .args(["sim", "serve-vpcd", "--sim"])
        .arg(&usim)
        .args(["--port", &scenario::VPCD_PORT.to_string()])
        .env("RUST_LOG", "debug");
    let sock = run_dir.join("pcscd.comm");
    bed.start(&vspec, &Probe::PathExists(sock.clone()))?;
    // The card appears in pcscd about 0.5 s after the bridge connects.
    let pcscd_log = bed.dir.join("pcscd.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(&pcscd_log).unwrap_or_default();
        if log.contains("Card ATR") {
            return Ok(sock);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::NotReady {
        name: "pcscd".into(),
        what: "no card ATR within 5 s".into(),
        log: pcscd_log,
    })
}

// ---------- output ----------

/// The matrix as a terminal table (rows × columns) plus the reasons.
pub fn table(cells: &[Cell]) -> String {
    use std::fmt::Write as _;
    let cols: Vec<Column> = Column::ALL
        .iter()
        .copied()
        .filter(|c| cells.iter().any(|x| x.column == *c))
        .collect();
    let rows: Vec<Row> = Row::ALL
        .iter()
        .copied()
        .filter(|r| cells.iter().any(|x| x.row == *r))
        .collect();
    let w0 = rows
        .iter()
        .map(|r| r.label().len())
        .max()
        .unwrap_or(10)
        .max(8);
    let mut s = String::new();
    let _ = writeln!(s, "columns:");
    for (i, c) in cols.iter().enumerate() {
        let _ = writeln!(s, "  [{}] {}", i + 1, c.id());
    }
    let _ = write!(s, "\n{:w0$}  expect ", "scenario");
    for i in 0..cols.len() {
        let _ = write!(s, "| [{}]         ", i + 1);
    }
    s.push('\n');
    for r in &rows {
        let _ = write!(
            s,
            "{:w0$}  {:6} ",
            r.label(),
            if r.expect_success() {
                "accept"
            } else {
                "reject"
            }
        );
        for c in &cols {
            let txt = cells
                .iter()
                .find(|x| x.row == *r && x.column == *c)
                .map(|x| {
                    if matches!(x.verdict, Verdict::NotApplicable(_)) {
                        "n/a".to_owned()
                    } else {
                        format!("{} {:.1}s", x.verdict.short(), x.seconds)
                    }
                })
                .unwrap_or_else(|| "-".into());
            let _ = write!(s, "| {txt:12} ");
        }
        s.push('\n');
    }
    s.push('\n');
    for x in cells {
        let _ = writeln!(
            s,
            "{:4} {} / {}: {}",
            x.verdict.short(),
            x.row.id(),
            x.column.id(),
            x.verdict.reason()
        );
    }
    s
}

/// Whether any cell failed.
pub fn any_failed(cells: &[Cell]) -> bool {
    cells.iter().any(|c| matches!(c.verdict, Verdict::Fail(_)))
}

/// JUnit XML: one testsuite, one testcase per cell; n/a cells are `<skipped>`.
pub fn junit(cells: &[Cell]) -> String {
    use std::fmt::Write as _;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = cells
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail(_)))
        .count();
    let skipped = cells
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::NotApplicable(_)))
        .count();
    let total: f64 = cells.iter().map(|c| c.seconds).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuite name=\"testbed-interop\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        cells.len()
    );
    for c in cells {
        let _ = write!(
            s,
            "  <testcase classname=\"interop.{}\" name=\"{}\" time=\"{:.3}\"",
            esc(c.column.id()),
            esc(c.row.id()),
            c.seconds
        );
        match &c.verdict {
            Verdict::Pass(r) => {
                let _ = writeln!(s, "><system-out>{}</system-out></testcase>", esc(r));
            }
            Verdict::Fail(r) => {
                let _ = writeln!(s, "><failure message=\"{}\"/></testcase>", esc(r));
            }
            Verdict::NotApplicable(r) => {
                let _ = writeln!(s, "><skipped message=\"{}\"/></testcase>", esc(r));
            }
        }
    }
    s.push_str("</testsuite>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(row: Row, column: Column, verdict: Verdict) -> Cell {
        Cell {
            row,
            column,
            verdict,
            expect_success: row.expect_success(),
            seconds: 1.25,
            pcap: None,
            capture: None,
        }
    }

    #[test]
    fn junit_counts_and_escapes() {
        let cells = vec![
            cell(Row::AkaFull, Column::Reference, Verdict::Pass("ok".into())),
            cell(
                Row::WrongK,
                Column::WpasAaa,
                Verdict::Fail("a<b & \"c\"".into()),
            ),
            cell(
                Row::AkaFull,
                Column::OursAaa,
                Verdict::NotApplicable("x".into()),
            ),
        ];
        let x = junit(&cells);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(x.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(any_failed(&cells));
        let t = table(&cells);
        assert!(t.contains("FAIL 1.2s") || t.contains("FAIL 1.3s"), "{t}");
        let j = serde_json::to_value(&cells[1]).unwrap();
        assert_eq!(j["verdict"], "fail");
        assert_eq!(j["row"], "WrongK");
    }

    #[test]
    fn rows_are_consistent() {
        for r in Row::ALL {
            assert_eq!(
                r.must_see().is_some() && r.expect_success(),
                matches!(r, Row::SqnResync | Row::FastReauth | Row::ResultIndication)
            );
            if r.is_privacy() {
                assert!(r.expect_success() && r.method() == Method::AkaPrime);
                for c in Column::ALL {
                    let runs = c == Column::OursAaa
                        || (c == Column::EapolTestAaa
                            && matches!(r, Row::FastReauth | Row::ResultIndication))
                        || (c == Column::Roaming && r == Row::FastReauth)
                        || (c == Column::OursHostapdEap
                            && matches!(r, Row::FastReauth | Row::Pseudonym));
                    assert_eq!(not_applicable(r, c).is_none(), runs);
                }
            }
            assert!(!r.server_methods().is_empty());
        }
        for r in [Row::SimFull, Row::SimPcsc] {
            assert_eq!(r.method(), Method::Sim);
            assert!(r.server_methods().contains(&Method::Sim));
            assert!(reference_users(r).contains("\"1\"* SIM"));
            assert!(
                Column::ALL
                    .iter()
                    .filter(|&&c| c != Column::Roaming)
                    .all(|&c| not_applicable(r, c).is_none())
            );
        }
        let roaming: Vec<Row> = Row::ALL
            .into_iter()
            .filter(|&r| not_applicable(r, Column::Roaming).is_none())
            .collect();
        assert_eq!(roaming.len(), 7, "{roaming:?}");
        assert!(roaming.contains(&Row::SimFull) && roaming.contains(&Row::WrongK));
        assert!(Row::SimPcsc.pcsc() && Row::PcscVirtualCard.pcsc() && !Row::SimFull.pcsc());
        assert_ne!(Row::WrongK.sim_subscriber().k, Subscriber::demo().k);
        assert!(Row::UnknownSubscriber.hss_subscriber().is_none());
    }

    #[test]
    fn missing_binary_is_not_applicable_with_reason() {
        let opts = Options {
            bins: BinDirs::discover(Some(Path::new("/nonexistent-dir"))),
            rows: vec![],
            columns: vec![],
            artifacts: None,
        };
        // Only meaningful when the binary really is absent everywhere.
        if opts.bins.find("aaa-server").is_err() {
            let c = run_cell(&opts, Row::AkaFull, Column::WpasAaa);
            assert_eq!(
                c.verdict,
                Verdict::NotApplicable("aaa-server not built yet".into())
            );
        } else {
            let c = run_cell(&opts, Row::BiddingDownRefused, Column::Reference);
            assert!(matches!(c.verdict, Verdict::NotApplicable(_)));
        }
    }
}
