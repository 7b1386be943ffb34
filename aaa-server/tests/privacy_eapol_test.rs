//! Real peer: hostap's `eapol_test` 2.10 (EAP-AKA') against the server
//! privacy building blocks on their own (`tests/privacy_serve.rs` runs the
//! same cases against `aaa-server serve`, which wires them into its EAP
//! server). A small RADIUS/EAP shell in this file does: `PrivacyServer::resolve` on
//! each identity, the Challenge with `issue_after_full_auth` +
//! `challenge_attributes`, and `start_reauth` / `check_reauth_response` for
//! fast re-authentication. Three eapol_test runs, each checked by eapol_test
//! itself (MS-MPPE keys compared with its own MSK every time):
//! 1. one full authentication and two EAPOL re-authentications (`-r 2`):
//!    wpa_supplicant's peer uses the re-auth id it learned, so both must be
//!    fast re-authentications;
//! 2. a run that starts with the pseudonym issued in run 1;
//! 3. IMSI privacy with 2.10's pre-encrypted `identity` (made by
//!    `openssl pkeyutl`) plus `imsi_identity`: our server decrypts it;
//! 4. protected result indication (`result_ind=1`): success Notifications
//!    after the full and the fast re-authentication.
//!
//! Its USIM is answered over the external-SIM control interface.

mod common;
use aaa_server::privacy::{
    IssueFor, KeySet, Policy, PrivacyKey, PrivacyServer, ReauthExchange, ReauthOutcome,
    ReauthRandom, ReauthStart, Resolution, challenge_attributes, check_notification_response,
    check_reauth_response, issue_after_full_auth, random, result_notification, start_reauth,
};
use aaa_server::radius::crypto::{finish_response, mppe_key_vsa};
use aaa_server::radius::wire::Response;
use eap::aka::attr::{AtAutn, AtKdf, AtKdfInput, AtMac, AtRand};
use eap::aka::keys::{Keys, Method, derive_aka_prime_from_ck_ik};
use eap::aka::mac;
use eap::aka::message::{Message, Subtype, mac_value_offset};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Autn, Res, Sqn, SubscriberKeys};
use radius::core::code::Code;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "privacy-secret";
const IMSI: &str = "001010000000042";
const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";
const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";

fn sub() -> SubscriberKeys {
    SubscriberKeys::new(
        K::new(hex::decode(K_HEX).unwrap().try_into().unwrap()),
        Opc::new(hex::decode(OPC_HEX).unwrap().try_into().unwrap()),
    )
}

#[derive(Default)]
struct Stats {
    full: u32,
    fast: u32,
    pseudonym_full: u32,
    decrypted_full: u32,
    notifications: u32,
    pseudonyms: Vec<String>,
}

enum Session {
    Challenge {
        keys: Box<Keys>,
        xres: Res,
        eap_id: u8,
    },
    Reauth(Box<aaa_server::privacy::PendingReauth>),
    /// An AKA-Identity request (AT_ANY_ID_REQ) is outstanding.
    Identity {
        eap_id: u8,
    },
    /// A protected success Notification is outstanding (RFC 4187 §6.2).
    Notify {
        k_aut: eap::secret::KAut,
        k_encr: eap::secret::KEncr,
        counter: Option<u16>,
        eap_id: u8,
        msk: Vec<u8>,
    },
}

struct Shell {
    privacy: PrivacyServer,
    sessions: HashMap<Vec<u8>, Session>,
    seq: u64,
    stats: Arc<Mutex<Stats>>,
}

enum Answer {
    Challenge(Vec<u8>, Session),
    Accept(Vec<u8>, Vec<u8>),
    Reject(u8),
}

impl Shell {
    fn challenge(&mut self, eap_id: u8, mk_identity: &[u8], permanent_user: &str) -> Answer {
        self.seq += 1;
        let av = sub().generate_vector(
            Sqn::from_seq_ind(self.seq, 0),
            Amf([0x80, 0]),
            random().unwrap(),
        );
        let keys = derive_aka_prime_from_ck_ik(
            mk_identity,
            &av.ck,
            &av.ik,
            b"WLAN",
            &av.autn.sqn_xor_ak(),
        )
        .unwrap();
        let now = unix_now();
        let next = issue_after_full_auth(
            &self.privacy.keys,
            &self.privacy.policy,
            IssueFor {
                permanent_user,
                version: 0,
            },
            &keys,
            &self.privacy.realm,
            now,
            [random().unwrap(), random().unwrap()],
        )
        .unwrap();
        if let Some(p) = &next.pseudonym {
            self.stats.lock().unwrap().pseudonyms.push(p.clone());
        }
        let mut m = Message::new(Subtype::Challenge)
            .with(AtRand::new(av.rand))
            .with(AtAutn::new(Autn(av.autn.0)))
            .with(AtKdf::CK_IK_PRIME)
            .with(AtKdfInput {
                network_name: b"WLAN".to_vec(),
            });
        if let Some((iv, data)) =
            challenge_attributes(&keys.k_encr, random().unwrap(), &next).unwrap()
        {
            m.push(iv);
            m.push(data);
        }
        if self.privacy.policy.result_indication {
            m.push(eap::aka::attr::AtResultInd::default());
        }
        m.push(AtMac::ZEROED);
        let id = eap_id.wrapping_add(1);
        let (mut p, at) = Packet::aka_request(id, Method::AkaPrime, m)
            .encode_with_mac_offset()
            .unwrap();
        mac::sign(&keys.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
        Answer::Challenge(
            p,
            Session::Challenge {
                keys: Box::new(keys),
                xres: av.xres,
                eap_id: id,
            },
        )
    }

    fn step(&mut self, state: Option<&[u8]>, eap: &[u8]) -> Answer {
        let pkt = match Packet::decode(eap) {
            Ok(p) => p,
            Err(_) => return Answer::Reject(0),
        };
        let id = pkt.identifier();
        match (state.and_then(|s| self.sessions.remove(s)), &pkt) {
            (
                None,
                Packet::Response {
                    data: TypeData::Identity(identity),
                    ..
                },
            ) => match self.privacy.resolve(identity, unix_now()) {
                Resolution::Permanent => {
                    let user = identity.split(|&b| b == b'@').next().unwrap_or_default();
                    let user = String::from_utf8_lossy(user).into_owned();
                    self.stats.lock().unwrap().full += 1;
                    self.challenge(id, identity, &user)
                }
                Resolution::Pseudonym(p) => {
                    let mut s = self.stats.lock().unwrap();
                    s.full += 1;
                    s.pseudonym_full += 1;
                    drop(s);
                    self.challenge(id, identity, &p.permanent_user)
                }
                Resolution::Reauth(ctx) => {
                    let r = ReauthRandom {
                        nonce_s: random().unwrap(),
                        iv: random().unwrap(),
                        next_id_iv: random().unwrap(),
                    };
                    match start_reauth(
                        &self.privacy.keys,
                        &self.privacy.policy,
                        ctx,
                        ReauthExchange {
                            identity,
                            identifier: id.wrapping_add(1),
                            checkcode: None,
                        },
                        &self.privacy.realm,
                        r,
                    )
                    .unwrap()
                    {
                        ReauthStart::Request { packet, pending } => {
                            Answer::Challenge(packet, Session::Reauth(pending))
                        }
                        ReauthStart::FullAuth { .. } => Answer::Reject(id),
                    }
                }
                Resolution::Other => {
                    let rid = id.wrapping_add(1);
                    let m =
                        Message::new(Subtype::Identity).with(eap::aka::attr::AtAnyIdReq::default());
                    let p = Packet::aka_request(rid, Method::AkaPrime, m)
                        .encode()
                        .unwrap();
                    Answer::Challenge(p, Session::Identity { eap_id: rid })
                }
                _ => Answer::Reject(id),
            },
            (Some(Session::Identity { eap_id }), Packet::Response { identifier, .. })
                if *identifier == eap_id =>
            {
                let Some(identity) = pkt
                    .aka()
                    .and_then(|(_, m)| m.identity().map(<[u8]>::to_vec))
                else {
                    return Answer::Reject(eap_id);
                };
                match self.privacy.resolve(&identity, unix_now()) {
                    Resolution::Decrypted(d) => {
                        let user = d.identity.split('@').next().unwrap_or_default().to_owned();
                        let mut s = self.stats.lock().unwrap();
                        s.full += 1;
                        s.decrypted_full += 1;
                        drop(s);
                        // MK identity: the decrypted permanent NAI (as hostapd does).
                        self.challenge(eap_id, d.identity.as_bytes(), &user)
                    }
                    Resolution::Permanent => {
                        let user = identity.split(|&b| b == b'@').next().unwrap_or_default();
                        let user = String::from_utf8_lossy(user).into_owned();
                        self.stats.lock().unwrap().full += 1;
                        self.challenge(eap_id, &identity, &user)
                    }
                    _ => Answer::Reject(eap_id),
                }
            }
            (
                Some(Session::Challenge { keys, xres, eap_id }),
                Packet::Response { identifier, .. },
            ) if *identifier == eap_id => {
                let ok = pkt.aka().is_some_and(|(_, m)| {
                    m.subtype == Subtype::Challenge && m.res().is_some_and(|r| r.ct_eq(&xres))
                }) && mac_value_offset(eap)
                    .ok()
                    .flatten()
                    .is_some_and(|o| mac::verify(&keys.k_aut, eap, o, mac::NO_EXTRA));
                let wants = pkt.aka().is_some_and(|(_, m)| m.result_ind());
                if ok && wants && self.privacy.policy.result_indication {
                    let nid = eap_id.wrapping_add(1);
                    let n = result_notification(Method::AkaPrime, nid, &keys.k_aut, true, None)
                        .unwrap();
                    Answer::Challenge(
                        n,
                        Session::Notify {
                            k_aut: keys.k_aut.clone(),
                            k_encr: keys.k_encr.clone(),
                            counter: None,
                            eap_id: nid,
                            msk: keys.msk.expose().to_vec(),
                        },
                    )
                } else if ok {
                    Answer::Accept(
                        Packet::Success { identifier: eap_id }.encode().unwrap(),
                        keys.msk.expose().to_vec(),
                    )
                } else {
                    Answer::Reject(eap_id)
                }
            }
            (Some(Session::Reauth(pending)), Packet::Response { identifier, .. }) => {
                let id = *identifier;
                match check_reauth_response(pending, eap) {
                    ReauthOutcome::Success {
                        msk,
                        use_result_ind: true,
                        context,
                        ..
                    } => {
                        self.stats.lock().unwrap().fast += 1;
                        let nid = id.wrapping_add(1);
                        let n = result_notification(
                            Method::AkaPrime,
                            nid,
                            context.k_aut(),
                            true,
                            Some((context.k_encr(), context.counter(), random().unwrap())),
                        )
                        .unwrap();
                        Answer::Challenge(
                            n,
                            Session::Notify {
                                k_aut: context.k_aut().clone(),
                                k_encr: context.k_encr().clone(),
                                counter: Some(context.counter()),
                                eap_id: nid,
                                msk: msk.expose().to_vec(),
                            },
                        )
                    }
                    ReauthOutcome::Success { msk, .. } => {
                        self.stats.lock().unwrap().fast += 1;
                        Answer::Accept(
                            Packet::Success { identifier: id }.encode().unwrap(),
                            msk.expose().to_vec(),
                        )
                    }
                    _ => Answer::Reject(id),
                }
            }
            (
                Some(Session::Notify {
                    k_aut,
                    k_encr,
                    counter,
                    eap_id,
                    msk,
                }),
                _,
            ) => {
                let check = counter.map(|c| (&k_encr, c));
                if check_notification_response(Method::AkaPrime, eap_id, &k_aut, check, eap) {
                    self.stats.lock().unwrap().notifications += 1;
                    Answer::Accept(
                        Packet::Success { identifier: eap_id }.encode().unwrap(),
                        msk,
                    )
                } else {
                    Answer::Reject(eap_id)
                }
            }
            _ => Answer::Reject(id),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The RADIUS side: Access-Request in, Access-Challenge/Accept/Reject out.
fn serve(sock: UdpSocket, mut shell: Shell, stop: Arc<AtomicBool>) {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut n_state = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let req = &buf[..n];
        if n < 20 || req[0] != 1 {
            continue;
        }
        let ra: [u8; 16] = req[4..20].try_into().unwrap();
        let (mut eap, mut state) = (Vec::new(), None);
        let mut a = &req[20..usize::from(u16::from_be_bytes([req[2], req[3]])).min(n)];
        while a.len() >= 2 && usize::from(a[1]) >= 2 && usize::from(a[1]) <= a.len() {
            let v = &a[2..usize::from(a[1])];
            match a[0] {
                79 => eap.extend_from_slice(v),
                24 => state = Some(v.to_vec()),
                _ => {}
            }
            a = &a[usize::from(a[1])..];
        }
        let mut resp;
        match shell.step(state.as_deref(), &eap) {
            Answer::Challenge(e, session) => {
                n_state += 1;
                let st = n_state.to_be_bytes().to_vec();
                shell.sessions.insert(st.clone(), session);
                resp = Response::new(Code::AccessChallenge, req[1]);
                resp.split_attr(79, &e).attr(24, &st);
            }
            Answer::Accept(e, msk) => {
                resp = Response::new(Code::AccessAccept, req[1]);
                resp.split_attr(79, &e)
                    .attr(
                        26,
                        &mppe_key_vsa(17, &msk[..32], SECRET.as_bytes(), &ra, random().unwrap()),
                    )
                    .attr(
                        26,
                        &mppe_key_vsa(16, &msk[32..64], SECRET.as_bytes(), &ra, random().unwrap()),
                    );
            }
            Answer::Reject(id) => {
                resp = Response::new(Code::AccessReject, req[1]);
                resp.split_attr(79, &Packet::Failure { identifier: id }.encode().unwrap());
            }
        }
        let mut out = resp.into_bytes().unwrap();
        assert!(finish_response(&mut out, &ra, SECRET.as_bytes()));
        let _ = sock.send_to(&out, from);
    }
}

fn answer_sim(rand_hex: &str, autn_hex: &str) -> String {
    let rand: [u8; 16] = hex::decode(rand_hex).unwrap().try_into().unwrap();
    let autn: [u8; 16] = hex::decode(autn_hex).unwrap().try_into().unwrap();
    match sub().authenticate(&rand, &Autn(autn)) {
        Ok(u) => format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        ),
        Err(_) => "UMTS-FAIL".into(),
    }
}

/// Runs eapol_test with `network` (the body of its network block) and
/// `reauths` EAPOL re-authentications; answers its SIM requests.
fn run_eapol_test(
    bin: &std::path::Path,
    port: u16,
    network: &str,
    reauths: u32,
) -> (bool, String, Duration) {
    common::eapol_test_external_sim(bin, SECRET, port, "AKA'", network, reauths, answer_sim)
}

fn mppe_ok(stdout: &str, n: u32) -> bool {
    stdout.contains(&format!("MPPE keys OK: {n}  mismatch: 0"))
        || stdout.contains(&format!("MPPE keys OK: {n} mismatch: 0"))
}

#[test]
fn eapol_test_fast_reauth_pseudonym_and_encrypted_identity() {
    let Some(bin) = common::tool("eapol_test") else {
        return;
    };
    // IMSI-privacy key pair made by the openssl tool.
    let keydir = tempfile::tempdir().unwrap();
    let (key, pubpath) = common::imsi_privacy_keypair(keydir.path());

    let stats = Arc::new(Mutex::new(Stats::default()));
    let shell = Shell {
        privacy: PrivacyServer {
            keys: KeySet::new(PrivacyKey::generate(1).unwrap(), vec![]).unwrap(),
            policy: Policy {
                result_indication: true,
                ..Policy::default()
            },
            imsi_key: Some(aaa_server::privacy::ImsiPrivacyKey::load_pem(&key).unwrap()),
            realm: REALM.into(),
        },
        sessions: HashMap::new(),
        seq: 0,
        stats: stats.clone(),
    };
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let server = std::thread::spawn(move || serve(sock, shell, st));
    let permanent = format!("6{IMSI}@{REALM}");

    // 1. Full authentication, then two EAPOL re-authentications: both fast.
    let (ok, out, wall) = run_eapol_test(&bin, port, &format!("  identity=\"{permanent}\"\n"), 2);
    assert!(ok && mppe_ok(&out, 3), "run 1:\n{out}");
    {
        let s = stats.lock().unwrap();
        assert_eq!(
            (s.full, s.fast),
            (1, 2),
            "one full, two fast re-authentications"
        );
    }
    eprintln!(
        "eapol_test run 1: 1 full + 2 fast re-authentications in {wall:?}, MPPE keys OK: 3 mismatch: 0"
    );

    // 2. A run that starts with the pseudonym issued in run 1 (eapol_test
    //    takes its initial pseudonym from anonymous_identity).
    let pseudonym = stats.lock().unwrap().pseudonyms.last().cloned().unwrap();
    let (ok, out, _) = run_eapol_test(
        &bin,
        port,
        &format!("  identity=\"{permanent}\"\n  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "run 2 (pseudonym):\n{out}");
    assert_eq!(
        stats.lock().unwrap().pseudonym_full,
        1,
        "resolved the pseudonym"
    );

    // 3. IMSI privacy with 2.10's pre-encrypted identity: `identity` holds
    //    NUL ‖ base64(RSA-OAEP-SHA-256(permanent)) made by `openssl pkeyutl`,
    //    `imsi_identity` the plain one for MK, `anonymous_identity` what goes
    //    in EAP-Response/Identity; the encrypted one travels in AT_IDENTITY.
    let ct = common::openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            pubpath.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        permanent.as_bytes(),
    );
    use base64::Engine;
    let mut enc = vec![0u8];
    enc.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&ct)
            .as_bytes(),
    );
    let (ok, out, _) = run_eapol_test(
        &bin,
        port,
        &format!(
            "  identity={}\n  imsi_identity=\"{permanent}\"\n  anonymous_identity=\"anonymous@{REALM}\"\n",
            hex::encode(&enc)
        ),
        0,
    );
    assert!(ok && mppe_ok(&out, 1), "run 3 (encrypted identity):\n{out}");
    assert_eq!(
        stats.lock().unwrap().decrypted_full,
        1,
        "decrypted the identity"
    );

    // 4. Protected result indication (phase1 result_ind=1): a success
    //    Notification after the full authentication and after each fast
    //    re-authentication (that one with AT_ENCR_DATA{AT_COUNTER}).
    let before = stats.lock().unwrap().fast;
    let (ok, out, _) = run_eapol_test(
        &bin,
        port,
        &format!("  identity=\"{permanent}\"\n  phase1=\"result_ind=1\"\n"),
        1,
    );
    assert!(ok && mppe_ok(&out, 2), "run 4 (result indication):\n{out}");
    {
        let s = stats.lock().unwrap();
        assert_eq!(s.fast, before + 1, "the re-authentication was a fast one");
        assert_eq!(
            s.notifications, 2,
            "two protected success notifications answered"
        );
    }

    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
}
