//! `testbed transcript`: a closed standard output ends it quietly, and an
//! endless input (`/dev/zero`) is refused at the size cap.

use std::process::{Command, Stdio};

fn testbed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
}

/// A classic pcap (Ethernet) of `n` EAPOL-Start frames.
fn pcap(n: u32) -> Vec<u8> {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend([0u8; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(1u32.to_le_bytes());
    let frame = [
        1u8, 0x80, 0xc2, 0, 0, 3, 2, 0, 0, 0, 0, 1, 0x88, 0x8e, 2, 1, 0, 0,
    ];
    for i in 0..n {
        f.extend(100u32.to_le_bytes());
        f.extend((i * 1000).to_le_bytes());
        f.extend((frame.len() as u32).to_le_bytes());
        f.extend((frame.len() as u32).to_le_bytes());
        f.extend(frame);
    }
    f
}

/// Issue point 4: printing a list into a closed pipe (`| head`) must not panic.
#[test]
fn transcript_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.pcap");
    std::fs::write(&file, pcap(50)).unwrap();
    let o = testbed().arg("transcript").arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("EAPOL-Start"));
    let mut child = testbed()
        .arg("transcript")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(err.is_empty(), "{err}");
}

/// Issue point 6: input files are size-capped with the file and the limit named.
#[test]
fn transcript_of_dev_zero_is_refused_at_the_cap() {
    let o = testbed()
        .args(["transcript", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "testbed: /dev/zero: larger than the 268435456-byte limit for this file\n"
    );
}
