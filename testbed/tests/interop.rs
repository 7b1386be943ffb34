//! The interop matrix as a cargo test: every cell that can run must give its
//! expected outcome, with a clean capture; the reference column (hostapd's
//! own EAP server + the testbed's HSS stub) must run completely. Under
//! `CI=true` a missing tool, missing root, or a missing binary of ours
//! (build them first: `cargo build -p aaa-server -p supplicant`) is a failure.

use std::path::Path;
use testbed::interop::{self, Column, Options, Verdict};
use testbed::{netns, preflight, tools::BinDirs};

#[test]
fn interop_matrix() {
    if !preflight::ready_or_skip("interop_matrix") {
        return;
    }
    let bins = BinDirs::discover(None);
    if preflight::in_ci() {
        for b in ["aaa-server", "supplicant"] {
            if let Err(e) = bins.find(b) {
                panic!("CI=true: {e}");
            }
        }
    }
    let opts = Options {
        bins,
        rows: vec![],
        columns: vec![],
        artifacts: std::env::var_os("TESTBED_ARTIFACTS").map(Into::into),
    };
    let t0 = std::time::Instant::now();
    let cells = interop::run(&opts, |c| {
        eprintln!(
            "{:?} {:?}: {:?} ({:.1}s)",
            c.row, c.column, c.verdict, c.seconds
        )
    });
    let elapsed = t0.elapsed();
    eprintln!("{}", interop::table(&cells));
    eprintln!("matrix: {:.1}s", elapsed.as_secs_f64());

    let failed: Vec<String> = cells
        .iter()
        .filter_map(|c| match &c.verdict {
            Verdict::Fail(r) => Some(format!("{} / {}: {r}", c.row.id(), c.column.id())),
            _ => None,
        })
        .collect();
    assert!(
        failed.is_empty(),
        "expected outcomes not met:\n{}",
        failed.join("\n")
    );

    // The reference column runs fully (only the documented n/a cell).
    let reference_ran = cells
        .iter()
        .filter(|c| c.column == Column::Reference && matches!(c.verdict, Verdict::Pass(_)))
        .count();
    assert!(
        reference_ran >= 6,
        "reference column: only {reference_ran} cells passed"
    );
    // Every cell that ran has a tshark-checked capture with EAP or RADIUS in it.
    for c in cells
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Pass(_)))
    {
        let r = c.capture.as_ref().expect("capture report");
        assert!(r.problems.is_empty());
        assert!(
            r.eapol + r.radius > 0,
            "{:?}/{:?}: empty capture",
            c.row,
            c.column
        );
    }
    // Nothing left behind.
    let prefix = format!("pa-{}-", std::process::id());
    assert!(
        netns::list_with_prefix(&prefix).is_empty(),
        "namespaces left"
    );
    assert!(preflight::child_pids().is_empty(), "child processes left");
    assert!(
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(&prefix)),
        "run directories left in {}",
        Path::new(&std::env::temp_dir()).display()
    );
}
