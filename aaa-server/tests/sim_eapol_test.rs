//! EAP-SIM (RFC 4186) with a real peer: hostap's `eapol_test` (`eap=SIM`,
//! `external_sim=1`) against `aaa-server serve`. Its `GSM-AUTH` requests are
//! answered here with GSM-Milenage (`eap::gsm`, TS 55.205) of the USIM's K/OPc,
//! as a USIM answers AUTHENTICATE in the GSM context; eapol_test checks the
//! MS-MPPE keys against its own MSK.

mod common;

use common::{SECRET, Server, tool, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};

/// `GSM-AUTH:<Kc1>:<SRES1>:…` for the RANDs of a `GSM-AUTH` request.
fn gsm_answer(keys: &SubscriberKeys, kind: &str, rands: &str, count: &mut u32) -> String {
    if kind != "GSM-AUTH" {
        return "UMTS-FAIL".into();
    }
    let mut out = String::from("GSM-AUTH");
    for r in rands.split(':') {
        let mut rand = [0u8; 16];
        if hex::decode_to_slice(r, &mut rand).is_err() {
            return "GSM-FAIL".into();
        }
        let t = keys.gsm_triplet(rand);
        out.push_str(&format!(
            ":{}:{}",
            hex::encode(t.kc.expose()),
            hex::encode(t.sres.as_bytes())
        ));
    }
    *count += 1;
    out
}

fn run(server: &Server, keys: &SubscriberKeys, network: &str) -> (bool, String, u32) {
    let bin = tool("eapol_test").expect("checked by caller");
    let mut count = 0;
    let (ok, out, wall) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        "SIM",
        network,
        0,
        |kind, rands| gsm_answer(keys, kind, rands, &mut count),
    );
    eprintln!("eapol_test EAP-SIM: wall time {wall:?}");
    (ok, out, count)
}

#[test]
fn eapol_test_eap_sim_against_serve() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(1);
    let server = Server::start(
        "\"aka-prime\", \"aka\", \"sim\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let identity = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let (ok, out, n) = run(&server, &keys, &format!("  identity=\"{identity}\"\n"));
    assert!(
        ok,
        "eapol_test EAP-SIM failed:\n{out}\n{:#?}",
        server.logs()
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    assert_eq!(n, 1, "one GSM authentication");
    let line = server
        .wait_log("authentication finished")
        .unwrap_or_else(|| panic!("no log line: {:#?}", server.logs()));
    assert!(line.contains("method=\"sim\""), "{line}");
    assert!(!line.contains(&imsi[6..]), "MSIN masked: {line}");
    assert!(server.stop().success());
}

/// An anonymous outer identity: EAP-SIM/Start with AT_ANY_ID_REQ and
/// eapol_test gives its permanent identity; with `sim` first it is the
/// method chosen.
#[test]
fn eapol_test_eap_sim_identity_round() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(2);
    let server = Server::start(
        "\"sim\", \"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let identity = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let (ok, out, _) = run(
        &server,
        &keys,
        &format!(
            "  identity=\"{identity}\"\n  anonymous_identity=\"anonymous@wlan.mnc001.mcc001.3gppnetwork.org\"\n"
        ),
    );
    assert!(
        ok,
        "eapol_test EAP-SIM failed:\n{out}\n{:#?}",
        server.logs()
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
}

/// A subscriber unknown to the store: Access-Reject, eapol_test fails.
#[test]
fn eapol_test_eap_sim_unknown_subscriber_fails() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(1);
    let server = Server::start("\"sim\"", &[]);
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let identity = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let (ok, out, n) = run(&server, &keys, &format!("  identity=\"{identity}\"\n"));
    assert!(!ok, "{out}");
    assert_eq!(n, 0);
    assert!(
        server.wait_log("unknown subscriber").is_some(),
        "{:#?}",
        server.logs()
    );
}
