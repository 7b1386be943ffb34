//! The EAP-SIM half of the peer (RFC 4186): Start rounds, the Challenge with
//! 2–3 GSM triplets, Notification and Client-Error. The identity exchange,
//! retransmissions and EAP-Success/Failure are the shared code of the parent
//! module. Fast re-authentication and pseudonyms are not implemented: an
//! EAP-SIM/Re-authentication gets Client-Error, AT_ENCR_DATA is ignored.

use super::{Action, Peer, State, response};
use eap::gsm::{Sres, Triplet};
use eap::secret::Kc;
use eap::sim::attr::{
    AtClientErrorCode, AtIdentity, AtMac, AtNonceMt, AtResultInd, AtSelectedVersion, AttrType,
    Attribute, VERSION_1,
};
use eap::sim::keys;
use eap::sim::message::{self, IdReq, Message, Subtype};

/// The method name in reports.
pub(super) const NAME: &str = "EAP-SIM";

/// The state of one EAP-SIM conversation.
#[derive(Debug)]
pub(super) struct SimSession {
    /// AT_VERSION_LIST of the last Start, as sent (an MK input).
    versions: Vec<u16>,
    /// NONCE_MT of our Start responses; `None` before the first Start.
    nonce_mt: Option<[u8; 16]>,
    start_rounds: u8,
    last_id_req: Option<IdReq>,
}

/// A Challenge waiting for the card.
#[derive(Debug)]
pub(super) struct PendingGsm {
    id: u8,
    packet: Vec<u8>,
    rands: Vec<[u8; 16]>,
    result_ind: bool,
}

fn sim_response(id: u8, m: &Message) -> Vec<u8> {
    // A message built here always encodes; an empty vector would only make
    // the server time out.
    match m.to_type_data() {
        Ok(data) => response(id, data),
        Err(_) => Vec::new(),
    }
}

/// The number of RANDs in an AT_RAND the decoder refused for its length
/// (RFC 4186 §10.9 allows 2 or 3): lets a Challenge with one RAND get client
/// error code 2 rather than "unable to process".
fn raw_rand_count(body: &[u8]) -> Option<usize> {
    let mut rest = body.get(3..)?;
    while let [t, l, ..] = rest {
        let len = usize::from(*l) * 4;
        if len == 0 || rest.len() < len {
            return None;
        }
        if *t == AttrType::AT_RAND.0 {
            return Some((len - 4) / 16);
        }
        rest = &rest[len..];
    }
    None
}

impl Peer {
    /// Fresh random NONCE_MT for the next EAP-SIM conversation (RFC 4186
    /// §10.4): call with random bytes before each [`Peer::handle`]; the peer
    /// keeps the value of the first Start for the whole conversation.
    pub fn set_nonce_mt(&mut self, nonce: [u8; 16]) {
        self.nonce_mt = nonce;
    }

    fn sim_client_error(
        &mut self,
        id: u8,
        code: AtClientErrorCode,
        why: impl Into<String>,
    ) -> Action {
        let why = why.into();
        tracing::warn!("sending EAP-SIM/Client-Error {}: {why}", code.code);
        self.state = State::Failing(why);
        Action::Send(sim_response(
            id,
            &Message::new(Subtype::ClientError).with(code),
        ))
    }

    /// An EAP-Request/SIM (Type 18).
    pub(super) fn on_sim(&mut self, id: u8, body: &[u8], raw: &[u8]) -> Action {
        if matches!(self.state, State::Failing(_)) {
            return Action::Discard("already failing; waiting for EAP-Failure".into());
        }
        self.sim.get_or_insert_with(|| SimSession {
            versions: Vec::new(),
            nonce_mt: None,
            start_rounds: 0,
            last_id_req: None,
        });
        let m = match Message::decode(body) {
            Ok(m) => m,
            Err(e) => {
                if body.first() == Some(&Subtype::Challenge.value())
                    && raw_rand_count(body).is_some_and(|n| n < 2)
                {
                    return self.sim_client_error(
                        id,
                        AtClientErrorCode::INSUFFICIENT_CHALLENGES,
                        "EAP-SIM/Challenge with fewer than 2 RANDs (RFC 4186 §9.3)",
                    );
                }
                return self.sim_client_error(
                    id,
                    AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                    format!("malformed EAP-SIM request: {e}"),
                );
            }
        };
        match m.subtype {
            Subtype::Start => self.on_sim_start(id, &m),
            Subtype::Challenge => self.on_sim_challenge(id, &m, raw),
            Subtype::Notification => self.on_sim_notification(id, &m, raw),
            Subtype::Reauthentication => self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Re-authentication: this peer gave no re-authentication identity",
            ),
            Subtype::ClientError => self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Client-Error in a request",
            ),
        }
    }

    /// EAP-SIM/Start (RFC 4186 §9.1–9.2): version negotiation, NONCE_MT and
    /// the identity rounds (same order rules as EAP-AKA, at most three).
    fn on_sim_start(&mut self, id: u8, m: &Message) -> Action {
        if !matches!(self.state, State::Identity | State::Start) {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Start after the Challenge",
            );
        }
        let Some(versions) = m.versions().map(<[u16]>::to_vec) else {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Start without AT_VERSION_LIST",
            );
        };
        // RFC 4186 §10.2: the peer picks a version from the list; we have only 1.
        if !versions.contains(&VERSION_1) {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNSUPPORTED_VERSION,
                format!("AT_VERSION_LIST {versions:?} does not offer version 1"),
            );
        }
        let req = m.id_req();
        let n_req = m
            .attributes
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Attribute::PermanentIdReq(_)
                        | Attribute::FullauthIdReq(_)
                        | Attribute::AnyIdReq(_)
                )
            })
            .count();
        let nonce = self.nonce_mt;
        let Some(s) = self.sim.as_mut() else {
            return Action::Discard("no EAP-SIM session".into());
        };
        s.start_rounds += 1;
        let order_ok = match (s.last_id_req, req) {
            (_, None) => true,
            (None, Some(_)) => true,
            (Some(_), Some(IdReq::Any)) => false,
            (Some(IdReq::Permanent), Some(IdReq::Fullauth)) => false,
            _ => true,
        };
        if n_req > 1 || !order_ok || s.start_rounds > 3 {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Start identity requests out of order (RFC 4186 §4.2.5)",
            );
        }
        if req.is_some() {
            s.last_id_req = req;
        }
        s.versions = versions;
        let nonce = *s.nonce_mt.get_or_insert(nonce);
        self.state = State::Identity;
        let mut out = Message::new(Subtype::Start)
            .with(AtNonceMt::new(nonce))
            .with(AtSelectedVersion { version: VERSION_1 });
        if req.is_some() {
            // Any, full-auth or permanent: we have only the permanent identity.
            self.identity = self.config.sim_identity();
            out.push(AtIdentity {
                identity: self.identity.as_bytes().to_vec(),
            });
        }
        Action::Send(sim_response(id, &out))
    }

    /// EAP-SIM/Challenge (RFC 4186 §9.3): 2 or 3 fresh RANDs and AT_MAC,
    /// checked once the card gave the Kc values.
    fn on_sim_challenge(&mut self, id: u8, m: &Message, raw: &[u8]) -> Action {
        let started = self.sim.as_ref().is_some_and(|s| s.nonce_mt.is_some());
        if !matches!(self.state, State::Identity | State::Start) || !started {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Challenge without a Start round, or a second one",
            );
        }
        let Some(rands) = m.rands().map(<[[u8; 16]]>::to_vec) else {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Challenge without AT_RAND",
            );
        };
        if rands.len() < 2 {
            return self.sim_client_error(
                id,
                AtClientErrorCode::INSUFFICIENT_CHALLENGES,
                "EAP-SIM/Challenge with fewer than 2 RANDs (RFC 4186 §9.3)",
            );
        }
        if rands
            .iter()
            .enumerate()
            .any(|(i, r)| rands[..i].contains(r))
        {
            return self.sim_client_error(
                id,
                AtClientErrorCode::RANDS_NOT_FRESH,
                "EAP-SIM/Challenge repeats a RAND (RFC 4186 §9.3)",
            );
        }
        if m.mac().is_none() {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Challenge without AT_MAC",
            );
        }
        let n = eap::packet::packet_length(raw)
            .unwrap_or(raw.len())
            .min(raw.len());
        self.state = State::Gsm(Box::new(PendingGsm {
            id,
            packet: raw[..n].to_vec(),
            rands: rands.clone(),
            result_ind: m.result_ind(),
        }));
        Action::GsmAuthenticate { rands }
    }

    /// The card's triplets for the pending EAP-SIM/Challenge, in RAND order.
    pub fn gsm_result(&mut self, triplets: &[Triplet]) -> Action {
        let State::Gsm(p) = std::mem::replace(&mut self.state, State::Identity) else {
            return Action::Discard("no EAP-SIM/Challenge waiting for the card".into());
        };
        let action = self.finish_sim_challenge(&p, triplets);
        if let Action::Send(resp) = &action {
            self.round_trips += 1;
            self.last = Some((p.packet.clone(), resp.clone()));
        }
        action
    }

    fn finish_sim_challenge(&mut self, p: &PendingGsm, triplets: &[Triplet]) -> Action {
        let id = p.id;
        if triplets.len() != p.rands.len()
            || triplets.iter().zip(&p.rands).any(|(t, r)| &t.rand != r)
        {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "the card's triplets do not match the RANDs",
            );
        }
        let Some(s) = self.sim.as_ref() else {
            return Action::Discard("no EAP-SIM session".into());
        };
        let Some(nonce) = s.nonce_mt else {
            return Action::Discard("no NONCE_MT".into());
        };
        let kcs: Vec<Kc> = triplets.iter().map(|t| t.kc.clone()).collect();
        let keys = keys::derive_keys(
            self.identity.as_bytes(),
            &kcs,
            &nonce,
            &s.versions,
            VERSION_1,
        );
        // RFC 4186 §9.3: the server's AT_MAC covers NONCE_MT.
        if !message::verify_packet(&keys.k_aut, &p.packet, &nonce) {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "AT_MAC of the EAP-SIM/Challenge does not verify",
            );
        }
        let result_ind = p.result_ind && self.result_ind;
        let mut out = Message::new(Subtype::Challenge);
        if result_ind {
            out.push(AtResultInd::default());
        }
        out.push(AtMac::ZEROED);
        let mut bytes = sim_response(id, &out);
        let sres: Vec<Sres> = triplets.iter().map(|t| t.sres).collect();
        // RFC 4186 §9.4: our AT_MAC covers n*SRES.
        if message::sign_packet(&keys.k_aut, &mut bytes, &keys::n_sres(&sres)).is_err() {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "cannot sign the response",
            );
        }
        self.state = State::Answered {
            keys: Box::new(keys),
            result_ind,
            reauth_counter: None,
        };
        Action::Send(bytes)
    }

    /// EAP-SIM/Notification (RFC 4186 §6.1, §9.9–9.10).
    fn on_sim_notification(&mut self, id: u8, m: &Message, raw: &[u8]) -> Action {
        let Some(n) = m.notification() else {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "EAP-SIM/Notification without AT_NOTIFICATION",
            );
        };
        if n.pre_challenge {
            if m.mac().is_some() || matches!(self.state, State::Answered { .. }) || n.success {
                return self.sim_client_error(
                    id,
                    AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                    "pre-challenge notification after the Challenge, with AT_MAC or S=1",
                );
            }
            self.state = State::Failing(format!("notification {} before the Challenge", n.value()));
            return Action::Send(sim_response(id, &Message::new(Subtype::Notification)));
        }
        let State::Answered {
            keys, result_ind, ..
        } = &self.state
        else {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "post-challenge notification before a valid Challenge",
            );
        };
        let len = eap::packet::packet_length(raw)
            .unwrap_or(raw.len())
            .min(raw.len());
        if m.mac().is_none() || !message::verify_packet(&keys.k_aut, &raw[..len], &[]) {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "post-challenge notification without a valid AT_MAC",
            );
        }
        if n.success && !result_ind {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "success notification without AT_RESULT_IND",
            );
        }
        let mut bytes = sim_response(id, &Message::new(Subtype::Notification).with(AtMac::ZEROED));
        if message::sign_packet(&keys.k_aut, &mut bytes, &[]).is_err() {
            return self.sim_client_error(
                id,
                AtClientErrorCode::UNABLE_TO_PROCESS_PACKET,
                "cannot sign the response",
            );
        }
        if !n.success {
            self.state = State::Failing(format!("failure notification {}", n.value()));
        }
        Action::Send(bytes)
    }
}

#[cfg(test)]
mod tests;
