//! Property tests of the EAP / EAP-AKA / EAP-AKA' codec:
//! - generated packets: `decode(encode(p)) == p`;
//! - any bytes (random, or mutated valid packets): if they decode, they
//!   re-encode to exactly the bytes covered by the EAP Length, and the MAC
//!   offset finder agrees with the encoder;
//! - the AT_ENCR_DATA plaintext codec: round trip both ways, length a multiple of 16.

use eap::aka::attr::*;
use eap::aka::message::{
    Message, Method, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
    mac_value_offset,
};
use eap::packet::{Packet, TypeData, packet_length};
use eap::umts::{Autn, Auts, Res};
use proptest::prelude::*;

fn bytes16() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

fn reserved() -> impl Strategy<Value = u16> {
    // mostly zero, sometimes not: reserved fields are kept as received
    prop_oneof![3 => Just(0u16), 1 => any::<u16>()]
}

fn name(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Any attribute with a valid layout (placement rules not considered).
fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (bytes16(), reserved()).prop_map(|(rand, reserved)| AtRand { rand, reserved }.into()),
        (bytes16(), reserved()).prop_map(|(a, reserved)| AtAutn {
            autn: Autn(a),
            reserved
        }
        .into()),
        prop::collection::vec(any::<u8>(), 4..=16).prop_map(|r| AtRes {
            res: Res::new(&r).unwrap()
        }
        .into()),
        any::<[u8; 14]>().prop_map(|a| AtAuts { auts: Auts(a) }.into()),
        (1u8..=3).prop_map(|units| AtPadding { units }.into()),
        reserved().prop_map(|reserved| AtPermanentIdReq { reserved }.into()),
        (bytes16(), reserved()).prop_map(|(mac, reserved)| AtMac { mac, reserved }.into()),
        any::<u16>().prop_map(|v| AtNotification::from_value(v).into()),
        reserved().prop_map(|reserved| AtAnyIdReq { reserved }.into()),
        name(80).prop_map(|identity| AtIdentity { identity }.into()),
        reserved().prop_map(|reserved| AtFullauthIdReq { reserved }.into()),
        any::<u16>().prop_map(|counter| AtCounter { counter }.into()),
        reserved().prop_map(|reserved| AtCounterTooSmall { reserved }.into()),
        (bytes16(), reserved())
            .prop_map(|(nonce_s, reserved)| AtNonceS { nonce_s, reserved }.into()),
        any::<u16>().prop_map(|code| AtClientErrorCode { code }.into()),
        prop::collection::vec(any::<u8>(), 1..40)
            .prop_map(|network_name| AtKdfInput { network_name }.into()),
        any::<u16>().prop_map(|kdf| AtKdf { kdf }.into()),
        (bytes16(), reserved()).prop_map(|(iv, reserved)| AtIv { iv, reserved }.into()),
        (1usize..=4, reserved(), any::<u8>()).prop_map(|(blocks, reserved, b)| AtEncrData {
            data: vec![b; blocks * 16],
            reserved
        }
        .into()),
        name(60).prop_map(|pseudonym| AtNextPseudonym { pseudonym }.into()),
        name(60).prop_map(|reauth_id| AtNextReauthId { reauth_id }.into()),
        (
            prop_oneof![
                Just(Checkcode::Empty),
                any::<[u8; 20]>().prop_map(Checkcode::Sha1),
                any::<[u8; 32]>().prop_map(Checkcode::Sha256)
            ],
            reserved()
        )
            .prop_map(|(checkcode, reserved)| AtCheckcode {
                checkcode,
                reserved
            }
            .into()),
        reserved().prop_map(|reserved| AtResultInd { reserved }.into()),
        (any::<bool>(), 0u16..0x8000).prop_map(|(d, reserved)| AtBidding { d, reserved }.into()),
        (
            prop::sample::select(vec![128u8, 131, 137, 200, 255]),
            0usize..5
        )
            .prop_flat_map(|(t, units)| {
                prop::collection::vec(any::<u8>(), units * 4 + 2).prop_map(move |value| {
                    AtUnknown {
                        attr_type: t,
                        value,
                    }
                    .into()
                })
            }),
    ]
}

fn subtype() -> impl Strategy<Value = Subtype> {
    prop::sample::select(vec![
        Subtype::Challenge,
        Subtype::AuthenticationReject,
        Subtype::SynchronizationFailure,
        Subtype::Identity,
        Subtype::Notification,
        Subtype::Reauthentication,
        Subtype::ClientError,
    ])
}

/// Drops what the decoder would refuse for `method`: encrypted-only
/// attributes, duplicates (AT_KDF may repeat), AT_KDF/AT_KDF_INPUT in
/// EAP-AKA, and a checkcode of the other method's size.
fn legalise(method: Method, attrs: Vec<Attribute>) -> Vec<Attribute> {
    let mut seen = std::collections::HashSet::new();
    attrs
        .into_iter()
        .filter(|a| {
            let t = a.attr_type();
            if t.is_encrypted_only() {
                return false;
            }
            if method == Method::Aka && (t == AttrType::AT_KDF || t == AttrType::AT_KDF_INPUT) {
                return false;
            }
            if let Attribute::Checkcode(c) = a {
                let ok = matches!(
                    (method, c.checkcode),
                    (_, Checkcode::Empty)
                        | (Method::Aka, Checkcode::Sha1(_))
                        | (Method::AkaPrime, Checkcode::Sha256(_))
                );
                if !ok {
                    return false;
                }
            }
            t.name().is_none() || t == AttrType::AT_KDF || seen.insert(t)
        })
        .collect()
}

fn aka_packet() -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        subtype(),
        reserved(),
        prop::collection::vec(attribute(), 0..12),
    )
        .prop_map(|(req, prime, identifier, subtype, reserved, attrs)| {
            let method = if prime { Method::AkaPrime } else { Method::Aka };
            let m = Message {
                subtype,
                reserved,
                attributes: legalise(method, attrs),
            };
            let data = TypeData::from_aka(method, m);
            if req {
                Packet::Request { identifier, data }
            } else {
                Packet::Response { identifier, data }
            }
        })
}

fn any_packet() -> impl Strategy<Value = Packet> {
    let other = (
        any::<u8>(),
        prop_oneof![
            name(40).prop_map(TypeData::Identity),
            name(40).prop_map(TypeData::Notification),
            prop::collection::vec(any::<u8>(), 1..5).prop_map(TypeData::Nak),
            (
                any::<u8>().prop_filter("interpreted type", |t| !matches!(t, 1 | 2 | 3 | 23 | 50)),
                name(40)
            )
                .prop_map(|(t, b)| TypeData::Unknown(t, b)),
        ],
        0u8..4,
    )
        .prop_map(|(identifier, data, code)| match code {
            0 => Packet::Request { identifier, data },
            1 => Packet::Response { identifier, data },
            2 => Packet::Success { identifier },
            _ => Packet::Failure { identifier },
        });
    prop_oneof![3 => aka_packet(), 1 => other]
}

fn encrypted_attributes() -> impl Strategy<Value = Vec<Attribute>> {
    prop::collection::vec(
        prop_oneof![
            any::<u16>().prop_map(|counter| AtCounter { counter }.into()),
            reserved().prop_map(|reserved| AtCounterTooSmall { reserved }.into()),
            (bytes16(), reserved())
                .prop_map(|(nonce_s, reserved)| AtNonceS { nonce_s, reserved }.into()),
            name(60).prop_map(|pseudonym| AtNextPseudonym { pseudonym }.into()),
            name(60).prop_map(|reauth_id| AtNextReauthId { reauth_id }.into()),
            name(10).prop_map(|mut value| {
                value.resize(value.len() / 4 * 4 + 2, 0);
                AtUnknown {
                    attr_type: 140,
                    value,
                }
                .into()
            }),
        ],
        0..6,
    )
    .prop_map(|attrs| {
        let mut seen = std::collections::HashSet::new();
        attrs
            .into_iter()
            .filter(|a: &Attribute| {
                let t = a.attr_type();
                t.name().is_none() || seen.insert(t)
            })
            .collect()
    })
}

/// If `b` decodes, it re-encodes to `b[..Length]`, decodes to the same
/// packet again, and the MAC offset finder agrees with the encoder.
fn check_bytes(b: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(p) = Packet::decode(b) else {
        return Ok(false);
    };
    let len = packet_length(b).unwrap();
    let (enc, mac) = p.encode_with_mac_offset().unwrap();
    prop_assert_eq!(&enc[..], &b[..len]);
    prop_assert_eq!(Packet::decode(&enc).unwrap(), p.clone());
    if p.aka().is_some() {
        prop_assert_eq!(mac_value_offset(b).unwrap(), mac);
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_packet_round_trips(p in any_packet()) {
        let (b, mac) = p.encode_with_mac_offset().unwrap();
        prop_assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len());
        let d = Packet::decode(&b).unwrap();
        prop_assert_eq!(&d, &p);
        prop_assert_eq!(mac_value_offset(&b).ok().flatten(), mac);
        if let Some(off) = mac {
            prop_assert_eq!(b[off - 4], 11);
        }
        // trailing link-layer padding changes nothing
        let mut padded = b.clone();
        padded.extend_from_slice(&[0xa5; 7]);
        prop_assert_eq!(Packet::decode(&padded).unwrap(), p);
    }

    #[test]
    fn random_bytes_that_decode_reencode(b in prop::collection::vec(any::<u8>(), 0..300)) {
        check_bytes(&b)?;
    }

    #[test]
    fn random_aka_bodies_that_decode_reencode(
        code in 1u8..=2,
        prime in any::<bool>(),
        subtype in prop::sample::select(vec![1u8, 2, 4, 5, 12, 13, 14]),
        attrs in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // a valid header around random attribute bytes reaches the attribute parser
        let mut b = vec![code, 1, 0, 0, if prime { 50 } else { 23 }, subtype, 0, 0];
        b.extend_from_slice(&attrs);
        let len = u16::try_from(b.len()).unwrap();
        b[2..4].copy_from_slice(&len.to_be_bytes());
        check_bytes(&b)?;
    }

    #[test]
    fn mutated_valid_packets(
        p in aka_packet(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut b = p.encode().unwrap();
        for (i, x) in &flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        if truncate {
            b.truncate(cut.index(b.len() + 1));
        }
        check_bytes(&b)?;
    }

    #[test]
    fn encrypted_attributes_round_trip(attrs in encrypted_attributes()) {
        let p = encode_encrypted_attributes(&attrs).unwrap();
        prop_assert_eq!(p.len() % 16, 0);
        let back = decode_encrypted_attributes(&p).unwrap();
        let without_padding: Vec<_> = back
            .iter()
            .filter(|a| !matches!(a, Attribute::Padding(_)))
            .cloned()
            .collect();
        prop_assert_eq!(&without_padding, &attrs);
        prop_assert_eq!(encode_encrypted_attributes(&back).unwrap(), p);
    }

    #[test]
    fn random_encrypted_plaintext(b in prop::collection::vec(any::<u8>(), 0..128)) {
        let mut b = b;
        b.truncate(b.len() / 16 * 16);
        if let Ok(attrs) = decode_encrypted_attributes(&b) {
            prop_assert_eq!(encode_encrypted_attributes(&attrs).unwrap(), b);
        }
    }
}

/// The mutation property is not vacuous: a decent share of mutated packets
/// still decode (and so exercise the re-encoding check).
#[test]
fn mutations_reach_the_decoder() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut decoded = 0;
    for _ in 0..500 {
        let p = aka_packet().new_tree(&mut runner).unwrap().current();
        let mut b = p.encode().unwrap();
        let i = (b.len() * 7 / 11).max(8).min(b.len() - 1);
        b[i] ^= 0x01;
        if check_bytes(&b).unwrap() {
            decoded += 1;
        }
    }
    assert!(decoded > 50, "only {decoded}/500 mutated packets decoded");
}
