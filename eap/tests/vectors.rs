//! The published key-derivation vectors of testdata/vectors: the FIPS 186-2
//! PRF, EAP-AKA (RFC 4187) full authentication keys and the RFC 5448 / RFC 9048
//! EAP-AKA' cases. Every value in the files is checked; a missing file fails.

use eap::aka::keys::{self, Method, ReauthSecret};
use eap::secret::{Ck, Ik, K, KAut, Opc};
use eap::umts::{Amf, Autn, Sqn, SubscriberKeys};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../testdata/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test vectors {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key} missing in {v}"));
    hex::decode(s).unwrap_or_else(|e| panic!("field {key}: {e}"))
}

fn arr<const N: usize>(v: &Value, key: &str) -> [u8; N] {
    hex_field(v, key)
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("field {key} has {} bytes, want {N}", b.len()))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key} missing"))
}

#[test]
fn fips186_2_prf_vector() {
    let v = &load("eap_aka_keys.json")["fips186_2_prf"];
    let xkey: [u8; 20] = arr(v, "XKEY");
    let want = hex_field(v, "output");
    let mut out = vec![0u8; want.len()];
    keys::fips186_2_prf(&xkey, &mut out);
    assert_eq!(hex::encode(&out), hex::encode(&want));
}

#[test]
fn eap_aka_full_auth_vectors() {
    let doc = load("eap_aka_keys.json");
    let cases = doc["full_auth"].as_array().expect("full_auth array");
    assert!(!cases.is_empty());
    for c in cases {
        let id = str_field(c, "id");
        assert_eq!(str_field(c, "method"), "EAP-AKA", "{id}");
        let ik = Ik::new(arr(c, "IK"));
        let ck = Ck::new(arr(c, "CK"));
        let k = keys::derive_aka(str_field(c, "identity").as_bytes(), &ik, &ck);
        assert_eq!(k.method(), Method::Aka);
        assert_eq!(
            k.k_encr.expose()[..],
            hex_field(c, "K_encr")[..],
            "{id} K_encr"
        );
        assert!(matches!(k.k_aut, KAut::Aka(_)), "{id}");
        assert_eq!(k.k_aut.expose(), &hex_field(c, "K_aut")[..], "{id} K_aut");
        assert_eq!(k.msk.expose()[..], hex_field(c, "MSK")[..], "{id} MSK");
        assert_eq!(k.emsk.expose()[..], hex_field(c, "EMSK")[..], "{id} EMSK");
        // MK itself is SHA1(Identity‖IK‖CK); re-derive the keys from it.
        let ReauthSecret::Mk(mk) = &k.reauth else {
            panic!("{id}: EAP-AKA keys must keep MK");
        };
        assert_eq!(keys::derive_aka_from_mk(mk), k, "{id}");
        check_milenage_inputs(c, id);
    }
}

/// The Milenage inputs in a case must produce its RAND/AUTN/RES/CK/IK.
fn check_milenage_inputs(c: &Value, id: &str) {
    let m = &c["milenage_inputs"];
    let sub = SubscriberKeys::new(K::new(arr(m, "K")), Opc::new(arr(m, "OPc")));
    let sqn = Sqn::from_bytes(arr(m, "SQN"));
    let av = sub.generate_vector(sqn, Amf(arr(m, "AMF")), arr(c, "RAND"));
    assert_eq!(av.autn, Autn(arr(c, "AUTN")), "{id} AUTN");
    assert_eq!(av.xres.as_bytes(), &hex_field(c, "RES")[..], "{id} RES");
    assert_eq!(av.ck, Ck::new(arr(c, "CK")), "{id} CK");
    assert_eq!(av.ik, Ik::new(arr(c, "IK")), "{id} IK");
}

#[test]
fn eap_aka_prime_rfc5448_vectors() {
    let doc = load("eap_aka_prime_keys.json");
    let cases = doc["test_cases"].as_array().expect("test_cases array");
    assert!(cases.len() >= 2);
    for c in cases {
        let id = str_field(c, "id");
        let ik = Ik::new(arr(c, "IK"));
        let ck = Ck::new(arr(c, "CK"));
        let autn = Autn(arr(c, "AUTN"));
        let (ck_p, ik_p) = keys::ck_ik_prime(
            &ck,
            &ik,
            str_field(c, "network_name").as_bytes(),
            &autn.sqn_xor_ak(),
        )
        .unwrap();
        assert_eq!(ck_p.expose()[..], hex_field(c, "CK_prime")[..], "{id} CK'");
        assert_eq!(ik_p.expose()[..], hex_field(c, "IK_prime")[..], "{id} IK'");

        let k = keys::derive_aka_prime(str_field(c, "identity").as_bytes(), &ck_p, &ik_p);
        assert_eq!(k.method(), Method::AkaPrime);
        assert_eq!(
            k.k_encr.expose()[..],
            hex_field(c, "K_encr")[..],
            "{id} K_encr"
        );
        assert!(matches!(k.k_aut, KAut::AkaPrime(_)), "{id}");
        assert_eq!(k.k_aut.expose(), &hex_field(c, "K_aut")[..], "{id} K_aut");
        let ReauthSecret::KRe(k_re) = &k.reauth else {
            panic!("{id}: EAP-AKA' keys must keep K_re");
        };
        assert_eq!(k_re.expose()[..], hex_field(c, "K_re")[..], "{id} K_re");
        assert_eq!(k.msk.expose()[..], hex_field(c, "MSK")[..], "{id} MSK");
        assert_eq!(k.emsk.expose()[..], hex_field(c, "EMSK")[..], "{id} EMSK");
        let direct = keys::derive_aka_prime_from_ck_ik(
            str_field(c, "identity").as_bytes(),
            &ck,
            &ik,
            str_field(c, "network_name").as_bytes(),
            &autn.sqn_xor_ak(),
        )
        .unwrap();
        assert_eq!(direct, k, "{id}");
        check_milenage_inputs(c, id);
    }
}

#[test]
fn aka_prime_network_name_matters() {
    // The two RFC 5448 cases differ only in the network name.
    let doc = load("eap_aka_prime_keys.json");
    let c = &doc["test_cases"][0];
    let ik = Ik::new(arr(c, "IK"));
    let ck = Ck::new(arr(c, "CK"));
    let sqn_ak = Autn(arr(c, "AUTN")).sqn_xor_ak();
    let a = keys::ck_ik_prime(&ck, &ik, b"WLAN", &sqn_ak).unwrap();
    let b = keys::ck_ik_prime(&ck, &ik, b"WLAn", &sqn_ak).unwrap();
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
    let mut other = sqn_ak;
    other[5] ^= 1;
    assert_ne!(a.0, keys::ck_ik_prime(&ck, &ik, b"WLAN", &other).unwrap().0);
}
