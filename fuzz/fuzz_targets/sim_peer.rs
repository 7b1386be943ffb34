//! Fuzzes the supplicant's EAP-SIM peer (RFC 4186): arbitrary packet
//! sequences after a valid Start round, and mutations of a correctly signed
//! EAP-SIM/Challenge, with the USIM simulator answering AUTHENTICATE in the
//! GSM context.
#![no_main]

use eap::identity::{Imsi, MncLen};
use eap::secret::{K, Opc};
use eap::sim::attr::{AtMac, AtRand, AtVersionList};
use eap::sim::keys;
use eap::sim::message::{self, Message, SimPacket, Subtype};
use eap::umts::{Sqn, SubscriberKeys};
use libfuzzer_sys::fuzz_target;
use supplicant::peer::{Action, Methods, Peer, PeerConfig};
use supplicant::usim::Usim;
use supplicant::usim::files::encode_ef_imsi;
use supplicant::usim::sim::sqn::SqnArray;
use supplicant::usim::sim::{CardState, MemoryStore, Personalisation, Simulator};

const IMSI: &str = "001010123456789";
const NONCE: [u8; 16] = [0x77; 16];

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
    if let Action::GsmAuthenticate { rands } = peer.handle(p) {
        let t: Result<Vec<_>, _> = rands.iter().map(|r| usim.gsm_triplet(r)).collect();
        if let Ok(t) = t {
            let _ = peer.gsm_result(&t);
        }
    }
}

fn signed_challenge(peer: &Peer) -> Vec<u8> {
    let rands = [[0x5A; 16], [0x5B; 16]];
    let kcs: Vec<_> = rands.iter().map(|r| sub().gsm_triplet(*r).kc).collect();
    let k = keys::derive_keys(peer.identity().as_bytes(), &kcs, &NONCE, &[1], 1);
    let m = Message::new(Subtype::Challenge).with(AtRand::new(&rands)).with(AtMac::ZEROED);
    let mut p = SimPacket::request(3, m).encode().unwrap();
    message::sign_packet(&k.k_aut, &mut p, &NONCE).unwrap();
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let config = PeerConfig {
        imsi: Imsi::parse(IMSI).unwrap(),
        mnc_len: MncLen::Two,
        realm: None,
        methods: Methods::SIM,
        network_name: None,
    };
    let mut peer = Peer::new(config);
    peer.set_nonce_mt(NONCE);
    let mut usim = usim();
    feed(&mut peer, &mut usim, &[1, 1, 0, 5, 1]);
    if mode & 1 != 0 {
        let start = Message::new(Subtype::Start).with(AtVersionList { versions: vec![1] });
        feed(&mut peer, &mut usim, &SimPacket::request(2, start).encode().unwrap());
    }
    if mode & 2 != 0 {
        // Mutate a valid signed Challenge: XOR the input over it, then EAP-Success.
        let mut ch = signed_challenge(&peer);
        for (b, x) in ch.iter_mut().zip(rest) {
            *b ^= x;
        }
        feed(&mut peer, &mut usim, &ch);
        feed(&mut peer, &mut usim, &[3, 3, 0, 4]);
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
