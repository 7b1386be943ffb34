//! What every passpoint-profile fuzz target does with an input.

use passpoint_profile::Target;
use passpoint_profile::matching::{Anqp, MatchOptions, match_profile};
use passpoint_profile::read::{Format, read_bytes};
use passpoint_profile::validate::validate_document;
use passpoint_profile::write::{OutputFormat, WriteOptions, write};

/// Reads `data` (as `format`, or guessing), then validates for every target,
/// matches, writes every format and reads the output back: nothing may panic.
pub fn exercise(data: &[u8], format: Option<Format>) {
    let Ok(doc) = read_bytes(data, format) else {
        return;
    };
    for t in [Target::Android, Target::WpaSupplicant, Target::Spec] {
        let _ = validate_document(&doc, t);
    }
    let anqp = Anqp::default();
    for p in &doc.profiles {
        let _ = match_profile(p, &anqp, MatchOptions::default());
        let _ = match_profile(p, &anqp, MatchOptions { android: true });
    }
    for to in [
        OutputFormat::Toml,
        OutputFormat::PpsMo,
        OutputFormat::PpsMoDdf,
        OutputFormat::XWifiConfig,
        OutputFormat::WpaSupplicant,
        OutputFormat::Iwd,
        OutputFormat::Hostapd,
    ] {
        if let Ok(out) = write(&doc.profiles, to, &WriteOptions::default()) {
            // What we write must read back without panicking.
            let _ = read_bytes(out.text.as_bytes(), None);
        }
    }
}
