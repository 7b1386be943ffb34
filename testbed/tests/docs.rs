//! `testbed man` and `testbed completions SHELL` (no root, no namespaces).

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(args)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8(o.stdout).unwrap())
}

#[test]
fn man_page_and_completions() {
    let (ok, page) = run(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH testbed 1"), "{page}");
    for sub in ["demo", "interop", "bench", "transcript"] {
        assert!(page.contains(sub), "{sub} missing from the man page");
    }
    for (shell, marker) in [
        ("bash", "complete -F _testbed"),
        ("zsh", "#compdef testbed"),
        ("fish", "complete -c testbed"),
    ] {
        let (ok, script) = run(&["completions", shell]);
        assert!(ok, "{shell}");
        assert!(script.contains(marker), "{shell}: {script}");
    }
}
