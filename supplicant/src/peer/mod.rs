//! The EAP-AKA / EAP-AKA' peer (RFC 4187, RFC 9048) as a sans-IO state
//! machine: EAP packets in, [`Action`]s out. When the network sends an
//! AKA-Challenge the peer returns [`Action::Authenticate`]; the caller runs
//! AUTHENTICATE on the USIM and hands the answer back with
//! [`Peer::usim_result`]. No clock, socket or card is touched here.
//!
//! EAP-SIM (RFC 4186) runs in the same machine (module `sim`): it shares the
//! identity exchange, EAP-Notification, retransmission and the Success /
//! Failure handling; its GSM round is [`Action::GsmAuthenticate`] /
//! [`Peer::gsm_result`].

mod sim;

use crate::privacy::{
    FailureKind, IdentityChoice, OperatorCert, PeerReauthResult, PrivacyState,
    learn_from_challenge, process_notification, process_reauth_request,
};
use crate::usim::AuthResult;
use eap::aka::attr::{
    AtAuts, AtCheckcode, AtClientErrorCode, AtIdentity, AtKdf, AtMac, AtNotification, AtRes,
    AtResultInd, Attribute,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Keys, Method};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{self, IdReq, Message, Subtype};
use eap::identity::{self, Imsi, MncLen};
use eap::packet::{Packet, TypeData, types};
use eap::umts::Autn;

/// The KDF this peer implements: CK'/IK' of RFC 9048 §3.3.
pub const KDF_CK_IK_PRIME: u16 = 1;

/// Which methods the peer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    /// EAP-AKA.
    pub aka: bool,
    /// EAP-AKA'.
    pub aka_prime: bool,
    /// EAP-SIM (RFC 4186).
    pub sim: bool,
}

impl Methods {
    /// Only `m`.
    pub fn only(m: Method) -> Self {
        Self {
            aka: m == Method::Aka,
            aka_prime: m == Method::AkaPrime,
            sim: false,
        }
    }

    /// Only EAP-SIM.
    pub const SIM: Methods = Methods {
        aka: false,
        aka_prime: false,
        sim: true,
    };

    /// Both, AKA' preferred.
    pub const BOTH: Methods = Methods {
        aka: true,
        aka_prime: true,
        sim: false,
    };

    fn allows(self, m: Method) -> bool {
        match m {
            Method::Aka => self.aka,
            Method::AkaPrime => self.aka_prime,
        }
    }

    /// EAP-SIM is the only method: the identity is the EAP-SIM one.
    fn sim_only(self) -> bool {
        self.sim && !self.aka && !self.aka_prime
    }

    fn preferred(self) -> Method {
        if self.aka_prime {
            Method::AkaPrime
        } else {
            Method::Aka
        }
    }
}

/// The peer's configuration.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The IMSI (from the profile or EF_IMSI).
    pub imsi: Imsi,
    /// MNC length (from the profile or EF_AD).
    pub mnc_len: MncLen,
    /// The realm; `None` → the 3GPP realm of TS 23.003 §19.3.2.
    pub realm: Option<String>,
    /// Accepted methods.
    pub methods: Methods,
    /// AKA': the access network name AT_KDF_INPUT must carry (RFC 9048 §3.1).
    pub network_name: Option<Vec<u8>>,
}

impl PeerConfig {
    /// The permanent identity for `method`: `0<IMSI>@realm` or `6<IMSI>@realm`.
    pub fn permanent_identity(&self, method: Method) -> String {
        match &self.realm {
            Some(r) => {
                let lead = if method == Method::Aka { '0' } else { '6' };
                format!("{lead}{}@{r}", self.imsi.as_str())
            }
            None => identity::permanent_nai(&self.imsi, self.mnc_len, method),
        }
    }

    /// The EAP-SIM permanent identity `1<IMSI>@realm` (RFC 4186 §4.2.1.6,
    /// TS 23.003 §19.3.2).
    pub fn sim_identity(&self) -> String {
        let realm = match &self.realm {
            Some(r) => r.clone(),
            None => identity::realm(&self.imsi, self.mnc_len),
        };
        format!("1{}@{realm}", self.imsi.as_str())
    }
}

/// Identity privacy and fast re-authentication settings of a peer
/// (RFC 4187 §4.1, §5, §6.2; IMSI privacy of wpa_supplicant's `imsi_privacy_cert`).
#[derive(Debug)]
pub struct PrivacyOptions {
    /// The stored pseudonym / re-auth state (see [`PrivacyState::load`]).
    pub state: PrivacyState,
    /// The operator certificate: the permanent identity is sent encrypted.
    pub cert: Option<OperatorCert>,
    /// The key identifier attribute appended to the encrypted identity.
    pub cert_attr: Option<String>,
    /// Answer AT_RESULT_IND (protected result indication, RFC 4187 §6.2).
    pub result_ind: bool,
}

impl Default for PrivacyOptions {
    fn default() -> Self {
        Self {
            state: PrivacyState::default(),
            cert: None,
            cert_attr: None,
            result_ind: true,
        }
    }
}

/// Which kind of identity the peer presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// The permanent identity in clear.
    Permanent,
    /// A pseudonym (AT_NEXT_PSEUDONYM).
    Pseudonym,
    /// A fast re-authentication identity (AT_NEXT_REAUTH_ID).
    Reauth,
    /// The permanent identity encrypted under the operator certificate.
    Encrypted,
}

/// Full authentication (AKA-Challenge) or fast re-authentication (RFC 4187 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// AKA-Challenge with the USIM.
    Full,
    /// AKA-Reauthentication with stored keys.
    Reauth,
}

/// What the caller must do next.
#[derive(Debug)]
pub enum Action {
    /// Transmit this EAP-Response.
    Send(Vec<u8>),
    /// Run AUTHENTICATE on the USIM, then call [`Peer::usim_result`].
    Authenticate {
        /// RAND.
        rand: [u8; 16],
        /// AUTN.
        autn: Autn,
    },
    /// EAP-SIM: run the GSM algorithm on the card for each RAND (in this
    /// order), then call [`Peer::gsm_result`].
    GsmAuthenticate {
        /// The 2 or 3 RANDs of AT_RAND.
        rands: Vec<[u8; 16]>,
    },
    /// The packet was silently discarded (RFC 3748 §4, RFC 4187 §6); keep waiting.
    Discard(String),
    /// The exchange is over.
    Done(Outcome),
}

/// How the exchange ended.
#[derive(Debug)]
pub enum Outcome {
    /// EAP-Success after a valid AKA-Challenge.
    Success(Box<Success>),
    /// EAP-Failure (with what the peer saw before it).
    Failure {
        /// The method in use, if any was started.
        method: Option<Method>,
        /// Why.
        reason: String,
    },
}

/// A successful authentication.
#[derive(Debug)]
pub struct Success {
    /// The method; for EAP-SIM the key family, `Method::Aka` (see `method_name`).
    pub method: Method,
    /// "EAP-AKA", "EAP-AKA'" or "EAP-SIM".
    pub method_name: &'static str,
    /// The identity the keys were derived with.
    pub identity: String,
    /// The derived keys (MSK, EMSK, …); after a fast re-authentication the
    /// new MSK/EMSK with the stored K_encr, K_aut and MK/K_re.
    pub keys: Keys,
    /// Full or fast re-authentication.
    pub kind: AuthKind,
    /// The kind of identity presented last.
    pub identity_kind: IdentityKind,
}

/// A Challenge waiting for the USIM.
#[derive(Debug)]
struct PendingChallenge {
    id: u8,
    method: Method,
    packet: Vec<u8>,
    autn: Autn,
    network_name: Vec<u8>,
    checkcode: Option<eap::aka::attr::Checkcode>,
    bidding: Option<bool>,
    result_ind: bool,
}

#[derive(Debug)]
enum State {
    /// Waiting for EAP-Request/Identity or a method request.
    Start,
    /// Identity exchange or AKA-Identity rounds.
    Identity,
    /// Waiting for the USIM.
    Usim(Box<PendingChallenge>),
    /// EAP-SIM: waiting for the GSM triplets.
    Gsm(Box<sim::PendingGsm>),
    /// Challenge answered; waiting for Success, Failure or Notification.
    Answered {
        keys: Box<Keys>,
        result_ind: bool,
        /// The AT_COUNTER of a fast re-authentication; `None` after a Challenge.
        reauth_counter: Option<u16>,
    },
    /// Error reported to the server (Client-Error / Authentication-Reject /
    /// Notification failure); only EAP-Failure can follow.
    Failing(String),
    /// Over.
    Done,
}

/// The EAP-AKA/AKA' peer.
#[derive(Debug)]
pub struct Peer {
    config: PeerConfig,
    state: State,
    method: Option<Method>,
    /// The identity last sent (EAP-Response/Identity or AT_IDENTITY): the key derivation input.
    identity: String,
    checkcode: Option<CheckcodeHash>,
    identity_rounds: u8,
    last_id_req: Option<IdReq>,
    /// KDF negotiation: the AT_KDF list of the first Challenge when we asked for another KDF.
    kdf_asked: Option<Vec<u16>>,
    /// The last request and our answer, for retransmitted requests (RFC 3748 §4.1).
    last: Option<(Vec<u8>, Vec<u8>)>,
    round_trips: u32,
    privacy: PrivacyState,
    cert: Option<OperatorCert>,
    cert_attr: Option<String>,
    result_ind: bool,
    /// The privacy state changed since the caller last saved it.
    privacy_dirty: bool,
    identity_kind: IdentityKind,
    /// AT_IV for the next encrypted response (the shell supplies fresh random bytes).
    iv: [u8; 16],
    /// EAP-SIM: NONCE_MT for the next conversation (the shell supplies fresh random bytes).
    nonce_mt: [u8; 16],
    /// EAP-SIM: the conversation's state once the server started EAP-SIM.
    sim: Option<sim::SimSession>,
}

fn response(id: u8, data: TypeData) -> Vec<u8> {
    // Encoding a message this module built cannot fail; fall back to an empty
    // vector (nothing sent, the server times out) rather than panic.
    Packet::Response {
        identifier: id,
        data,
    }
    .encode()
    .unwrap_or_default()
}

fn aka_response(id: u8, method: Method, m: Message) -> Vec<u8> {
    response(id, TypeData::from_aka(method, m))
}

impl Peer {
    /// A peer with `config`, before any packet.
    pub fn new(config: PeerConfig) -> Self {
        Self::with_privacy(config, PrivacyOptions::default())
    }

    /// A peer with `config` and identity privacy / fast re-authentication.
    pub fn with_privacy(config: PeerConfig, privacy: PrivacyOptions) -> Self {
        let identity = if config.methods.sim_only() {
            config.sim_identity()
        } else {
            config.permanent_identity(config.methods.preferred())
        };
        Self {
            privacy: privacy.state,
            cert: privacy.cert,
            cert_attr: privacy.cert_attr,
            result_ind: privacy.result_ind,
            privacy_dirty: false,
            identity_kind: IdentityKind::Permanent,
            iv: [0; 16],
            nonce_mt: [0; 16],
            sim: None,
            config,
            state: State::Start,
            method: None,
            identity,
            checkcode: None,
            identity_rounds: 0,
            last_id_req: None,
            kdf_asked: None,
            last: None,
            round_trips: 0,
        }
    }

    /// Sets AT_IV for the next encrypted response: call with fresh random
    /// bytes before each [`Peer::handle`] (RFC 4187 §10.12).
    pub fn set_iv(&mut self, iv: [u8; 16]) {
        self.iv = iv;
    }

    /// The pseudonym / re-authentication state as it stands now.
    pub fn privacy_state(&self) -> &PrivacyState {
        &self.privacy
    }

    /// Whether the privacy state changed since the last call (clears the
    /// flag). When it returns `true` after an action, save
    /// [`Peer::privacy_state`] **before** transmitting the response
    /// (a fast re-authentication's counter must be durable first).
    pub fn take_privacy_changed(&mut self) -> bool {
        std::mem::take(&mut self.privacy_dirty)
    }

    /// The kind of identity presented last.
    pub fn identity_kind(&self) -> IdentityKind {
        self.identity_kind
    }

    /// The identity the peer presents (or presented last).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// EAP requests answered so far.
    pub fn round_trips(&self) -> u32 {
        self.round_trips
    }

    /// The method in use, once the server started one (the AKA family;
    /// `None` during EAP-SIM, see [`Peer::method_name`]).
    pub fn method(&self) -> Option<Method> {
        self.method
    }

    /// The name of the method in use: "EAP-AKA", "EAP-AKA'" or "EAP-SIM".
    pub fn method_name(&self) -> Option<&'static str> {
        if self.sim.is_some() {
            return Some(sim::NAME);
        }
        self.method.map(Method::name)
    }

    fn client_error(&mut self, id: u8, method: Method, why: impl Into<String>) -> Action {
        let why = why.into();
        tracing::warn!("sending {}-Client-Error: {why}", method.name());
        self.state = State::Failing(why);
        Action::Send(aka_response(
            id,
            method,
            Message::new(Subtype::ClientError).with(AtClientErrorCode::UNABLE_TO_PROCESS_PACKET),
        ))
    }

    fn auth_reject(&mut self, id: u8, method: Method, why: impl Into<String>) -> Action {
        let why = why.into();
        tracing::warn!("sending {}-Authentication-Reject: {why}", method.name());
        self.state = State::Failing(why);
        Action::Send(aka_response(
            id,
            method,
            Message::new(Subtype::AuthenticationReject),
        ))
    }

    /// Handles one EAP packet from the authenticator.
    pub fn handle(&mut self, packet: &[u8]) -> Action {
        // A retransmitted request gets the same answer again, unprocessed.
        if let Some((req, resp)) = &self.last
            && eap::packet::packet_length(packet)
                .ok()
                .and_then(|n| packet.get(..n))
                == Some(req.as_slice())
        {
            return Action::Send(resp.clone());
        }
        let action = self.handle_new(packet);
        if let Action::Send(resp) = &action {
            self.round_trips += 1;
            let n = eap::packet::packet_length(packet)
                .unwrap_or(packet.len())
                .min(packet.len());
            self.last = Some((packet[..n].to_vec(), resp.clone()));
        }
        action
    }

    fn handle_new(&mut self, raw: &[u8]) -> Action {
        if matches!(self.state, State::Done) {
            return Action::Discard("exchange already over".into());
        }
        if matches!(self.state, State::Usim(_) | State::Gsm(_)) {
            return Action::Discard("waiting for the USIM".into());
        }
        let packet = match Packet::decode(raw) {
            Ok(p) => p,
            Err(e) => return self.malformed(raw, e),
        };
        match packet {
            Packet::Response { .. } => Action::Discard("EAP-Response sent to the peer".into()),
            Packet::Success { .. } => self.on_success(),
            Packet::Failure { .. } => {
                let kind = match &self.state {
                    State::Answered {
                        reauth_counter: Some(_),
                        ..
                    } => FailureKind::Reauth,
                    _ if self.identity_kind == IdentityKind::Reauth => FailureKind::Reauth,
                    _ => FailureKind::FullAuth,
                };
                if self.sim.is_none() {
                    let before = self.privacy.clone();
                    self.privacy.on_failure(kind);
                    self.privacy_dirty |= before != self.privacy;
                }
                let reason = match std::mem::replace(&mut self.state, State::Done) {
                    State::Failing(why) => format!("EAP-Failure after: {why}"),
                    State::Answered { .. } if self.sim.is_some() => {
                        "EAP-Failure after the EAP-SIM Challenge (server rejected our AT_MAC)"
                            .into()
                    }
                    State::Answered { .. } => {
                        "EAP-Failure after the Challenge (server rejected RES)".into()
                    }
                    _ => "EAP-Failure".into(),
                };
                Action::Done(Outcome::Failure {
                    method: self.method,
                    reason,
                })
            }
            Packet::Request { identifier, data } => self.on_request(identifier, data, raw),
        }
    }

    /// A request that does not decode: AKA messages get Client-Error
    /// (RFC 4187 §6.3.1), anything else is discarded (RFC 3748 §4).
    fn malformed(&mut self, raw: &[u8], e: eap::packet::Error) -> Action {
        if let (Some(1), Some(t), Some(id)) = (raw.first(), raw.get(4), raw.get(1))
            && let Some(m) = Method::from_eap_type(*t)
            && eap::packet::packet_length(raw).is_ok()
            && self.method.is_none_or(|cur| cur == m)
            && self.config.methods.allows(m)
            && !matches!(self.state, State::Failing(_))
        {
            return self.client_error(*id, m, format!("malformed {} request: {e}", m.name()));
        }
        Action::Discard(format!("malformed EAP packet: {e}"))
    }

    fn on_success(&mut self) -> Action {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Answered {
                keys,
                reauth_counter,
                ..
            } => Action::Done(Outcome::Success(Box::new(Success {
                method: keys.method(),
                method_name: self.method_name().unwrap_or(sim::NAME),
                identity: self.identity.clone(),
                keys: *keys,
                kind: if reauth_counter.is_some() {
                    AuthKind::Reauth
                } else {
                    AuthKind::Full
                },
                identity_kind: self.identity_kind,
            }))),
            other => {
                // RFC 4187 §6.1 / RFC 3748 §4.2: Success before a valid Challenge is discarded.
                self.state = other;
                Action::Discard("EAP-Success before a valid AKA-Challenge".into())
            }
        }
    }

    fn on_request(&mut self, id: u8, data: TypeData, raw: &[u8]) -> Action {
        match data {
            TypeData::Identity(_) => {
                // A new conversation (RFC 3748 §5.1).
                self.state = State::Identity;
                self.method = None;
                self.checkcode = None;
                self.identity_rounds = 0;
                self.last_id_req = None;
                self.kdf_asked = None;
                self.sim = None;
                if self.config.methods.sim_only() {
                    // No pseudonym / re-authentication for EAP-SIM.
                    self.identity = self.config.sim_identity();
                    self.identity_kind = IdentityKind::Permanent;
                    let wire = self.identity.as_bytes().to_vec();
                    return Action::Send(response(id, TypeData::Identity(wire)));
                }
                let permanent = self
                    .config
                    .permanent_identity(self.config.methods.preferred());
                match self.choose_identity(None, &permanent, true) {
                    Ok(wire) => Action::Send(response(id, TypeData::Identity(wire))),
                    Err(why) => Action::Discard(why),
                }
            }
            TypeData::Notification(_) => {
                Action::Send(response(id, TypeData::Notification(Vec::new())))
            }
            TypeData::Aka(m) => self.on_aka(id, Method::Aka, m, raw),
            TypeData::AkaPrime(m) => self.on_aka(id, Method::AkaPrime, m, raw),
            TypeData::Nak(_) => Action::Discard("Nak in a request".into()),
            TypeData::Unknown(eap::sim::message::EAP_TYPE_SIM, body)
                if self.config.methods.sim && self.method.is_none() =>
            {
                self.on_sim(id, &body, raw)
            }
            TypeData::Unknown(t, _) => {
                if self.method.is_some() || self.sim.is_some() {
                    return Action::Discard(format!("EAP type {t} in the middle of an exchange"));
                }
                Action::Send(response(id, TypeData::Nak(self.nak_types())))
            }
        }
    }

    fn nak_types(&self) -> Vec<u8> {
        let mut v = Vec::new();
        if self.config.methods.aka_prime {
            v.push(types::AKA_PRIME);
        }
        if self.config.methods.aka {
            v.push(types::AKA);
        }
        if self.config.methods.sim {
            v.push(eap::sim::message::EAP_TYPE_SIM);
        }
        v
    }

    fn on_aka(&mut self, id: u8, method: Method, m: Message, raw: &[u8]) -> Action {
        if matches!(self.state, State::Failing(_)) {
            return Action::Discard("already failing; waiting for EAP-Failure".into());
        }
        if self.sim.is_some() {
            return Action::Discard(format!("{} request during EAP-SIM", method.name()));
        }
        match self.method {
            None if !self.config.methods.allows(method) => {
                return Action::Send(response(id, TypeData::Nak(self.nak_types())));
            }
            None => {
                self.method = Some(method);
                self.checkcode = Some(CheckcodeHash::new(method));
            }
            Some(cur) if cur != method => {
                return Action::Discard(format!("{} request during {}", method.name(), cur.name()));
            }
            Some(_) => {}
        }
        match m.subtype {
            Subtype::Identity => self.on_aka_identity(id, method, &m, raw),
            Subtype::Challenge => self.on_challenge(id, method, &m, raw),
            Subtype::Notification => self.on_notification(id, method, &m, raw),
            Subtype::Reauthentication => self.on_reauth(id, method, raw),
            other => self.client_error(
                id,
                method,
                format!("unexpected subtype {other:?} in a request"),
            ),
        }
    }

    /// AKA-Identity (RFC 4187 §4.1.4–4.1.6, §9.1): at most three rounds,
    /// AT_ANY_ID_REQ only first, nothing after AT_PERMANENT_ID_REQ but itself.
    fn on_aka_identity(&mut self, id: u8, method: Method, m: &Message, raw: &[u8]) -> Action {
        if !matches!(self.state, State::Identity | State::Start) {
            return self.client_error(id, method, "AKA-Identity after the Challenge");
        }
        let Some(req) = m.id_req() else {
            return self.client_error(
                id,
                method,
                "AKA-Identity without an identity request attribute",
            );
        };
        if m.attributes
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Attribute::PermanentIdReq(_)
                        | Attribute::FullauthIdReq(_)
                        | Attribute::AnyIdReq(_)
                )
            })
            .count()
            > 1
        {
            return self.client_error(id, method, "AKA-Identity with several identity requests");
        }
        let order_ok = match (self.last_id_req, req) {
            (None, _) => true,
            (Some(_), IdReq::Any) => false,
            (Some(IdReq::Permanent), IdReq::Fullauth) => false,
            _ => true,
        };
        self.identity_rounds += 1;
        if !order_ok || self.identity_rounds > 3 {
            return self.client_error(
                id,
                method,
                "AKA-Identity requests out of order (RFC 4187 §4.1.6)",
            );
        }
        self.last_id_req = Some(req);
        self.state = State::Identity;
        let permanent = self.config.permanent_identity(method);
        let wire = match self.choose_identity(Some(req), &permanent, false) {
            Ok(w) => w,
            Err(why) => return self.client_error(id, method, why),
        };
        let resp = aka_response(
            id,
            method,
            Message::new(Subtype::Identity).with(AtIdentity { identity: wire }),
        );
        if let Some(cc) = self.checkcode.as_mut() {
            cc.update(
                &raw[..eap::packet::packet_length(raw)
                    .unwrap_or(raw.len())
                    .min(raw.len())],
            );
            cc.update(&resp);
        }
        Action::Send(resp)
    }

    fn on_challenge(&mut self, id: u8, method: Method, m: &Message, raw: &[u8]) -> Action {
        if !matches!(self.state, State::Identity | State::Start) {
            return self.client_error(id, method, "second AKA-Challenge");
        }
        let (Some(rand), Some(autn)) = (m.rand(), m.autn()) else {
            return self.client_error(id, method, "AKA-Challenge without AT_RAND or AT_AUTN");
        };
        if m.mac().is_none() {
            return self.client_error(id, method, "AKA-Challenge without AT_MAC");
        }
        let kdfs: Vec<u16> = m.kdfs().collect();
        let mut network_name = Vec::new();
        if method == Method::AkaPrime {
            // RFC 9048 §3.2: KDF negotiation, with downgrade protection.
            if let Some(first) = &self.kdf_asked {
                let mut expected = vec![KDF_CK_IK_PRIME];
                expected.extend_from_slice(first);
                if kdfs != expected {
                    return self.auth_reject(
                        id,
                        method,
                        "AT_KDF list changed beyond the KDF we asked for (bidding down)",
                    );
                }
            }
            match kdfs.first() {
                None => return self.client_error(id, method, "AKA'-Challenge without AT_KDF"),
                Some(&KDF_CK_IK_PRIME) => {}
                Some(_) if self.kdf_asked.is_none() && kdfs.contains(&KDF_CK_IK_PRIME) => {
                    // Ask for KDF 1: AKA'-Challenge response with only AT_KDF.
                    self.kdf_asked = Some(kdfs.clone());
                    return Action::Send(aka_response(
                        id,
                        method,
                        Message::new(Subtype::Challenge).with(AtKdf {
                            kdf: KDF_CK_IK_PRIME,
                        }),
                    ));
                }
                Some(_) => return self.auth_reject(id, method, "no supported KDF offered"),
            }
            let Some(name) = m.kdf_input() else {
                return self.client_error(id, method, "AKA'-Challenge without AT_KDF_INPUT");
            };
            if let Some(want) = &self.config.network_name
                && want.as_slice() != name
            {
                return self.auth_reject(
                    id,
                    method,
                    format!(
                        "AT_KDF_INPUT {:?} is not the expected network name",
                        String::from_utf8_lossy(name)
                    ),
                );
            }
            // RFC 9048 §3.1 / TS 33.402: AKA' vectors carry the AMF separation bit.
            if !autn.amf().separation_bit() {
                return self.auth_reject(id, method, "AUTN without the AMF separation bit");
            }
            network_name = name.to_vec();
        }
        let n = eap::packet::packet_length(raw)
            .unwrap_or(raw.len())
            .min(raw.len());
        self.state = State::Usim(Box::new(PendingChallenge {
            id,
            method,
            packet: raw[..n].to_vec(),
            autn: *autn,
            network_name,
            checkcode: m.checkcode().copied(),
            bidding: m.bidding(),
            result_ind: m.result_ind(),
        }));
        Action::Authenticate {
            rand: *rand,
            autn: *autn,
        }
    }

    /// The USIM's answer to the pending AKA-Challenge.
    pub fn usim_result(&mut self, result: AuthResult) -> Action {
        let State::Usim(p) = std::mem::replace(&mut self.state, State::Identity) else {
            return Action::Discard("no Challenge waiting for the USIM".into());
        };
        let action = self.finish_challenge(*p, result);
        if let Action::Send(_) = &action {
            self.round_trips += 1;
        }
        action
    }

    fn finish_challenge(&mut self, p: PendingChallenge, result: AuthResult) -> Action {
        let (id, method) = (p.id, p.method);
        let action = match result {
            AuthResult::MacFailure => {
                self.auth_reject(id, method, "AUTN: MAC-A wrong (network not authentic)")
            }
            AuthResult::SyncFailure(auts) => {
                let mut msg = Message::new(Subtype::SynchronizationFailure).with(AtAuts { auts });
                if method == Method::AkaPrime {
                    // RFC 9048 §3.2: the selected KDF accompanies AT_AUTS.
                    msg.push(AtKdf {
                        kdf: KDF_CK_IK_PRIME,
                    });
                }
                // A new Challenge with a fresh vector follows.
                self.state = State::Identity;
                Action::Send(aka_response(id, method, msg))
            }
            AuthResult::Success { res, ck, ik } => {
                let keys = match method {
                    Method::Aka => keys::derive_aka(self.identity.as_bytes(), &ik, &ck),
                    Method::AkaPrime => match keys::derive_aka_prime_from_ck_ik(
                        self.identity.as_bytes(),
                        &ck,
                        &ik,
                        &p.network_name,
                        &p.autn.sqn_xor_ak(),
                    ) {
                        Ok(k) => k,
                        Err(e) => return self.client_error(id, method, e.to_string()),
                    },
                };
                if !message::verify_packet(&keys.k_aut, &p.packet, NO_EXTRA) {
                    return self.client_error(
                        id,
                        method,
                        "AT_MAC of the AKA-Challenge does not verify",
                    );
                }
                // RFC 9048 §4: AT_BIDDING is trusted only after AT_MAC verified.
                if method == Method::Aka && p.bidding == Some(true) && self.config.methods.aka_prime
                {
                    return self.client_error(
                        id,
                        method,
                        "AT_BIDDING says the server supports EAP-AKA': bidding down",
                    );
                }
                let ours = self
                    .checkcode
                    .clone()
                    .unwrap_or_else(|| CheckcodeHash::new(method));
                if let Some(cc) = &p.checkcode
                    && !ours.verify_attr(cc)
                {
                    return self.client_error(
                        id,
                        method,
                        "AT_CHECKCODE does not match the identity round",
                    );
                }
                // RFC 4187 §9.3: AT_ENCR_DATA is trusted only after AT_MAC verified.
                let learned = match Packet::decode(&p.packet)
                    .ok()
                    .as_ref()
                    .and_then(Packet::aka)
                    .map(|(_, m)| learn_from_challenge(&keys.k_encr, m))
                {
                    Some(Ok(l)) => l,
                    Some(Err(e)) => return self.client_error(id, method, e.to_string()),
                    None => return self.client_error(id, method, "AKA-Challenge does not decode"),
                };
                let realm = self
                    .config
                    .permanent_identity(method)
                    .rsplit_once('@')
                    .map(|(_, r)| r.to_owned());
                self.privacy
                    .after_full_auth(learned, &keys, realm.as_deref());
                self.privacy_dirty = true;
                let result_ind = p.result_ind && self.result_ind;
                let mut msg = Message::new(Subtype::Challenge)
                    .with(AtRes { res })
                    .with(AtCheckcode::new(ours.to_attr()));
                if result_ind {
                    msg.push(AtResultInd::default());
                }
                msg.push(AtMac::ZEROED);
                let mut bytes = aka_response(id, method, msg);
                if message::sign_packet(&keys.k_aut, &mut bytes, NO_EXTRA).is_err() {
                    return self.client_error(id, method, "cannot sign the response");
                }
                self.state = State::Answered {
                    keys: Box::new(keys),
                    result_ind,
                    reauth_counter: None,
                };
                Action::Send(bytes)
            }
        };
        // Remember the answer for a retransmitted Challenge.
        if let Action::Send(resp) = &action {
            self.last = Some((p.packet.clone(), resp.clone()));
        }
        action
    }

    /// AKA-Notification (RFC 4187 §6.1, §9.10).
    fn on_notification(&mut self, id: u8, method: Method, m: &Message, raw: &[u8]) -> Action {
        let Some(n) = m.notification() else {
            return self.client_error(id, method, "AKA-Notification without AT_NOTIFICATION");
        };
        let answered = matches!(self.state, State::Answered { .. });
        if n.pre_challenge {
            if m.mac().is_some() || answered {
                return self.client_error(
                    id,
                    method,
                    "pre-challenge notification after the Challenge or with AT_MAC",
                );
            }
            // Failure codes only (S=1 requires P=0).
            if n.success {
                return self.client_error(id, method, "success notification before the Challenge");
            }
            self.state = State::Failing(format!("notification {} before the Challenge", n.value()));
            return Action::Send(aka_response(
                id,
                method,
                Message::new(Subtype::Notification),
            ));
        }
        if let State::Answered {
            keys,
            result_ind,
            reauth_counter: Some(counter),
        } = &self.state
        {
            let (result_ind, counter) = (*result_ind, *counter);
            let answer = process_notification(
                method,
                &keys.k_aut,
                &keys.k_encr,
                Some(counter),
                raw,
                self.iv,
            );
            return match answer {
                Err(e) => self.client_error(
                    id,
                    method,
                    format!("notification after re-authentication: {e}"),
                ),
                Ok(a) if a.notification.success && !result_ind => {
                    self.client_error(id, method, "success notification without AT_RESULT_IND")
                }
                Ok(a) => {
                    if !a.notification.success {
                        self.state = State::Failing(format!(
                            "failure notification {}",
                            a.notification.value()
                        ));
                    }
                    Action::Send(a.response)
                }
            };
        }
        let State::Answered {
            keys, result_ind, ..
        } = &self.state
        else {
            return self.client_error(
                id,
                method,
                "post-challenge notification before a valid Challenge",
            );
        };
        let n_len = eap::packet::packet_length(raw)
            .unwrap_or(raw.len())
            .min(raw.len());
        if m.mac().is_none() || !message::verify_packet(&keys.k_aut, &raw[..n_len], NO_EXTRA) {
            return self.client_error(
                id,
                method,
                "post-challenge notification without a valid AT_MAC",
            );
        }
        if n.success && !result_ind {
            return self.client_error(id, method, "success notification without AT_RESULT_IND");
        }
        let mut bytes = aka_response(
            id,
            method,
            Message::new(Subtype::Notification).with(AtMac::ZEROED),
        );
        if message::sign_packet(&keys.k_aut, &mut bytes, NO_EXTRA).is_err() {
            return self.client_error(id, method, "cannot sign the response");
        }
        if !n.success {
            self.state = State::Failing(format!("failure notification {}", n.value()));
        }
        if n == AtNotification::SUCCESS {
            tracing::debug!("success notification");
        }
        Action::Send(bytes)
    }

    /// The identity for an EAP-Request/Identity (`req` = `None`) or an
    /// AKA-Identity request: re-auth id, pseudonym or (encrypted) permanent
    /// identity (RFC 4187 §4.1.6). Sets the MK identity; returns the wire bytes.
    fn choose_identity(
        &mut self,
        req: Option<IdReq>,
        permanent: &str,
        in_eap_identity: bool,
    ) -> Result<Vec<u8>, String> {
        let before = self.privacy.clone();
        let cert = self.cert.as_ref().map(|c| (c, self.cert_attr.as_deref()));
        let t = self
            .privacy
            .identity_to_send(req, permanent, cert, in_eap_identity)
            .map_err(|e| e.to_string())?;
        self.privacy_dirty |= before != self.privacy;
        self.identity_kind = match t.choice {
            IdentityChoice::Reauth => IdentityKind::Reauth,
            IdentityChoice::Pseudonym => IdentityKind::Pseudonym,
            IdentityChoice::Permanent if self.cert.is_some() => IdentityKind::Encrypted,
            IdentityChoice::Permanent => IdentityKind::Permanent,
        };
        self.identity = String::from_utf8_lossy(&t.mk_identity).into_owned();
        Ok(t.wire)
    }

    /// EAP-Request/AKA-Reauthentication (RFC 4187 §5, RFC 9048 §3.5).
    fn on_reauth(&mut self, id: u8, method: Method, raw: &[u8]) -> Action {
        if !matches!(self.state, State::Identity | State::Start) {
            return self.client_error(id, method, "AKA-Reauthentication after the Challenge");
        }
        let Some(st) = self.privacy.reauth.clone().filter(|r| r.method() == method) else {
            return self.client_error(
                id,
                method,
                "AKA-Reauthentication without a re-authentication identity",
            );
        };
        let n = eap::packet::packet_length(raw)
            .unwrap_or(raw.len())
            .min(raw.len());
        // MSK derivation uses the re-auth identity the keys belong to.
        self.identity = st.identity.clone();
        self.identity_kind = IdentityKind::Reauth;
        self.privacy_dirty = true;
        let identity_round = self.checkcode.as_ref();
        match process_reauth_request(&st, &raw[..n], self.iv, self.result_ind, identity_round) {
            PeerReauthResult::Success {
                response,
                msk,
                emsk,
                counter,
                learned,
                use_result_ind,
            } => {
                let realm = st.identity.rsplit_once('@').map(|(_, r)| r.to_owned());
                if let Some(p) = learned.pseudonym {
                    self.privacy.pseudonym = Some(match &realm {
                        Some(r) => format!("{p}@{r}"),
                        None => p,
                    });
                }
                self.privacy.reauth = learned.reauth_id.map(|identity| {
                    let mut next = st.clone();
                    next.identity = identity;
                    next.last_counter = counter;
                    next
                });
                let keys = Keys {
                    k_encr: st.k_encr.clone(),
                    k_aut: st.k_aut.clone(),
                    msk,
                    emsk,
                    reauth: st.secret.clone(),
                };
                self.state = State::Answered {
                    keys: Box::new(keys),
                    result_ind: use_result_ind,
                    reauth_counter: Some(counter),
                };
                Action::Send(response)
            }
            PeerReauthResult::CounterTooSmall { response, received } => {
                tracing::warn!(
                    "AT_COUNTER {received} not above {}: AT_COUNTER_TOO_SMALL",
                    st.last_counter
                );
                // RFC 4187 §5.4: a full authentication follows; its MK
                // identity is the re-auth identity just used.
                self.privacy.reauth = None;
                self.state = State::Identity;
                Action::Send(response)
            }
            PeerReauthResult::ClientError { response, reason } => {
                tracing::warn!(
                    "sending {}-Client-Error: re-authentication: {reason}",
                    method.name()
                );
                self.privacy.on_failure(FailureKind::Reauth);
                self.state = State::Failing(format!("re-authentication: {reason}"));
                Action::Send(response)
            }
        }
    }
}

#[cfg(test)]
mod tests;
