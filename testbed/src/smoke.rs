//! The orchestration smoke test: wpa_supplicant `-Dwired` → hostapd (wired)
//! → hostapd as RADIUS server with EAP-MD5. Needs nothing of ours but the
//! testbed, so it proves namespaces, processes, probes, capture and teardown.

use crate::bed::Bed;
use crate::capture::CheckReport;
use crate::error::{Error, Result};
use crate::scenario::{MD5_IDENTITY, Method};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the smoke run saw.
#[derive(Debug)]
pub struct SmokeOutcome {
    /// `wpa_cli status` at the end.
    pub status: Vec<(String, String)>,
    /// The capture check.
    pub capture: CheckReport,
    /// The pcap (inside the run dir, removed at teardown unless kept).
    pub pcap: PathBuf,
    /// The run id.
    pub run_id: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs the EAP-MD5 smoke scenario and tears it down; an error when the
/// authentication does not reach `EAP state=SUCCESS` or the capture is bad.
pub fn run_md5() -> Result<SmokeOutcome> {
    let t0 = Instant::now();
    let mut bed = Bed::new("smoke-md5")?;
    bed.start_hostapd_radius(Method::Md5, &[], None)?;
    bed.start_hostapd_wired()?;
    let ctrl = bed.start_wpa_supplicant(Method::Md5, MD5_IDENTITY)?;
    bed.kick_wpa_supplicant(&ctrl)?;
    // wpa_supplicant -Dwired waits 2 s before its first EAPOL-Start.
    let status = bed.wait_eap_state(&ctrl, Duration::from_secs(8))?;
    let (pcap, capture) = bed.finish_capture()?;
    let get = |k: &str| {
        status
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("EAP state") != "SUCCESS" || get("Supplicant PAE state") != "AUTHENTICATED" {
        return Err(Error::Invalid(format!(
            "EAP-MD5 smoke: wpa_cli status {status:?} (logs in {})",
            bed.dir.path().display()
        )));
    }
    if capture.eapol == 0 || capture.radius == 0 {
        return Err(Error::Capture {
            path: pcap,
            what: format!("expected EAPOL and RADIUS frames, saw {capture:?}"),
        });
    }
    Ok(SmokeOutcome {
        status,
        capture,
        pcap,
        run_id: bed.run_id().to_owned(),
        dir: bed.dir.path().to_owned(),
        elapsed: t0.elapsed(),
    })
}
