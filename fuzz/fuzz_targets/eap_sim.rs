//! EAP-SIM packet decoder (EAP Type 18, RFC 4186): never panics, whatever
//! decodes re-encodes to exactly the bytes covered by the EAP Length and
//! decodes again to the same packet (parse → encode → parse), and the AT_MAC
//! finder agrees with the encoder. The same input also goes through the
//! single-attribute decoder and, as a bare Type-Data, the message decoder.
#![no_main]

use eap::packet::packet_length;
use eap::sim::attr::decode_attribute;
use eap::sim::message::{Message, SimPacket, mac_value_offset};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = SimPacket::decode(data) {
        let len = packet_length(data).expect("decoded packet has a valid length");
        let (enc, mac) = p
            .encode_with_mac_offset()
            .expect("decoded packet re-encodes");
        assert_eq!(enc, &data[..len], "encode(decode(b)) != b[..Length]");
        assert_eq!(SimPacket::decode(&enc).as_ref(), Ok(&p));
        assert_eq!(mac_value_offset(data).expect("SIM packet framing"), mac);
    }
    let _ = mac_value_offset(data);
    if let Ok(m) = Message::decode(data) {
        let mut enc = Vec::new();
        m.validate().expect("decoded message validates");
        m.encode_into(&mut enc).expect("decoded message re-encodes");
        assert_eq!(enc, data);
        assert_eq!(Message::decode(&enc).as_ref(), Ok(&m));
    }
    if let Ok((a, rest)) = decode_attribute(data) {
        let enc = a.encode().expect("decoded attribute re-encodes");
        assert_eq!(enc, &data[..data.len() - rest.len()]);
    }
});
