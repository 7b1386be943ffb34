//! Property tests of the EAP-SIM codec (the EAP-AKA twin is codec_props.rs):
//! - generated EAP-SIM packets: `decode(encode(p)) == p`, AT_MAC found where
//!   the encoder put it;
//! - any bytes (random, random attributes under a valid Type 18 header, or
//!   mutated valid packets): if they decode, they re-encode to exactly the
//!   bytes covered by the EAP Length;
//! - the attributes EAP-SIM shares with EAP-AKA encode to the same octets in
//!   both codecs.

use eap::aka::attr as aka;
use eap::packet::packet_length;
use eap::sim::attr::*;
use eap::sim::message::{Message, SimPacket, Subtype, mac_value_offset};
use proptest::prelude::*;

fn bytes16() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

fn reserved() -> impl Strategy<Value = u16> {
    prop_oneof![3 => Just(0u16), 1 => any::<u16>()]
}

fn name(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// The attributes EAP-SIM and EAP-AKA share, valid layout.
fn shared_attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
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
        (bytes16(), reserved()).prop_map(|(iv, reserved)| AtIv { iv, reserved }.into()),
        (1usize..=4, reserved(), any::<u8>()).prop_map(|(blocks, reserved, b)| AtEncrData {
            data: vec![b; blocks * 16],
            reserved
        }
        .into()),
        name(60).prop_map(|pseudonym| AtNextPseudonym { pseudonym }.into()),
        name(60).prop_map(|reauth_id| AtNextReauthId { reauth_id }.into()),
        reserved().prop_map(|reserved| AtResultInd { reserved }.into()),
    ]
}

/// Any EAP-SIM attribute with a valid layout (placement rules not considered).
fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        3 => shared_attribute(),
        1 => (prop::collection::vec(bytes16(), 2..=3), reserved())
            .prop_map(|(rands, reserved)| AtRand { rands, reserved }.into()),
        1 => (bytes16(), reserved())
            .prop_map(|(nonce_mt, reserved)| AtNonceMt { nonce_mt, reserved }.into()),
        1 => prop::collection::vec(any::<u16>(), 0..6)
            .prop_map(|versions| AtVersionList { versions }.into()),
        1 => any::<u16>().prop_map(|version| AtSelectedVersion { version }.into()),
        // unknown skippable, including EAP-AKA's AT_CHECKCODE and AT_BIDDING
        1 => (
            prop::sample::select(vec![128u8, 131, 134, 136, 137, 200, 255]),
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
        Subtype::Start,
        Subtype::Challenge,
        Subtype::Notification,
        Subtype::Reauthentication,
        Subtype::ClientError,
    ])
}

/// Drops what the decoder would refuse: encrypted-only attributes in the
/// clear and repeated known attributes.
fn legalise(attrs: Vec<Attribute>) -> Vec<Attribute> {
    let mut seen = std::collections::HashSet::new();
    attrs
        .into_iter()
        .filter(|a| {
            let t = a.attr_type();
            !t.is_encrypted_only() && (!is_sim_type(t) || seen.insert(t))
        })
        .collect()
}

fn sim_packet() -> impl Strategy<Value = SimPacket> {
    (
        any::<bool>(),
        any::<u8>(),
        subtype(),
        reserved(),
        prop::collection::vec(attribute(), 0..12),
    )
        .prop_map(|(req, identifier, subtype, reserved, attrs)| {
            let message = Message {
                subtype,
                reserved,
                attributes: legalise(attrs),
            };
            if req {
                SimPacket::request(identifier, message)
            } else {
                SimPacket::response(identifier, message)
            }
        })
}

/// If `b` decodes, it re-encodes to `b[..Length]`, decodes to the same
/// packet again, and the MAC offset finder agrees with the encoder.
fn check_bytes(b: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(p) = SimPacket::decode(b) else {
        return Ok(false);
    };
    let len = packet_length(b).unwrap();
    let (enc, mac) = p.encode_with_mac_offset().unwrap();
    prop_assert_eq!(&enc[..], &b[..len]);
    prop_assert_eq!(SimPacket::decode(&enc).unwrap(), p);
    prop_assert_eq!(mac_value_offset(b).unwrap(), mac);
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_packet_round_trips(p in sim_packet()) {
        let (b, mac) = p.encode_with_mac_offset().unwrap();
        prop_assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len());
        prop_assert_eq!(b[4], 18);
        prop_assert_eq!(SimPacket::decode(&b).unwrap(), p.clone());
        prop_assert_eq!(mac_value_offset(&b).unwrap(), mac);
        if let Some(off) = mac {
            prop_assert_eq!(b[off - 4], 11);
        }
        let mut padded = b.clone();
        padded.extend_from_slice(&[0xa5; 7]);
        prop_assert_eq!(SimPacket::decode(&padded).unwrap(), p);
    }

    #[test]
    fn shared_attributes_encode_alike(a in shared_attribute()) {
        let sim = a.encode().unwrap();
        let (aka_attr, rest) = aka::decode_attribute(&sim).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(aka_attr.encode().unwrap(), sim.clone());
        let (back, _) = decode_attribute(&sim).unwrap();
        prop_assert_eq!(back, a);
    }

    #[test]
    fn random_bytes_that_decode_reencode(b in prop::collection::vec(any::<u8>(), 0..300)) {
        check_bytes(&b)?;
    }

    #[test]
    fn random_sim_bodies_that_decode_reencode(
        code in 1u8..=2,
        subtype in 10u8..=14,
        attrs in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut b = vec![code, 1, 0, 0, 18, subtype, 0, 0];
        b.extend_from_slice(&attrs);
        let len = u16::try_from(b.len()).unwrap();
        b[2..4].copy_from_slice(&len.to_be_bytes());
        check_bytes(&b)?;
    }

    #[test]
    fn mutated_valid_packets(
        p in sim_packet(),
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
}

/// The mutation property is not vacuous: many mutated packets still decode.
#[test]
fn mutations_reach_the_decoder() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut decoded = 0;
    for _ in 0..500 {
        let p = sim_packet().new_tree(&mut runner).unwrap().current();
        let mut b = p.encode().unwrap();
        let i = (b.len() * 7 / 11).max(8).min(b.len() - 1);
        b[i] ^= 0x01;
        if check_bytes(&b).unwrap() {
            decoded += 1;
        }
    }
    assert!(decoded > 50, "only {decoded}/500 mutated packets decoded");
}
