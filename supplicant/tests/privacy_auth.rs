//! `supplicant auth` (the real binary) with identity privacy and fast
//! re-authentication: supplicant ↔ hostapd (driver=wired) ↔ hostapd's own
//! EAP-AKA' server (pseudonyms and fast re-authentication on, `eap_sim_id=3`)
//! with the test HSS.
//!
//! 1. Full authentication → a `0600` state file with pseudonym and re-auth id.
//! 2. The next run is a fast re-authentication (hostapd: "Using fast
//!    re-authentication"), with a new MSK.
//! 3. With the re-auth id forgotten, the pseudonym is used (hostapd:
//!    "Pseudonym username").
//! 4. The same with protected result indication (`eap_sim_aka_result_ind=1`).

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use supplicant::privacy::PrivacyState;

fn scenario(result_ind: bool) {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let mut lab = Lab::start_with(result_ind);
    // hostapd's EAP server with pseudonyms (7…) and re-auth ids (8…) as AKA' users.
    let d = lab.dir.path().to_owned();
    std::fs::write(
        d.join("eap_users"),
        "\"0\"*\tAKA\n\"6\"*\tAKA'\n\"7\"*\tAKA'\n\"8\"*\tAKA'\n",
    )
    .unwrap();
    let conf = std::fs::read_to_string(d.join("radius.conf")).unwrap();
    std::fs::write(d.join("radius.conf"), format!("{conf}eap_sim_id=3\n")).unwrap();
    // Stop the first server before the second binds the RADIUS port.
    let _ = lab.radius.child.kill();
    let _ = lab.radius.child.wait();
    lab.radius = {
        let mut c = lab.auth_ns.cmd("hostapd");
        c.arg("-d").arg(d.join("radius.conf"));
        Proc::spawn(
            c,
            d.join("radius2.log"),
            "hostapd (RADIUS server, eap_sim_id=3)",
        )
    };
    lab.radius
        .wait_for("ENABLED", std::time::Duration::from_secs(5));
    let sim = lab.sim_file("usim.toml");
    let spec = format!("soft:{}", sim.display());
    let profile = lab.profile("aka-prime");
    let state = lab.dir.path().join("aka-prime.state");
    let state_arg = state.to_str().unwrap();

    // 1. Full authentication with the permanent identity.
    let (code, full, out) = lab.auth(&spec, &profile, &["--state", state_arg]);
    assert_eq!(code, 0, "full:\n{out}\n{}", lab.logs());
    assert_eq!(full["auth"], "full", "{out}");
    assert_eq!(full["identity_kind"], "permanent", "{out}");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let st = PrivacyState::load(&state).unwrap();
    let pseudonym = st.pseudonym.clone().expect("a pseudonym was stored");
    let reauth_id = st
        .reauth
        .as_ref()
        .expect("a re-auth id was stored")
        .identity
        .clone();
    assert!(pseudonym.ends_with("@wlan.mnc001.mcc001.3gppnetwork.org"));

    // 2. Fast re-authentication.
    let (code, fast, out) = lab.auth(&spec, &profile, &["--state", state_arg]);
    assert_eq!(code, 0, "fast re-auth:\n{out}\n{}", lab.logs());
    assert_eq!(fast["auth"], "reauth", "{out}");
    assert_eq!(fast["identity_kind"], "reauth");
    assert_eq!(fast["identity"], reauth_id.as_str());
    assert_ne!(fast["msk_sha256"], full["msk_sha256"]);
    assert!(
        lab.radius
            .log_text()
            .contains("EAP-AKA: Using fast re-authentication"),
        "{}",
        lab.logs()
    );
    let st = PrivacyState::load(&state).unwrap();
    let next = st.reauth.as_ref().expect("the next re-auth id was stored");
    assert_eq!(next.last_counter, 1);
    assert_ne!(next.identity, reauth_id);
    eprintln!(
        "result_ind={result_ind}: full authentication {} ms / {} round trips, fast re-authentication {} ms / {} round trips",
        full["time_ms"], full["round_trips"], fast["time_ms"], fast["round_trips"]
    );

    // 2b. Another fast re-authentication with the new re-auth id.
    let (code, fast2, out) = lab.auth(&spec, &profile, &["--state", state_arg]);
    assert_eq!(code, 0, "second fast re-auth:\n{out}\n{}", lab.logs());
    assert_eq!(fast2["auth"], "reauth");
    assert_ne!(fast2["msk_sha256"], fast["msk_sha256"]);
    assert_eq!(
        PrivacyState::load(&state)
            .unwrap()
            .reauth
            .map(|r| r.last_counter),
        Some(2)
    );

    // 3. Re-auth id forgotten: the pseudonym starts a full authentication.
    let mut st = PrivacyState::load(&state).unwrap();
    st.reauth = None;
    st.save(&state).unwrap();
    let (code, ps, out) = lab.auth(&spec, &profile, &["--state", state_arg]);
    assert_eq!(code, 0, "pseudonym:\n{out}\n{}", lab.logs());
    assert_eq!(ps["auth"], "full");
    assert_eq!(ps["identity_kind"], "pseudonym");
    assert_eq!(ps["identity"], pseudonym.as_str());
    let user = pseudonym.split('@').next().unwrap();
    assert!(
        lab.radius
            .log_text()
            .contains(&format!("EAP-AKA: Pseudonym username '{user}")),
        "{}",
        lab.logs()
    );
    let st = PrivacyState::load(&state).unwrap();
    assert!(st.reauth.is_some() && st.pseudonym.is_some());

    // An invalid re-auth id (unknown to the server): it asks for a full
    // authentication identity and the pseudonym is used.
    let mut st = PrivacyState::load(&state).unwrap();
    st.reauth.as_mut().unwrap().identity =
        "8unknownreauthid@wlan.mnc001.mcc001.3gppnetwork.org".into();
    st.save(&state).unwrap();
    let (code, v, out) = lab.auth(&spec, &profile, &["--state", state_arg]);
    assert_eq!(code, 0, "invalid re-auth id:\n{out}\n{}", lab.logs());
    assert_eq!(v["auth"], "full", "{out}");
    assert_ne!(v["identity_kind"], "reauth", "{out}");
}

#[test]
fn full_then_fast_reauth_then_pseudonym_through_hostapd() {
    scenario(false);
}

#[test]
fn with_protected_result_indication_through_hostapd() {
    scenario(true);
}

fn cert_pem(not_after: i64) -> Vec<u8> {
    use openssl::asn1::Asn1Time;
    use openssl::pkey::PKey;
    use openssl::x509::X509;
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    b.build().to_pem().unwrap()
}

/// An expired operator certificate or a state file readable by others is
/// refused before anything is sent (exit 2, `file:line: what`).
#[test]
fn expired_certificate_and_exposed_state_file_are_refused() {
    let bin = env!("CARGO_BIN_EXE_supplicant");
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("usim.toml");
    let st = std::process::Command::new(bin)
        .args(["sim", "create", "--out"])
        .arg(&sim)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .status()
        .unwrap();
    assert!(st.success());
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "eap_method = \"aka-prime\"\nrealm = \"example.com\"\n",
    )
    .unwrap();
    let expired = dir.path().join("expired.pem");
    std::fs::write(&expired, cert_pem(1_000_000)).unwrap();
    let run = |extra: &[&std::ffi::OsStr]| {
        std::process::Command::new(bin)
            .args(["auth", "--iface", "lo", "--timeout", "1", "--sim"])
            .arg(format!("soft:{}", sim.display()))
            .arg("--profile")
            .arg(&profile)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--imsi-privacy-cert".as_ref(), expired.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expired.pem:0:") && err.contains("expired"),
        "{err}"
    );

    let state = dir.path().join("p.state");
    std::fs::write(&state, "version = 1\n").unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["--state".as_ref(), state.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.state") && err.contains("0600"), "{err}");
}
