//! The external SIM: wpa_supplicant's `CTRL-REQ-SIM` requests answered by the
//! supplicant's [`Usim`] client over any card transport (the simulator, or a
//! card through pcscd).

use super::profile::{SimIdentity, WifiProfile, check_imsi};
use super::proto::{SimRequest, SimResponse};
use crate::usim::{AuthResult, CardTransport, Usim};
use eap::identity::{Imsi, MncLen};
use eap::secret::SecretBytes;
use eap::umts::Autn;

/// Answers SIM requests; a trait so the session can be driven by a script in
/// tests.
pub trait ExternalSim {
    /// The answer to `request`, and a note for the report when the card
    /// refused or failed (never key material).
    fn answer(&mut self, request: &SimRequest) -> (SimResponse, Option<String>);
}

/// A prepared USIM: ADF selected, PIN verified, IMSI and MNC length read.
pub struct SimCard<T: CardTransport> {
    usim: Usim<T>,
    /// What the cred and the identity are built from.
    pub identity: SimIdentity,
}

impl<T: CardTransport> std::fmt::Debug for SimCard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCard")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl<T: CardTransport> SimCard<T> {
    /// Selects the USIM, verifies PIN1 once if the card asks for it, reads
    /// EF_IMSI and EF_AD, and checks the IMSI against the profile. The MNC
    /// length comes from EF_AD, else from the profile.
    pub fn prepare(
        transport: T,
        pin: Option<&SecretBytes>,
        profile: &WifiProfile,
    ) -> Result<Self, String> {
        let mut usim = Usim::new(transport);
        usim.select_application().map_err(|e| e.to_string())?;
        usim.unlock(pin).map_err(|e| e.to_string())?;
        let imsi = usim.read_imsi().map_err(|e| e.to_string())?;
        let imsi = Imsi::parse(&imsi).map_err(|e| format!("EF_IMSI: {e}"))?;
        check_imsi(profile, &imsi)?;
        let mnc = usim
            .read_mnc_len()
            .map_err(|e| e.to_string())?
            .or(profile.mnc_len)
            .ok_or(
                "the card's EF_AD gives no MNC length and the profile none (Local/MncLength or an MCCMNC* IMSI prefix)",
            )?;
        let mnc_len = MncLen::new(usize::from(mnc)).map_err(|e| e.to_string())?;
        Ok(Self {
            usim,
            identity: SimIdentity { imsi, mnc_len },
        })
    }
}

impl<T: CardTransport> ExternalSim for SimCard<T> {
    fn answer(&mut self, request: &SimRequest) -> (SimResponse, Option<String>) {
        match request {
            SimRequest::UmtsAuth { rand, autn } => {
                match self.usim.authenticate(rand, &Autn(*autn)) {
                    Ok(AuthResult::Success { res, ck, ik }) => (
                        SimResponse::UmtsAuth {
                            ik: *ik.expose(),
                            ck: *ck.expose(),
                            res: res.as_bytes().to_vec(),
                        },
                        None,
                    ),
                    Ok(AuthResult::SyncFailure(auts)) => (
                        SimResponse::UmtsAuts(auts.0),
                        Some("SQN out of range: the card asks for resynchronisation (AUTS)".into()),
                    ),
                    Ok(AuthResult::MacFailure) => (
                        SimResponse::UmtsFail,
                        Some("the card rejected AUTN: MAC-A does not verify (wrong K/OPc on the card or in the HSS)".into()),
                    ),
                    Err(e) => (SimResponse::UmtsFail, Some(format!("card error: {e}"))),
                }
            }
            SimRequest::GsmAuth { rands } => {
                let mut pairs = Vec::with_capacity(rands.len());
                for rand in rands {
                    match self.usim.gsm_triplet(rand) {
                        Ok(t) => pairs.push((*t.kc.expose(), *t.sres.as_bytes())),
                        Err(e) => {
                            return (SimResponse::GsmFail, Some(format!("card error: {e}")));
                        }
                    }
                }
                (SimResponse::GsmAuth(pairs), None)
            }
            SimRequest::Other(what) => (
                SimResponse::UmtsFail,
                Some(format!("unknown SIM request {what:?}")),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usim::sim::sqn::SqnArray;
    use crate::usim::sim::{CardState, MemoryStore, Personalisation, Simulator};
    use eap::secret::{K, Opc};
    use eap::umts::{Amf, Sqn, SubscriberKeys};

    const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
    const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";

    fn keys(k: &str) -> SubscriberKeys {
        SubscriberKeys::new(
            K::new(hex::decode(k).unwrap().try_into().unwrap()),
            Opc::new(hex::decode(OPC_HEX).unwrap().try_into().unwrap()),
        )
    }

    fn simulator() -> Simulator<MemoryStore> {
        let perso = Personalisation {
            imsi: "001010123456789".into(),
            ef_imsi: crate::usim::files::encode_ef_imsi("001010123456789").unwrap(),
            mnc_len: 2,
            keys: keys(K_HEX),
            pin: None,
        };
        let state = CardState {
            sqn: SqnArray::starting_at(Sqn::from_seq_ind(1, 0)),
            pin_tries_left: 3,
        };
        Simulator::new(perso, state, MemoryStore::default())
    }

    #[test]
    fn answers_auth_resync_and_mac_failure() {
        let profile = WifiProfile {
            imsi: Some("00101*".into()),
            ..WifiProfile::default()
        };
        let mut card = SimCard::prepare(simulator(), None, &profile).unwrap();
        assert_eq!(card.identity.cred_imsi(), "00101-0123456789");

        let hss = keys(K_HEX);
        let rand = [9u8; 16];
        let av = hss.generate_vector(Sqn::from_seq_ind(5, 0), Amf([0x80, 0]), rand);
        let (r, note) = card.answer(&SimRequest::UmtsAuth {
            rand,
            autn: av.autn.0,
        });
        match &r {
            SimResponse::UmtsAuth { ik, ck, res } => {
                assert_eq!(ik, av.ik.expose());
                assert_eq!(ck, av.ck.expose());
                assert_eq!(res.as_slice(), av.xres.as_bytes());
            }
            other => panic!("{other:?}"),
        }
        assert!(note.is_none());

        // The same vector again: SQN not fresh → AUTS the HSS can resync from.
        let (r, note) = card.answer(&SimRequest::UmtsAuth {
            rand,
            autn: av.autn.0,
        });
        let SimResponse::UmtsAuts(auts) = r else {
            panic!("{r:?}")
        };
        assert!(note.unwrap().contains("AUTS"));
        let sqn_ms = hss.resync(&rand, &eap::umts::Auts(auts)).unwrap();
        assert_eq!(sqn_ms.seq(), 5);

        // A network with another K: MAC-A fails → UMTS-FAIL.
        let other = keys("00112233445566778899aabbccddeeff");
        let av = other.generate_vector(Sqn::from_seq_ind(9, 0), Amf([0x80, 0]), rand);
        let (r, note) = card.answer(&SimRequest::UmtsAuth {
            rand,
            autn: av.autn.0,
        });
        assert_eq!(r, SimResponse::UmtsFail);
        assert!(note.unwrap().contains("MAC-A"));

        // GSM-AUTH: the GSM-Milenage (Kc, SRES) per RAND, in order.
        let rands = vec![[1u8; 16], [2u8; 16]];
        let (r, note) = card.answer(&SimRequest::GsmAuth {
            rands: rands.clone(),
        });
        assert!(note.is_none());
        let want: Vec<_> = rands
            .iter()
            .map(|r| {
                let t = hss.gsm_triplet(*r);
                (*t.kc.expose(), *t.sres.as_bytes())
            })
            .collect();
        assert_eq!(r, SimResponse::GsmAuth(want));
        assert_eq!(
            card.answer(&SimRequest::Other("X".into())).0,
            SimResponse::UmtsFail
        );
    }

    #[test]
    fn refuses_a_profile_for_another_operator() {
        let profile = WifiProfile {
            imsi: Some("24491*".into()),
            ..WifiProfile::default()
        };
        let e = SimCard::prepare(simulator(), None, &profile).unwrap_err();
        assert!(e.contains("24491*"), "{e}");
    }
}
