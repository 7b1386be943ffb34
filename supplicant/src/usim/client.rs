//! The USIM client: the APDU sequences of ETSI TS 102 221 and 3GPP TS 31.102
//! over any [`CardTransport`] — the simulator, vpcd + pcscd, or a real card.

use super::apdu::{Command, Response, StatusWord};
use super::files::{self, DF_GSM, EF_AD, EF_DIR, EF_IMSI, MF, USIM_AID_PREFIX};
use super::transport::{CardTransport, TransportError};
use eap::gsm::{Sres, Triplet};
use eap::secret::{Ck, Ik, Kc, SecretBytes};
use eap::umts::{Autn, Auts, Res};

/// CLA of UICC commands (TS 102 221 §10.1.1).
pub const CLA: u8 = 0x00;
/// SELECT (TS 102 221 §11.1.1).
pub const INS_SELECT: u8 = 0xA4;
/// GET RESPONSE (TS 102 221 §11.1.13).
pub const INS_GET_RESPONSE: u8 = 0xC0;
/// READ BINARY (TS 102 221 §11.1.3).
pub const INS_READ_BINARY: u8 = 0xB0;
/// READ RECORD (TS 102 221 §11.1.5).
pub const INS_READ_RECORD: u8 = 0xB2;
/// VERIFY PIN (TS 102 221 §11.1.9).
pub const INS_VERIFY: u8 = 0x20;
/// AUTHENTICATE (TS 102 221 §11.1.16, TS 31.102 §7.1).
pub const INS_AUTHENTICATE: u8 = 0x88;
/// AUTHENTICATE P2: specific reference data, 3G security context (TS 31.102 §7.1.1).
pub const P2_AUTH_3G: u8 = 0x81;
/// AUTHENTICATE P2: GSM security context (TS 31.102 §7.1.1).
pub const P2_AUTH_GSM: u8 = 0x80;
/// CLA of GSM SIM commands (TS 51.011 §9.1).
pub const CLA_GSM: u8 = 0xA0;
/// RUN GSM ALGORITHM (TS 51.011 §9.2.16).
pub const INS_RUN_GSM_ALGORITHM: u8 = 0x88;
/// PIN1 key reference (TS 102 221 §9.5.1).
pub const PIN1: u8 = 0x01;
/// Tag of a successful 3G AUTHENTICATE response (TS 31.102 §7.1.2.1).
pub const TAG_AUTH_OK: u8 = 0xDB;
/// Tag of a synchronisation failure response carrying AUTS.
pub const TAG_SYNC_FAILURE: u8 = 0xDC;

/// What went wrong talking to the USIM.
#[derive(Debug, thiserror::Error)]
pub enum UsimError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card answered a status word this command does not expect.
    #[error("{command}: card answered status {sw}")]
    Status {
        /// The command.
        command: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// The card's answer does not parse.
    #[error("{command}: malformed answer: {what}")]
    Malformed {
        /// The command.
        command: &'static str,
        /// What is wrong.
        what: String,
    },
    /// EF_DIR lists no 3GPP USIM application.
    #[error("no USIM application (AID A0000000871002…) in EF_DIR")]
    NoUsimApplication,
    /// PIN1 is enabled and not verified, and no PIN was given.
    #[error("PIN1 is enabled: give the PIN ({tries_left} tries left)")]
    PinRequired {
        /// Remaining tries.
        tries_left: u8,
    },
    /// The PIN was wrong; not retried.
    #[error("wrong PIN: {tries_left} tries left (not retried automatically)")]
    WrongPin {
        /// Remaining tries.
        tries_left: u8,
    },
    /// PIN1 is blocked: needs the PUK.
    #[error("PIN1 is blocked: unblock it with the PUK in a phone first")]
    PinBlocked,
    /// The PIN is not 4–8 ASCII digits.
    #[error("a PIN is 4 to 8 digits")]
    BadPinFormat,
    /// AUTHENTICATE answered `69 82` (security status not satisfied).
    #[error(
        "the card wants PIN1: AUTHENTICATE answered 6982 (security status not satisfied); give --pin or --pin-file"
    )]
    PinNeededByCard,
}

/// PIN1 state: enabled or not from the PS_DO of the FCPs' PIN status
/// template (TS 102 221 §9.5.2), tries from VERIFY PIN without data (§11.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PinStatus {
    /// PIN1 disabled, or already verified in this session.
    NotRequired,
    /// PIN1 enabled and not yet verified.
    Required {
        /// Remaining tries.
        tries_left: u8,
    },
    /// PIN1 blocked.
    Blocked,
}

/// The card's answer to AUTHENTICATE in the 3G context (TS 31.102 §7.1.2.1).
#[derive(Debug, Clone)]
pub enum AuthResult {
    /// `DB`: AUTN accepted.
    Success {
        /// RES.
        res: Res,
        /// CK.
        ck: Ck,
        /// IK.
        ik: Ik,
    },
    /// `DC`: SQN not fresh; AUTS for resynchronisation.
    SyncFailure(Auts),
    /// `98 62`: MAC-A wrong.
    MacFailure,
}

/// The USIM client over one transport. Holds no secrets.
pub struct Usim<T: CardTransport> {
    transport: T,
    aid: Option<Vec<u8>>,
    /// The MF's and the USIM ADF's FCP from [`Usim::select_usim`].
    mf_fcp: Option<Vec<u8>>,
    adf_fcp: Option<Vec<u8>>,
    /// A 2G SIM (TS 51.011): DF_GSM's select response, from [`Usim::select_application`].
    gsm_df: Option<Vec<u8>>,
}

/// What `sim info` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsimInfo {
    /// The IMSI.
    pub imsi: String,
    /// MNC length from EF_AD (2 or 3), if present.
    pub mnc_len: Option<u8>,
    /// The USIM AID, hex.
    pub aid: String,
    /// PIN1 state.
    pub pin: PinStatus,
    /// PIN1 enabled per the PS_DO of the FCPs; `None` when they do not tell.
    pub pin1_enabled: Option<bool>,
}

fn cmd(ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<u8>) -> Command {
    Command {
        cla: CLA,
        ins,
        p1,
        p2,
        data,
        le,
    }
}

impl<T: CardTransport> Usim<T> {
    /// A client over `transport`; nothing is sent yet.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            aid: None,
            mf_fcp: None,
            adf_fcp: None,
            gsm_df: None,
        }
    }

    /// Whether the card is a 2G SIM (set by [`Usim::select_application`]).
    pub fn is_gsm_sim(&self) -> bool {
        self.gsm_df.is_some()
    }

    /// Selects the USIM; a card that refuses class `00` (`6E 00`) is taken
    /// as a 2G SIM and DF_GSM is selected instead (TS 51.011): then only
    /// GSM authentication (EAP-SIM) is possible.
    pub fn select_application(&mut self) -> Result<(), UsimError> {
        match self.select_usim() {
            Ok(_) => Ok(()),
            Err(UsimError::Status {
                sw: StatusWord::CLA_NOT_SUPPORTED,
                ..
            }) => {
                self.gsm_select(MF)?;
                self.gsm_df = Some(self.gsm_select(DF_GSM)?);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One class-`A0` command with the 2G procedure bytes: `9F xx` → GET
    /// RESPONSE `A0 C0 00 00 xx` (TS 51.011 §9.4.1).
    fn gsm_exchange(&mut self, command: &'static str, c: &Command) -> Result<Response, UsimError> {
        let raw = self.transport.transmit(&c.to_bytes())?;
        let r = Response::parse(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
        let StatusWord(0x9F, n) = r.sw else {
            return Ok(r);
        };
        let get = Command {
            cla: CLA_GSM,
            ins: INS_GET_RESPONSE,
            p1: 0,
            p2: 0,
            data: vec![],
            le: Some(n),
        };
        let raw = self.transport.transmit(&get.to_bytes())?;
        let r = Response::parse(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
        if r.sw == StatusWord::OK {
            Ok(r)
        } else {
            Err(UsimError::Status { command, sw: r.sw })
        }
    }

    /// SELECT in class `A0`; the GSM response (TS 51.011 §9.2.1).
    fn gsm_select(&mut self, fid: u16) -> Result<Vec<u8>, UsimError> {
        let name = select_name(fid);
        let c = Command {
            cla: CLA_GSM,
            ins: INS_SELECT,
            p1: 0,
            p2: 0,
            data: fid.to_be_bytes().to_vec(),
            le: None,
        };
        let r = self.gsm_exchange(name, &c)?;
        if r.sw != StatusWord::OK {
            return Err(UsimError::Status {
                command: name,
                sw: r.sw,
            });
        }
        Ok(r.data)
    }

    /// Reads a transparent EF of DF_GSM whole (its size is bytes 3–4 of the
    /// select response).
    fn gsm_read_ef(&mut self, fid: u16, command: &'static str) -> Result<Vec<u8>, UsimError> {
        let resp = self.gsm_select(fid)?;
        let size = match resp.get(2..4) {
            Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
            _ => {
                return Err(UsimError::Malformed {
                    command,
                    what: "select response without a file size".into(),
                });
            }
        };
        let le = u8::try_from(size).map_err(|_| UsimError::Malformed {
            command,
            what: format!("EF size {size} exceeds one READ BINARY"),
        })?;
        let c = Command {
            cla: CLA_GSM,
            ins: INS_READ_BINARY,
            p1: 0,
            p2: 0,
            data: vec![],
            le: Some(le),
        };
        let r = self.gsm_exchange(command, &c)?;
        match r.sw {
            StatusWord::OK if r.data.len() == size => Ok(r.data),
            StatusWord::OK => Err(UsimError::Malformed {
                command,
                what: format!("asked {size} bytes, got {}", r.data.len()),
            }),
            StatusWord(0x98, 0x04) | StatusWord::SECURITY_NOT_SATISFIED => {
                Err(UsimError::PinNeededByCard)
            }
            sw => Err(UsimError::Status { command, sw }),
        }
    }

    /// The transport, borrowed (e.g. to read what a wrapping transport recorded).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The same client (selection and FCPs kept) over `f(transport)`, e.g. the
    /// transport wrapped in a recorder.
    pub fn map_transport<U: CardTransport>(self, f: impl FnOnce(T) -> U) -> Usim<U> {
        Usim {
            transport: f(self.transport),
            aid: self.aid,
            mf_fcp: self.mf_fcp,
            adf_fcp: self.adf_fcp,
            gsm_df: self.gsm_df,
        }
    }

    /// The transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// The selected USIM AID, once [`select_usim`](Self::select_usim) ran.
    pub fn aid(&self) -> Option<&[u8]> {
        self.aid.as_deref()
    }

    /// Sends one command with the T=0 procedure (TS 102 221 §7.3.1.1.4):
    /// `61xx` → GET RESPONSE with Le=xx, `6Cxx` → resend with Le=xx.
    fn exchange(&mut self, command: &'static str, c: &Command) -> Result<Response, UsimError> {
        let mut current = c.clone();
        let mut data = Vec::new();
        // Bounded: a card that keeps answering procedure bytes is broken.
        for _ in 0..8 {
            let raw = self.transport.transmit(&current.to_bytes())?;
            let r = Response::parse(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
            data.extend_from_slice(&r.data);
            match r.sw {
                StatusWord(0x61, n) => current = cmd(INS_GET_RESPONSE, 0, 0, vec![], Some(n)),
                StatusWord(0x6C, n) => current = current.with_le(n),
                sw => return Ok(Response { data, sw }),
            }
        }
        Err(UsimError::Malformed {
            command,
            what: "endless 61xx/6Cxx procedure bytes".into(),
        })
    }

    fn expect_ok(&mut self, command: &'static str, c: &Command) -> Result<Vec<u8>, UsimError> {
        let r = self.exchange(command, c)?;
        if r.sw == StatusWord::OK {
            Ok(r.data)
        } else {
            Err(UsimError::Status { command, sw: r.sw })
        }
    }

    /// SELECT by file id, returning the FCP (P2 04).
    pub fn select_file(&mut self, fid: u16) -> Result<Vec<u8>, UsimError> {
        let c = cmd(INS_SELECT, 0x00, 0x04, fid.to_be_bytes().to_vec(), None);
        self.expect_ok(select_name(fid), &c)
    }

    /// READ RECORD `n` (absolute mode) of the current linear fixed EF; the
    /// card tells the length through `6Cxx`.
    pub fn read_record(&mut self, n: u8) -> Result<Option<Vec<u8>>, UsimError> {
        let c = cmd(INS_READ_RECORD, n, 0x04, vec![], Some(0));
        let r = self.exchange("READ RECORD", &c)?;
        match r.sw {
            StatusWord::OK => Ok(Some(r.data)),
            StatusWord::RECORD_NOT_FOUND | StatusWord::WRONG_P1P2 => Ok(None),
            sw => Err(UsimError::Status {
                command: "READ RECORD",
                sw,
            }),
        }
    }

    /// READ BINARY of `len` bytes from offset 0 of the current transparent EF.
    pub fn read_binary(&mut self, command: &'static str, len: usize) -> Result<Vec<u8>, UsimError> {
        let le = u8::try_from(len).map_err(|_| UsimError::Malformed {
            command,
            what: format!("EF size {len} exceeds one READ BINARY"),
        })?;
        let data = self.expect_ok(command, &cmd(INS_READ_BINARY, 0, 0, vec![], Some(le)))?;
        if data.len() != len {
            return Err(UsimError::Malformed {
                command,
                what: format!("asked {len} bytes, got {}", data.len()),
            });
        }
        Ok(data)
    }

    /// Finds the USIM AID in EF_DIR (TS 102 221 §13.1) and selects the ADF.
    pub fn select_usim(&mut self) -> Result<Vec<u8>, UsimError> {
        self.mf_fcp = Some(self.select_file(MF)?);
        self.select_file(EF_DIR)?;
        let mut found = None;
        for n in 1..=16u8 {
            let Some(record) = self.read_record(n)? else {
                break;
            };
            if let Some(aid) = usim_aid_in_record(&record) {
                found = Some(aid);
                break;
            }
        }
        let aid = found.ok_or(UsimError::NoUsimApplication)?;
        let c = cmd(INS_SELECT, 0x04, 0x04, aid.clone(), None);
        self.adf_fcp = Some(self.expect_ok("SELECT ADF USIM", &c)?);
        self.aid = Some(aid.clone());
        Ok(aid)
    }

    /// Whether PIN1 is enabled, from the PS_DO in the PIN status template of
    /// the USIM ADF's FCP, else of the MF's (TS 102 221 §9.5.2, as
    /// wpa_supplicant's PC/SC code decides); `None` when neither tells, or
    /// before [`select_usim`](Self::select_usim).
    pub fn pin1_enabled(&self) -> Option<bool> {
        [&self.adf_fcp, &self.mf_fcp]
            .into_iter()
            .find_map(|fcp| fcp.as_deref().and_then(files::fcp_pin1_enabled))
    }

    /// PIN1 state. Enabled or not comes from the PS_DO
    /// ([`pin1_enabled`](Self::pin1_enabled)): many UICCs answer a VERIFY
    /// without data with `63CX` even when PIN1 is disabled, so that answer
    /// only gives the tries left (TS 102 221 §11.1.9), or "verified" (`9000`).
    /// Only a card whose FCPs carry no PS_DO is judged by VERIFY alone.
    pub fn pin_status(&mut self) -> Result<PinStatus, UsimError> {
        const NAME: &str = "VERIFY PIN (status)";
        if let Some(df) = &self.gsm_df {
            // TS 51.011 §9.2.1: byte 14 bit 8 = CHV1 disabled, byte 19 = CHV1 status.
            let (Some(chars), Some(chv1)) = (df.get(13), df.get(18)) else {
                return Err(UsimError::Malformed {
                    command: "SELECT DF_GSM",
                    what: "GSM response shorter than 19 bytes".into(),
                });
            };
            return Ok(match (chars & 0x80 != 0, chv1 & 0x0F) {
                (true, _) => PinStatus::NotRequired,
                (false, 0) => PinStatus::Blocked,
                (false, n) => PinStatus::Required { tries_left: n },
            });
        }
        if self.pin1_enabled() == Some(false) {
            return Ok(PinStatus::NotRequired);
        }
        let r = self.exchange(NAME, &cmd(INS_VERIFY, 0, PIN1, vec![], None))?;
        match r.sw {
            StatusWord::OK | StatusWord::REFERENCE_INVALIDATED => Ok(PinStatus::NotRequired),
            StatusWord(0x63, x) if x & 0xF0 == 0xC0 => {
                if x & 0x0F == 0 {
                    Ok(PinStatus::Blocked)
                } else {
                    Ok(PinStatus::Required {
                        tries_left: x & 0x0F,
                    })
                }
            }
            StatusWord::PIN_BLOCKED => Ok(PinStatus::Blocked),
            sw => Err(UsimError::Status { command: NAME, sw }),
        }
    }

    /// Verifies PIN1 once if the card requires it. A wrong PIN is reported
    /// with the remaining tries and never retried.
    pub fn unlock(&mut self, pin: Option<&SecretBytes>) -> Result<PinStatus, UsimError> {
        let status = self.pin_status()?;
        match status {
            PinStatus::NotRequired => Ok(status),
            PinStatus::Blocked => Err(UsimError::PinBlocked),
            PinStatus::Required { tries_left } => {
                let Some(pin) = pin else {
                    return Err(UsimError::PinRequired { tries_left });
                };
                let p = pin.expose();
                if !(4..=8).contains(&p.len()) || !p.iter().all(u8::is_ascii_digit) {
                    return Err(UsimError::BadPinFormat);
                }
                let mut data = vec![0xFF; 8];
                data[..p.len()].copy_from_slice(p);
                let mut c = cmd(INS_VERIFY, 0, PIN1, data, None);
                if self.gsm_df.is_some() {
                    c.cla = CLA_GSM;
                }
                let r = self.exchange("VERIFY PIN", &c);
                // Wipe the copy of the PIN in the APDU buffer.
                drop(SecretBytes::new(c.data));
                match r?.sw {
                    StatusWord::OK => Ok(PinStatus::NotRequired),
                    StatusWord(0x63, x) if x & 0xF0 == 0xC0 && x & 0x0F > 0 => {
                        Err(UsimError::WrongPin {
                            tries_left: x & 0x0F,
                        })
                    }
                    StatusWord(0x63, 0xC0) | StatusWord::PIN_BLOCKED => Err(UsimError::PinBlocked),
                    // TS 51.011 §9.4.5: CHV verification failed (tries not told).
                    StatusWord(0x98, 0x04) => Err(UsimError::WrongPin {
                        tries_left: self.pin_status().ok().map_or(0, |s| match s {
                            PinStatus::Required { tries_left } => tries_left,
                            _ => 0,
                        }),
                    }),
                    StatusWord(0x98, 0x40) => Err(UsimError::PinBlocked),
                    sw => Err(UsimError::Status {
                        command: "VERIFY PIN",
                        sw,
                    }),
                }
            }
        }
    }

    /// Reads EF_IMSI (TS 31.102 §4.2.2).
    pub fn read_imsi(&mut self) -> Result<String, UsimError> {
        if self.gsm_df.is_some() {
            let ef = self.gsm_read_ef(EF_IMSI, "READ BINARY EF_IMSI")?;
            return files::decode_ef_imsi(&ef).map_err(|e| UsimError::Malformed {
                command: "READ BINARY EF_IMSI",
                what: e.to_string(),
            });
        }
        let fcp = self.select_file(EF_IMSI)?;
        let size = files::fcp_file_size(&fcp).unwrap_or(9);
        let ef = self.read_binary("READ BINARY EF_IMSI", size)?;
        files::decode_ef_imsi(&ef).map_err(|e| UsimError::Malformed {
            command: "READ BINARY EF_IMSI",
            what: e.to_string(),
        })
    }

    /// Reads the MNC length from EF_AD byte 4 (TS 31.102 §4.2.18); `None` when
    /// the EF is absent or too short to carry it.
    pub fn read_mnc_len(&mut self) -> Result<Option<u8>, UsimError> {
        if self.gsm_df.is_some() {
            return match self.gsm_read_ef(EF_AD, "READ BINARY EF_AD") {
                Ok(ef) => Ok(ef.get(3).map(|b| b & 0x0F).filter(|n| matches!(n, 2 | 3))),
                Err(UsimError::Status { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let fcp = match self.select_file(EF_AD) {
            Ok(fcp) => fcp,
            Err(UsimError::Status {
                sw: StatusWord::FILE_NOT_FOUND,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = files::fcp_file_size(&fcp).unwrap_or(4);
        if size < 4 {
            return Ok(None);
        }
        let ef = self.read_binary("READ BINARY EF_AD", size.min(255))?;
        match ef[3] & 0x0F {
            n @ (2 | 3) => Ok(Some(n)),
            _ => Ok(None),
        }
    }

    /// AUTHENTICATE in the 3G context: `0088 0081 22 10‖RAND 10‖AUTN`
    /// (TS 31.102 §7.1.2.1).
    pub fn authenticate(&mut self, rand: &[u8; 16], autn: &Autn) -> Result<AuthResult, UsimError> {
        const NAME: &str = "AUTHENTICATE";
        let mut data = Vec::with_capacity(34);
        data.push(16);
        data.extend_from_slice(rand);
        data.push(16);
        data.extend_from_slice(&autn.0);
        let r = self.exchange(NAME, &cmd(INS_AUTHENTICATE, 0, P2_AUTH_3G, data, None))?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::AUTH_MAC_FAILURE => return Ok(AuthResult::MacFailure),
            StatusWord::SECURITY_NOT_SATISFIED => return Err(UsimError::PinNeededByCard),
            sw => return Err(UsimError::Status { command: NAME, sw }),
        }
        let bad = |what: &str| UsimError::Malformed {
            command: NAME,
            what: what.to_string(),
        };
        let out = parse_auth_response(&r.data).map_err(bad);
        // The response buffer held CK/IK: wipe it.
        drop(SecretBytes::new(r.data));
        out
    }

    /// AUTHENTICATE in the GSM security context: `0088 0080 11 10‖RAND`,
    /// answer `04‖SRES 08‖Kc` (TS 31.102 §7.1.2.2). The USIM derives them
    /// from its UMTS quintet with c2/c3.
    pub fn gsm_authenticate(&mut self, rand: &[u8; 16]) -> Result<Triplet, UsimError> {
        const NAME: &str = "AUTHENTICATE (GSM context)";
        let mut data = Vec::with_capacity(17);
        data.push(16);
        data.extend_from_slice(rand);
        let r = self.exchange(NAME, &cmd(INS_AUTHENTICATE, 0, P2_AUTH_GSM, data, None))?;
        match r.sw {
            StatusWord::OK => {}
            StatusWord::SECURITY_NOT_SATISFIED => return Err(UsimError::PinNeededByCard),
            sw => return Err(UsimError::Status { command: NAME, sw }),
        }
        let out = match r.data.as_slice() {
            [4, s @ ..] if s.len() == 13 && s[4] == 8 => {
                let mut sres = [0u8; 4];
                sres.copy_from_slice(&s[..4]);
                let kc = Kc::from_slice(&s[5..13]);
                kc.map(|kc| Triplet {
                    rand: *rand,
                    sres: Sres(sres),
                    kc,
                })
            }
            _ => None,
        };
        drop(SecretBytes::new(r.data));
        out.ok_or(UsimError::Malformed {
            command: NAME,
            what: "not 04 SRES(4) 08 Kc(8)".into(),
        })
    }

    /// The GSM triplet for `rand` (EAP-SIM): AUTHENTICATE in the GSM
    /// context, or, when the card does not offer that context (`6A86`,
    /// `6D00`, `6E00`), RUN GSM ALGORITHM in class `A0`.
    pub fn gsm_triplet(&mut self, rand: &[u8; 16]) -> Result<Triplet, UsimError> {
        if self.gsm_df.is_some() {
            return self.run_gsm_algorithm(rand);
        }
        match self.gsm_authenticate(rand) {
            Err(UsimError::Status {
                sw:
                    StatusWord::WRONG_P1P2
                    | StatusWord::INS_NOT_SUPPORTED
                    | StatusWord::CLA_NOT_SUPPORTED,
                ..
            }) => self.run_gsm_algorithm(rand),
            other => other,
        }
    }

    /// RUN GSM ALGORITHM of a 2G SIM: `A088 0000 10‖RAND`, `9F 0C`, then
    /// `A0C0 0000 0C` for SRES(4)‖Kc(8) (TS 51.011 §9.2.16, §9.4.1).
    pub fn run_gsm_algorithm(&mut self, rand: &[u8; 16]) -> Result<Triplet, UsimError> {
        const NAME: &str = "RUN GSM ALGORITHM";
        let c = Command {
            cla: CLA_GSM,
            ins: INS_RUN_GSM_ALGORITHM,
            p1: 0,
            p2: 0,
            data: rand.to_vec(),
            le: None,
        };
        let raw = self.transport.transmit(&c.to_bytes())?;
        let r = Response::parse(&raw).ok_or(TransportError::ShortResponse(raw.len()))?;
        let n = match r.sw {
            StatusWord(0x9F, n) => n,
            StatusWord(0x98, 0x04) | StatusWord::SECURITY_NOT_SATISFIED => {
                return Err(UsimError::PinNeededByCard);
            }
            sw => return Err(UsimError::Status { command: NAME, sw }),
        };
        let get = Command {
            cla: CLA_GSM,
            ins: INS_GET_RESPONSE,
            p1: 0,
            p2: 0,
            data: vec![],
            le: Some(n),
        };
        let raw = SecretBytes::new(self.transport.transmit(&get.to_bytes())?);
        let r = Response::parse(raw.expose()).ok_or(TransportError::ShortResponse(raw.len()))?;
        if r.sw != StatusWord::OK {
            return Err(UsimError::Status {
                command: "GET RESPONSE (RUN GSM ALGORITHM)",
                sw: r.sw,
            });
        }
        let data = SecretBytes::new(r.data);
        let d = data.expose();
        if d.len() < 12 {
            return Err(UsimError::Malformed {
                command: NAME,
                what: format!("{} bytes, expected SRES(4) Kc(8)", d.len()),
            });
        }
        let mut sres = [0u8; 4];
        sres.copy_from_slice(&d[..4]);
        let kc = Kc::from_slice(&d[4..12]).ok_or(UsimError::Malformed {
            command: NAME,
            what: "Kc not 8 bytes".into(),
        })?;
        Ok(Triplet {
            rand: *rand,
            sres: Sres(sres),
            kc,
        })
    }

    /// Selects the USIM and reads what `sim info` shows; no PIN is tried.
    pub fn info(&mut self) -> Result<UsimInfo, UsimError> {
        self.select_application()?;
        let aid = match &self.aid {
            Some(aid) => hex::encode_upper(aid),
            None => "none (2G SIM, TS 51.011)".into(),
        };
        let pin = self.pin_status()?;
        let (imsi, mnc_len) = if pin == PinStatus::NotRequired {
            (self.read_imsi()?, self.read_mnc_len()?)
        } else {
            // EF_IMSI is usually PIN-protected; report what we can.
            match self.read_imsi() {
                Ok(imsi) => (imsi, self.read_mnc_len().ok().flatten()),
                Err(_) => ("(PIN required)".into(), None),
            }
        };
        Ok(UsimInfo {
            imsi,
            mnc_len,
            aid,
            pin,
            pin1_enabled: match &self.gsm_df {
                Some(df) => df.get(13).map(|c| c & 0x80 == 0),
                None => self.pin1_enabled(),
            },
        })
    }
}

/// `DB L RES L CK L IK [L Kc]` or `DC 0E AUTS`.
fn parse_auth_response(d: &[u8]) -> Result<AuthResult, &'static str> {
    match d {
        [TAG_AUTH_OK, rest @ ..] => {
            let (res, rest) = take_lv(rest).ok_or("RES truncated")?;
            let (ck, rest) = take_lv(rest).ok_or("CK truncated")?;
            let (ik, _kc) = take_lv(rest).ok_or("IK truncated")?;
            Ok(AuthResult::Success {
                res: Res::new(res).ok_or("RES not 4..16 bytes")?,
                ck: Ck::from_slice(ck).ok_or("CK not 16 bytes")?,
                ik: Ik::from_slice(ik).ok_or("IK not 16 bytes")?,
            })
        }
        [TAG_SYNC_FAILURE, 14, auts @ ..] if auts.len() >= 14 => {
            let mut a = [0u8; 14];
            a.copy_from_slice(&auts[..14]);
            Ok(AuthResult::SyncFailure(Auts(a)))
        }
        [TAG_SYNC_FAILURE, ..] => Err("AUTS not 14 bytes"),
        [] => Err("empty"),
        _ => Err("unknown response tag"),
    }
}

fn take_lv(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&l, rest) = d.split_first()?;
    let l = usize::from(l);
    (rest.len() >= l).then(|| rest.split_at(l))
}

fn select_name(fid: u16) -> &'static str {
    match fid {
        MF => "SELECT MF",
        EF_DIR => "SELECT EF_DIR",
        EF_IMSI => "SELECT EF_IMSI",
        EF_AD => "SELECT EF_AD",
        DF_GSM => "SELECT DF_GSM",
        _ => "SELECT",
    }
}

/// The AID in an EF_DIR record `61 L 4F L AID …` if it is a USIM's.
pub fn usim_aid_in_record(record: &[u8]) -> Option<Vec<u8>> {
    let [0x61, len, body @ ..] = record else {
        return None;
    };
    let body = body.get(..usize::from(*len))?;
    let mut pos = body;
    while let [tag, l, rest @ ..] = pos {
        let l = usize::from(*l);
        let v = rest.get(..l)?;
        if *tag == 0x4F && v.starts_with(&USIM_AID_PREFIX) && (12..=16).contains(&v.len()) {
            return Some(v.to_vec());
        }
        pos = &rest[l..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_response_parsing() {
        let mut ok = vec![0xDB, 8];
        ok.extend([1; 8]);
        ok.push(16);
        ok.extend([2; 16]);
        ok.push(16);
        ok.extend([3; 16]);
        match parse_auth_response(&ok).unwrap() {
            AuthResult::Success { res, ck, ik } => {
                assert_eq!(res.as_bytes(), &[1; 8]);
                assert_eq!(ck.expose(), &[2; 16]);
                assert_eq!(ik.expose(), &[3; 16]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_auth_response(&ok[..30]).is_err());
        assert!(parse_auth_response(&[0xDB, 2, 1, 2, 16]).is_err());
        assert!(parse_auth_response(&[0xDC, 0x0E, 1, 2]).is_err());
        assert!(parse_auth_response(&[]).is_err());
        assert!(parse_auth_response(&[0x42]).is_err());
        let mut auts = vec![0xDC, 0x0E];
        auts.extend([7; 14]);
        assert!(
            matches!(parse_auth_response(&auts), Ok(AuthResult::SyncFailure(Auts(a))) if a == [7; 14])
        );
    }

    #[test]
    fn ef_dir_records() {
        let mut rec = vec![0x61, 0x18, 0x4F, 0x10];
        rec.extend_from_slice(&USIM_AID_PREFIX);
        rec.extend([0xFF; 9]);
        rec.extend([0x50, 0x04, b'U', b'S', b'I', b'M']);
        assert_eq!(usim_aid_in_record(&rec).unwrap().len(), 16);
        // An ISIM (A0000000871004) is skipped.
        rec[10] = 0x04;
        assert_eq!(usim_aid_in_record(&rec), None);
        assert_eq!(usim_aid_in_record(&[0x61, 0x30, 0x4F]), None);
        assert_eq!(usim_aid_in_record(&[0xFF; 32]), None);
    }
}
