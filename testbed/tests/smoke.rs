//! Orchestration smoke test: wpa_supplicant -Dwired → hostapd (wired) →
//! hostapd RADIUS server with EAP-MD5, in three namespaces; then everything
//! is gone.

use testbed::{netns, preflight, smoke};

#[test]
fn md5_through_hostapd_and_nothing_left_behind() {
    if !preflight::ready_or_skip("md5_through_hostapd_and_nothing_left_behind") {
        return;
    }
    let o = smoke::run_md5().expect("smoke run");
    let get = |k: &str| {
        o.status
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("EAP state").as_deref(), Some("SUCCESS"));
    assert_eq!(
        get("Supplicant PAE state").as_deref(),
        Some("AUTHENTICATED")
    );
    assert!(get("selectedMethod").is_some_and(|m| m.starts_with("4 ")));
    // EAPOL: Start, Req/Id, Resp/Id, Req/MD5, Resp/MD5, Success; RADIUS: 2 round trips.
    assert!(o.capture.eapol >= 6, "{:?}", o.capture);
    assert_eq!(o.capture.radius, 4, "{:?}", o.capture);
    assert!(o.capture.problems.is_empty());
    // Teardown: no namespace, no child process, no run directory.
    assert!(
        netns::list_with_prefix(&o.run_id).is_empty(),
        "namespaces left"
    );
    assert!(
        preflight::child_pids().is_empty(),
        "children left: {:?}",
        preflight::child_pids()
    );
    assert!(!o.dir.exists(), "run dir left: {}", o.dir.display());
    assert!(!o.pcap.exists());
}
