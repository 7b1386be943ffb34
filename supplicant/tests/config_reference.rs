//! docs/configuration.md lists every key of the supplicant's own TOML
//! profile and of the USIM simulator file, and only those.
//!
//! The keys come from the parsers, not from a list kept here: both structs
//! are `deny_unknown_fields`, so a probe key fails with serde's "unknown
//! field `probe`, expected one of `a`, `b`, …", which names every field.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use supplicant::profile::Profile;
use supplicant::usim::sim::file::SimFile;

const PROBE: &str = "zz_probe_not_a_key";

/// The backticked names after "expected" in a serde unknown-field message.
fn expected_names(message: &str) -> BTreeSet<String> {
    assert!(
        message.contains(&format!("unknown field `{PROBE}`")),
        "not an unknown-field error: {message}"
    );
    let (_, rest) = message.split_once("expected").expect(message);
    rest.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The first cell of each row of the `| key | …` tables in the section of
/// docs/configuration.md that starts with `heading`.
fn documented_keys(heading: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .unwrap();
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} missing"));
    let body = &doc[start + heading.len()..];
    let section = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut keys = BTreeSet::new();
    let mut in_key_table = false;
    for line in section.lines() {
        if !line.starts_with('|') {
            in_key_table = false;
            continue;
        }
        let first = line.split('|').nth(1).unwrap_or("").trim();
        if first == "key" {
            in_key_table = true;
        } else if in_key_table && first.starts_with('`') {
            let key = first.trim_matches('`').to_string();
            assert!(keys.insert(key.clone()), "{key} documented twice");
        }
    }
    assert!(!keys.is_empty(), "no key rows under {heading}");
    keys
}

fn same(what: &str, accepted: BTreeSet<String>, documented: BTreeSet<String>) {
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty(),
        "{what}: keys the parser accepts but docs/configuration.md does not list: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "{what}: keys docs/configuration.md lists but the parser refuses: {unknown:?}"
    );
}

#[test]
fn every_profile_key_is_documented_and_every_documented_key_exists() {
    let (_, message) = Profile::parse(&format!("{PROBE} = 1\n")).unwrap_err();
    let accepted = expected_names(&message);
    assert!(accepted.contains("eap_method"), "{accepted:?}");
    same(
        "profile",
        accepted,
        documented_keys("## supplicant: the profile"),
    );
}

#[test]
fn every_simulator_file_key_is_documented_and_every_documented_key_exists() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("usim.toml");
    std::fs::write(&f, format!("{PROBE} = 1\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let Err(e) = SimFile::load(&f) else {
        panic!("the probe key was accepted")
    };
    let accepted = expected_names(&e.what);
    assert!(accepted.contains("opc"), "{accepted:?}");
    same(
        "simulator file",
        accepted,
        documented_keys("## supplicant: the USIM simulator file"),
    );
}
