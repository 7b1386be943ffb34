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
    let logs = server.logs.clone();
    assert!(server.stop().success());
    // The counters logged on shutdown count the EAP-SIM accept apart.
    let stopped = (0..200)
        .find_map(|_| {
            let l = logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("stopped"))
                .cloned();
            if l.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            l
        })
        .expect("a 'stopped' log line");
    assert!(
        stopped.contains(" accepted=1 ") && stopped.contains(" accepted_sim=1 "),
        "{stopped}"
    );
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

/// A 2G-only SIM: no K/OPc in the store, its triplets imported from an
/// hlr_auc_gw triplet file with `subscriber import --triplets` into the
/// running server's store; eapol_test's SIM answers from the same file.
#[test]
fn eapol_test_eap_sim_with_imported_triplets() {
    if tool("eapol_test").is_none() {
        return;
    }
    let server = Server::start("\"sim\"", &[]);
    let imsi = "001010000000077";
    let mut file = String::from("# IMSI:Kc:SRES:RAND\n");
    let mut sim = std::collections::HashMap::new();
    for i in 1..=3u8 {
        let (kc, sres, rand) = ([i; 8], [0x50 + i; 4], [0xa0 + i; 16]);
        file.push_str(&format!(
            "{imsi}:{}:{}:{}\n",
            hex::encode(kc),
            hex::encode(sres),
            hex::encode(rand)
        ));
        sim.insert(
            hex::encode(rand),
            format!("{}:{}", hex::encode(kc), hex::encode(sres)),
        );
    }
    let path = server.dir.path().join("triplets.txt");
    std::fs::write(&path, file).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", "import", "--db"])
        .arg(server.dir.path().join("subscribers.db"))
        .arg("--triplets")
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "imported 3 triplet(s): 3 added, 0 replaced"
    );
    let bin = tool("eapol_test").unwrap();
    let identity = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let (ok, out, _) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        "SIM",
        &format!("  identity=\"{identity}\"\n"),
        0,
        |kind, rands| {
            assert_eq!(kind, "GSM-AUTH");
            let mut a = String::from("GSM-AUTH");
            for r in rands.split(':') {
                a.push(':');
                a.push_str(sim.get(r).map_or("00:00", String::as_str));
            }
            a
        },
    );
    assert!(
        ok,
        "eapol_test EAP-SIM failed:\n{out}\n{:#?}",
        server.logs()
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
}

/// A bad triplet file: `file:line: what`, exit non-zero, nothing imported.
#[test]
fn import_triplets_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.txt");
    std::fs::write(
        &path,
        "001010000000077:0101010101010101:51515151:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n001010000000077:zz:51515151:a2\n",
    )
    .unwrap();
    let db = dir.path().join("s.db");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", "import", "--db"])
        .arg(&db)
        .arg("--triplets")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:2: Kc must be 16 hex digits", path.display())),
        "{err}"
    );
    assert!(!db.exists(), "nothing written");
}

/// With `[privacy]` and `result_indication`: eapol_test (`result_ind=1`)
/// gets a protected success Notification after each authentication, and
/// its two EAPOL re-authentications (`-r 2`) are EAP-SIM fast
/// re-authentications (RFC 4186 §5) with the re-auth identities the server
/// sealed — no new GSM authentication, no new triplets — each with matching
/// MS-MPPE keys.
#[test]
fn eapol_test_eap_sim_pseudonym_and_result_indication() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start_with(
        "\"aka-prime\", \"sim\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!(
            "[privacy]\nresult_indication = true\ncurrent_key = 1\n\
             [[privacy.key]]\nindex = 1\nsecret = \"{}\"\n",
            "07".repeat(32)
        ),
    );
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let identity = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let bin = tool("eapol_test").unwrap();
    let mut n = 0;
    let (ok, out, _) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        "SIM",
        &format!("  identity=\"{identity}\"\n  phase1=\"result_ind=1\"\n"),
        2,
        |kind, rands| gsm_answer(&keys, kind, rands, &mut n),
    );
    assert!(
        ok,
        "eapol_test EAP-SIM failed:\n{out}\n{:#?}",
        server.logs()
    );
    assert!(out.contains("MPPE keys OK: 3  mismatch: 0"), "{out}");
    assert_eq!(n, 1, "one full GSM authentication, then fast ones");
    assert_eq!(
        out.matches("EAP-SIM: Successful authentication notification")
            .count(),
        3,
        "protected success notifications, full and fast:\n{out}"
    );
    assert_eq!(
        out.matches("Generating EAP-SIM Reauthentication").count(),
        2,
        "fast re-authentications:\n{out}"
    );
    let lines: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains("authentication finished"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.contains("method=\"sim\"")),
        "{lines:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("fast re-authentication"))
            .count(),
        2,
        "{lines:#?}"
    );
}
