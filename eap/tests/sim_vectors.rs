//! EAP-SIM and GSM-Milenage against published vectors (testdata/vectors):
//! - RFC 4186 Appendix A: MK and the keys, AT_ENCR_DATA, both AT_MACs, and
//!   the four EAP-SIM packets, decoded and re-encoded byte for byte and also
//!   rebuilt from their typed parts;
//! - 3GPP TS 55.205 GSM-Milenage test sets 1–19;
//! - c2/c3 (TS 33.102 §6.8.1.2) applied to the TS 35.208 Milenage outputs.
//!
//! A missing or unreadable file fails the tests.

use eap::aka::encr;
use eap::gsm::{Sres, c2, c3};
use eap::packet::Packet;
use eap::secret::{Ck, Ik, K, KAut, KEncr, Kc, Opc};
use eap::sim::attr::{
    AtEncrData, AtIv, AtMac, AtNextPseudonym, AtNextReauthId, AtNonceMt, AtRand, AtSelectedVersion,
    AtVersionList,
};
use eap::sim::keys::{self, n_sres};
use eap::sim::message::{
    EncryptedAttribute, Message, SimPacket, Subtype, decode_encrypted_attributes,
    encode_encrypted_attributes, mac_value_offset, sign_packet, verify_packet,
};
use eap::umts::{Amf, Res, Sqn, SubscriberKeys};
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

/// The RFC 4186 Appendix A example, parsed.
struct Rfc4186 {
    identity: Vec<u8>,
    versions: Vec<u16>,
    selected: u16,
    nonce_mt: [u8; 16],
    rands: Vec<[u8; 16]>,
    sres: Vec<Sres>,
    kcs: Vec<Kc>,
    keys: Value,
    encrypted: Value,
    packets: Vec<(String, Vec<u8>)>,
}

impl Rfc4186 {
    fn load() -> Self {
        let d = load("eap_sim_rfc4186.json");
        let triplets = d["triplets"]["values"].as_array().expect("triplets");
        assert_eq!(triplets.len(), 3);
        let packets = d["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .map(|p| (str_field(p, "id").to_owned(), hex_field(p, "hex")))
            .collect();
        Self {
            identity: str_field(&d["identity"], "value").as_bytes().to_vec(),
            versions: d["version_list"]["value"]
                .as_array()
                .expect("version list")
                .iter()
                .map(|v| u16::try_from(v.as_u64().expect("version")).expect("u16"))
                .collect(),
            selected: u16::try_from(d["selected_version"]["value"].as_u64().expect("selected"))
                .expect("u16"),
            nonce_mt: arr(&d["NONCE_MT"], "value"),
            rands: triplets.iter().map(|t| arr(t, "RAND")).collect(),
            sres: triplets.iter().map(|t| Sres(arr(t, "SRES"))).collect(),
            kcs: triplets.iter().map(|t| Kc::new(arr(t, "Kc"))).collect(),
            keys: d["keys"].clone(),
            encrypted: d["encrypted"].clone(),
            packets,
        }
    }

    fn packet(&self, id: &str) -> &[u8] {
        &self
            .packets
            .iter()
            .find(|(i, _)| i == id)
            .unwrap_or_else(|| panic!("packet {id} missing"))
            .1
    }

    fn derive(&self) -> keys::Keys {
        keys::derive_keys(
            &self.identity,
            &self.kcs,
            &self.nonce_mt,
            &self.versions,
            self.selected,
        )
    }
}

#[test]
fn rfc4186_appendix_a_keys() {
    let v = Rfc4186::load();
    let mk = keys::master_key(&v.identity, &v.kcs, &v.nonce_mt, &v.versions, v.selected);
    assert_eq!(mk.expose()[..], hex_field(&v.keys, "MK")[..], "MK");
    let k = v.derive();
    assert_eq!(k.k_encr.expose()[..], hex_field(&v.keys, "K_encr")[..]);
    assert!(matches!(k.k_aut, KAut::Aka(_)));
    assert_eq!(k.k_aut.expose(), &hex_field(&v.keys, "K_aut")[..]);
    assert_eq!(k.msk.expose()[..], hex_field(&v.keys, "MSK")[..]);
    assert_eq!(k.emsk.expose()[..], hex_field(&v.keys, "EMSK")[..]);
}

#[test]
fn rfc4186_appendix_a_packets_round_trip_byte_exact() {
    let v = Rfc4186::load();
    assert_eq!(v.packets.len(), 4);
    for (id, bytes) in &v.packets {
        let p = SimPacket::decode(bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
        let (enc, mac) = p.encode_with_mac_offset().unwrap();
        assert_eq!(&enc, bytes, "{id}: encode(decode(b)) != b");
        assert_eq!(mac_value_offset(bytes).unwrap(), mac, "{id}");
        // the same bytes through the generic EAP decoder (Type 18 kept raw)
        let eap = Packet::decode(bytes).unwrap();
        assert_eq!(eap.encode().unwrap(), *bytes, "{id}");
        let m = Message::from_type_data(eap.data().unwrap())
            .expect("type 18")
            .unwrap();
        assert_eq!(m, p.message, "{id}");
    }

    let start = SimPacket::decode(v.packet("start-request")).unwrap();
    assert_eq!(start.message.subtype, Subtype::Start);
    assert_eq!(start.message.versions(), Some(&v.versions[..]));

    let resp = SimPacket::decode(v.packet("start-response")).unwrap();
    assert_eq!(resp.message.subtype, Subtype::Start);
    assert_eq!(resp.message.nonce_mt(), Some(&v.nonce_mt));
    assert_eq!(resp.message.selected_version(), Some(v.selected));

    let ch = SimPacket::decode(v.packet("challenge-request")).unwrap();
    assert_eq!(ch.message.subtype, Subtype::Challenge);
    assert_eq!(ch.message.rands(), Some(&v.rands[..]));
    assert_eq!(ch.message.iv(), Some(&arr(&v.encrypted, "IV")));
    assert_eq!(ch.message.encr_data().map(<[u8]>::len), Some(176));
    assert!(ch.message.mac().is_some());

    let chr = SimPacket::decode(v.packet("challenge-response")).unwrap();
    assert_eq!(chr.message.attributes.len(), 1);
    assert!(chr.message.mac().is_some());
}

#[test]
fn rfc4186_appendix_a_macs() {
    let v = Rfc4186::load();
    let k = v.derive();
    let req = v.packet("challenge-request");
    assert!(
        verify_packet(&k.k_aut, req, &v.nonce_mt),
        "request MAC over packet|NONCE_MT"
    );
    assert!(!verify_packet(&k.k_aut, req, &[]));
    let sres = n_sres(&v.sres);
    let resp = v.packet("challenge-response");
    assert!(
        verify_packet(&k.k_aut, resp, &sres),
        "response MAC over packet|n*SRES"
    );
    assert!(!verify_packet(&k.k_aut, resp, &sres[..8]));
    // signing the packets with their MAC zeroed reproduces the RFC's MACs
    for (p, extra) in [(req, &v.nonce_mt[..]), (resp, &sres[..])] {
        let off = mac_value_offset(p).unwrap().unwrap();
        let mut zeroed = p.to_vec();
        zeroed[off..off + 16].fill(0);
        sign_packet(&k.k_aut, &mut zeroed, extra).unwrap();
        assert_eq!(zeroed, p);
    }
}

#[test]
fn rfc4186_appendix_a_encrypted_data() {
    let v = Rfc4186::load();
    let k = v.derive();
    let ch = SimPacket::decode(v.packet("challenge-request")).unwrap();
    let iv = ch.message.iv().unwrap();
    let plain = encr::decrypt(&k.k_encr, iv, ch.message.encr_data().unwrap()).unwrap();
    assert_eq!(&plain[..], &hex_field(&v.encrypted, "plaintext")[..]);
    let attrs = decode_encrypted_attributes(&plain).unwrap();
    let pseudonym = str_field(&v.encrypted, "next_pseudonym").as_bytes();
    let reauth = str_field(&v.encrypted, "next_reauth_id").as_bytes();
    assert!(matches!(&attrs[0], EncryptedAttribute::NextPseudonym(p) if p.pseudonym == pseudonym));
    assert!(matches!(&attrs[1], EncryptedAttribute::NextReauthId(r) if r.reauth_id == reauth));
    assert!(matches!(&attrs[2], EncryptedAttribute::Padding(p) if p.units == 3));
    assert_eq!(encode_encrypted_attributes(&attrs).unwrap(), &plain[..]);
}

/// The server and the peer build the RFC's Start packets from typed parts.
#[test]
fn rfc4186_appendix_a_start_built_from_parts() {
    let v = Rfc4186::load();
    let request = SimPacket::request(
        1,
        Message::new(Subtype::Start).with(AtVersionList {
            versions: v.versions.clone(),
        }),
    );
    assert_eq!(request.encode().unwrap(), v.packet("start-request"));
    let response = SimPacket::response(
        1,
        Message::new(Subtype::Start)
            .with(AtNonceMt::new(v.nonce_mt))
            .with(AtSelectedVersion {
                version: v.selected,
            }),
    );
    assert_eq!(response.encode().unwrap(), v.packet("start-response"));
}

/// The server and the peer build the RFC's Challenge packets from typed parts.
#[test]
fn rfc4186_appendix_a_challenge_built_from_parts() {
    let v = Rfc4186::load();
    let k = v.derive();
    let iv: [u8; 16] = arr(&v.encrypted, "IV");
    let plain = encode_encrypted_attributes(&[
        AtNextPseudonym {
            pseudonym: str_field(&v.encrypted, "next_pseudonym").into(),
        }
        .into(),
        AtNextReauthId {
            reauth_id: str_field(&v.encrypted, "next_reauth_id").into(),
        }
        .into(),
    ])
    .unwrap();
    let cipher = encr::encrypt(&k.k_encr, &iv, &plain).unwrap();
    let request = SimPacket::request(
        2,
        Message::new(Subtype::Challenge)
            .with(AtRand::new(&v.rands))
            .with(AtIv::new(iv))
            .with(AtEncrData::new(cipher))
            .with(AtMac::ZEROED),
    );
    let mut b = request.encode().unwrap();
    sign_packet(&k.k_aut, &mut b, &v.nonce_mt).unwrap();
    assert_eq!(b, v.packet("challenge-request"));

    let response = SimPacket::response(2, Message::new(Subtype::Challenge).with(AtMac::ZEROED));
    let mut b = response.encode().unwrap();
    sign_packet(&k.k_aut, &mut b, &n_sres(&v.sres)).unwrap();
    assert_eq!(b, v.packet("challenge-response"));
    // a K_encr of the wrong session does not give the RFC's ciphertext
    let other = encr::encrypt(&KEncr::new([0; 16]), &iv, &plain).unwrap();
    assert_ne!(Some(&other[..]), request.message.encr_data());
}

fn gsm_sets() -> Vec<Value> {
    let d = load("gsm_milenage.json");
    d["sets"].as_array().expect("sets").clone()
}

#[test]
fn ts55205_gsm_milenage_sets() {
    let sets = gsm_sets();
    assert_eq!(sets.len(), 19, "TS 55.205 has test sets 1-19");
    for s in &sets {
        let id = str_field(s, "id");
        let keys = SubscriberKeys::new(K::new(arr(s, "Ki")), Opc::new(arr(s, "OPc")));
        let rand: [u8; 16] = arr(s, "RAND");
        let t = keys.gsm_triplet(rand);
        assert_eq!(t.rand, rand);
        assert_eq!(t.sres, Sres(arr(s, "SRES1")), "{id} SRES");
        assert_eq!(t.kc.expose(), &arr::<8>(s, "Kc"), "{id} Kc");
        // SRES2, the other form the tables list, is RES's first 32 bits
        let av = keys.generate_vector(Sqn::default(), Amf([0, 0]), rand);
        assert_eq!(av.xres.as_bytes()[..4], arr::<4>(s, "SRES2"), "{id} SRES2");
    }
}

#[test]
fn c2_c3_on_ts35208_sets() {
    let gsm = gsm_sets();
    let find = |k: &[u8], rand: &[u8]| {
        gsm.iter()
            .find(|s| hex_field(s, "Ki") == k && hex_field(s, "RAND") == rand)
            .cloned()
    };
    let milenage = load("milenage.json");
    let mut matched = 0;
    for set in milenage["sets"].as_array().expect("sets") {
        let (Some(_), Some(f2)) = (set["K"].as_str(), set["f2"].as_str()) else {
            continue;
        };
        let Some(g) = find(&hex_field(set, "K"), &hex_field(set, "RAND")) else {
            continue; // TS 35.208 set 2 has no TS 55.205 counterpart
        };
        let id = str_field(set, "id");
        assert_eq!(hex_field(set, "OPc"), hex_field(&g, "OPc"), "{id} OPc");
        let res = Res::new(&hex::decode(f2).unwrap()).unwrap();
        assert_eq!(c2(&res), Sres(arr(&g, "SRES1")), "{id} c2");
        let kc = c3(&Ck::new(arr(set, "f3")), &Ik::new(arr(set, "f4")));
        assert_eq!(kc.expose(), &arr::<8>(&g, "Kc"), "{id} c3");
        matched += 1;
    }
    assert_eq!(
        matched, 5,
        "TS 35.208 sets 1, 3, 4, 5, 6 are TS 55.205 sets 1-5"
    );

    // RFC 5448 Appendix C case 1 (TS 35.208 set 19) is TS 55.205 set 18.
    let aka = load("eap_aka_keys.json");
    let case = &aka["full_auth"][0];
    let g = find(
        &hex_field(&case["milenage_inputs"], "K"),
        &hex_field(case, "RAND"),
    )
    .expect("TS 55.205 set 18");
    assert_eq!(str_field(&g, "id"), "ts55205-set18");
    let res = Res::new(&hex_field(case, "RES")).unwrap();
    assert_eq!(c2(&res), Sres(arr(&g, "SRES1")));
    let kc = c3(&Ck::new(arr(case, "CK")), &Ik::new(arr(case, "IK")));
    assert_eq!(kc.expose(), &arr::<8>(&g, "Kc"));
}
