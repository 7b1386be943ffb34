//! Real peer: the supplicant's privacy building blocks against **hostapd's
//! own EAP-AKA' server** (hostapd 2.10 as a RADIUS server, `eap_sim_id=3`:
//! pseudonyms and fast re-authentication on; vectors from the test HSS over
//! the hlr_auc_gw protocol). A small RADIUS client in this file carries the
//! EAP messages; the EAP-AKA' peer logic is `eap` + `supplicant::privacy`.
//!
//! 1. Full authentication with the permanent identity: the Challenge's
//!    AT_ENCR_DATA gives a pseudonym and a re-auth id ([`learn_from_challenge`]);
//!    MS-MPPE keys = our MSK.
//! 2. Fast re-authentication with the re-auth id ([`process_reauth_request`]):
//!    hostapd accepts, MS-MPPE keys = our re-auth MSK.
//! 3. A full authentication that starts with the pseudonym (MK identity =
//!    the pseudonym NAI): accepted, MS-MPPE keys = our MSK.

mod common;

use common::{Hss, IMSI, Proc, SECRET, keys, prerequisites};
use eap::aka::attr::{AtIdentity, AtMac, AtNotification, AtRes, AtResultInd};
use eap::aka::keys::{Keys, Method, derive_aka_prime_from_ck_ik};
use eap::aka::mac;
use eap::aka::message::{Message, Subtype, mac_value_offset};
use eap::packet::{Packet, TypeData};
use eap::secret::{KAut, KEncr};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use std::net::UdpSocket;
use std::time::Duration;
use supplicant::privacy::{
    LearnedIdentities, PeerReauthResult, PrivacyState, learn_from_challenge, process_notification,
    process_reauth_request,
};

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

struct Radius {
    sock: UdpSocket,
    id: u8,
    state: Option<Vec<u8>>,
}

/// What came back for one Access-Request.
struct Reply {
    code: u8,
    eap: Vec<u8>,
    /// MS-MPPE-Recv-Key ‖ MS-MPPE-Send-Key (= MSK[0..64]) on Access-Accept.
    mppe: Vec<u8>,
}

fn mppe_decrypt(secret: &[u8], req_auth: &[u8; 16], v: &[u8]) -> Vec<u8> {
    // RFC 2548 §2.4.2: salt(2) ‖ C; b1 = MD5(S ‖ RA ‖ salt), bi = MD5(S ‖ c(i-1)).
    let (salt, c) = v.split_at(2);
    let mut out = Vec::new();
    let mut prev: Vec<u8> = [req_auth.as_slice(), salt].concat();
    for chunk in c.chunks(16) {
        let b = Md5::new()
            .chain_update(secret)
            .chain_update(&prev)
            .finalize();
        out.extend(chunk.iter().zip(b.iter()).map(|(x, y)| x ^ y));
        prev = chunk.to_vec();
    }
    let len = usize::from(out[0]);
    out[1..1 + len].to_vec()
}

impl Radius {
    fn send(&mut self, user: &[u8], eap: &[u8]) -> Reply {
        self.id = self.id.wrapping_add(1);
        let mut auth = [0u8; 16];
        getrandom_fill(&mut auth);
        let mut p = vec![1, self.id, 0, 0];
        p.extend_from_slice(&auth);
        let user = &user[..user.len().min(253)];
        p.push(1);
        p.push(u8::try_from(user.len() + 2).unwrap());
        p.extend_from_slice(user);
        for chunk in eap.chunks(253) {
            p.push(79);
            p.push(u8::try_from(chunk.len() + 2).unwrap());
            p.extend_from_slice(chunk);
        }
        if let Some(s) = &self.state {
            p.push(24);
            p.push(u8::try_from(s.len() + 2).unwrap());
            p.extend_from_slice(s);
        }
        p.extend_from_slice(&[80, 18]);
        let ma = p.len();
        p.extend_from_slice(&[0; 16]);
        let len = u16::try_from(p.len()).unwrap().to_be_bytes();
        p[2..4].copy_from_slice(&len);
        let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(&p);
        p[ma..ma + 16].copy_from_slice(&m.finalize().into_bytes());
        self.sock.send(&p).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).expect("RADIUS reply from hostapd");
        let r = &buf[..n];
        assert_eq!(r[1], self.id);
        let mut out = Reply {
            code: r[0],
            eap: Vec::new(),
            mppe: Vec::new(),
        };
        let (mut recv, mut send) = (Vec::new(), Vec::new());
        self.state = None;
        let mut a = &r[20..usize::from(u16::from_be_bytes([r[2], r[3]]))];
        while a.len() >= 2 {
            let (t, l) = (a[0], usize::from(a[1]));
            let v = &a[2..l];
            match t {
                79 => out.eap.extend_from_slice(v),
                24 => self.state = Some(v.to_vec()),
                26 if v.len() > 6 && v[..4] == [0, 0, 1, 55] => {
                    let key = mppe_decrypt(SECRET.as_bytes(), &auth, &v[6..]);
                    match v[4] {
                        17 => recv = key,
                        16 => send = key,
                        _ => {}
                    }
                }
                _ => {}
            }
            a = &a[l..];
        }
        out.mppe = [recv, send].concat();
        out
    }
}

fn getrandom_fill(b: &mut [u8]) {
    // The test does not need cryptographic quality; OpenSSL's RNG is at hand.
    openssl::rand::rand_bytes(b).unwrap();
}

/// What one run ended with.
struct Run {
    accepted: bool,
    msk: Option<Vec<u8>>,
    mppe: Vec<u8>,
    reauth_used: bool,
    learned: LearnedIdentities,
    /// The full-authentication keys (what the peer keeps for re-authentication).
    keys: Option<Keys>,
    /// A protected success notification was received and answered.
    result_ind_success: bool,
}

/// One EAP-AKA' authentication through hostapd, starting with `identity`.
fn authenticate(port: u16, st: &PrivacyState, identity: &str, result_ind: bool) -> Run {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rad = Radius {
        sock,
        id: 0,
        state: None,
    };
    let permanent = format!("6{IMSI}@{REALM}");
    let user = identity.as_bytes().to_vec();
    let mut mk_identity = user.clone();
    let mut eap = Packet::Response {
        identifier: 0,
        data: TypeData::Identity(user.clone()),
    }
    .encode()
    .unwrap();
    let mut run = Run {
        accepted: false,
        msk: None,
        mppe: Vec::new(),
        reauth_used: false,
        learned: LearnedIdentities::default(),
        keys: None,
        result_ind_success: false,
    };
    // K_aut, K_encr and the re-auth counter for a result notification.
    let mut notify: Option<(KAut, KEncr, Option<u16>)> = None;
    for _ in 0..10 {
        let reply = rad.send(&user, &eap);
        match reply.code {
            2 => {
                run.accepted = true;
                run.mppe = reply.mppe;
                return run;
            }
            3 => return run,
            11 => {}
            c => panic!("RADIUS code {c}"),
        }
        let p = Packet::decode(&reply.eap).unwrap();
        let id = p.identifier();
        let (method, m) = p.aka().expect("EAP-AKA' request");
        assert_eq!(method, Method::AkaPrime);
        eap = match m.subtype {
            Subtype::Identity => {
                mk_identity = permanent.clone().into_bytes();
                Packet::aka_response(
                    id,
                    method,
                    Message::new(Subtype::Identity).with(AtIdentity {
                        identity: mk_identity.clone(),
                    }),
                )
                .encode()
                .unwrap()
            }
            Subtype::Challenge => {
                let usim = keys()
                    .authenticate(m.rand().unwrap(), m.autn().unwrap())
                    .unwrap();
                let k = derive_aka_prime_from_ck_ik(
                    &mk_identity,
                    &usim.ck,
                    &usim.ik,
                    m.kdf_input().unwrap(),
                    &m.autn().unwrap().sqn_xor_ak(),
                )
                .unwrap();
                let off = mac_value_offset(&reply.eap).unwrap().unwrap();
                assert!(
                    mac::verify(&k.k_aut, &reply.eap, off, mac::NO_EXTRA),
                    "hostapd's Challenge AT_MAC with MK identity {:?}",
                    String::from_utf8_lossy(&mk_identity)
                );
                run.learned = learn_from_challenge(&k.k_encr, m).unwrap();
                let mut resp = Message::new(Subtype::Challenge).with(AtRes { res: usim.res });
                if result_ind && m.result_ind() {
                    resp.push(AtResultInd::default());
                }
                resp.push(AtMac::ZEROED);
                let (mut b, at) = Packet::aka_response(id, method, resp)
                    .encode_with_mac_offset()
                    .unwrap();
                mac::sign(&k.k_aut, &mut b, at.unwrap(), mac::NO_EXTRA).unwrap();
                run.msk = Some(k.msk.expose().to_vec());
                notify = Some((k.k_aut.clone(), k.k_encr.clone(), None));
                run.keys = Some(k);
                b
            }
            Subtype::Reauthentication => {
                let r = st.reauth.as_ref().expect("re-auth state");
                run.reauth_used = true;
                match process_reauth_request(r, &reply.eap, [0x3c; 16], result_ind, None) {
                    PeerReauthResult::Success {
                        response,
                        msk,
                        learned,
                        counter,
                        ..
                    } => {
                        run.msk = Some(msk.expose().to_vec());
                        run.learned = learned;
                        notify = Some((r.k_aut.clone(), r.k_encr.clone(), Some(counter)));
                        response
                    }
                    other => panic!("{other:?}"),
                }
            }
            Subtype::Notification => {
                let (k_aut, k_encr, counter) = notify.as_ref().expect("notification after auth");
                let a =
                    process_notification(method, k_aut, k_encr, *counter, &reply.eap, [0x4d; 16])
                        .expect("hostapd's protected notification verifies");
                assert_eq!(a.notification, AtNotification::SUCCESS);
                run.result_ind_success = true;
                a.response
            }
            s => panic!("unexpected {s:?}"),
        };
    }
    panic!("too many round trips");
}

#[test]
fn hostapd_eap_server_pseudonym_and_fast_reauth() {
    scenario(false);
}

/// The same with `eap_sim_aka_result_ind=1`: hostapd sends a protected
/// success Notification after the Challenge and after the re-authentication
/// (with AT_ENCR_DATA{AT_COUNTER}); `process_notification` verifies and answers both.
#[test]
fn hostapd_eap_server_with_protected_result_indication() {
    scenario(true);
}

fn scenario(result_ind: bool) {
    if !prerequisites(&["hostapd"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hss = Hss::start(d);
    let port = 20_000
        + u16::try_from(std::process::id() % 20_000).unwrap()
        + u16::from(result_ind) * 20_000;
    std::fs::write(d.join("clients"), format!("127.0.0.1/32 {SECRET}\n")).unwrap();
    std::fs::write(
        d.join("eap_users"),
        "\"6\"*\tAKA'\n\"7\"*\tAKA'\n\"8\"*\tAKA'\n",
    )
    .unwrap();
    std::fs::write(
        d.join("radius.conf"),
        format!(
            "driver=none\ninterface=privsrv{}\nradius_server_clients={}\nradius_server_auth_port={port}\n\
             eap_server=1\neap_user_file={}\neap_sim_db=unix:{}\neap_sim_id=3\neap_sim_aka_result_ind={}\n",
            std::process::id() % 10_000 * 2 + u32::from(result_ind),
            d.join("clients").display(),
            d.join("eap_users").display(),
            hss.path.display(),
            u8::from(result_ind),
        ),
    )
    .unwrap();
    let mut hostapd = Proc::spawn(
        {
            let mut c = std::process::Command::new("hostapd");
            c.arg("-dd").arg(d.join("radius.conf"));
            c
        },
        d.join("radius.log"),
        "hostapd (RADIUS + EAP-AKA' server)",
    );
    hostapd.wait_for("ENABLED", Duration::from_secs(5));

    // 1. Full authentication with the permanent identity.
    let permanent = format!("6{IMSI}@{REALM}");
    let mut st = PrivacyState::default();
    let t0 = std::time::Instant::now();
    let full = authenticate(port, &st, &permanent, result_ind);
    let t_full = t0.elapsed();
    assert!(full.accepted, "full auth:\n{}", hostapd.log_text());
    assert_eq!(
        full.mppe,
        full.msk.clone().unwrap()[..64],
        "MPPE keys = MSK"
    );
    let pseudonym = full
        .learned
        .pseudonym
        .clone()
        .expect("AT_NEXT_PSEUDONYM from hostapd");
    let reauth_id = full
        .learned
        .reauth_id
        .clone()
        .expect("AT_NEXT_REAUTH_ID from hostapd");
    assert!(pseudonym.starts_with('7'), "{pseudonym}");
    assert!(reauth_id.starts_with('8'), "{reauth_id}");
    let log = hostapd.log_text();
    assert!(
        log.contains("AT_NEXT_REAUTH_ID"),
        "hostapd issued a re-auth id"
    );
    st.after_full_auth(
        full.learned.clone(),
        full.keys.as_ref().unwrap(),
        Some(REALM),
    );
    let state_file = d.join("profile.privacy");
    st.save(&state_file).unwrap();

    // 2. Next run: the re-auth id first → hostapd runs fast re-authentication.
    let mut st = PrivacyState::load(&state_file).unwrap();
    let (choice, id) = st.select_identity(None, &permanent);
    assert_eq!(choice, supplicant::privacy::IdentityChoice::Reauth);
    let t1 = std::time::Instant::now();
    let re = authenticate(port, &st, &id, result_ind);
    let t_re = t1.elapsed();
    assert!(re.accepted, "fast re-auth:\n{}", hostapd.log_text());
    assert!(re.reauth_used, "hostapd used AKA'-Reauthentication");
    let re_msk = re.msk.clone().unwrap();
    assert_eq!(re.mppe, re_msk[..64], "MPPE keys = re-auth MSK");
    assert_ne!(re_msk, full.msk.clone().unwrap(), "a new MSK");
    assert!(
        hostapd
            .log_text()
            .contains("EAP-AKA: Using fast re-authentication")
    );

    // 3. A run that starts with the pseudonym (the re-auth state forgotten):
    //    hostapd recognises it and goes straight to the Challenge; MK identity = pseudonym NAI.
    let (choice, id) = st.select_identity(Some(eap::aka::message::IdReq::Fullauth), &permanent);
    assert_eq!(choice, supplicant::privacy::IdentityChoice::Pseudonym);
    assert_eq!(id, format!("{pseudonym}@{REALM}"));
    let ps = authenticate(port, &st, &id, result_ind);
    assert!(ps.accepted, "pseudonym run:\n{}", hostapd.log_text());
    assert!(!ps.reauth_used);
    assert_eq!(ps.mppe, ps.msk.clone().unwrap()[..64], "MPPE keys = MSK");
    assert!(
        hostapd
            .log_text()
            .contains(&format!("EAP-AKA: Pseudonym username '{pseudonym}"))
    );
    assert_eq!(full.result_ind_success, result_ind);
    assert_eq!(re.result_ind_success, result_ind);
    eprintln!("through hostapd 2.10: full auth {t_full:?}, fast re-auth {t_re:?}");
    drop(hostapd);
    drop(hss);
}
