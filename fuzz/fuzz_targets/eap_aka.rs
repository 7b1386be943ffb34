//! EAP packet + EAP-AKA/AKA' message decoder: never panics, and whatever
//! decodes re-encodes to exactly the bytes covered by the EAP Length field.
//! The AT_ENCR_DATA plaintext decoder is exercised on the same input too.
#![no_main]

use eap::aka::message::{
    decode_encrypted_attributes, encode_encrypted_attributes, mac_value_offset,
};
use eap::packet::{Packet, packet_length};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        let len = packet_length(data).expect("decoded packet has a valid length");
        let (enc, mac) = p
            .encode_with_mac_offset()
            .expect("decoded packet re-encodes");
        assert_eq!(enc, &data[..len], "encode(decode(b)) != b[..Length]");
        assert_eq!(Packet::decode(&enc).as_ref(), Ok(&p));
        if p.aka().is_some() {
            assert_eq!(mac_value_offset(data).expect("AKA packet framing"), mac);
        }
    }
    let _ = mac_value_offset(data);
    if let Ok(attrs) = decode_encrypted_attributes(data) {
        let enc = encode_encrypted_attributes(&attrs).expect("decoded attributes re-encode");
        assert_eq!(enc, data);
    }
});
