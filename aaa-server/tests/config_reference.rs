//! docs/configuration.md lists every key `aaa.toml` accepts, and only those.
//!
//! The keys are not listed here by hand: they come from the parser itself.
//! Every table of the configuration is `deny_unknown_fields`, so a probe key
//! in a table fails with serde's "unknown field `probe`, expected one of `a`,
//! `b`, …", which names every field of that table's struct. A key that is a
//! table itself answers the same way when probed as `[key]` or `[[key]]`, so
//! the walk finds nested tables too (and any table added later).

use aaa_server::config::Config;
use std::collections::BTreeSet;
use std::path::Path;

const PROBE: &str = "zz_probe_not_a_key";

/// The backticked names after "expected" in a serde unknown-field message
/// (`unknown key, expected one of `a`, `b`` or `…, expected `a``).
fn expected_names(message: &str) -> Option<Vec<String>> {
    let (_, rest) = message.split_once("expected")?;
    let names: Vec<String> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The keys the table at dotted `path` accepts ("" is the top level), or
/// None when `path` is not a table.
fn table_keys(path: &str) -> Option<Vec<String>> {
    let headers: Vec<String> = if path.is_empty() {
        vec![String::new()]
    } else {
        vec![format!("[{path}]"), format!("[[{path}]]")]
    };
    headers.into_iter().find_map(|h| {
        let text = format!("{h}\n{PROBE} = 1\n");
        let e = Config::parse(&text, Path::new("aaa.toml")).err()?;
        if !e.message.starts_with("unknown key") || !e.key.ends_with(PROBE) {
            return None;
        }
        expected_names(&e.message)
    })
}

/// Every key, tables included, as full dotted names (`client.secret`).
fn accepted_keys() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![String::new()];
    while let Some(path) = todo.pop() {
        let keys = table_keys(&path)
            .unwrap_or_else(|| panic!("`{path}` should be a table the parser accepts"));
        for k in keys {
            let full = if path.is_empty() {
                k
            } else {
                format!("{path}.{k}")
            };
            assert!(full.matches('.').count() < 4, "runaway walk at {full}");
            if out.insert(full.clone()) && table_keys(&full).is_some() {
                todo.push(full);
            }
        }
    }
    out
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
    keys
}

#[test]
fn the_walk_finds_the_known_tables() {
    // A check of the method, on keys that are there to stay.
    let keys = accepted_keys();
    for k in [
        "listen",
        "client",
        "client.secret",
        "hss.database",
        "privacy.key",
        "privacy.key.secret",
    ] {
        assert!(keys.contains(k), "{k} not found by the walk: {keys:?}");
    }
    assert!(!keys.contains(PROBE));
}

#[test]
fn every_aaa_toml_key_is_documented_and_every_documented_key_exists() {
    let accepted = accepted_keys();
    let documented = documented_keys("## aaa-server: `aaa.toml`");
    let missing: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        missing.is_empty(),
        "keys aaa.toml accepts but docs/configuration.md does not list: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys docs/configuration.md lists but aaa.toml refuses \
         (or whose table is not #[serde(deny_unknown_fields)], which hides its keys): {unknown:?}"
    );
}

#[test]
fn the_example_configuration_loads() {
    // The packaged aaa.toml.example is what the reference points operators to.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aaa.toml"))
            .unwrap();
    // Its store is in /var/lib/aaa-server, whose directory this machine may lack.
    let text = text.replace("/var/lib/aaa-server/subscribers.db", "subscribers.db");
    Config::parse(&text, Path::new("aaa.toml")).unwrap();
}
