//! The matrix as a terminal table and as JUnit XML.

use super::{Cell, Column, Row, Verdict};

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
