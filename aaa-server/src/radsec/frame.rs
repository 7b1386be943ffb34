//! RADIUS/TCP framing (RFC 6613, used by RadSec, RFC 6614): a
//! stream of RADIUS packets, each delimited by its own Length field. Sans-IO:
//! the shell reads the four header octets, asks [`packet_length`] how many
//! octets the packet has, and reads the rest.

use crate::radius::Listener;

/// The RADIUS header: Code, Identifier, Length (RFC 2865 §3).
pub const HEADER: usize = 4;

/// The smallest RADIUS packet: the header and the Authenticator.
pub const MIN_PACKET: usize = 20;

/// Why the stream is not RADIUS/TCP: the connection must be closed, since
/// the next packet's start is unknown (RFC 6613).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Length below 20.
    #[error("Length {0} is below the 20-octet minimum")]
    TooShort(usize),
    /// Length above the configured maximum.
    #[error("Length {length} exceeds max_packet_length {max}")]
    TooLong {
        /// The packet's Length field.
        length: usize,
        /// `[radsec] max_packet_length`.
        max: usize,
    },
}

/// The whole packet's length from its first four octets.
///
/// # Errors
/// Length below [`MIN_PACKET`] or above `max`.
pub fn packet_length(head: &[u8; HEADER], max: usize) -> Result<usize, FrameError> {
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    if length < MIN_PACKET {
        Err(FrameError::TooShort(length))
    } else if length > max {
        Err(FrameError::TooLong { length, max })
    } else {
        Ok(length)
    }
}

/// One connection carries authentication and accounting (RFC 6614 §2.1):
/// Accounting-Request (Code 4) goes to the accounting side, the rest —
/// Access-Request, and Status-Server, answered with Access-Accept
/// (RFC 5997 §3) — to authentication.
pub fn listener_for(code: u8) -> Listener {
    if code == 4 {
        Listener::Accounting
    } else {
        Listener::Auth
    }
}

/// Splits `stream` into packets as the shell does (fuzzing, tests): the
/// packets, then the error that ends the stream, if any (a trailing partial
/// packet is left out).
pub fn split(stream: &[u8], max: usize) -> (Vec<&[u8]>, Option<FrameError>) {
    let mut out = Vec::new();
    let mut rest = stream;
    while rest.len() >= HEADER {
        let head = [rest[0], rest[1], rest[2], rest[3]];
        match packet_length(&head, max) {
            Err(e) => return (out, Some(e)),
            Ok(n) if n > rest.len() => break,
            Ok(n) => {
                out.push(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u8, len: u16) -> Vec<u8> {
        let mut p = vec![0; usize::from(len)];
        p[0] = code;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p
    }

    #[test]
    fn lengths() {
        assert_eq!(packet_length(&[1, 0, 0, 20], 4096), Ok(20));
        assert_eq!(packet_length(&[1, 0, 16, 0], 4096), Ok(4096));
        assert_eq!(
            packet_length(&[1, 0, 0, 19], 4096),
            Err(FrameError::TooShort(19))
        );
        assert_eq!(
            packet_length(&[1, 0, 16, 1], 4096),
            Err(FrameError::TooLong {
                length: 4097,
                max: 4096
            })
        );
    }

    #[test]
    fn splits_back_to_back_packets() {
        let mut s = packet(1, 20);
        s.extend(packet(4, 30));
        s.extend(&packet(12, 40)[..10]);
        let (p, e) = split(&s, 4096);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].len(), p[1].len()), (20, 30));
        assert_eq!(e, None);
        let (p, e) = split(b"GET / HTTP/1.1\r\n", 4096);
        assert!(p.is_empty());
        assert_eq!(
            e,
            Some(FrameError::TooLong {
                length: 0x5420,
                max: 4096
            })
        );
    }

    #[test]
    fn accounting_goes_to_accounting() {
        assert_eq!(listener_for(4), Listener::Accounting);
        assert_eq!(listener_for(1), Listener::Auth);
        assert_eq!(listener_for(12), Listener::Auth);
    }
}
