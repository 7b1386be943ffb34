//! EAP-AKA / EAP-AKA' crypto benchmarks: a full AKA' key derivation (CK'/IK'
//! then PRF' keys), the EAP-AKA derivation for comparison, and AT_MAC
//! verification of an AKA'-Challenge packet — over bytes alone, decode alone,
//! and decode + AT_MAC verify as a server or peer does it.
//!
//! Run: `cargo bench -p eap --bench aka`.

use criterion::{Criterion, criterion_group, criterion_main};
use eap::aka::attr::{AtAutn, AtKdf, AtKdfInput, AtMac, AtRand};
use eap::aka::message::{Message, Subtype, mac_value_offset};
use eap::aka::{keys, mac};
use eap::packet::{Packet, TypeData};
use eap::secret::{Ck, Ik};
use eap::umts::Autn;
use std::hint::black_box;

/// RFC 5448 test case 1 inputs.
const CK: [u8; 16] = [
    0x53, 0x49, 0xfb, 0xe0, 0x98, 0x64, 0x9f, 0x94, 0x8f, 0x5d, 0x2e, 0x97, 0x3a, 0x81, 0xc0, 0x0f,
];
const IK: [u8; 16] = [
    0x97, 0x44, 0x87, 0x1a, 0xd3, 0x2b, 0xf9, 0xbb, 0xd1, 0xdd, 0x5c, 0xe5, 0x4e, 0x3e, 0x2e, 0x5a,
];
const SQN_XOR_AK: [u8; 6] = [0xbb, 0x52, 0xe9, 0x1c, 0x74, 0x7a];
const IDENTITY: &[u8] = b"6001010123456789@wlan.mnc001.mcc001.3gppnetwork.org";

/// An EAP-Request/AKA'-Challenge (AT_RAND, AT_AUTN, AT_KDF_INPUT "WLAN",
/// AT_KDF, AT_MAC) encoded by the codec, and its AT_MAC offset.
fn aka_prime_challenge() -> (Vec<u8>, usize) {
    let m = Message::new(Subtype::Challenge)
        .with(AtRand::new([0x81; 16]))
        .with(AtAutn::new(Autn([0xbb; 16])))
        .with(AtKdfInput {
            network_name: b"WLAN".to_vec(),
        })
        .with(AtKdf::CK_IK_PRIME)
        .with(AtMac::ZEROED);
    let p = Packet::Request {
        identifier: 0x2a,
        data: TypeData::from_aka(keys::Method::AkaPrime, m),
    };
    let (bytes, off) = p.encode_with_mac_offset().unwrap();
    (bytes, off.unwrap())
}

fn key_derivation(c: &mut Criterion) {
    let ck = Ck::new(CK);
    let ik = Ik::new(IK);
    c.bench_function("aka_prime_full_key_derivation", |b| {
        b.iter(|| {
            let (ck_p, ik_p) =
                keys::ck_ik_prime(black_box(&ck), black_box(&ik), b"WLAN", &SQN_XOR_AK).unwrap();
            keys::derive_aka_prime(black_box(IDENTITY), &ck_p, &ik_p)
        })
    });
    c.bench_function("aka_full_key_derivation", |b| {
        b.iter(|| keys::derive_aka(black_box(IDENTITY), black_box(&ik), black_box(&ck)))
    });
}

fn at_mac(c: &mut Criterion) {
    let (ck_p, ik_p) = keys::ck_ik_prime(&Ck::new(CK), &Ik::new(IK), b"WLAN", &SQN_XOR_AK).unwrap();
    let k = keys::derive_aka_prime(IDENTITY, &ck_p, &ik_p);
    let (mut packet, off) = aka_prime_challenge();
    mac::sign(&k.k_aut, &mut packet, off, mac::NO_EXTRA).unwrap();
    c.bench_function("aka_prime_challenge_verify_at_mac_bytes", |b| {
        b.iter(|| {
            assert!(mac::verify(
                &k.k_aut,
                black_box(&packet),
                off,
                mac::NO_EXTRA
            ))
        })
    });
    c.bench_function("aka_prime_challenge_decode", |b| {
        b.iter(|| Packet::decode(black_box(&packet)).unwrap())
    });
    c.bench_function("aka_prime_challenge_decode_and_verify_at_mac", |b| {
        b.iter(|| {
            let p = Packet::decode(black_box(&packet)).unwrap();
            assert!(p.aka().is_some_and(|(_, m)| m.mac().is_some()));
            let off = mac_value_offset(&packet).unwrap().unwrap();
            assert!(mac::verify(&k.k_aut, &packet, off, mac::NO_EXTRA));
            p
        })
    });
}

criterion_group!(benches, key_derivation, at_mac);
criterion_main!(benches);
