//! A simulated USIM personalised from an IMSI, K and OPc: the card behind
//! `supplicant probe` and behind each of the load generator's subscribers.
//! It answers the same APDUs a real card gets, through the USIM client.

use crate::peer::{Methods, PeerConfig};
use crate::usim::Usim;
use crate::usim::UsimError;
use crate::usim::files::{ImsiCodingError, encode_ef_imsi};
use crate::usim::sim::sqn::SqnArray;
use crate::usim::sim::{CardState, MemoryStore, Personalisation, Simulator};
use eap::identity::{IdentityError, Imsi, MncLen};
use eap::umts::{Sqn, SubscriberKeys};

/// Why the card could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The IMSI is not 6–15 digits.
    #[error("IMSI {imsi}: {source}")]
    Imsi {
        /// The IMSI as given.
        imsi: String,
        /// Why.
        source: IdentityError,
    },
    /// EF_IMSI cannot hold it.
    #[error("EF_IMSI for {imsi}: {source}")]
    EfImsi {
        /// The IMSI as given.
        imsi: String,
        /// Why.
        source: ImsiCodingError,
    },
    /// The simulator refused to select its USIM application.
    #[error("USIM {imsi}: select: {source}")]
    Select {
        /// The IMSI as given.
        imsi: String,
        /// Why.
        source: UsimError,
    },
}

/// A simulated USIM (application selected) and the peer configuration for it.
pub struct SimulatedCard {
    /// The USIM client over the simulator.
    pub usim: Usim<Simulator<MemoryStore>>,
    /// IMSI, MNC length, realm, methods.
    pub peer: PeerConfig,
}

impl std::fmt::Debug for SimulatedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedCard")
            .field("imsi", &self.peer.imsi)
            .finish_non_exhaustive()
    }
}

impl SimulatedCard {
    /// A card holding `keys` for `imsi`, its highest accepted SQN being
    /// `sqn_ms` (zero for a fresh card; above the HSS's to force a
    /// resynchronisation, TS 33.102 §6.3.5).
    pub fn new(
        imsi: &str,
        mnc_len: MncLen,
        keys: SubscriberKeys,
        sqn_ms: Sqn,
        methods: Methods,
        realm: Option<String>,
    ) -> Result<Self, CardError> {
        let parsed = Imsi::parse(imsi).map_err(|source| CardError::Imsi {
            imsi: imsi.to_owned(),
            source,
        })?;
        let ef_imsi = encode_ef_imsi(imsi).map_err(|source| CardError::EfImsi {
            imsi: imsi.to_owned(),
            source,
        })?;
        let perso = Personalisation {
            imsi: imsi.to_owned(),
            ef_imsi,
            mnc_len: match mnc_len {
                MncLen::Two => 2,
                MncLen::Three => 3,
            },
            keys,
            pin: None,
        };
        let state = CardState {
            sqn: SqnArray::starting_at(sqn_ms),
            pin_tries_left: 3,
        };
        let mut usim = Usim::new(Simulator::new(perso, state, MemoryStore::default()));
        usim.select_usim().map_err(|source| CardError::Select {
            imsi: imsi.to_owned(),
            source,
        })?;
        Ok(Self {
            usim,
            peer: PeerConfig {
                imsi: parsed,
                mnc_len,
                realm,
                methods,
                network_name: None,
            },
        })
    }
}
