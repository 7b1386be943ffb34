//! Short command/response APDUs (ISO/IEC 7816-4, ETSI TS 102 221 §10).

use std::fmt;

/// A status word SW1 SW2 (ETSI TS 102 221 §10.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u8, pub u8);

impl StatusWord {
    /// 90 00, normal ending.
    pub const OK: StatusWord = StatusWord(0x90, 0x00);
    /// 98 62, AUTHENTICATE: "authentication error, incorrect MAC" (TS 102 221 §10.2.1.3).
    pub const AUTH_MAC_FAILURE: StatusWord = StatusWord(0x98, 0x62);
    /// 69 82, security status not satisfied (PIN not verified).
    pub const SECURITY_NOT_SATISFIED: StatusWord = StatusWord(0x69, 0x82);
    /// 69 83, authentication/PIN method blocked.
    pub const PIN_BLOCKED: StatusWord = StatusWord(0x69, 0x83);
    /// 69 84, referenced data invalidated (PIN disabled) — some cards answer
    /// this to a VERIFY without data.
    pub const REFERENCE_INVALIDATED: StatusWord = StatusWord(0x69, 0x84);
    /// 69 85, conditions of use not satisfied.
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x69, 0x85);
    /// 69 86, command not allowed (no EF selected).
    pub const NO_EF_SELECTED: StatusWord = StatusWord(0x69, 0x86);
    /// 6A 82, file or application not found.
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A, 0x82);
    /// 6A 83, record not found.
    pub const RECORD_NOT_FOUND: StatusWord = StatusWord(0x6A, 0x83);
    /// 6A 86, incorrect P1/P2.
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6A, 0x86);
    /// 6B 00, wrong parameters (offset outside the EF).
    pub const WRONG_OFFSET: StatusWord = StatusWord(0x6B, 0x00);
    /// 67 00, wrong length.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x67, 0x00);
    /// 6D 00, instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D, 0x00);
    /// 6E 00, class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E, 0x00);
    /// 6F 00, technical problem, no precise diagnosis.
    pub const TECHNICAL_PROBLEM: StatusWord = StatusWord(0x6F, 0x00);

    /// The two bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        [self.0, self.1]
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X} {:02X}", self.0, self.1)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}{:02X}", self.0, self.1)
    }
}

/// A short command APDU: CLA INS P1 P2 \[Lc data\] \[Le\].
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (00 for the UICC, TS 102 221 §10.1.1).
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (at most 255 bytes).
    pub data: Vec<u8>,
    /// Expected response length; `Some(0)` means 256 in a short APDU.
    pub le: Option<u8>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The data may be a PIN: show only its length.
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Command {
    /// The encoded APDU.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            // Data longer than 255 bytes never occurs in this crate; clamp
            // defensively rather than encode a wrong Lc.
            let n = self.data.len().min(255);
            out.push(n as u8);
            out.extend_from_slice(&self.data[..n]);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }

    /// This command with another Le (for the T=0 `6Cxx` retry).
    pub fn with_le(&self, le: u8) -> Command {
        Command {
            le: Some(le),
            ..self.clone()
        }
    }
}

/// A response APDU: data ‖ SW1 SW2.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (may be secret: RES, CK, IK).
    pub data: Vec<u8>,
    /// The status word.
    pub sw: StatusWord,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Response({} data bytes, SW {:?})",
            self.data.len(),
            self.sw
        )
    }
}

impl Response {
    /// Splits an R-APDU; `None` when shorter than the two status bytes.
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let n = bytes.len().checked_sub(2)?;
        Some(Response {
            data: bytes[..n].to_vec(),
            sw: StatusWord(bytes[n], bytes[n + 1]),
        })
    }

    /// A status word with no data.
    pub fn status(sw: StatusWord) -> Response {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    /// The encoded R-APDU.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_cases() {
        let select = Command {
            cla: 0,
            ins: 0xA4,
            p1: 0,
            p2: 4,
            data: vec![0x3F, 0x00],
            le: None,
        };
        assert_eq!(select.to_bytes(), hex::decode("00A40004023F00").unwrap());
        let read = Command {
            cla: 0,
            ins: 0xB2,
            p1: 1,
            p2: 4,
            data: vec![],
            le: Some(0xFF),
        };
        assert_eq!(read.to_bytes(), hex::decode("00B20104FF").unwrap());
        assert_eq!(
            read.with_le(0x20).to_bytes(),
            hex::decode("00B2010420").unwrap()
        );
    }

    #[test]
    fn parse_response() {
        assert_eq!(Response::parse(&[0x90]), None);
        let r = Response::parse(&[1, 2, 0x61, 0x10]).unwrap();
        assert_eq!(r.data, vec![1, 2]);
        assert_eq!(r.sw, StatusWord(0x61, 0x10));
        assert_eq!(r.to_bytes(), vec![1, 2, 0x61, 0x10]);
    }

    #[test]
    fn debug_hides_data() {
        let verify = Command {
            cla: 0,
            ins: 0x20,
            p1: 0,
            p2: 1,
            data: b"1234\xff\xff\xff\xff".to_vec(),
            le: None,
        };
        assert!(!format!("{verify:?}").contains("31"));
    }
}
