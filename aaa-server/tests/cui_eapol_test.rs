//! Chargeable-User-Identity (RFC 4372) from our home server, with eapol_test
//! as the NAS asking for it (`-N89:x:00`: the attribute with one NUL octet)
//! and naming operators (`-N126:s:…`, Operator-Name, RFC 5580). The CUI in
//! the Access-Accept is read from eapol_test's RADIUS message dump and
//! checked against HMAC-SHA-256 computed by the `openssl` command-line tool.

mod common;

use common::{SECRET, Server, Usim, tool, vector_subscriber};
use eap::umts::Sqn;

/// eapol_test EAP-AKA' as `identity` with `extra` arguments; its output.
fn eapol_test(port: u16, identity: &str, usim: &mut Usim, extra: &[&str]) -> String {
    let bin = tool("eapol_test").expect("checked by caller");
    let (ok, out, _) = common::eapol_test_external_sim_args(
        &bin,
        SECRET,
        port,
        "AKA'",
        &format!("  identity=\"{identity}\"\n"),
        0,
        extra,
        |r, a| usim.answer(r, a),
    );
    assert!(ok, "eapol_test failed:\n{out}");
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    out
}

/// The Chargeable-User-Identity values of the Access-Accepts eapol_test
/// received (its dump: `Attribute 89 (Chargeable-User-Identity) length=…`
/// then `Value: '…'`).
fn cuis_in_accepts(out: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut in_accept = false;
    let mut lines = out.lines().peekable();
    while let Some(l) = lines.next() {
        if l.contains("RADIUS message: code=") {
            in_accept = l.contains("code=2 ");
        }
        if in_accept
            && l.contains("Attribute 89 ")
            && let Some(val) = lines.peek()
            && let Some(s) = val.trim().strip_prefix("Value: '")
        {
            v.push(s.trim_end_matches('\'').to_string());
        }
    }
    v
}

/// HMAC-SHA-256(key, IMSI ‖ 0 ‖ operator), first 16 octets in hex, by openssl.
fn expected_cui(key: &str, imsi: &str, operator: &str) -> String {
    let mut input = imsi.as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(operator.as_bytes());
    let out = common::openssl(
        &[
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("key:{key}"),
        ],
        &input,
    );
    let text = String::from_utf8(out).unwrap();
    let digest = text.trim().rsplit(' ').next().unwrap().to_string();
    digest[..32].to_string()
}

#[test]
fn cui_per_subscriber_and_operator_in_the_access_accept() {
    if tool("eapol_test").is_none() || tool("openssl").is_none() {
        return;
    }
    let keydir = tempfile::tempdir().unwrap();
    let key = "4f1c0b8e6a2d9f7350e4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e";
    let key_file = keydir.path().join("cui.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (imsi, k, opc) = vector_subscriber(0);
    let home = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!("[cui]\nkey_file = \"{}\"\n", key_file.display()),
    );
    let mut usim = Usim::new(k, opc);
    let id = format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let port = home.auth.port();

    let a1 = eapol_test(
        port,
        &id,
        &mut usim,
        &["-N89:x:00", "-N126:s:1op-a.example"],
    );
    let a2 = eapol_test(
        port,
        &id,
        &mut usim,
        &["-N89:x:00", "-N126:s:1op-a.example"],
    );
    let b = eapol_test(
        port,
        &id,
        &mut usim,
        &["-N89:x:00", "-N126:s:1op-b.example"],
    );
    let none = eapol_test(port, &id, &mut usim, &["-N126:s:1op-a.example"]);

    let cui_a1 = cuis_in_accepts(&a1);
    assert_eq!(cui_a1.len(), 1, "one CUI in the Access-Accept:\n{a1}");
    assert_eq!(cui_a1[0], expected_cui(key, &imsi, "1op-a.example"));
    assert_eq!(cuis_in_accepts(&a2), cui_a1, "stable for the same operator");
    let cui_b = cuis_in_accepts(&b);
    assert_eq!(cui_b.len(), 1, "{b}");
    assert_ne!(cui_b, cui_a1, "another operator, another CUI");
    assert_eq!(cui_b[0], expected_cui(key, &imsi, "1op-b.example"));
    assert!(
        cuis_in_accepts(&none).is_empty() && none.contains("code=2 "),
        "no CUI when not asked:\n{none}"
    );
    // The CUI does not reveal the IMSI.
    assert!(!cui_a1[0].contains(&imsi));
}

#[test]
fn cui_key_file_must_be_private_and_long_enough() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aaa.toml");
    let check = |key: &[u8], mode: u32| {
        let f = dir.path().join("cui.key");
        std::fs::write(&f, key).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::write(
            &conf,
            "[[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"s\"\n[hss]\ndatabase = \"x.db\"\n\
             [cui]\nkey_file = \"cui.key\"\n",
        )
        .unwrap();
        aaa_server::config::Config::load(&conf).map(|_| ())
    };
    let e = check(&[b'k'; 64], 0o644).unwrap_err().to_string();
    assert!(e.contains("cui.key_file") && e.contains("chmod 600"), "{e}");
    let e = check(b"short\n", 0o600).unwrap_err().to_string();
    assert!(
        e.contains("cui.key_file") && e.contains("at least 32"),
        "{e}"
    );
    check(&[b'k'; 64], 0o600).expect("a private 64-octet key is accepted");
}
