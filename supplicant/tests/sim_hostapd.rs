//! EAP-SIM (RFC 4186) against a real server: supplicant ↔ hostapd
//! (driver=wired) ↔ hostapd as RADIUS server with **its own EAP-SIM
//! server** (eap_user `"1"* SIM`). Its triplets come from the test HSS
//! (`SIM-REQ-AUTH` of the hlr_auc_gw protocol, GSM-Milenage via `eap::gsm`);
//! the simulated USIM answers AUTHENTICATE in the GSM context.

mod common;
use common::*;

#[test]
fn eap_sim_through_hostapd() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let spec = format!("soft:{}", sim.display());

    // Profile with eap_method = "sim".
    let (code, v, out) = lab.auth(&spec, &lab.profile("sim"), &[]);
    assert_eq!(code, 0, "EAP-SIM:\n{out}\n{}", lab.logs());
    assert_eq!(v["outcome"], "success", "{out}");
    assert_eq!(v["method"], "EAP-SIM");
    assert_eq!(
        v["identity"],
        format!("1{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")
    );
    assert_eq!(v["msk_sha256"].as_str().map(str::len), Some(64));
    assert!(
        lab.hss.state.lock().unwrap().triplets >= 2,
        "hostapd fetched its triplets from the HSS"
    );
    eprintln!(
        "EAP-SIM through hostapd: {} ms, {} round trips",
        v["time_ms"], v["round_trips"]
    );

    // --method sim overrides an AKA profile.
    let (code, v, out) = lab.auth(&spec, &lab.profile("aka"), &["--method", "sim"]);
    assert_eq!(code, 0, "{out}\n{}", lab.logs());
    assert_eq!(v["method"], "EAP-SIM");

    // A Passpoint profile (PPS MO) with EAPType 18.
    let pps = lab.dir.path().join("pps.xml");
    std::fs::write(&pps, pps_mo(18)).unwrap();
    let (code, v, out) = lab.auth(&spec, &pps, &[]);
    assert_eq!(code, 0, "PPS MO EAPType 18:\n{out}\n{}", lab.logs());
    assert_eq!(v["method"], "EAP-SIM");
    assert_eq!(v["identity"], format!("1{IMSI}@example.com"));

    // A 2G SIM (no USIM application): RUN GSM ALGORITHM in class A0.
    let sim2g = lab.dir.path().join("sim2g.toml");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--gsm-sim", "--out"])
        .arg(&sim2g)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .status()
        .unwrap();
    assert!(st.success());
    let spec2g = format!("soft:{}", sim2g.display());
    let (code, v, out) = lab.auth(&spec2g, &lab.profile("sim"), &[]);
    assert_eq!(code, 0, "2G SIM:\n{out}\n{}", lab.logs());
    assert_eq!(v["method"], "EAP-SIM");
    assert_eq!(
        v["identity"],
        format!("1{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")
    );
    // EAP-AKA needs a USIM: a clear refusal before any EAPOL frame.
    let out = lab
        .peer_ns
        .cmd(env!("CARGO_BIN_EXE_supplicant"))
        .args([
            "auth",
            "--iface",
            &lab.peer_if,
            "--sim",
            &spec2g,
            "--profile",
        ])
        .arg(lab.profile("aka"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2G SIM") && err.contains("--method sim"),
        "{err}"
    );

    // Another subscriber key on the card: its SRES/Kc differ, hostapd's AT_MAC
    // does not verify → Client-Error, EAP-Failure, exit 1.
    let bad = lab.dir.path().join("bad.toml");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&bad)
        .args([
            "--imsi",
            IMSI,
            "--k",
            "00112233445566778899aabbccddeeff",
            "--opc",
            OPC_HEX,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, v, out) = lab.auth(&format!("soft:{}", bad.display()), &lab.profile("sim"), &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["outcome"], "failure");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("AT_MAC"),
        "{out}"
    );
}

fn pps_mo(eap_type: u8) -> String {
    format!(
        r#"<MgmtTree xmlns="syncml:dmddf1.2">
  <VerDTD>1.2</VerDTD>
  <Node>
    <NodeName>PerProviderSubscription</NodeName>
    <Node>
      <NodeName>i001</NodeName>
      <Node>
        <NodeName>HomeSP</NodeName>
        <Node><NodeName>FriendlyName</NodeName><Value>Example</Value></Node>
        <Node><NodeName>FQDN</NodeName><Value>example.com</Value></Node>
      </Node>
      <Node>
        <NodeName>Credential</NodeName>
        <Node><NodeName>Realm</NodeName><Value>example.com</Value></Node>
        <Node>
          <NodeName>SIM</NodeName>
          <Node><NodeName>IMSI</NodeName><Value>{IMSI}</Value></Node>
          <Node><NodeName>EAPType</NodeName><Value>{eap_type}</Value></Node>
        </Node>
      </Node>
    </Node>
  </Node>
</MgmtTree>
"#
    )
}

/// hostapd with `eap_sim_aka_result_ind=1`: the Challenge carries
/// AT_RESULT_IND, we answer with it, and hostapd sends a protected
/// EAP-SIM/Notification "Success" (with AT_MAC) before EAP-Success.
#[test]
fn eap_sim_with_result_indication_through_hostapd() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let lab = Lab::start_with(true);
    let sim = lab.sim_file("usim.toml");
    let (code, v, out) = lab.auth(&format!("soft:{}", sim.display()), &lab.profile("sim"), &[]);
    assert_eq!(code, 0, "EAP-SIM, result ind:\n{out}\n{}", lab.logs());
    assert_eq!(v["method"], "EAP-SIM");
    // Identity, Start, Challenge, Notification.
    assert_eq!(v["round_trips"], 4, "{out}");
}
