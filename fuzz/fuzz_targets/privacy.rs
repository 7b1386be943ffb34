//! Fuzzes the identity-privacy building blocks: resolving arbitrary
//! pseudonyms / re-auth identities on the server, the server's check of a
//! re-authentication response, the peer's processing of a
//! re-authentication request (arbitrary bytes and mutations of a valid,
//! signed one), protected result notifications on both sides, and
//! IMSI-privacy decryption.
#![no_main]

use aaa_server::privacy::{
    KeySet, Policy, PrivacyKey, ReauthContext, ReauthExchange, ReauthRandom, ReauthStart,
    check_reauth_response, resolve_pseudonym, start_reauth,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::derive_aka;
use eap::secret::{Ck, Ik};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use supplicant::privacy::{LearnedIdentities, PrivacyState, process_reauth_request};

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

struct Fixture {
    keys: KeySet,
    reauth_id: String,
    valid_request: Vec<u8>,
    peer: supplicant::privacy::PeerReauth,
    imsi_key: aaa_server::privacy::ImsiPrivacyKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = KeySet::new(PrivacyKey::new(1, [7; 32]), vec![]).unwrap();
        let full = derive_aka(b"0001010000000001@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let ctx = ReauthContext::after_full_auth("0001010000000001", &full, 0, 0, 1 << 40).unwrap();
        let reauth_id = ctx.seal(&keys, REALM, [3; 16]).unwrap();
        let r = ReauthRandom {
            nonce_s: [4; 16],
            iv: [5; 16],
            next_id_iv: [6; 16],
        };
        let valid_request = match start_reauth(
            &keys,
            &Policy::default(),
            ctx,
            ReauthExchange {
                identity: reauth_id.as_bytes(),
                identifier: 9,
                checkcode: None,
            },
            REALM,
            r,
        )
        .unwrap()
        {
            ReauthStart::Request { packet, .. } => packet,
            ReauthStart::FullAuth { .. } => unreachable!(),
        };
        let mut st = PrivacyState::default();
        st.after_full_auth(
            LearnedIdentities {
                pseudonym: None,
                reauth_id: Some(reauth_id.clone()),
            },
            &full,
            None,
        );
        let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
        let imsi_key =
            aaa_server::privacy::ImsiPrivacyKey::from_pem(&rsa.private_key_to_pem().unwrap())
                .unwrap();
        Fixture {
            keys,
            reauth_id,
            valid_request,
            peer: st.reauth.unwrap(),
            imsi_key,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 7 {
        0 => {
            let _ = resolve_pseudonym(&f.keys, rest);
            let _ = ReauthContext::open(&f.keys, rest, 1);
        }
        1 => {
            let ctx = ReauthContext::open(&f.keys, f.reauth_id.as_bytes(), 1).unwrap();
            let r = ReauthRandom {
                nonce_s: [4; 16],
                iv: [5; 16],
                next_id_iv: [6; 16],
            };
            // After an identity round: the response's AT_CHECKCODE is checked too.
            let mut checkcode = CheckcodeHash::new(ctx.method());
            checkcode.update(&[1, 8, 0, 12, 50, 5, 0, 0, 13, 1, 0, 0]);
            if let Ok(ReauthStart::Request { pending, .. }) = start_reauth(
                &f.keys,
                &Policy::default(),
                ctx,
                ReauthExchange {
                    identity: f.reauth_id.as_bytes(),
                    identifier: 9,
                    checkcode: Some(&checkcode),
                },
                REALM,
                r,
            ) {
                let _ = check_reauth_response(pending, rest);
            }
        }
        2 => {
            let _ = process_reauth_request(&f.peer, rest, [0; 16], true, None);
        }
        3 => {
            // Mutate the valid signed request: flip bytes at positions from the input.
            let mut p = f.valid_request.clone();
            for pair in rest.chunks(2) {
                if let [pos, val] = pair {
                    let i = usize::from(*pos) % p.len();
                    p[i] ^= val;
                }
            }
            let _ = process_reauth_request(&f.peer, &p, [0; 16], false, None);
        }
        5 => {
            // Peer: a Notification after a re-authentication with counter 1.
            let _ = supplicant::privacy::process_notification(
                eap::aka::keys::Method::Aka,
                &f.peer.k_aut,
                &f.peer.k_encr,
                Some(1),
                rest,
                [0; 16],
            );
        }
        6 => {
            // Server: the peer's answer to a result notification.
            let _ = aaa_server::privacy::check_notification_response(
                eap::aka::keys::Method::Aka,
                rest.first().copied().unwrap_or(0),
                &f.peer.k_aut,
                Some((&f.peer.k_encr, 1)),
                rest,
            );
        }
        _ => {
            let mut id = vec![0u8];
            id.extend_from_slice(rest);
            let _ = f.imsi_key.decrypt_identity(&id);
        }
    }
});
