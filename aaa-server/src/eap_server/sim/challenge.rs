//! An EAP-SIM/Challenge is outstanding (RFC 4186 §9.3–9.4).

use super::{Next, SimTarget, VERSIONS, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::{Accept, Work};
use crate::eap_server::{Cx, Reject, Round, Success};
use crate::hss::Triplet;
use crate::privacy::{IssueFor, challenge_attributes, issue_after_full_auth, issue_sim_reauth_id};
use eap::aka::attr::{AtEncrData, AtIv};
use eap::secret::{KAut, Kc, Msk};
use eap::sim::attr::{AtMac, AtRand, AtResultInd};
use eap::sim::keys::{self, n_sres};
use eap::sim::message::{Message, SimPacket, Subtype, verify_packet};
use zeroize::Zeroizing;

/// Waiting for the EAP-SIM/Challenge response.
#[derive(Clone)]
pub(crate) struct Challenge {
    /// The identity the keys are bound to (the User-Name of the Accept).
    identity: Vec<u8>,
    permanent_user: String,
    /// n*SRES, what the response's AT_MAC covers after the packet (§9.4).
    sres: Zeroizing<Vec<u8>>,
    k_aut: KAut,
    msk: Msk,
    /// The subscriber's store version the triplets were made from.
    version: u64,
}

/// n*SRES stays out of `Debug` (K_aut and the MSK redact themselves).
impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("identity", &eap::identity::mask_identity(&self.identity))
            .field("sres", &"<redacted>")
            .field("k_aut", &self.k_aut)
            .field("msk", &self.msk)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The EAP-SIM/Challenge request: AT_RAND, then AT_IV and AT_ENCR_DATA
/// when given, AT_RESULT_IND when asked, and AT_MAC over the packet and
/// NONCE_MT (RFC 4186 §9.3).
pub(crate) fn challenge_packet(
    identifier: u8,
    rands: &[[u8; 16]],
    k_aut: &KAut,
    nonce_mt: &[u8; 16],
    encr: Option<(AtIv, AtEncrData)>,
    result_ind: bool,
) -> Result<Vec<u8>, Reject> {
    let mut msg = Message::new(Subtype::Challenge).with(AtRand::new(rands));
    if let Some((iv, data)) = encr {
        msg.push(iv);
        msg.push(data);
    }
    if result_ind {
        msg.push(AtResultInd::default());
    }
    msg.push(AtMac::ZEROED);
    let (mut bytes, off) = SimPacket::request(identifier, msg)
        .encode_with_mac_offset()
        .map_err(|_| Reject::Encoding)?;
    let off = off.ok_or(Reject::Encoding)?;
    eap::aka::mac::sign(k_aut, &mut bytes, off, nonce_mt).map_err(|_| Reject::Encoding)?;
    Ok(bytes)
}

/// Builds the Challenge from the store's triplets (RFC 4186 §9.3).
pub(super) fn build(
    cx: &mut Cx<'_>,
    c: &mut Common,
    target: SimTarget,
    triplets: &[Triplet],
    version: u64,
) -> Result<Next, Reject> {
    let SimTarget {
        identity,
        imsi: _,
        permanent_user,
        nonce_mt,
    } = target;
    let distinct = triplets
        .iter()
        .enumerate()
        .all(|(i, t)| triplets[..i].iter().all(|u| u.rand != t.rand));
    if !(2..=3).contains(&triplets.len()) || !distinct {
        return Err(Reject::BadTriplets);
    }
    let rands: Vec<[u8; 16]> = triplets.iter().map(|t| t.rand).collect();
    let kcs: Vec<Kc> = triplets.iter().map(|t| t.kc.clone()).collect();
    let sres: Vec<_> = triplets.iter().map(|t| t.sres).collect();
    let selected = VERSIONS[0];
    let k = keys::derive_keys(&identity, &kcs, &nonce_mt, &VERSIONS, selected);
    let mut encr = None;
    let mut result_ind = false;
    if let Some(p) = cx.privacy {
        let realm = super::super::aka::realm_of(&identity).unwrap_or_else(|| p.realm.clone());
        let unix = cx.unix(c.started);
        let nonces = [cx.rng.bytes16()?, cx.rng.bytes16()?];
        let who = IssueFor {
            permanent_user: &permanent_user,
            version,
        };
        let next = issue_after_full_auth(&p.keys, &p.policy, who, &k, &realm, unix, nonces);
        if let Ok(mut next) = next {
            // The re-auth identity of an EAP-SIM context (RFC 4186 §5).
            next.reauth_id =
                issue_sim_reauth_id(&p.keys, &p.policy, who, &k, &realm, unix, nonces[1])
                    .ok()
                    .flatten();
            let iv = cx.rng.bytes16()?;
            encr = challenge_attributes(&k.k_encr, iv, &next).map_err(|_| Reject::Encoding)?;
        }
        result_ind = p.policy.result_indication;
    }
    let bytes = challenge_packet(c.next_id(), &rands, &k.k_aut, &nonce_mt, encr, result_ind)?;
    let keys::Keys { k_aut, msk, .. } = k;
    let phase_ = Challenge {
        identity,
        permanent_user,
        sres: n_sres(&sres),
        k_aut,
        msk,
        version,
    };
    Ok(Next::Request(
        bytes,
        phase(super::Phase::Challenge(Box::new(phase_))),
    ))
}

impl Challenge {
    /// The peer's EAP-SIM/Challenge response: AT_MAC over the packet and n*SRES (§9.4).
    pub(super) fn receive(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        msg: &Message,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Challenge {
            return Err(Reject::UnexpectedSubtype(Round::Challenge));
        }
        if !verify_packet(&self.k_aut, raw, &self.sres) {
            // RFC 4186 §6.3.1: "General failure" before EAP-Failure.
            return super::notify::send_general_failure(c, Reject::BadMac);
        }
        let result_ind = msg.result_ind() && cx.result_indication();
        let Challenge {
            identity,
            permanent_user,
            k_aut,
            msk,
            version,
            ..
        } = self;
        let imsi = super::imsi_of_user(&permanent_user).ok_or(Reject::NoImsi)?;
        Ok(Next::Store(Work::Confirm {
            imsi,
            version,
            accept: Box::new(Accept {
                msk,
                identity,
                how: Success::Full,
                notify: result_ind.then_some((k_aut, None)),
                imsi: None,
            }),
        }))
    }
}
