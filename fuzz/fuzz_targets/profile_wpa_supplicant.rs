//! Fuzz the passpoint-profile wpa_supplicant reader, then validation, matching and
//! every writer on whatever it accepted: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passpoint_profile::read::Format;

#[path = "shared/profile.rs"]
mod profile;
use profile::exercise;

fuzz_target!(|data: &[u8]| {
    exercise(data, Some(Format::WpaSupplicant));
});
