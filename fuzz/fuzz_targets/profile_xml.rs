//! Fuzz the passpoint-profile xml reader, then validation, matching and
//! every writer on whatever it accepted: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passpoint_profile::read::Format;

#[path = "shared/profile.rs"]
mod profile;
use profile::exercise;

fuzz_target!(|data: &[u8]| {
    for f in [Format::PpsMo, Format::PpsMoDdf] {
        exercise(data, Some(f));
    }
    exercise(data, None);
});
