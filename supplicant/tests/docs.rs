//! `supplicant man` and `supplicant completions SHELL`, which the package
//! installs (scripts/package.sh).

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(args)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8(o.stdout).unwrap())
}

#[test]
fn man_page_and_completions() {
    let (ok, page) = run(&["man"]);
    assert!(ok);
    assert!(page.contains(".TH supplicant 1"), "{page}");
    for sub in ["auth", "sim", "wifi", "probe", "completions"] {
        assert!(page.contains(sub), "{sub} missing from the man page");
    }
    for (shell, marker) in [
        ("bash", "complete -F _supplicant"),
        ("zsh", "#compdef supplicant"),
        ("fish", "complete -c supplicant"),
    ] {
        let (ok, script) = run(&["completions", shell]);
        assert!(ok, "{shell}");
        assert!(script.contains(marker), "{shell}: {script}");
    }
}
