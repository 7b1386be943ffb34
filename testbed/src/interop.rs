//! The interop matrix: rows are scenarios, columns are peer pairs; every
//! cell is pass / fail / n-a with a reason, a pcap and the tshark check.
//!
//! ```text
//! interop.rs        Options, run, run_cell, judge (the verdict from the capture)
//! interop/model.rs  Row, Column, Verdict, Cell; which cells are n/a and why
//! interop/launch.rs the column runners (servers, peers, USIM, PC/SC)
//! interop/roaming.rs the roaming column (proxy → RadSec → home, tshark + key log)
//! interop/report.rs the table and JUnit XML
//! ```

use crate::bed::Bed;
use crate::capture::CheckReport;
use crate::error::{Error, Result};
use crate::scenario::Method;
use crate::tools::BinDirs;
use crate::transcript::{self, Event};
use std::path::PathBuf;
use std::time::Instant;

mod launch;
mod model;
mod report;
pub mod roaming;

pub(crate) use launch::{create_usim, start_aaa_server, start_hostapd_eap_with_hlr_gw, start_pcsc};
use launch::{run_eapol_test_aaa, run_ours, run_reference, run_wpas_aaa};
use model::not_applicable;
pub use model::{Cell, Column, Row, Verdict};
pub use report::{any_failed, junit, table};

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
                    // Logs, and the roaming column's RadSec capture (its key
                    // log, radsec-keys.log, is a log: tshark -o tls.keylog_file:…).
                    if p.extension().is_some_and(|x| x == "log")
                        || p.file_name().is_some_and(|f| f == "radsec.pcap")
                    {
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

#[cfg(test)]
mod tests {
    use super::launch::reference_users;
    use super::*;
    use crate::scenario::Subscriber;
    use std::path::Path;

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
