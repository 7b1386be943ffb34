//! Fuzzes the supplicant's EAP-AKA/AKA' peer: arbitrary packet sequences,
//! and mutations of a correctly signed AKA'-Challenge, with the USIM
//! simulator answering AUTHENTICATE.
#![no_main]

use eap::aka::attr::{AtAutn, AtKdf, AtKdfInput, AtMac, AtRand};
use eap::aka::keys::{self, Method};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{self, Message, Subtype};
use eap::identity::{Imsi, MncLen};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use libfuzzer_sys::fuzz_target;
use supplicant::peer::{Action, Methods, Peer, PeerConfig};
use supplicant::usim::Usim;
use supplicant::usim::files::encode_ef_imsi;
use supplicant::usim::sim::sqn::SqnArray;
use supplicant::usim::sim::{CardState, MemoryStore, Personalisation, Simulator};

const IMSI: &str = "001010123456789";

fn sub() -> SubscriberKeys {
    SubscriberKeys::new(K::new([0x46; 16]), Opc::new([0xcd; 16]))
}

fn usim() -> Usim<Simulator<MemoryStore>> {
    let perso = Personalisation {
        imsi: IMSI.into(),
        ef_imsi: encode_ef_imsi(IMSI).unwrap(),
        mnc_len: 2,
        keys: sub(),
        pin: None,
    };
    let state = CardState { sqn: SqnArray::starting_at(Sqn::from_seq_ind(1, 0)), pin_tries_left: 3 };
    let mut u = Usim::new(Simulator::new(perso, state, MemoryStore::default()));
    u.select_usim().unwrap();
    u
}

fn feed(peer: &mut Peer, usim: &mut Usim<Simulator<MemoryStore>>, p: &[u8]) {
    if let Action::Authenticate { rand, autn } = peer.handle(p) {
        if let Ok(r) = usim.authenticate(&rand, &autn) {
            let _ = peer.usim_result(r);
        }
    }
}

fn signed_challenge(peer: &Peer) -> Vec<u8> {
    let av = sub().generate_vector(Sqn::from_seq_ind(2, 1), Amf([0x80, 0]), [0x5A; 16]);
    let keys = keys::derive_aka_prime_from_ck_ik(peer.identity().as_bytes(), &av.ck, &av.ik, b"WLAN", &av.autn.sqn_xor_ak()).unwrap();
    let m = Message::new(Subtype::Challenge)
        .with(AtRand::new(av.rand))
        .with(AtAutn::new(av.autn))
        .with(AtKdfInput { network_name: b"WLAN".to_vec() })
        .with(AtKdf { kdf: 1 })
        .with(AtMac::ZEROED);
    let mut p = Packet::Request { identifier: 2, data: TypeData::AkaPrime(m) }.encode().unwrap();
    message::sign_packet(&keys.k_aut, &mut p, NO_EXTRA).unwrap();
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let methods = match mode & 3 {
        0 => Methods::only(Method::Aka),
        1 => Methods::only(Method::AkaPrime),
        _ => Methods::BOTH,
    };
    let config = PeerConfig {
        imsi: Imsi::parse(IMSI).unwrap(),
        mnc_len: MncLen::Two,
        realm: None,
        methods,
        network_name: (mode & 4 != 0).then(|| b"WLAN".to_vec()),
    };
    let mut peer = Peer::new(config);
    let mut usim = usim();
    feed(&mut peer, &mut usim, &[1, 1, 0, 5, 1]);
    if mode & 8 != 0 {
        // Mutate a valid signed Challenge: XOR the input over it, then feed the rest.
        let mut ch = signed_challenge(&peer);
        for (b, x) in ch.iter_mut().zip(rest) {
            *b ^= x;
        }
        feed(&mut peer, &mut usim, &ch);
        feed(&mut peer, &mut usim, &[3, 2, 0, 4]);
        return;
    }
    // Packets separated by a 1-byte length prefix.
    let mut pos = rest;
    while let Some((&n, tail)) = pos.split_first() {
        let n = usize::from(n).min(tail.len());
        feed(&mut peer, &mut usim, &tail[..n]);
        pos = &tail[n..];
    }
});
