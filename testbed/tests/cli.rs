//! The `testbed` binary end to end: `testbed demo` succeeds through hostapd
//! in well under 10 s and leaves nothing behind; a Ctrl-C in the middle of a
//! run tears everything down.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testbed::{netns, preflight, tools::BinDirs};

fn nothing_left(pid: u32) {
    let prefix = format!("pa-{pid}-");
    assert!(
        netns::list_with_prefix(&prefix).is_empty(),
        "namespaces left by {pid}"
    );
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(dirs.is_empty(), "run dirs left: {dirs:?}");
}

#[test]
fn demo_succeeds_fast_and_cleans_up() {
    if !preflight::ready_or_skip("demo_succeeds_fast_and_cleans_up") {
        return;
    }
    let bins = BinDirs::discover(None);
    for b in ["aaa-server", "supplicant"] {
        if let Err(e) = bins.find(b) {
            assert!(!preflight::in_ci(), "CI=true: {e}");
            eprintln!("SKIPPED (not CI): {e}");
            return;
        }
    }
    let out_dir = tempfile::tempdir().unwrap();
    let pcap = out_dir.path().join("demo.pcap");
    let t0 = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(["demo", "--no-install", "--pcap"])
        .arg(&pcap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let took = t0.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("outcome: SUCCESS — method AKA'"),
        "{stdout}"
    );
    assert!(stdout.contains("AKA'/Challenge AT_RAND="), "{stdout}");
    assert!(stdout.contains("MS-MPPE-Send/Recv-Key"), "{stdout}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 100);
    assert!(took < Duration::from_secs(10), "demo took {took:?}");
    nothing_left(pid);
}

#[test]
fn sigint_mid_run_tears_everything_down() {
    if !preflight::ready_or_skip("sigint_mid_run_tears_everything_down") {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .arg("smoke")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until its namespaces and daemons are up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while netns::list_with_prefix(&format!("pa-{pid}-")).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(150));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    // Either it was interrupted (exit 130) or it had already finished (0).
    assert!(matches!(status.code(), Some(130) | Some(0)), "{status}");
    nothing_left(pid);
}
