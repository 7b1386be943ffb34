//! An AKA-Challenge is outstanding (RFC 4187 §9.3–9.6, RFC 9048 §3).

use super::{Next, Phase, imsi_of_user, local_part, realm_in};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::{Accept, Target, Work};
use crate::eap_server::{Cx, Reject, Round, Success};
use crate::privacy::{IssueFor, challenge_attributes, issue_after_full_auth};
use eap::aka::attr::{
    AtAutn, AtBidding, AtCheckcode, AtKdf, AtKdfInput, AtMac, AtRand, AtResultInd,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Keys, Method};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{Message, Subtype, verify_packet};
use eap::identity::Nai;
use eap::packet::{Packet, TypeData};
use eap::secret::{KAut, Msk};
use eap::umts::{AuthVector, Res};

/// Waiting for the AKA-Challenge response.
///
/// Kept small: one is held per authentication in flight. Only what the
/// response needs is stored (K_aut to verify it, the MSK to export); the
/// identity and the user name are stored only when they differ from what
/// the session already holds.
#[derive(Clone, Debug)]
pub(crate) struct Challenge {
    /// The identity the keys are bound to (the last one the peer sent);
    /// `None`: the session's EAP-Response/Identity identity.
    identity: Option<std::sync::Arc<[u8]>>,
    /// The permanent user name (NAI user part) for the issued identities and
    /// a resynchronisation; `None`: the user part of the bound identity.
    permanent_user: Option<Box<str>>,
    rand: [u8; 16],
    xres: Res,
    k_aut: KAut,
    msk: Msk,
    /// True once a Synchronization-Failure was served (at most once).
    resynced: bool,
    /// The subscriber's store version when the vector was issued, checked
    /// with [`crate::hss::Hss::current`] before Access-Accept (and sealed in
    /// the re-auth identity issued).
    version: u64,
}

/// Builds the AKA-Challenge from vector `v` (RFC 4187 §9.3, RFC 9048 §3).
pub(super) fn build(
    cx: &mut Cx<'_>,
    c: &mut Common,
    target: Target,
    v: AuthVector,
    version: u64,
) -> Result<Next, Reject> {
    let Target {
        identity,
        imsi: _,
        permanent_user,
        resynced,
    } = target;
    let keys = match c.method {
        Method::Aka => keys::derive_aka(&identity, &v.ik, &v.ck),
        Method::AkaPrime => {
            let (ckp, ikp) =
                keys::ck_ik_prime(&v.ck, &v.ik, cx.network_name(), &v.autn.sqn_xor_ak())
                    .map_err(|_| Reject::NetworkNameTooLong)?;
            keys::derive_aka_prime(&identity, &ckp, &ikp)
        }
    };
    // Room for every attribute a Challenge may carry: one allocation.
    let mut msg = Message {
        attributes: Vec::with_capacity(9),
        ..Message::new(Subtype::Challenge)
    }
    .with(AtRand {
        rand: v.rand,
        reserved: 0,
    })
    .with(AtAutn {
        autn: v.autn,
        reserved: 0,
    });
    match c.method {
        Method::AkaPrime => {
            msg.push(AtKdf::CK_IK_PRIME);
            msg.push(AtKdfInput {
                network_name: cx.network_name().to_vec(),
            });
        }
        Method::Aka => {
            // RFC 9048 §4: tell the peer AKA' was available (bidding down).
            if cx.enabled(Method::AkaPrime) {
                msg.push(AtBidding {
                    d: true,
                    reserved: 0,
                });
            }
        }
    }
    if let Some(cc) = c.checkcode.as_deref().filter(|cc| cc.packets() > 0) {
        msg.push(AtCheckcode {
            checkcode: cc.to_attr(),
            reserved: 0,
        });
    }
    // Parsed once: the permanent user name (when it is the identity's own)
    // and the realm.
    let nai = Nai::parse(&identity).ok();
    let user: &str = match &permanent_user {
        Some(u) => u,
        None => nai.map_or("", |n| n.user()),
    };
    if let Some(p) = cx.privacy {
        // RFC 4187 §9.3: AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID in AT_ENCR_DATA.
        let realm = realm_in(nai).unwrap_or(&p.realm);
        let unix = cx.unix(c.started);
        let nonces = [cx.rng.bytes16()?, cx.rng.bytes16()?];
        let next = issue_after_full_auth(
            &p.keys,
            &p.policy,
            IssueFor {
                permanent_user: user,
                version,
            },
            &keys,
            realm,
            unix,
            nonces,
        );
        // A user name that cannot be sealed just gets no identities.
        if let Ok(next) = next {
            let iv = cx.rng.bytes16()?;
            if let Some((iv, data)) =
                challenge_attributes(&keys.k_encr, iv, &next).map_err(|_| Reject::Encoding)?
            {
                msg.push(iv);
                msg.push(data);
            }
        }
        if p.policy.result_indication {
            msg.push(AtResultInd::default());
        }
    }
    msg.push(AtMac::ZEROED);
    let pkt = Packet::Request {
        identifier: c.next_id(),
        data: TypeData::from_aka(c.method, msg),
    };
    let (mut bytes, mac) = pkt.encode_with_mac_offset().map_err(|_| Reject::Encoding)?;
    let off = mac.ok_or(Reject::Encoding)?;
    eap::aka::mac::sign(&keys.k_aut, &mut bytes, off, NO_EXTRA).map_err(|_| Reject::Encoding)?;
    let Keys { k_aut, msk, .. } = keys;
    let permanent_user = (local_part(&identity) != user.as_bytes()).then(|| Box::from(user));
    let identity = (*identity != *c.eap_identity).then_some(identity);
    let phase = Challenge {
        identity,
        permanent_user,
        rand: v.rand,
        xres: v.xres,
        k_aut,
        msk,
        resynced,
        version,
    };
    Ok(Next::Request(bytes, Phase::Challenge(Box::new(phase))))
}

impl Challenge {
    /// The peer's AKA-Challenge response or Synchronization-Failure.
    pub(super) fn receive(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        msg: &Message,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        match msg.subtype {
            Subtype::Challenge => self.response(cx, c, msg, raw),
            Subtype::SynchronizationFailure => self.sync_failure(c, msg),
            _ => Err(Reject::UnexpectedSubtype(Round::Challenge)),
        }
    }

    /// RFC 4187 §9.4: AT_MAC, AT_RES, AT_CHECKCODE.
    fn response(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        msg: &Message,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        // RFC 4187 §6.2: both sides asked for protected result indication.
        let result_ind = msg.result_ind() && cx.result_indication();
        if !verify_packet(&self.k_aut, raw, NO_EXTRA) {
            return Err(Reject::BadMac);
        }
        let res = msg.res().ok_or(Reject::NoRes)?;
        let Challenge {
            identity,
            permanent_user,
            xres,
            k_aut,
            msk,
            version,
            ..
        } = self;
        if !res.ct_eq(&xres) {
            if result_ind {
                return super::notify::send(cx, c, k_aut, None, Err(Reject::ResMismatch));
            }
            return Err(Reject::ResMismatch);
        }
        // AT_CHECKCODE is optional in the response (RFC 4187 §10.13); checked when sent.
        let checkcode_ok = |cc| match c.checkcode.as_deref() {
            Some(ours) => ours.verify_attr(cc),
            None => CheckcodeHash::new(c.method).verify_attr(cc),
        };
        if msg.checkcode().is_some_and(|cc| !checkcode_ok(cc)) {
            return Err(Reject::CheckcodeMismatch);
        }
        let identity = identity.as_deref().unwrap_or(&c.eap_identity).to_vec();
        // Removed, or K/OPc/AMF/SQN set, since the vector was issued: asked
        // of the store (on a store worker unless it answers from memory).
        // The user name is borrowed: only the IMSI is made of it.
        let user = match permanent_user.as_deref() {
            Some(u) => u,
            None => {
                std::str::from_utf8(local_part(&identity)).map_err(|_| Reject::IdentityNotUtf8)?
            }
        };
        let imsi = imsi_of_user(user)?;
        let accept = Accept {
            msk,
            identity,
            how: Success::Full,
            notify: result_ind.then_some((k_aut, None)),
            imsi: None,
        };
        super::confirm_imsi(imsi, version, accept)
    }

    /// RFC 4187 §9.6: resynchronise once (TS 33.102 §6.3.5), then a new Challenge.
    fn sync_failure(self, c: &mut Common, msg: &Message) -> Result<Next, Reject> {
        if self.resynced {
            return Err(Reject::SecondSyncFailure);
        }
        let auts = *msg.auts().ok_or(Reject::NoAuts)?;
        let identity = self.identity.unwrap_or_else(|| c.eap_identity.clone());
        let permanent_user = match self.permanent_user.as_deref() {
            Some(u) => u.to_owned(),
            None => String::from_utf8(local_part(&identity).to_vec())
                .map_err(|_| Reject::IdentityNotUtf8)?,
        };
        let imsi = imsi_of_user(&permanent_user)?;
        Ok(Next::Store(Work::Resync {
            rand: self.rand,
            auts,
            target: Target {
                identity,
                imsi,
                permanent_user: Some(permanent_user),
                resynced: false,
            },
        }))
    }
}
