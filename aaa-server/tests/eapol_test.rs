//! A real peer: hostap's `eapol_test` against `aaa-server serve` on loopback,
//! for EAP-AKA and EAP-AKA'. Debian's eapol_test has no software USIM, so it
//! runs with `external_sim=1` and this test answers its `CTRL-REQ-SIM`
//! requests on the control interface with a USIM computed by `eap::umts`.

mod common;

use common::{SECRET, Server, tool, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Autn, Sqn, SubscriberKeys};
use std::time::Duration;

/// The USIM behind the external-SIM interface.
struct Usim {
    keys: SubscriberKeys,
    /// Highest accepted SQN (one SEQ for all IND values: stricter than Annex C).
    sqn_ms: Sqn,
    auths: u32,
    resyncs: u32,
    mac_failures: u32,
}

impl Usim {
    fn new(k: [u8; 16], opc: [u8; 16], sqn_ms: Sqn) -> Self {
        Self {
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            sqn_ms,
            auths: 0,
            resyncs: 0,
            mac_failures: 0,
        }
    }

    /// The answer to `UMTS-AUTH:<RAND>:<AUTN>` (TS 33.102 §6.3.3).
    fn answer(&mut self, rand_hex: &str, autn_hex: &str) -> String {
        let mut rand = [0u8; 16];
        let mut autn = [0u8; 16];
        if hex::decode_to_slice(rand_hex, &mut rand).is_err()
            || hex::decode_to_slice(autn_hex, &mut autn).is_err()
        {
            return "UMTS-FAIL".into();
        }
        let Ok(u) = self.keys.authenticate(&rand, &Autn(autn)) else {
            self.mac_failures += 1;
            return "UMTS-FAIL".into();
        };
        if u.sqn.seq() <= self.sqn_ms.seq() {
            self.resyncs += 1;
            return format!(
                "UMTS-AUTS:{}",
                hex::encode(self.keys.auts(&rand, self.sqn_ms).0)
            );
        }
        self.sqn_ms = u.sqn;
        self.auths += 1;
        format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        )
    }
}

struct Run {
    stdout: String,
    success: bool,
    wall: Duration,
}

/// Runs eapol_test with `method` ("AKA" or "AKA'") and `identity`, answering
/// its SIM requests with `usim`.
fn eapol_test(server: &Server, method: &str, identity: &str, usim: &mut Usim) -> Run {
    let bin = tool("eapol_test").expect("checked by caller");
    let (success, stdout, wall) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        method,
        &format!("  identity=\"{identity}\"\n"),
        0,
        |rand, autn| usim.answer(rand, autn),
    );
    Run {
        stdout,
        success,
        wall,
    }
}

fn nai(lead: char, imsi: &str) -> String {
    format!("{lead}{imsi}@wlan.mnc001.mcc001.3gppnetwork.org")
}

fn auth_line(server: &Server, needle: &str) -> String {
    server
        .wait_log(needle)
        .unwrap_or_else(|| panic!("no log line with {needle:?}: {:#?}", server.logs()))
}

fn check_success(method: &str, lead: char, set: usize) {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(set);
    let server = Server::start(
        "\"aka-prime\", \"aka\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let mut usim = Usim::new(k, opc, Sqn::default());
    let run = eapol_test(&server, method, &nai(lead, &imsi), &mut usim);
    assert!(
        run.success,
        "eapol_test failed:\n{}\n{:#?}",
        run.stdout,
        server.logs()
    );
    assert!(
        run.stdout.contains("MPPE keys OK: 1  mismatch: 0"),
        "{}",
        run.stdout
    );
    assert_eq!((usim.auths, usim.resyncs), (1, 0));
    let line = auth_line(&server, "authentication finished");
    assert!(
        line.contains("result=\"success\"") || line.contains("result=success"),
        "{line}"
    );
    assert!(!line.contains(&imsi[6..]), "MSIN masked in logs: {line}");
    eprintln!(
        "{method}: eapol_test wall time {:?}; server: {line}",
        run.wall
    );
    assert!(server.stop().success(), "exit 0 after SIGTERM");
}

#[test]
fn eap_aka_prime_success_with_mppe_keys() {
    check_success("AKA'", '6', 0);
}

#[test]
fn eap_aka_success_with_mppe_keys() {
    check_success("AKA", '0', 1);
}

#[test]
fn wrong_k_fails() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(2);
    let server = Server::start(
        "\"aka-prime\", \"aka\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let mut wrong = k;
    wrong[0] ^= 0xff;
    let mut usim = Usim::new(wrong, opc, Sqn::default());
    let run = eapol_test(&server, "AKA'", &nai('6', &imsi), &mut usim);
    assert!(!run.success, "{}", run.stdout);
    assert_eq!(usim.mac_failures, 1);
    let line = auth_line(&server, "authentication finished");
    assert!(line.contains("Authentication-Reject"), "{line}");
}

#[test]
fn usim_sqn_ahead_resyncs_once_then_succeeds() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start(
        "\"aka-prime\", \"aka\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let mut usim = Usim::new(k, opc, Sqn::from_seq_ind(4242, 3));
    let run = eapol_test(&server, "AKA'", &nai('6', &imsi), &mut usim);
    assert!(run.success, "{}\n{:#?}", run.stdout, server.logs());
    assert!(
        run.stdout.contains("MPPE keys OK: 1  mismatch: 0"),
        "{}",
        run.stdout
    );
    assert_eq!((usim.resyncs, usim.auths), (1, 1));
    assert!(usim.sqn_ms.seq() > 4242);
    let line = auth_line(&server, "authentication finished");
    assert!(line.contains("round_trips=3"), "{line}");
}

#[test]
fn unknown_subscriber_fails() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start("\"aka-prime\", \"aka\"", &[(imsi, k, opc, Sqn::default())]);
    let mut usim = Usim::new(k, opc, Sqn::default());
    let run = eapol_test(&server, "AKA", &nai('0', "001019999999999"), &mut usim);
    assert!(!run.success, "{}", run.stdout);
    assert_eq!(usim.auths + usim.resyncs + usim.mac_failures, 0);
    let line = auth_line(&server, "authentication finished");
    assert!(line.contains("unknown subscriber"), "{line}");
}

#[test]
fn anonymous_identity_gets_an_identity_round() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(1);
    let server = Server::start(
        "\"aka-prime\", \"aka\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let mut usim = Usim::new(k, opc, Sqn::default());
    // With anonymous_identity set, EAP-Response/Identity carries the anonymous
    // one and eapol_test answers the AKA-Identity request with `identity`.
    // AKA: the server offers AKA' first (its preference), eapol_test answers
    // with a Legacy-Nak for AKA, and the identity round restarts in AKA.
    for (method, lead, rounds) in [("AKA'", '6', 3), ("AKA", '0', 4)] {
        let run = eapol_test_with(
            &server,
            method,
            &nai(lead, &imsi),
            Some("anonymous@wlan.mnc001.mcc001.3gppnetwork.org"),
            &mut usim,
        );
        assert!(run.success, "{}\n{:#?}", run.stdout, server.logs());
        assert!(
            run.stdout.contains("MPPE keys OK: 1  mismatch: 0"),
            "{}",
            run.stdout
        );
        // Logged with the permanent identity from AT_IDENTITY.
        let needle = format!("identity={lead}001010");
        let line = auth_line(&server, &needle);
        assert!(line.contains(&format!("round_trips={rounds}")), "{line}");
    }
}

fn eapol_test_with(
    server: &Server,
    method: &str,
    identity: &str,
    anonymous: Option<&str>,
    usim: &mut Usim,
) -> Run {
    match anonymous {
        None => eapol_test(server, method, identity, usim),
        Some(anon) => eapol_test(
            server,
            method,
            &format!("{identity}\"\n  anonymous_identity=\"{anon}"),
            usim,
        ),
    }
}
