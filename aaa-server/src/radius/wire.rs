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

/// Header and Message-Authenticator: what every response starts with.
const HEADER: usize = 20 + 18;

/// A response under construction.
pub struct Response {
    buf: Vec<u8>,
    /// An attribute value did not fit; the response must not be sent.
    overflow: bool,
}

impl Response {
    /// A response with `code` and the request's `identifier`, Message-Authenticator first.
    pub fn new(code: Code, identifier: u8) -> Self {
        Self::with_capacity(code, identifier, 320 - HEADER)
    }

    /// [`Response::new`] with room for `attributes` octets of attributes
    /// after Message-Authenticator (one allocation when they fit: say what
    /// the response will carry).
    pub fn with_capacity(code: Code, identifier: u8, attributes: usize) -> Self {
        let mut buf = Vec::with_capacity((HEADER + attributes).min(4096));
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

    /// Adds one attribute whose value `write` appends to the buffer (at
    /// most [`MAX_VALUE`] octets), without an intermediate copy.
    pub fn attr_with(&mut self, typ: u8, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        let at = self.buf.len();
        self.buf.push(typ);
        self.buf.push(0);
        write(&mut self.buf);
        let len = self.buf.len() - at;
        if len > MAX_VALUE + 2 {
            self.overflow = true;
            self.buf.truncate(at);
            return self;
        }
        self.buf[at + 1] = len as u8;
        self
    }

    /// At least the room `value_len` octets take when split over
    /// attributes as [`Response::split_attr`] does.
    pub fn split_len(value_len: usize) -> usize {
        value_len + 2 * value_len.div_ceil(MAX_VALUE).max(1)
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

/// Why a datagram is not a RADIUS packet (RFC 2865 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the 20-octet header, or than its Length field.
    #[error("truncated: {0} octets")]
    Truncated(usize),
    /// Length outside 20..=4096.
    #[error("Length {0} outside 20..=4096")]
    BadLength(usize),
    /// An attribute's Length is below 2 or runs past the packet.
    #[error("attribute at offset {0} has a bad Length")]
    BadAttribute(usize),
}

/// A received packet, checked once (header, Length, every attribute's
/// Length; octets past Length are padding, RFC 2865 §3), then read without
/// copying or allocating: a borrowed view in the style of smoltcp's `wire`.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    bytes: &'a [u8],
}

/// One attribute of a [`Request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Type.
    pub typ: u8,
    /// Value (Length − 2 octets).
    pub value: &'a [u8],
}

/// The attributes of a [`Request`], in order.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        // Lengths were checked by `Request::new_checked`; `get` keeps this
        // panic-free regardless.
        let (&typ, rest) = self.rest.split_first()?;
        let len = usize::from(*rest.first()?);
        let value = self.rest.get(2..len)?;
        self.rest = &self.rest[len..];
        Some(Attr { typ, value })
    }
}

impl<'a> Request<'a> {
    /// Checks `datagram` and returns the view of its first Length octets.
    pub fn new_checked(datagram: &'a [u8]) -> Result<Self, WireError> {
        let Some(len) = datagram.get(2..4) else {
            return Err(WireError::Truncated(datagram.len()));
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if !(20..=4096).contains(&len) {
            return Err(WireError::BadLength(len));
        }
        let Some(bytes) = datagram.get(..len) else {
            return Err(WireError::Truncated(datagram.len()));
        };
        let mut i = 20;
        while i < len {
            let l = bytes.get(i + 1).map_or(0, |l| usize::from(*l));
            if l < 2 || i + l > len {
                return Err(WireError::BadAttribute(i));
            }
            i += l;
        }
        Ok(Self { bytes })
    }

    /// The packet: exactly Length octets.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Code.
    pub fn code(&self) -> Code {
        Code::from(self.bytes[0])
    }

    /// Identifier.
    pub fn identifier(&self) -> u8 {
        self.bytes[1]
    }

    /// The Request Authenticator.
    pub fn authenticator(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.bytes[4..20]);
        a
    }

    /// Every attribute, in order.
    pub fn attrs(&self) -> Attrs<'a> {
        Attrs {
            rest: &self.bytes[20..],
        }
    }

    /// The values of every attribute of `typ`, in order.
    pub fn all(&self, typ: u8) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.attrs().filter(move |a| a.typ == typ).map(|a| a.value)
    }

    /// The value of the first attribute of `typ`.
    pub fn first(&self, typ: u8) -> Option<&'a [u8]> {
        self.all(typ).next()
    }

    /// The EAP packet: the EAP-Message attributes concatenated (RFC 3579
    /// §3.1), borrowed when there is one, `None` when there is none.
    pub fn eap_message(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        let mut parts = self.all(EAP_MESSAGE);
        let first = parts.next()?;
        let Some(second) = parts.next() else {
            return Some(std::borrow::Cow::Borrowed(first));
        };
        let mut v = Vec::with_capacity(4 * MAX_VALUE);
        v.extend_from_slice(first);
        v.extend_from_slice(second);
        for p in parts {
            v.extend_from_slice(p);
        }
        Some(std::borrow::Cow::Owned(v))
    }
}

/// EAP-Message (RFC 3579 §3.1).
pub const EAP_MESSAGE: u8 = 79;

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
    fn attr_with_writes_in_place_as_attr_does() {
        let mut a = Response::with_capacity(Code::AccessAccept, 1, 0);
        a.attr_with(26, |b| b.extend_from_slice(&[1, 2, 3]))
            .attr(1, b"u");
        let mut b = Response::new(Code::AccessAccept, 1);
        b.attr(26, &[1, 2, 3]).attr(1, b"u");
        assert_eq!(a.into_bytes(), b.into_bytes());
        let mut r = Response::new(Code::AccessAccept, 1);
        r.attr_with(26, |b| b.extend_from_slice(&[0; MAX_VALUE])); // fits
        assert!(r.into_bytes().is_some());
        let mut r = Response::new(Code::AccessAccept, 1);
        r.attr_with(26, |b| b.extend_from_slice(&[0; MAX_VALUE + 1]));
        assert!(r.into_bytes().is_none());
        assert_eq!(Response::split_len(0), 2);
        assert_eq!(Response::split_len(253), 255);
        assert_eq!(Response::split_len(254), 258);
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

    #[test]
    fn the_view_reads_what_the_radius_crate_decodes() {
        let mut p = Packet::new_with_identifier(Code::AccessRequest, b"s", 9);
        radius::core::rfc2865::add_user_name(&mut p, "user");
        radius::core::rfc2869::add_eap_message(&mut p, &[2; 600]);
        radius::core::rfc2865::add_proxy_state(&mut p, b"a");
        radius::core::rfc2865::add_proxy_state(&mut p, b"bb");
        let mut bytes = p.encode().unwrap();
        bytes.extend_from_slice(&[0xee; 7]); // padding past Length
        let v = Request::new_checked(&bytes).unwrap();
        assert_eq!(v.code(), Code::AccessRequest);
        assert_eq!(v.identifier(), 9);
        assert_eq!(&v.authenticator()[..], p.get_authenticator());
        assert_eq!(v.bytes().len(), bytes.len() - 7);
        assert_eq!(v.first(1), Some(&b"user"[..]));
        assert_eq!(v.all(33).collect::<Vec<_>>(), vec![&b"a"[..], &b"bb"[..]]);
        assert_eq!(v.eap_message().unwrap().as_ref(), &[2; 600][..]);
        assert_eq!(v.attrs().filter(|a| a.typ == EAP_MESSAGE).count(), 3);
        assert!(v.first(24).is_none());
        // One EAP-Message: borrowed, not copied.
        let mut q = Packet::new_with_identifier(Code::AccessRequest, b"s", 1);
        radius::core::rfc2869::add_eap_message(&mut q, &[2, 1, 0, 5, 1]);
        let qb = q.encode().unwrap();
        let v = Request::new_checked(&qb).unwrap();
        assert!(matches!(
            v.eap_message(),
            Some(std::borrow::Cow::Borrowed(_))
        ));
    }

    #[test]
    fn bad_lengths_are_errors_never_panics() {
        let mut ok = vec![1, 0, 0, 26];
        ok.extend_from_slice(&[0; 16]);
        ok.extend_from_slice(&[1, 6, b'u', b's', b'e', b'r']);
        assert!(Request::new_checked(&ok).is_ok());
        assert_eq!(
            Request::new_checked(&ok[..3]).unwrap_err(),
            WireError::Truncated(3)
        );
        assert_eq!(
            Request::new_checked(&ok[..25]).unwrap_err(),
            WireError::Truncated(25)
        );
        let mut b = ok.clone();
        b[3] = 19;
        assert_eq!(
            Request::new_checked(&b).unwrap_err(),
            WireError::BadLength(19)
        );
        let mut b = ok.clone();
        b[21] = 1;
        assert_eq!(
            Request::new_checked(&b).unwrap_err(),
            WireError::BadAttribute(20)
        );
        let mut b = ok.clone();
        b[21] = 7;
        assert_eq!(
            Request::new_checked(&b).unwrap_err(),
            WireError::BadAttribute(20)
        );
        // Every prefix and every byte value at every offset: no panic.
        for n in 0..ok.len() {
            let _ = Request::new_checked(&ok[..n]).map(|v| v.attrs().count());
        }
        for i in 0..ok.len() {
            for x in [0u8, 1, 2, 0x7f, 0xff] {
                let mut b = ok.clone();
                b[i] = x;
                if let Ok(v) = Request::new_checked(&b) {
                    let _ = (v.attrs().count(), v.eap_message(), v.first(1));
                }
            }
        }
    }
}
