//! EAP-SIM server tests: the RFC 4186 Appendix A exchange replayed byte for
//! byte (testdata/vectors/eap_sim_rfc4186.json), GSM-Milenage subscribers
//! from the SQLite store against a small test peer, pseudonyms, result
//! indication, Legacy-Nak, and the refusals.

use super::challenge::challenge_packet;
use crate::config::MethodName;
use crate::eap_server::tests::{cfg, store_with_vectors, vector_subscribers};
use crate::eap_server::{AuthResult, EapServer, Outcome, Reject, Success};
use crate::hss::{Hss, HssError, Imsi, Triplet, VectorKind};
use crate::privacy::{
    KeySet, NextIdentities, Policy, PrivacyKey, PrivacyServer, challenge_attributes,
};
use eap::aka::attr::Attribute;
use eap::gsm::Sres;
use eap::secret::{K, KAut, KEncr, Kc, Opc};
use eap::sim::attr::{AtIdentity, AtMac, AtNonceMt, AtSelectedVersion, VERSION_1};
use eap::sim::keys::{derive_keys, n_sres};
use eap::sim::message::{
    EAP_TYPE_SIM, Message, SimPacket, Subtype, decode_encrypted_attributes, sign_packet,
    verify_packet,
};
use eap::umts::{AuthVector, Auts, Sqn, SubscriberKeys};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

fn rfc() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/eap_sim_rfc4186.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/eap_sim_rfc4186.json");
    serde_json::from_str(&text).unwrap()
}

fn hexv(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hexv(v).try_into().unwrap()
}

fn packet(v: &Value, id: &str) -> Vec<u8> {
    let p = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap();
    hexv(&p["hex"])
}

fn rfc_triplets(v: &Value) -> Vec<Triplet> {
    v["triplets"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Triplet {
            rand: arr(&t["RAND"]),
            sres: Sres(arr(&t["SRES"])),
            kc: Kc::new(arr(&t["Kc"])),
        })
        .collect()
}

/// A store that only has the given triplets (the RFC's, or bad ones).
struct Fixed(Vec<Triplet>);

impl Hss for Fixed {
    fn vector(&self, _: &Imsi, _: VectorKind) -> Result<AuthVector, HssError> {
        Err(HssError::UnknownSubscriber)
    }
    fn resync(&self, _: &Imsi, _: &[u8; 16], _: &Auts) -> Result<Sqn, HssError> {
        Err(HssError::UnknownSubscriber)
    }
    fn triplets(&self, _: &Imsi, _: usize) -> Result<(Vec<Triplet>, u64), HssError> {
        Ok((self.0.clone(), 0))
    }
}

fn identity_response(id: u8, identity: &[u8]) -> Vec<u8> {
    let mut p = vec![2, id, 0, 0, 1];
    p.extend_from_slice(identity);
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    p
}

fn challenge(o: Outcome) -> (Vec<u8>, [u8; 16]) {
    match o {
        Outcome::Challenge { eap, state } => (eap, state),
        other => panic!("want Access-Challenge, got {other:?}"),
    }
}

fn rejected(o: Outcome) -> Reject {
    match o {
        Outcome::Reject {
            report: Some(r), ..
        } => match r.result {
            AuthResult::Reject(why) => why,
            s => panic!("want a reject, got {s:?}"),
        },
        other => panic!("want Access-Reject, got {other:?}"),
    }
}

/// RFC 4186 Appendix A: Start (A.3) byte for byte, the peer's Start
/// response (A.4) and Challenge response (A.6) accepted as printed, and the
/// MSK of A.5 in the Access-Accept.
#[test]
fn rfc4186_appendix_a_replayed() {
    let v = rfc();
    let identity = v["identity"]["value"].as_str().unwrap().as_bytes().to_vec();
    let server = EapServer::new(Arc::new(Fixed(rfc_triplets(&v))), &cfg(&[MethodName::Sim]));
    let now = Instant::now();
    let (start, state) = challenge(server.step(None, &identity_response(0, &identity), now));
    assert_eq!(
        hex::encode(&start),
        hex::encode(packet(&v, "start-request"))
    );
    let (chal, state2) = challenge(server.step(Some(&state), &packet(&v, "start-response"), now));
    assert_eq!(state, state2);
    // Without [privacy] the Challenge has no AT_IV/AT_ENCR_DATA; AT_RAND and
    // AT_MAC (over the packet and NONCE_MT) are the RFC's.
    let k_aut = KAut::Aka(eap::secret::KAutAka::new(arr(&v["keys"]["K_aut"])));
    let nonce_mt: [u8; 16] = arr(&v["NONCE_MT"]["value"]);
    assert!(verify_packet(&k_aut, &chal, &nonce_mt));
    let m = SimPacket::decode(&chal).unwrap().message;
    let rands: Vec<[u8; 16]> = rfc_triplets(&v).iter().map(|t| t.rand).collect();
    assert_eq!(m.rands().unwrap(), &rands[..]);
    match server.step(Some(&state), &packet(&v, "challenge-response"), now) {
        Outcome::Accept {
            eap,
            msk,
            user_name,
            report,
            ..
        } => {
            assert_eq!(eap, vec![3, 2, 0, 4]);
            assert_eq!(
                hex::encode(msk.expose()),
                v["keys"]["MSK"].as_str().unwrap()
            );
            assert_eq!(user_name.as_bytes(), identity);
            assert!(report.eap_sim);
            assert_eq!(report.method_name(), Some("sim"));
            assert_eq!(report.result, AuthResult::Success(Success::Full));
        }
        other => panic!("want Access-Accept, got {other:?}"),
    }
}

/// The RFC's Challenge request (A.5), AT_IV and AT_ENCR_DATA included, is
/// what the server's Challenge builder makes from the same inputs.
#[test]
fn rfc4186_challenge_request_byte_exact() {
    let v = rfc();
    let k_aut = KAut::Aka(eap::secret::KAutAka::new(arr(&v["keys"]["K_aut"])));
    let k_encr = KEncr::new(arr(&v["keys"]["K_encr"]));
    let nonce_mt: [u8; 16] = arr(&v["NONCE_MT"]["value"]);
    let e = &v["encrypted"];
    let next = NextIdentities {
        pseudonym: Some(e["next_pseudonym"].as_str().unwrap().into()),
        reauth_id: Some(e["next_reauth_id"].as_str().unwrap().into()),
    };
    let encr = challenge_attributes(&k_encr, arr(&e["IV"]), &next).unwrap();
    let rands: Vec<[u8; 16]> = rfc_triplets(&v).iter().map(|t| t.rand).collect();
    let got = challenge_packet(2, &rands, &k_aut, &nonce_mt, encr, false).unwrap();
    assert_eq!(
        hex::encode(got),
        hex::encode(packet(&v, "challenge-request"))
    );
}

/// A test EAP-SIM peer with a USIM's GSM-Milenage (test code).
struct Peer {
    keys: SubscriberKeys,
    identity: Vec<u8>,
    /// The identity to give in AT_IDENTITY when asked.
    permanent: Vec<u8>,
    nonce_mt: [u8; 16],
    /// The identity the keys are bound to.
    mk_identity: Vec<u8>,
    k_aut: Option<KAut>,
    k_encr: Option<KEncr>,
    msk: Option<Vec<u8>>,
    result_ind: bool,
    pseudonym: Option<Vec<u8>>,
    /// AT_NEXT_REAUTH_ID of the last Challenge or Re-authentication.
    reauth_id: Option<Vec<u8>>,
    /// MK of the last full authentication (fast re-authentication).
    reauth_secret: Option<eap::aka::keys::ReauthSecret>,
    /// Answer a Re-authentication with AT_COUNTER_TOO_SMALL.
    counter_too_small: bool,
    /// Corrupt the Challenge response's AT_MAC.
    bad_mac: bool,
    /// An unprotected General failure Notification was answered.
    notified: bool,
    selected: u16,
}

impl Peer {
    fn new(i: usize) -> Self {
        let (imsi, k, opc) = vector_subscribers().swap_remove(i);
        let permanent = format!("1{imsi}@wlan.mnc001.mcc001.3gppnetwork.org").into_bytes();
        Self {
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            identity: permanent.clone(),
            permanent,
            nonce_mt: [0x5a; 16],
            mk_identity: Vec::new(),
            k_aut: None,
            k_encr: None,
            msk: None,
            result_ind: false,
            pseudonym: None,
            reauth_id: None,
            reauth_secret: None,
            counter_too_small: false,
            bad_mac: false,
            notified: false,
            selected: VERSION_1,
        }
    }

    fn handle(&mut self, req: &[u8]) -> Vec<u8> {
        let p = SimPacket::decode(req).unwrap();
        let id = p.identifier;
        let m = p.message;
        match m.subtype {
            Subtype::Start => {
                assert_eq!(m.versions().unwrap(), &[VERSION_1]);
                let mut r = Message::new(Subtype::Start)
                    .with(AtNonceMt::new(self.nonce_mt))
                    .with(AtSelectedVersion {
                        version: self.selected,
                    });
                if m.id_req().is_some() {
                    r.push(AtIdentity {
                        identity: self.permanent.clone(),
                    });
                    self.mk_identity = self.permanent.clone();
                } else {
                    self.mk_identity = self.identity.clone();
                }
                SimPacket::response(id, r).encode().unwrap()
            }
            Subtype::Challenge => {
                let rands = m.rands().unwrap().to_vec();
                let t: Vec<_> = rands.iter().map(|r| self.keys.gsm_triplet(*r)).collect();
                let kcs: Vec<Kc> = t.iter().map(|t| t.kc.clone()).collect();
                let keys = derive_keys(&self.mk_identity, &kcs, &self.nonce_mt, &[1], 1);
                assert!(verify_packet(&keys.k_aut, req, &self.nonce_mt));
                if let (Some(iv), Some(data)) = (m.iv(), m.encr_data()) {
                    let plain = eap::aka::encr::decrypt(&keys.k_encr, iv, data).unwrap();
                    for a in decode_encrypted_attributes(&plain).unwrap() {
                        match a {
                            Attribute::NextPseudonym(p) => self.pseudonym = Some(p.pseudonym),
                            Attribute::NextReauthId(r) => self.reauth_id = Some(r.reauth_id),
                            _ => {}
                        }
                    }
                }
                let mut r = Message::new(Subtype::Challenge);
                if self.result_ind && m.result_ind() {
                    r.push(eap::sim::attr::AtResultInd::default());
                }
                r.push(AtMac::ZEROED);
                let mut out = SimPacket::response(id, r).encode().unwrap();
                let sres: Vec<Sres> = t.iter().map(|t| t.sres).collect();
                sign_packet(&keys.k_aut, &mut out, &n_sres(&sres)).unwrap();
                if self.bad_mac {
                    let n = out.len();
                    out[n - 1] ^= 1;
                }
                self.msk = Some(keys.msk.expose().to_vec());
                self.reauth_secret = Some(keys.reauth.clone());
                self.k_aut = Some(keys.k_aut.clone());
                self.k_encr = Some(keys.k_encr);
                out
            }
            Subtype::Notification if !m.has(eap::sim::attr::AttrType::AT_MAC) => {
                // Unprotected (P bit 1): the General failure code, an empty answer.
                assert_eq!(
                    m.notification(),
                    Some(eap::aka::attr::AtNotification::GENERAL_FAILURE)
                );
                self.notified = true;
                SimPacket::response(id, Message::new(Subtype::Notification))
                    .encode()
                    .unwrap()
            }
            Subtype::Notification => {
                let k_aut = self.k_aut.as_ref().unwrap();
                assert!(verify_packet(k_aut, req, &[]));
                let mut r = Message::new(Subtype::Notification);
                // After a fast re-authentication: AT_COUNTER echoed (§9.9).
                if let (Some(iv), Some(data)) = (m.iv(), m.encr_data()) {
                    let k_encr = self.k_encr.as_ref().unwrap();
                    let plain = eap::aka::encr::decrypt(k_encr, iv, data).unwrap();
                    let attrs = decode_encrypted_attributes(&plain).unwrap();
                    let plain = eap::sim::message::encode_encrypted_attributes(&attrs).unwrap();
                    let ct = eap::aka::encr::encrypt(k_encr, iv, &plain).unwrap();
                    r.push(eap::aka::attr::AtIv::new(*iv));
                    r.push(eap::aka::attr::AtEncrData::new(ct));
                }
                r.push(AtMac::ZEROED);
                let mut out = SimPacket::response(id, r).encode().unwrap();
                sign_packet(k_aut, &mut out, &[]).unwrap();
                out
            }
            Subtype::Reauthentication => self.reauthenticate(id, &m, req),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The EAP-Response/SIM/Re-authentication (RFC 4186 §9.8), as a peer:
    /// AT_MAC of the request over the packet alone, the response's over
    /// packet ‖ NONCE_S, keys from the identity it sent (§7).
    fn reauthenticate(&mut self, id: u8, m: &Message, req: &[u8]) -> Vec<u8> {
        use eap::aka::attr::{AtCounter, AtCounterTooSmall, AtEncrData, AtIv};
        let k_aut = self.k_aut.clone().unwrap();
        let k_encr = self.k_encr.clone().unwrap();
        assert!(verify_packet(&k_aut, req, &[]), "request AT_MAC");
        let plain =
            eap::aka::encr::decrypt(&k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
        let (mut counter, mut nonce_s, mut next) = (None, None, None);
        for a in decode_encrypted_attributes(&plain).unwrap() {
            match a {
                Attribute::Counter(c) => counter = Some(c.counter),
                Attribute::NonceS(n) => nonce_s = Some(n.nonce_s),
                Attribute::NextReauthId(r) => next = Some(r.reauth_id),
                _ => {}
            }
        }
        let (counter, nonce_s) = (counter.unwrap(), nonce_s.unwrap());
        let mut enc = vec![Attribute::Counter(AtCounter { counter })];
        if self.counter_too_small {
            enc.push(Attribute::CounterTooSmall(AtCounterTooSmall {
                reserved: 0,
            }));
        } else {
            let k = eap::aka::keys::derive_reauth(
                self.reauth_secret.as_ref().unwrap(),
                &self.identity,
                counter,
                &nonce_s,
            );
            self.msk = Some(k.msk.expose().to_vec());
            self.reauth_id = next;
        }
        let result_ind = self.result_ind && m.result_ind();
        let iv = [0x33; 16];
        let plain = eap::sim::message::encode_encrypted_attributes(&enc).unwrap();
        let ct = eap::aka::encr::encrypt(&k_encr, &iv, &plain).unwrap();
        let mut r = Message::new(Subtype::Reauthentication)
            .with(AtIv::new(iv))
            .with(AtEncrData::new(ct));
        if result_ind {
            r.push(eap::sim::attr::AtResultInd::default());
        }
        r.push(AtMac::ZEROED);
        let mut out = SimPacket::response(id, r).encode().unwrap();
        sign_packet(&k_aut, &mut out, &nonce_s).unwrap();
        if self.bad_mac {
            let n = out.len();
            out[n - 1] ^= 1;
        }
        out
    }
}

/// Runs an exchange to its end; the final outcome and the requests seen.
fn run(server: &EapServer, peer: &mut Peer) -> (Outcome, Vec<Vec<u8>>) {
    run_with(server, peer, &mut crate::eap_server::random::OsRandom)
}

/// [`run`] with the given RNG.
fn run_with(
    server: &EapServer,
    peer: &mut Peer,
    rng: &mut dyn crate::eap_server::random::Random,
) -> (Outcome, Vec<Vec<u8>>) {
    let now = Instant::now();
    let mut out = server.step_with(None, &identity_response(1, &peer.identity), now, rng);
    let mut seen = Vec::new();
    loop {
        match out {
            Outcome::Challenge { eap, state } => {
                assert!(seen.len() < 8, "too many rounds");
                let resp = peer.handle(&eap);
                seen.push(eap);
                out = server.step_with(Some(&state), &resp, now, rng);
            }
            o => return (o, seen),
        }
    }
}

fn msk_of(o: &Outcome) -> Vec<u8> {
    match o {
        Outcome::Accept { msk, .. } => msk.expose().to_vec(),
        other => panic!("want Access-Accept, got {other:?}"),
    }
}

#[test]
fn gsm_milenage_subscriber_authenticates_with_the_same_msk() {
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    let mut peer = Peer::new(0);
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(msk_of(&o), peer.msk.unwrap());
    assert_eq!(seen.len(), 2, "Start and Challenge");
    let rands = SimPacket::decode(&seen[1]).unwrap().message;
    let rands = rands.rands().unwrap();
    assert_eq!(rands.len(), 3);
    assert!(rands[0] != rands[1] && rands[1] != rands[2] && rands[0] != rands[2]);
}

#[test]
fn anonymous_identity_gets_an_identity_request_and_order_picks_sim() {
    // "sim" first: an identity that names no method gets EAP-SIM.
    let server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::Sim, MethodName::AkaPrime]),
    );
    let mut peer = Peer::new(1);
    peer.identity = b"anonymous@wlan.mnc001.mcc001.3gppnetwork.org".to_vec();
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(msk_of(&o), peer.msk.unwrap());
    let start = SimPacket::decode(&seen[0]).unwrap().message;
    assert_eq!(start.id_req(), Some(eap::aka::message::IdReq::Any));
    // AKA' first: the same identity gets EAP-AKA'.
    let server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::AkaPrime, MethodName::Sim]),
    );
    let o = server.step(None, &identity_response(1, &peer.identity), Instant::now());
    assert_eq!(challenge(o).0[4], eap::packet::types::AKA_PRIME);
}

#[test]
fn legacy_nak_moves_between_sim_and_aka() {
    let now = Instant::now();
    let server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::AkaPrime, MethodName::Sim]),
    );
    // A SIM identity starts EAP-SIM even when AKA' is preferred; a Nak
    // naming AKA' moves to it.
    let (imsi, ..) = vector_subscribers().swap_remove(0);
    let id = format!("1{imsi}@x.example");
    let (eap, state) = challenge(server.step(None, &identity_response(1, id.as_bytes()), now));
    assert_eq!(eap[4], EAP_TYPE_SIM);
    let nak = [2, eap[1], 0, 6, 3, eap::packet::types::AKA_PRIME];
    let (eap, _) = challenge(server.step(Some(&state), &nak, now));
    assert_eq!(eap[4], eap::packet::types::AKA_PRIME);
    // An AKA' identity, a Nak naming EAP-SIM: EAP-SIM/Start.
    let id = format!("6{imsi}@x.example");
    let (eap, state) = challenge(server.step(None, &identity_response(1, id.as_bytes()), now));
    assert_eq!(eap[4], eap::packet::types::AKA_PRIME);
    let nak = [2, eap[1], 0, 6, 3, EAP_TYPE_SIM];
    let (eap, _) = challenge(server.step(Some(&state), &nak, now));
    assert_eq!(eap[4], EAP_TYPE_SIM);
    // EAP-SIM not enabled: a Nak naming it is refused.
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let (eap, state) = challenge(server.step(None, &identity_response(1, id.as_bytes()), now));
    let nak = [2, eap[1], 0, 6, 3, EAP_TYPE_SIM];
    assert_eq!(
        rejected(server.step(Some(&state), &nak, now)),
        Reject::MethodRefused
    );
}

#[test]
fn bad_mac_and_unoffered_version_are_rejected() {
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    let mut peer = Peer::new(0);
    peer.bad_mac = true;
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(rejected(o), Reject::BadMac);
    // Start, Challenge, then the unprotected General failure Notification.
    assert!(peer.notified && seen.len() == 3, "{seen:?}");
    let mut peer = Peer::new(0);
    peer.selected = 2;
    assert_eq!(
        rejected(run(&server, &mut peer).0),
        Reject::UnsupportedVersion
    );
}

#[test]
fn repeated_or_too_few_triplets_are_refused() {
    let v = rfc();
    let t = rfc_triplets(&v);
    let id = v["identity"]["value"].as_str().unwrap().as_bytes().to_vec();
    for bad in [vec![t[0].clone(), t[0].clone()], vec![t[0].clone()]] {
        let server = EapServer::new(Arc::new(Fixed(bad)), &cfg(&[MethodName::Sim]));
        let now = Instant::now();
        let (_, state) = challenge(server.step(None, &identity_response(0, &id), now));
        let o = server.step(Some(&state), &packet(&v, "start-response"), now);
        assert_eq!(rejected(o), Reject::BadTriplets);
    }
}

#[test]
fn store_without_triplets_rejects_with_its_cause() {
    struct NoGsm;
    impl Hss for NoGsm {
        fn vector(&self, _: &Imsi, _: VectorKind) -> Result<AuthVector, HssError> {
            Err(HssError::UnknownSubscriber)
        }
        fn resync(&self, _: &Imsi, _: &[u8; 16], _: &Auts) -> Result<Sqn, HssError> {
            Err(HssError::UnknownSubscriber)
        }
    }
    let v = rfc();
    let id = v["identity"]["value"].as_str().unwrap().as_bytes().to_vec();
    let server = EapServer::new(Arc::new(NoGsm), &cfg(&[MethodName::Sim]));
    let now = Instant::now();
    let (_, state) = challenge(server.step(None, &identity_response(0, &id), now));
    let o = server.step(Some(&state), &packet(&v, "start-response"), now);
    assert_eq!(
        rejected(o),
        Reject::Hss(HssError::Unsupported("GSM triplets"))
    );
}

fn privacy(result_indication: bool) -> Arc<PrivacyServer> {
    Arc::new(PrivacyServer {
        keys: KeySet::new(PrivacyKey::new(1, [7; 32]), vec![]).unwrap(),
        policy: Policy {
            result_indication,
            ..Policy::default()
        },
        imsi_key: None,
        realm: "fallback.example".into(),
    })
}

#[test]
fn pseudonym_issued_then_used_and_result_indication() {
    let mut server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::AkaPrime, MethodName::Sim]),
    );
    server.set_privacy(privacy(true));
    let mut peer = Peer::new(2);
    peer.result_ind = true;
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(msk_of(&o), peer.msk.clone().unwrap());
    // Start, Challenge, the success Notification.
    assert_eq!(seen.len(), 3);
    let n = SimPacket::decode(&seen[2]).unwrap().message;
    assert_eq!(n.subtype, Subtype::Notification);
    let pseudonym = peer
        .pseudonym
        .clone()
        .expect("a pseudonym in the Challenge");
    // The next authentication with the pseudonym: EAP-SIM again (although
    // AKA' is preferred), no identity round, the pseudonym is the MK identity.
    let mut next = Peer::new(2);
    next.identity = pseudonym;
    next.identity
        .extend_from_slice(b"@wlan.mnc001.mcc001.3gppnetwork.org");
    let (o, seen) = run(&server, &mut next);
    assert_eq!(msk_of(&o), next.msk.unwrap());
    let start = SimPacket::decode(&seen[0]).unwrap().message;
    assert_eq!(start.id_req(), None);
    match o {
        Outcome::Accept { user_name, .. } => assert_eq!(user_name.as_bytes(), next.identity),
        _ => unreachable!(),
    }
}

/// A Nak naming several methods moves to the first of `[eap] methods`
/// among them, not the peer's first.
#[test]
fn legacy_nak_follows_the_configured_order() {
    let now = Instant::now();
    let (imsi, ..) = vector_subscribers().swap_remove(0);
    let id = format!("0{imsi}@x.example");
    let both = [EAP_TYPE_SIM, eap::packet::types::AKA_PRIME];
    for (order, want) in [
        (
            [MethodName::Aka, MethodName::Sim, MethodName::AkaPrime],
            EAP_TYPE_SIM,
        ),
        (
            [MethodName::Aka, MethodName::AkaPrime, MethodName::Sim],
            eap::packet::types::AKA_PRIME,
        ),
    ] {
        let server = EapServer::new(store_with_vectors(), &cfg(&order));
        let (eap, state) = challenge(server.step(None, &identity_response(1, id.as_bytes()), now));
        assert_eq!(eap[4], eap::packet::types::AKA);
        let mut nak = vec![2, eap[1], 0, 7, 3];
        nak.extend(both);
        let (eap, _) = challenge(server.step(Some(&state), &nak, now));
        assert_eq!(eap[4], want, "{order:?}");
    }
}

/// A decorated NAI (RFC 7542 §3.3.1) gets AT_PERMANENT_ID_REQ; a decorated
/// permanent identity in AT_IDENTITY is then accepted, and is the MK identity.
#[test]
fn decorated_identity_gets_a_permanent_identity_request() {
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    let mut peer = Peer::new(0);
    let (imsi, ..) = vector_subscribers().swap_remove(0);
    let decorated = format!("home.example!1{imsi}@visited.example").into_bytes();
    peer.identity = decorated.clone();
    peer.permanent = decorated.clone();
    let (o, seen) = run(&server, &mut peer);
    let start = SimPacket::decode(&seen[0]).unwrap().message;
    assert_eq!(start.id_req(), Some(eap::aka::message::IdReq::Permanent));
    assert_eq!(msk_of(&o), peer.msk.unwrap());
    match o {
        Outcome::Accept { user_name, .. } => assert_eq!(user_name.as_bytes(), decorated),
        _ => unreachable!(),
    }
}

/// Random responses in every phase (a fixed-seed xorshift, so reproducible):
/// never a panic, never an Access-Accept.
#[test]
fn random_responses_never_accept() {
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    let (imsi, ..) = vector_subscribers().swap_remove(0);
    let id = format!("1{imsi}@x.example");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let now = Instant::now();
    for round in 0..600 {
        let len = (next() % 120) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Mostly plausible EAP-SIM messages: a subtype and reserved bytes first.
        if round % 3 != 0 && body.len() >= 3 {
            body[0] = [10, 11, 12, 13, 14][round % 5];
            body[1] = 0;
            body[2] = 0;
        }
        let (req, state) = challenge(server.step(None, &identity_response(1, id.as_bytes()), now));
        let mut state = state;
        let mut id_ = req[1];
        if round % 2 == 1 {
            // Answer the Start properly first: the random body answers the Challenge.
            let start = SimPacket::response(
                id_,
                Message::new(Subtype::Start)
                    .with(AtNonceMt::new([3; 16]))
                    .with(AtSelectedVersion { version: VERSION_1 }),
            )
            .encode()
            .unwrap();
            let (chal, s) = challenge(server.step(Some(&state), &start, now));
            state = s;
            id_ = chal[1];
        }
        let mut p = vec![2, id_, 0, 0, EAP_TYPE_SIM];
        p.extend_from_slice(&body);
        let l = (p.len() as u16).to_be_bytes();
        p[2..4].copy_from_slice(&l);
        let o = server.step(Some(&state), &p, now);
        assert!(!matches!(o, Outcome::Accept { .. }), "round {round}: {o:?}");
    }
}

/// Counts up from a seed: a deterministic RNG.
struct CountingRandom(u8);

impl crate::eap_server::random::Random for CountingRandom {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Reject> {
        for b in out {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

/// The SQLite store, counting the triplet requests.
struct CountedStore {
    inner: Arc<crate::hss::sqlite::SqliteStore>,
    triplets: std::sync::atomic::AtomicUsize,
    /// Answer [`Hss::current`] with false (the subscriber changed).
    changed: std::sync::atomic::AtomicBool,
}

impl Hss for CountedStore {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.inner.vector(imsi, kind)
    }
    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        self.inner.resync(imsi, rand, auts)
    }
    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        if self.changed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        self.inner.current(imsi, version)
    }
    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<Triplet>, u64), HssError> {
        self.triplets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.triplets(imsi, n)
    }
}

fn counted() -> Arc<CountedStore> {
    Arc::new(CountedStore {
        inner: store_with_vectors(),
        triplets: Default::default(),
        changed: Default::default(),
    })
}

fn how(o: &Outcome) -> Success {
    match o {
        Outcome::Accept { report, .. } => match &report.result {
            AuthResult::Success(h) => *h,
            other => panic!("want success, got {other:?}"),
        },
        other => panic!("want Access-Accept, got {other:?}"),
    }
}

/// RFC 4186 §5: the Challenge carries an EAP-SIM re-auth identity; with it
/// the next two authentications are fast re-authentications (one
/// Re-authentication round, no triplets, the peer's MSK, counters 1 and 2),
/// each handing out the next identity. The server's randomness is a fixed RNG.
#[test]
fn fast_reauthentication_with_sealed_sim_identities() {
    let store = counted();
    let mut server = EapServer::new(
        store.clone(),
        &cfg(&[MethodName::AkaPrime, MethodName::Sim]),
    );
    server.set_privacy(privacy(false));
    let mut peer = Peer::new(1);
    let mut rng = CountingRandom(0x10);
    let (o, _) = run_with(&server, &mut peer, &mut rng);
    assert_eq!(msk_of(&o), peer.msk.clone().unwrap());
    assert_eq!(how(&o), Success::Full);
    assert_eq!(store.triplets.load(std::sync::atomic::Ordering::Relaxed), 1);
    let keys = KeySet::new(PrivacyKey::new(1, [7; 32]), vec![]).unwrap();
    let mut transcript: Vec<Vec<u8>> = Vec::new();
    for counter in [1u16, 2] {
        let id = peer.reauth_id.clone().expect("a re-auth identity");
        let ctx = crate::privacy::ReauthContext::open(&keys, &id, 0).unwrap();
        assert!(ctx.is_sim(), "sealed as an EAP-SIM context");
        assert_eq!(ctx.counter(), counter);
        peer.identity = id.clone();
        let (o, seen) = run_with(&server, &mut peer, &mut rng);
        assert_eq!(seen.len(), 1, "one Re-authentication round");
        let m = SimPacket::decode(&seen[0]).unwrap().message;
        assert_eq!(m.subtype, Subtype::Reauthentication);
        assert_eq!(msk_of(&o), peer.msk.clone().unwrap());
        assert_eq!(how(&o), Success::FastReauth);
        match &o {
            Outcome::Accept { user_name, .. } => assert_eq!(user_name.as_bytes(), id),
            _ => unreachable!(),
        }
        assert_ne!(peer.reauth_id.as_ref(), Some(&id), "a new identity");
        transcript.push(seen[0].clone());
    }
    assert_eq!(
        store.triplets.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "no new triplets"
    );
    // NONCE_S, AT_IV and the next identity's IV come from the injected RNG
    // (the triplets, from the store's own): AT_IV is 16 counted bytes.
    for req in &transcript {
        let iv = *SimPacket::decode(req).unwrap().message.iv().unwrap();
        assert!(
            iv.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "{iv:?}"
        );
    }
}

/// AT_COUNTER_TOO_SMALL (RFC 4186 §5.5): a full authentication follows at
/// once — a Start without an identity request, the re-auth identity as the
/// MK identity — and new triplets; a bad AT_MAC is a reject.
#[test]
fn counter_too_small_runs_a_full_authentication_and_bad_mac_rejects() {
    let store = counted();
    let mut server = EapServer::new(store.clone(), &cfg(&[MethodName::Sim]));
    server.set_privacy(privacy(false));
    let mut peer = Peer::new(0);
    let (o, _) = run(&server, &mut peer);
    msk_of(&o);
    let id = peer.reauth_id.clone().unwrap();
    peer.identity = id.clone();
    peer.counter_too_small = true;
    let (o, seen) = run(&server, &mut peer);
    let subtypes: Vec<Subtype> = seen
        .iter()
        .map(|p| SimPacket::decode(p).unwrap().message.subtype)
        .collect();
    assert_eq!(
        subtypes,
        [
            Subtype::Reauthentication,
            Subtype::Start,
            Subtype::Challenge
        ]
    );
    assert_eq!(SimPacket::decode(&seen[1]).unwrap().message.id_req(), None);
    assert_eq!(peer.mk_identity, id);
    assert_eq!(msk_of(&o), peer.msk.clone().unwrap());
    assert_eq!(how(&o), Success::Full);
    assert_eq!(store.triplets.load(std::sync::atomic::Ordering::Relaxed), 2);
    peer.counter_too_small = false;
    peer.identity = peer.reauth_id.clone().unwrap();
    peer.bad_mac = true;
    let (o, _) = run(&server, &mut peer);
    assert!(matches!(
        rejected(o),
        Reject::Reauth(crate::privacy::ReauthFailure::BadMac)
    ));
}

/// An EAP-AKA re-auth identity is not usable in EAP-SIM (AT_FULLAUTH_ID_REQ),
/// nor an EAP-SIM one in EAP-AKA (AKA-Identity with AT_FULLAUTH_ID_REQ).
#[test]
fn reauth_identities_do_not_cross_methods() {
    use crate::privacy::ReauthContext;
    use eap::aka::message::IdReq;
    let p = privacy(false);
    let (imsi, ..) = vector_subscribers().swap_remove(0);
    let realm = "wlan.mnc001.mcc001.3gppnetwork.org";
    let aka_keys = eap::aka::keys::derive_aka(
        b"x",
        &eap::secret::Ik::new([1; 16]),
        &eap::secret::Ck::new([2; 16]),
    );
    let sim_keys = derive_keys(b"x", &[Kc::new([3; 8]), Kc::new([4; 8])], &[5; 16], &[1], 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let seal = |ctx: ReauthContext| ctx.seal(&p.keys, realm, [9; 16]).unwrap();
    let aka_id =
        seal(ReauthContext::after_full_auth(&format!("0{imsi}"), &aka_keys, 0, now, 600).unwrap());
    let sim_id = seal(
        ReauthContext::after_full_auth(&format!("1{imsi}"), &sim_keys, 0, now, 600)
            .unwrap()
            .for_sim(),
    );
    let mut sim_server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    sim_server.set_privacy(p.clone());
    let (start, _) = challenge(sim_server.step(
        None,
        &identity_response(1, aka_id.as_bytes()),
        Instant::now(),
    ));
    let m = SimPacket::decode(&start).unwrap().message;
    assert_eq!(m.subtype, Subtype::Start);
    assert_eq!(m.id_req(), Some(IdReq::Fullauth));
    // The same server re-authenticates the EAP-SIM one.
    let (r, _) = challenge(sim_server.step(
        None,
        &identity_response(1, sim_id.as_bytes()),
        Instant::now(),
    ));
    assert_eq!(
        SimPacket::decode(&r).unwrap().message.subtype,
        Subtype::Reauthentication
    );
    let mut aka_server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Aka]));
    aka_server.set_privacy(p);
    let (req, _) = challenge(aka_server.step(
        None,
        &identity_response(1, sim_id.as_bytes()),
        Instant::now(),
    ));
    let pkt = eap::packet::Packet::decode(&req).unwrap();
    let (_, m) = pkt.aka().expect("an EAP-AKA request");
    assert_eq!(m.subtype, eap::aka::message::Subtype::Identity);
    assert_eq!(m.id_req(), Some(IdReq::Fullauth));
}

/// RFC 4186 §6.3.1: authenticated, but the subscriber changed since the
/// triplets were made; with result indication agreed the server sends a
/// protected failure Notification (code 0, AT_MAC) and, once answered,
/// Access-Reject. Without it, Access-Reject at once.
#[test]
fn protected_failure_notification_when_access_is_refused_after_authentication() {
    let store = counted();
    store
        .changed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut server = EapServer::new(store, &cfg(&[MethodName::Sim]));
    server.set_privacy(privacy(true));
    let mut peer = Peer::new(0);
    peer.result_ind = true;
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(rejected(o), Reject::SubscriberChanged);
    assert_eq!(seen.len(), 3, "Start, Challenge, Notification");
    let n = SimPacket::decode(&seen[2]).unwrap().message;
    assert_eq!(n.subtype, Subtype::Notification);
    assert_eq!(
        n.notification(),
        Some(eap::aka::attr::AtNotification::GENERAL_FAILURE_AFTER_AUTHENTICATION)
    );
    assert!(verify_packet(peer.k_aut.as_ref().unwrap(), &seen[2], &[]));
    let mut plain = Peer::new(0);
    let (o, seen) = run(&server, &mut plain);
    assert_eq!(rejected(o), Reject::SubscriberChanged);
    assert_eq!(seen.len(), 2, "no Notification without result indication");
}

/// RFC 4186 §6.2, §9.9: with result indication, the fast re-authentication
/// ends with a protected success Notification carrying
/// AT_ENCR_DATA{AT_COUNTER}, which the peer echoes.
#[test]
fn fast_reauthentication_with_result_indication() {
    let mut server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Sim]));
    server.set_privacy(privacy(true));
    let mut peer = Peer::new(3);
    peer.result_ind = true;
    let (o, _) = run(&server, &mut peer);
    msk_of(&o);
    peer.identity = peer.reauth_id.clone().unwrap();
    let (o, seen) = run(&server, &mut peer);
    assert_eq!(how(&o), Success::FastReauth);
    assert_eq!(msk_of(&o), peer.msk.clone().unwrap());
    assert_eq!(seen.len(), 2, "Re-authentication, Notification");
    let n = SimPacket::decode(&seen[1]).unwrap().message;
    assert_eq!(n.subtype, Subtype::Notification);
    assert_eq!(
        n.notification(),
        Some(eap::aka::attr::AtNotification::SUCCESS)
    );
    assert!(n.iv().is_some() && n.encr_data().is_some());
}
