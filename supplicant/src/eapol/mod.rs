//! Wired 802.1X: the EAPOL framing codec (IEEE 802.1X-2010 §11.3, sans-IO)
//! and the AF_PACKET socket shell ([`socket`]).

pub mod socket;

use std::time::{Duration, Instant};

/// The EAPOL Ethertype (IEEE 802.1X-2010 §11.1).
pub const ETH_P_PAE: u16 = 0x888E;
/// The PAE group address 01-80-C2-00-00-03 (IEEE 802.1X-2010 §11.1.1).
pub const PAE_GROUP_ADDR: [u8; 6] = [0x01, 0x80, 0xC2, 0x00, 0x00, 0x03];
/// The protocol version we send (802.1X-2010 = 3 would also be valid; 2 is
/// what hostapd's `eapol_version=2` expects and what everything accepts).
pub const EAPOL_VERSION: u8 = 2;

/// EAPOL packet types (IEEE 802.1X-2010 Table 11-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// EAPOL-EAP (0).
    Eap,
    /// EAPOL-Start (1).
    Start,
    /// EAPOL-Logoff (2).
    Logoff,
    /// EAPOL-Key (3).
    Key,
    /// Anything else (EAPOL-Encapsulated-ASF-Alert, MKA, announcements…).
    Other(u8),
}

impl PacketType {
    /// The type number.
    pub fn value(self) -> u8 {
        match self {
            PacketType::Eap => 0,
            PacketType::Start => 1,
            PacketType::Logoff => 2,
            PacketType::Key => 3,
            PacketType::Other(v) => v,
        }
    }

    /// From the type number.
    pub fn from_value(v: u8) -> Self {
        match v {
            0 => PacketType::Eap,
            1 => PacketType::Start,
            2 => PacketType::Logoff,
            3 => PacketType::Key,
            v => PacketType::Other(v),
        }
    }
}

/// An EAPOL PDU (after the Ethernet header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Protocol version.
    pub version: u8,
    /// Packet type.
    pub packet_type: PacketType,
    /// Packet body (Packet Body Length bytes; Ethernet padding dropped).
    pub body: &'a [u8],
}

/// What is wrong with a received EAPOL PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer than the 4 header bytes.
    #[error("EAPOL frame of {0} bytes, shorter than its header")]
    Short(usize),
    /// Body length beyond the frame.
    #[error("EAPOL body length {length} but {available} bytes follow")]
    BodyLength {
        /// Packet Body Length.
        length: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// Version 0 does not exist.
    #[error("EAPOL version 0")]
    Version,
}

impl<'a> Frame<'a> {
    /// Parses an EAPOL PDU; bytes after the body (Ethernet padding) are ignored.
    pub fn parse(b: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let [version, ptype, hi, lo, rest @ ..] = b else {
            return Err(FrameError::Short(b.len()));
        };
        if *version == 0 {
            return Err(FrameError::Version);
        }
        let length = usize::from(u16::from_be_bytes([*hi, *lo]));
        let body = rest.get(..length).ok_or(FrameError::BodyLength {
            length,
            available: rest.len(),
        })?;
        Ok(Frame {
            version: *version,
            packet_type: PacketType::from_value(*ptype),
            body,
        })
    }
}

/// Encodes an EAPOL PDU with our version; `None` for a body above 65535 bytes.
pub fn encode(packet_type: PacketType, body: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(body.len()).ok()?;
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(EAPOL_VERSION);
    out.push(packet_type.value());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Some(out)
}

/// EAPOL-Start.
pub fn start() -> Vec<u8> {
    vec![EAPOL_VERSION, 1, 0, 0]
}

/// EAPOL-Logoff.
pub fn logoff() -> Vec<u8> {
    vec![EAPOL_VERSION, 2, 0, 0]
}

/// The first EAPOL-Start retransmission interval. 802.1X-2010 §8.9 has a
/// fixed startPeriod (30 s) and maxStart (3); we start short, which suits a
/// wired lab link, and double it.
pub const START_FIRST_INTERVAL: Duration = Duration::from_secs(1);
/// The longest interval between two EAPOL-Starts.
pub const START_MAX_INTERVAL: Duration = Duration::from_secs(8);

/// When to send EAPOL-Start (sans-IO): one at once, then again after 1, 2,
/// 4 … s (capped at [`START_MAX_INTERVAL`]) until an EAP frame is heard or
/// the caller's deadline passes. Never giving up early rides over an
/// authenticator that ignores a station for a while (hostapd does for about
/// 5 s after an EAPOL-Logoff), as wpa_supplicant's 30 s startPeriod does.
#[derive(Debug, Clone)]
pub struct StartSchedule {
    next: Instant,
    interval: Duration,
    sent: u32,
}

impl StartSchedule {
    /// A schedule whose first Start is due at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            next: now,
            interval: START_FIRST_INTERVAL,
            sent: 0,
        }
    }

    /// Whether a Start is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// When the next Start is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    /// Records a Start sent at `now` and schedules the next one.
    pub fn sent(&mut self, now: Instant) {
        self.sent = self.sent.saturating_add(1);
        self.next = now + self.interval;
        self.interval = (self.interval * 2).min(START_MAX_INTERVAL);
    }

    /// How many Starts were sent.
    pub fn count(&self) -> u32 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let eap = [1, 1, 0, 5, 1];
        let f = encode(PacketType::Eap, &eap).unwrap();
        assert_eq!(f, vec![2, 0, 0, 5, 1, 1, 0, 5, 1]);
        let mut padded = f.clone();
        padded.extend([0; 37]);
        let p = Frame::parse(&padded).unwrap();
        assert_eq!(p.packet_type, PacketType::Eap);
        assert_eq!(p.body, &eap);
        assert_eq!(
            Frame::parse(&start()).unwrap().packet_type,
            PacketType::Start
        );
        assert_eq!(
            Frame::parse(&logoff()).unwrap().packet_type,
            PacketType::Logoff
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(Frame::parse(&[2, 0, 0]), Err(FrameError::Short(3)));
        assert_eq!(
            Frame::parse(&[2, 0, 0, 9, 1]),
            Err(FrameError::BodyLength {
                length: 9,
                available: 1
            })
        );
        assert_eq!(Frame::parse(&[0, 0, 0, 0]), Err(FrameError::Version));
        assert_eq!(
            Frame::parse(&[3, 7, 0, 0]).unwrap().packet_type,
            PacketType::Other(7)
        );
    }

    #[test]
    fn start_schedule_backs_off_and_never_stops() {
        let t0 = Instant::now();
        let mut s = StartSchedule::new(t0);
        assert!(s.due(t0));
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..8 {
            assert!(s.due(now));
            s.sent(now);
            let next = s.next_at();
            assert!(!s.due(next - Duration::from_millis(1)));
            gaps.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(gaps, [1, 2, 4, 8, 8, 8, 8, 8]);
        assert_eq!(s.count(), 8);
        // Far beyond the old maxStart = 3, a Start is still due.
        assert!(s.due(now + Duration::from_secs(3600)));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = Frame::parse(&b);
        }
    }
}
