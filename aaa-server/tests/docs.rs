//! `aaa-server man` and `aaa-server completions SHELL`, which the packages
//! install (scripts/package.sh).

use std::process::Command;

fn aaa(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8(o.stdout).unwrap())
}

#[test]
fn man_page_is_roff_and_names_every_subcommand() {
    let (ok, page) = aaa(&["man"]);
    assert!(ok);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
    assert!(page.contains(".TH aaa-server 1"), "{page}");
    for sub in ["serve", "subscriber", "hlr\\-gw", "completions", "man"] {
        assert!(page.contains(sub), "{sub} missing from the man page");
    }
}

#[test]
fn completions_for_bash_zsh_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _aaa__server"),
        ("zsh", "#compdef aaa-server"),
        ("fish", "complete -c aaa-server"),
    ] {
        let (ok, script) = aaa(&["completions", shell]);
        assert!(ok, "{shell}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("subscriber"), "{shell}");
    }
    let (ok, _) = aaa(&["completions", "tcsh"]);
    assert!(!ok);
}
