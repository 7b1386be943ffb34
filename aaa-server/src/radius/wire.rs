//! Responses written straight into wire format (RFC 2865 §3): the header,
//! the zeroed Message-Authenticator as the first attribute (BlastRADIUS),
//! then the attributes, in one buffer. [`super::crypto::finish_response`]
//! then fills in both authenticators. This replaces building a `radius`
//! `Packet` per response, whose `encode` allocates per attribute and
//! computes a Response Authenticator that would be overwritten anyway.

use super::crypto::MESSAGE_AUTHENTICATOR;
use radius::core::code::Code;

/// Largest attribute value (RFC 2865 §5: Length is one octet, including 2 header octets).
pub const MAX_VALUE: usize = 253;

/// A response under construction.
pub struct Response {
    buf: Vec<u8>,
    /// An attribute value did not fit; the response must not be sent.
    overflow: bool,
}

impl Response {
    /// A response with `code` and the request's `identifier`, Message-Authenticator first.
    pub fn new(code: Code, identifier: u8) -> Self {
        let mut buf = Vec::with_capacity(320);
        buf.extend_from_slice(&[code as u8, identifier, 0, 0]);
        buf.extend_from_slice(&[0; 16]);
        buf.extend_from_slice(&[MESSAGE_AUTHENTICATOR, 18]);
        buf.extend_from_slice(&[0; 16]);
        Self {
            buf,
            overflow: false,
        }
    }

    /// Adds one attribute (`value` at most [`MAX_VALUE`] octets).
    pub fn attr(&mut self, typ: u8, value: &[u8]) -> &mut Self {
        if value.len() > MAX_VALUE {
            self.overflow = true;
            return self;
        }
        self.buf.push(typ);
        self.buf.push((value.len() + 2) as u8);
        self.buf.extend_from_slice(value);
        self
    }

    /// Adds `value` split over as many attributes of `typ` as needed
    /// (EAP-Message, RFC 3579 §3.1).
    pub fn split_attr(&mut self, typ: u8, value: &[u8]) -> &mut Self {
        for chunk in value.chunks(MAX_VALUE) {
            self.attr(typ, chunk);
        }
        self
    }

    /// The encoded packet with Length set (authenticators still to be
    /// filled in), or `None` when it exceeds 4096 octets or a value overflowed.
    pub fn into_bytes(mut self) -> Option<Vec<u8>> {
        if self.overflow || self.buf.len() > 4096 {
            return None;
        }
        let len = (self.buf.len() as u16).to_be_bytes();
        self.buf[2..4].copy_from_slice(&len);
        Some(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use radius::core::packet::Packet;

    #[test]
    fn layout_matches_the_radius_crate_decoder() {
        let mut r = Response::new(Code::AccessChallenge, 42);
        let eap = vec![0xaa; 600];
        r.split_attr(79, &eap)
            .attr(24, &[1; 16])
            .attr(27, &30u32.to_be_bytes());
        let mut bytes = r.into_bytes().unwrap();
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            bytes.len()
        );
        assert!(super::super::crypto::finish_response(
            &mut bytes, &[3; 16], b"s"
        ));
        let p = Packet::decode(&bytes, b"s").unwrap();
        assert_eq!(p.get_code(), Code::AccessChallenge);
        assert_eq!(p.get_identifier(), 42);
        assert_eq!(radius::core::rfc2869::lookup_eap_message(&p).unwrap(), eap);
        assert_eq!(p.lookup_all(79).len(), 3);
        assert_eq!(
            bytes[20], MESSAGE_AUTHENTICATOR,
            "Message-Authenticator first"
        );
        assert!(super::super::crypto::check_response(&bytes, &[3; 16], b"s"));
    }

    #[test]
    fn oversized_values_and_packets_are_refused() {
        let mut r = Response::new(Code::AccessAccept, 1);
        r.attr(1, &[0; 254]);
        assert!(r.into_bytes().is_none());
        let mut r = Response::new(Code::AccessAccept, 1);
        r.split_attr(79, &[0; 4100]);
        assert!(r.into_bytes().is_none());
    }
}
