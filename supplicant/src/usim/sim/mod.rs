//! The USIM simulator: the card side of the APDUs the [`Usim`](super::client::Usim)
//! client (and wpa_supplicant's PC/SC code) send. A small file system (MF,
//! EF_DIR, ADF USIM with EF_IMSI and EF_AD), PIN1, and AUTHENTICATE computed
//! with Milenage through [`eap::umts`], checking MAC-A and SQN freshness
//! (3GPP TS 33.102 Annex C). It behaves like a T=0 card: data comes back
//! through `61xx` + GET RESPONSE, and READ RECORD/READ BINARY with a wrong Le
//! get `6Cxx`.
//!
//! GSM authentication (for EAP-SIM) both ways a card offers it: AUTHENTICATE
//! in the GSM context (P2 = 0x80, TS 31.102 §7.1.2.2) and the 2G SIM's
//! RUN GSM ALGORITHM in class `A0` (TS 51.011 §9.2.16, answered `9F 0C` +
//! GET RESPONSE), both from GSM-Milenage ([`eap::gsm`]). A UICC serves only
//! RUN GSM ALGORITHM and GET RESPONSE in class `A0`; [`Simulator::gsm_sim`]
//! makes a 2G SIM instead: class `A0` only (`6E 00` to class `00`), MF,
//! DF_GSM with EF_IMSI and EF_AD, CHV1, RUN GSM ALGORITHM in DF_GSM.

pub mod file;
pub mod sqn;

use super::apdu::{Response, StatusWord};
use super::client::{
    CLA_GSM, INS_AUTHENTICATE, INS_GET_RESPONSE, INS_READ_BINARY, INS_READ_RECORD,
    INS_RUN_GSM_ALGORITHM, INS_SELECT, INS_VERIFY, P2_AUTH_3G, P2_AUTH_GSM, PIN1, TAG_AUTH_OK,
    TAG_SYNC_FAILURE,
};
use super::files::{self, DF_GSM, EF_AD, EF_DIR, EF_IMSI, MF};
use super::transport::{CardTransport, TransportError};
use eap::secret::SecretBytes;
use eap::umts::{Autn, SubscriberKeys};
use sqn::{Freshness, SqnArray};
use subtle::ConstantTimeEq;

/// The ATR the simulator presents: direct convention, T=0 only, no
/// interface bytes, two historical bytes.
pub const ATR: [u8; 4] = [0x3B, 0x02, 0x14, 0x50];
/// The simulator's USIM AID (3GPP RID + USIM application code + our own tail).
pub const AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF, 0x49, 0xFF, 0x05, 0x89, 0x00, 0x00, 0x00, 0x01,
];
/// Tries PIN1 gets (TS 102 221 §9.5: typically 3).
pub const PIN_TRIES: u8 = 3;
const EF_DIR_RECORD_LEN: usize = 32;

/// The card's durable state: what must survive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardState {
    /// SEQ_MS per IND.
    pub sqn: SqnArray,
    /// PIN1 tries left.
    pub pin_tries_left: u8,
}

/// Where the card writes its state. `persist` returns only once the state is
/// durable: the card answers AUTHENTICATE only after it succeeded.
pub trait StateStore {
    /// Makes `state` durable.
    fn persist(&mut self, state: &CardState) -> std::io::Result<()>;
}

/// A store that keeps nothing (tests, throwaway cards).
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// The last persisted state.
    pub last: Option<CardState>,
    /// When set, `persist` fails (to test that no RES leaves the card).
    pub fail: bool,
}

impl StateStore for MemoryStore {
    fn persist(&mut self, state: &CardState) -> std::io::Result<()> {
        if self.fail {
            return Err(std::io::Error::other("store failure (test)"));
        }
        self.last = Some(state.clone());
        Ok(())
    }
}

/// The card's personalisation: what is written into it at the factory.
#[derive(Debug, Clone)]
pub struct Personalisation {
    /// The IMSI digits.
    pub imsi: String,
    /// EF_IMSI as stored.
    pub ef_imsi: [u8; 9],
    /// MNC length (2 or 3) for EF_AD.
    pub mnc_len: u8,
    /// K and OPc.
    pub keys: SubscriberKeys,
    /// PIN1, when enabled.
    pub pin: Option<SecretBytes>,
}

/// Behaviours real UICCs differ in, so the client is tested against each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardQuirks {
    /// The answer to a VERIFY PIN without data while PIN1 is disabled.
    pub disabled_pin_verify: DisabledPinVerify,
    /// Whether the ADF's FCP carries a PIN status template (the MF's always does).
    pub adf_pin_template: AdfPinTemplate,
    /// A 2G SIM (TS 51.011) rather than a UICC: class `A0` only, DF_GSM,
    /// RUN GSM ALGORITHM (EAP-SIM only).
    pub gsm_sim: bool,
}

/// What a status VERIFY (no data) answers while PIN1 is disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DisabledPinVerify {
    /// `90 00`.
    #[default]
    Ok,
    /// `63 CX`, the retry counter, as many real UICC stacks answer: only the
    /// PS_DO tells that PIN1 is disabled.
    RetryCounter,
}

impl DisabledPinVerify {
    /// The spelling in the simulator file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DisabledPinVerify::Ok => "9000",
            DisabledPinVerify::RetryCounter => "63cx",
        }
    }

    /// From [`name`](Self::name) (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "9000" => Some(DisabledPinVerify::Ok),
            "63cx" => Some(DisabledPinVerify::RetryCounter),
            _ => None,
        }
    }
}

/// Where the card puts PIN status templates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdfPinTemplate {
    /// In the ADF's FCP and the MF's.
    #[default]
    Present,
    /// Only in the MF's FCP.
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Df {
    Mf,
    Adf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ef {
    Dir,
    Imsi,
    Ad,
}

#[derive(Debug)]
struct Session {
    df: Df,
    ef: Option<Ef>,
    adf_active: bool,
    pin_verified: bool,
    pending: Option<SecretBytes>,
}

impl Session {
    fn new() -> Self {
        Self {
            df: Df::Mf,
            ef: None,
            adf_active: false,
            pin_verified: false,
            pending: None,
        }
    }
}

/// The simulated USIM.
pub struct Simulator<S: StateStore> {
    perso: Personalisation,
    quirks: CardQuirks,
    state: CardState,
    store: S,
    session: Session,
}

impl<S: StateStore> std::fmt::Debug for Simulator<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("imsi", &self.perso.imsi)
            .finish_non_exhaustive()
    }
}

/// A parsed C-APDU as the card sees it (T=0: P3 is Lc or Le by instruction).
struct CApdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    /// Command data (empty when none).
    data: &'a [u8],
    /// P3 when no data followed it, or the trailing Le byte.
    le: Option<u8>,
}

fn parse_capdu(a: &[u8]) -> Result<CApdu<'_>, StatusWord> {
    let [cla, ins, p1, p2, rest @ ..] = a else {
        return Err(StatusWord::WRONG_LENGTH);
    };
    let (data, le) = match rest {
        [] => (&[][..], None),
        [p3] => (&[][..], Some(*p3)),
        [lc, body @ ..] => {
            let lc = usize::from(*lc);
            match body.len().cmp(&lc) {
                std::cmp::Ordering::Less => return Err(StatusWord::WRONG_LENGTH),
                std::cmp::Ordering::Equal => (body, None),
                std::cmp::Ordering::Greater if body.len() == lc + 1 => {
                    (&body[..lc], Some(body[lc]))
                }
                std::cmp::Ordering::Greater => return Err(StatusWord::WRONG_LENGTH),
            }
        }
    };
    Ok(CApdu {
        cla: *cla,
        ins: *ins,
        p1: *p1,
        p2: *p2,
        data,
        le,
    })
}

fn le_len(le: Option<u8>) -> usize {
    match le {
        Some(0) | None => 256,
        Some(n) => usize::from(n),
    }
}

/// TLV helper for FCPs.
fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, v.len() as u8];
    out.extend_from_slice(v);
    out
}

fn fcp(parts: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    tlv(files::FCP_TAG, &body)
}

impl<S: StateStore> Simulator<S> {
    /// A card with `perso`, its durable `state`, and the `store` it writes to.
    pub fn new(perso: Personalisation, state: CardState, store: S) -> Self {
        Self {
            perso,
            quirks: CardQuirks::default(),
            state,
            store,
            session: Session::new(),
        }
    }

    /// This card with `quirks` (real-UICC behaviours) instead of the default.
    pub fn with_quirks(mut self, quirks: CardQuirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// This card as a 2G SIM (TS 51.011): no USIM application, class `A0`.
    pub fn gsm_sim(mut self) -> Self {
        self.quirks.gsm_sim = true;
        self
    }

    /// This card with a strict SQN check ([`SqnArray::strict`]): it
    /// resynchronises on any SEQ not above the highest it accepted.
    pub fn with_strict_sqn(mut self) -> Self {
        self.state.sqn = self.state.sqn.clone().strict();
        self
    }

    /// Its quirks.
    pub fn quirks(&self) -> CardQuirks {
        self.quirks
    }

    /// The durable state now.
    pub fn state(&self) -> &CardState {
        &self.state
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The personalisation.
    pub fn personalisation(&self) -> &Personalisation {
        &self.perso
    }

    /// Power cycle / warm reset: the session (selection, PIN verified) is lost.
    pub fn reset(&mut self) {
        self.session = Session::new();
    }

    /// The ATR.
    pub fn atr(&self) -> &'static [u8] {
        &ATR
    }

    /// Processes one C-APDU and returns the R-APDU bytes. Never panics on any input.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let r = match parse_capdu(apdu) {
            Ok(c) => self.dispatch(&c),
            Err(sw) => Response::status(sw),
        };
        r.to_bytes()
    }

    fn dispatch(&mut self, c: &CApdu<'_>) -> Response {
        if self.quirks.gsm_sim {
            return self.dispatch_gsm(c);
        }
        if c.cla == CLA_GSM {
            return match c.ins {
                INS_GET_RESPONSE => self.get_response(c),
                INS_RUN_GSM_ALGORITHM => {
                    self.session.pending = None;
                    self.run_gsm_algorithm(c)
                }
                // `6E 00` to an A0 SELECT is how wpa_supplicant's PC/SC code
                // tells a UICC from a 2G SIM.
                _ => Response::status(StatusWord::CLA_NOT_SUPPORTED),
            };
        }
        if c.cla != 0x00 {
            return Response::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        if c.ins != INS_GET_RESPONSE {
            // Any other command discards an unfetched response.
            self.session.pending = None;
        }
        match c.ins {
            INS_SELECT => self.select(c),
            INS_GET_RESPONSE => self.get_response(c),
            INS_READ_RECORD => self.read_record(c),
            INS_READ_BINARY => self.read_binary(c),
            INS_VERIFY => self.verify(c),
            INS_AUTHENTICATE => self.authenticate(c),
            _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    /// Queues `data` for GET RESPONSE and answers `61 xx`.
    fn respond_later(&mut self, data: Vec<u8>) -> Response {
        let n = data.len().min(255) as u8;
        self.session.pending = Some(SecretBytes::new(data));
        Response::status(StatusWord(0x61, n))
    }

    fn pin_enabled(&self) -> bool {
        self.perso.pin.is_some()
    }

    fn pin_ok(&self) -> bool {
        !self.pin_enabled() || self.session.pin_verified
    }

    fn pin_status_template(&self) -> Vec<u8> {
        // PS_DO bit 8 ↔ the first key reference (PIN1) enabled (TS 102 221 §9.5.2).
        let ps_do = if self.pin_enabled() { 0x80 } else { 0x00 };
        tlv(
            files::FCP_PIN_STATUS,
            &[files::PS_DO_TAG, 0x01, ps_do, 0x83, 0x01, PIN1],
        )
    }

    fn fcp_of(&self, what: Selected) -> Vec<u8> {
        let life = tlv(0x8A, &[0x05]);
        match what {
            Selected::Df(Df::Mf) => fcp(&[
                tlv(0x82, &[0x78, 0x21]),
                tlv(0x83, &MF.to_be_bytes()),
                life,
                tlv(0x8B, &[0x2F, 0x06, 0x01]),
                self.pin_status_template(),
                tlv(0x81, &[0x10, 0x00]),
            ]),
            Selected::Df(Df::Adf) => fcp(&[
                tlv(0x82, &[0x78, 0x21]),
                tlv(0x84, &AID),
                life,
                tlv(0x8B, &[0x2F, 0x06, 0x01]),
                match self.quirks.adf_pin_template {
                    AdfPinTemplate::Present => self.pin_status_template(),
                    AdfPinTemplate::Absent => Vec::new(),
                },
                tlv(0x81, &[0x10, 0x00]),
            ]),
            Selected::Ef(ef) => {
                let (fid, descriptor, size) = match ef {
                    Ef::Dir => (
                        EF_DIR,
                        vec![0x42, 0x21, 0x00, EF_DIR_RECORD_LEN as u8, 0x01],
                        EF_DIR_RECORD_LEN,
                    ),
                    Ef::Imsi => (EF_IMSI, vec![0x41, 0x21], 9),
                    Ef::Ad => (EF_AD, vec![0x41, 0x21], 4),
                };
                fcp(&[
                    tlv(0x82, &descriptor),
                    tlv(0x83, &fid.to_be_bytes()),
                    life,
                    tlv(0x8B, &[0x6F, 0x06, 0x01]),
                    tlv(0x80, &(size as u16).to_be_bytes()),
                ])
            }
        }
    }

    fn select(&mut self, c: &CApdu<'_>) -> Response {
        let target = match c.p1 {
            0x00 => {
                let [hi, lo] = c.data else {
                    return Response::status(StatusWord::WRONG_LENGTH);
                };
                match (u16::from_be_bytes([*hi, *lo]), self.session.df) {
                    (MF, _) => Selected::Df(Df::Mf),
                    (EF_DIR, _) => Selected::Ef(Ef::Dir),
                    (0x7FFF, _) if self.session.adf_active => Selected::Df(Df::Adf),
                    (EF_IMSI, Df::Adf) => Selected::Ef(Ef::Imsi),
                    (EF_AD, Df::Adf) => Selected::Ef(Ef::Ad),
                    _ => return Response::status(StatusWord::FILE_NOT_FOUND),
                }
            }
            0x04 => {
                // Selection by (possibly right-truncated) AID.
                if c.data.len() < 5 || !AID.starts_with(c.data) {
                    return Response::status(StatusWord::FILE_NOT_FOUND);
                }
                self.session.adf_active = true;
                Selected::Df(Df::Adf)
            }
            _ => return Response::status(StatusWord::WRONG_P1P2),
        };
        match target {
            Selected::Df(df) => {
                self.session.df = df;
                self.session.ef = None;
            }
            Selected::Ef(ef) => {
                if ef == Ef::Dir {
                    self.session.df = Df::Mf;
                }
                self.session.ef = Some(ef);
            }
        }
        match c.p2 & 0x0C {
            0x0C => Response::status(StatusWord::OK),
            0x04 => {
                let fcp = self.fcp_of(target);
                self.respond_later(fcp)
            }
            _ => Response::status(StatusWord::WRONG_P1P2),
        }
    }

    fn get_response(&mut self, c: &CApdu<'_>) -> Response {
        if c.p1 != 0 || c.p2 != 0 {
            return Response::status(StatusWord::WRONG_P1P2);
        }
        let Some(pending) = self.session.pending.take() else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let avail = pending.len();
        let le = le_len(c.le);
        if le > avail {
            let n = avail.min(255) as u8;
            self.session.pending = Some(pending);
            return Response::status(StatusWord(0x6C, n));
        }
        let data = pending.expose()[..le].to_vec();
        if le < avail {
            let rest = pending.expose()[le..].to_vec();
            let n = rest.len().min(255) as u8;
            self.session.pending = Some(SecretBytes::new(rest));
            return Response {
                data,
                sw: StatusWord(0x61, n),
            };
        }
        Response {
            data,
            sw: StatusWord::OK,
        }
    }

    fn ef_dir_record(&self) -> Vec<u8> {
        let label = b"USIM";
        let mut body = tlv(0x4F, &AID);
        body.extend(tlv(0x50, label));
        let mut rec = tlv(0x61, &body);
        rec.resize(EF_DIR_RECORD_LEN, 0xFF);
        rec
    }

    fn read_record(&mut self, c: &CApdu<'_>) -> Response {
        if self.session.ef != Some(Ef::Dir) {
            return Response::status(StatusWord::NO_EF_SELECTED);
        }
        if c.p2 != 0x04 {
            return Response::status(StatusWord::WRONG_P1P2);
        }
        if c.p1 != 1 {
            return Response::status(StatusWord::RECORD_NOT_FOUND);
        }
        if le_len(c.le) != EF_DIR_RECORD_LEN {
            return Response::status(StatusWord(0x6C, EF_DIR_RECORD_LEN as u8));
        }
        Response {
            data: self.ef_dir_record(),
            sw: StatusWord::OK,
        }
    }

    fn read_binary(&mut self, c: &CApdu<'_>) -> Response {
        let content: Vec<u8> = match self.session.ef {
            Some(Ef::Imsi) => {
                if !self.pin_ok() {
                    return Response::status(StatusWord::SECURITY_NOT_SATISFIED);
                }
                self.perso.ef_imsi.to_vec()
            }
            // EF_AD: UE operation mode 00 (normal), additional info 0000, MNC length.
            Some(Ef::Ad) => vec![0x00, 0x00, 0x00, self.perso.mnc_len],
            Some(Ef::Dir) | None => return Response::status(StatusWord::NO_EF_SELECTED),
        };
        if c.p1 & 0x80 != 0 {
            return Response::status(StatusWord::WRONG_P1P2);
        }
        let offset = usize::from(u16::from_be_bytes([c.p1, c.p2]));
        if offset >= content.len() {
            return Response::status(StatusWord::WRONG_OFFSET);
        }
        let avail = content.len() - offset;
        let le = le_len(c.le);
        if le > avail {
            return Response::status(StatusWord(0x6C, avail as u8));
        }
        Response {
            data: content[offset..offset + le].to_vec(),
            sw: StatusWord::OK,
        }
    }

    fn verify(&mut self, c: &CApdu<'_>) -> Response {
        if c.p1 != 0 || c.p2 != PIN1 {
            return Response::status(StatusWord(0x6A, 0x88));
        }
        let Some(pin) = self.perso.pin.clone() else {
            // PIN1 disabled: nothing to verify.
            return match (c.data.is_empty(), self.quirks.disabled_pin_verify) {
                (true, DisabledPinVerify::Ok) => Response::status(StatusWord::OK),
                (true, DisabledPinVerify::RetryCounter) => {
                    Response::status(StatusWord(0x63, 0xC0 | self.state.pin_tries_left))
                }
                (false, _) => Response::status(StatusWord::REFERENCE_INVALIDATED),
            };
        };
        if self.state.pin_tries_left == 0 {
            return Response::status(StatusWord::PIN_BLOCKED);
        }
        if c.data.is_empty() {
            return if self.session.pin_verified {
                Response::status(StatusWord::OK)
            } else {
                Response::status(StatusWord(0x63, 0xC0 | self.state.pin_tries_left))
            };
        }
        if c.data.len() != 8 {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let mut padded = [0xFFu8; 8];
        let p = pin.expose();
        padded[..p.len().min(8)].copy_from_slice(&p[..p.len().min(8)]);
        let ok: bool = padded.ct_eq(c.data).into();
        let mut next = self.state.clone();
        next.pin_tries_left = if ok {
            PIN_TRIES
        } else {
            next.pin_tries_left.saturating_sub(1)
        };
        if next != self.state {
            // The counter is durable before the answer (a real card writes it first).
            if self.store.persist(&next).is_err() {
                return Response::status(StatusWord::TECHNICAL_PROBLEM);
            }
            self.state = next;
        }
        if ok {
            self.session.pin_verified = true;
            Response::status(StatusWord::OK)
        } else {
            Response::status(StatusWord(0x63, 0xC0 | self.state.pin_tries_left))
        }
    }

    /// A 2G SIM's commands (TS 51.011 §9): class `A0` only.
    fn dispatch_gsm(&mut self, c: &CApdu<'_>) -> Response {
        if c.cla != CLA_GSM {
            return Response::status(StatusWord::CLA_NOT_SUPPORTED);
        }
        if c.ins != INS_GET_RESPONSE {
            self.session.pending = None;
        }
        match c.ins {
            INS_SELECT => self.select_gsm(c),
            INS_GET_RESPONSE => self.get_response(c),
            INS_READ_BINARY => self.read_binary(c),
            INS_VERIFY => self.verify(c),
            INS_RUN_GSM_ALGORITHM if self.session.df == Df::Adf => self.run_gsm_algorithm(c),
            INS_RUN_GSM_ALGORITHM => Response::status(StatusWord(0x94, 0x04)),
            _ => Response::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }

    /// SELECT of a 2G SIM (TS 51.011 §9.2.1): by file id only, answered
    /// `9F xx` with the GSM response format (DF_GSM stands in the ADF's place).
    fn select_gsm(&mut self, c: &CApdu<'_>) -> Response {
        let [hi, lo] = c.data else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let fid = u16::from_be_bytes([*hi, *lo]);
        let (df, ef) = match (fid, self.session.df) {
            (MF, _) => (Df::Mf, None),
            (DF_GSM, _) => (Df::Adf, None),
            (EF_IMSI, Df::Adf) => (Df::Adf, Some(Ef::Imsi)),
            (EF_AD, Df::Adf) => (Df::Adf, Some(Ef::Ad)),
            // TS 51.011 §9.4.4: file id not found.
            _ => return Response::status(StatusWord(0x94, 0x04)),
        };
        self.session.df = df;
        self.session.ef = ef;
        let data = match ef {
            Some(ef) => {
                let size: u16 = if ef == Ef::Imsi { 9 } else { 4 };
                let [s1, s2] = size.to_be_bytes();
                // RFU, size, id, type EF (04), RFU, access, status, 02, transparent (00), 00.
                vec![
                    0, 0, s1, s2, *hi, *lo, 0x04, 0, 0x14, 0xF0, 0x44, 0x01, 0x02, 0x00, 0x00,
                ]
            }
            None => {
                let kind = if df == Df::Mf { 0x01 } else { 0x02 };
                // Byte 14 bit 8 = CHV1 disabled; byte 19 = CHV1 status
                // (b8: initialised, b4..b1: tries left) (TS 51.011 §9.2.1).
                let chars = if self.pin_enabled() { 0x00 } else { 0x80 };
                vec![
                    0,
                    0,
                    0,
                    0,
                    *hi,
                    *lo,
                    kind,
                    0,
                    0,
                    0,
                    0,
                    0,
                    10,
                    chars,
                    1,
                    2,
                    4,
                    0,
                    0x80 | self.state.pin_tries_left,
                    0x8A,
                    0x00,
                    0x00,
                ]
            }
        };
        let n = data.len() as u8;
        self.session.pending = Some(SecretBytes::new(data));
        Response::status(StatusWord(0x9F, n))
    }

    /// RUN GSM ALGORITHM (TS 51.011 §9.2.16): `A0 88 00 00 10 RAND`, the
    /// answer SRES‖Kc (12 bytes) through `9F 0C` and GET RESPONSE.
    fn run_gsm_algorithm(&mut self, c: &CApdu<'_>) -> Response {
        if c.p1 != 0 || c.p2 != 0 {
            return Response::status(StatusWord::WRONG_P1P2);
        }
        if !self.pin_ok() {
            // TS 51.011 §9.4.5: access condition not fulfilled.
            return Response::status(StatusWord(0x98, 0x04));
        }
        let Ok(rand) = <[u8; 16]>::try_from(c.data) else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let t = self.perso.keys.gsm_triplet(rand);
        let mut out = Vec::with_capacity(12);
        out.extend_from_slice(t.sres.as_bytes());
        out.extend_from_slice(t.kc.expose());
        self.session.pending = Some(SecretBytes::new(out));
        Response::status(StatusWord(0x9F, 12))
    }

    /// AUTHENTICATE in the GSM context (TS 31.102 §7.1.2.2): `10‖RAND` in,
    /// `04‖SRES 08‖Kc` out, c2/c3 of the Milenage quintet.
    fn authenticate_gsm(&mut self, c: &CApdu<'_>) -> Response {
        let [16, rand @ ..] = c.data else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let Ok(rand) = <[u8; 16]>::try_from(rand) else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let t = self.perso.keys.gsm_triplet(rand);
        let mut out = Vec::with_capacity(14);
        out.push(4);
        out.extend_from_slice(t.sres.as_bytes());
        out.push(8);
        out.extend_from_slice(t.kc.expose());
        self.respond_later(out)
    }

    fn authenticate(&mut self, c: &CApdu<'_>) -> Response {
        if c.p1 != 0 || (c.p2 != P2_AUTH_3G && c.p2 != P2_AUTH_GSM) {
            return Response::status(StatusWord::WRONG_P1P2);
        }
        if self.session.df != Df::Adf {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if !self.pin_ok() {
            return Response::status(StatusWord::SECURITY_NOT_SATISFIED);
        }
        if c.p2 == P2_AUTH_GSM {
            return self.authenticate_gsm(c);
        }
        if c.data.len() != 34 || c.data[0] != 16 || c.data[17] != 16 {
            return Response::status(StatusWord::WRONG_LENGTH);
        }
        let (Ok(rand), Ok(autn)) = (
            <[u8; 16]>::try_from(&c.data[1..17]),
            <[u8; 16]>::try_from(&c.data[18..34]),
        ) else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let autn = Autn(autn);
        let Ok(result) = self.perso.keys.authenticate(&rand, &autn) else {
            return Response::status(StatusWord::AUTH_MAC_FAILURE);
        };
        match self.state.sqn.check(result.sqn) {
            Freshness::Accept => {
                let mut next = self.state.clone();
                next.sqn.accept(result.sqn);
                // Durable before RES leaves the card (TS 33.102 Annex C.2.2 note).
                if self.store.persist(&next).is_err() {
                    return Response::status(StatusWord::TECHNICAL_PROBLEM);
                }
                self.state = next;
                let mut out = Vec::with_capacity(44);
                out.push(TAG_AUTH_OK);
                out.push(result.res.as_bytes().len() as u8);
                out.extend_from_slice(result.res.as_bytes());
                out.push(16);
                out.extend_from_slice(result.ck.expose());
                out.push(16);
                out.extend_from_slice(result.ik.expose());
                self.respond_later(out)
            }
            Freshness::Stale | Freshness::TooFarAhead | Freshness::TooOld => {
                let auts = self.perso.keys.auts(&rand, self.state.sqn.sqn_ms());
                let mut out = vec![TAG_SYNC_FAILURE, 14];
                out.extend_from_slice(&auts.0);
                self.respond_later(out)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Selected {
    Df(Df),
    Ef(Ef),
}

/// The in-process transport: APDUs go straight into a [`Simulator`].
impl<S: StateStore> CardTransport for Simulator<S> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.process(apdu))
    }
}

#[cfg(test)]
pub(crate) mod tests;
