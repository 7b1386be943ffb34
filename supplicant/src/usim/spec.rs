//! `--sim` specifications: `soft:<file>`, `pcsc`, `pcsc:<reader>`.

use super::pcsc::PcscTransport;
use super::sim::Simulator;
use super::sim::file::{FileStore, SimFile};
use super::transport::CardTransport;
use std::path::PathBuf;

/// Where the USIM is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimSource {
    /// The simulator, from its file.
    Soft(PathBuf),
    /// A card through pcscd, in the named reader or the first with a card.
    Pcsc(Option<String>),
}

impl std::str::FromStr for SimSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("soft", "")) => Err("soft: needs a file, e.g. soft:usim.toml".into()),
            Some(("soft", f)) => Ok(SimSource::Soft(PathBuf::from(f))),
            Some(("pcsc", "")) => Ok(SimSource::Pcsc(None)),
            Some(("pcsc", r)) => Ok(SimSource::Pcsc(Some(r.to_string()))),
            None if s == "pcsc" => Ok(SimSource::Pcsc(None)),
            _ => Err(format!(
                "unknown SIM {s:?}: use soft:<file>, pcsc or pcsc:<reader name>"
            )),
        }
    }
}

/// An opened card.
pub enum OpenCard {
    /// The simulator, driven in-process.
    Soft(Box<Simulator<FileStore>>),
    /// A PC/SC card.
    Pcsc(PcscTransport),
}

impl CardTransport for OpenCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, super::TransportError> {
        match self {
            OpenCard::Soft(s) => s.transmit(apdu),
            OpenCard::Pcsc(p) => p.transmit(apdu),
        }
    }
}

impl SimSource {
    /// Opens the card.
    pub fn open(&self) -> Result<OpenCard, String> {
        match self {
            SimSource::Soft(path) => {
                let file = SimFile::load(path).map_err(|e| e.to_string())?;
                Ok(OpenCard::Soft(Box::new(file.into_simulator())))
            }
            SimSource::Pcsc(reader) => PcscTransport::connect(reader.as_deref())
                .map(OpenCard::Pcsc)
                .map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_specs() {
        assert_eq!("pcsc".parse::<SimSource>(), Ok(SimSource::Pcsc(None)));
        assert_eq!(
            "pcsc:Virtual PCD 00 00".parse::<SimSource>(),
            Ok(SimSource::Pcsc(Some("Virtual PCD 00 00".into())))
        );
        assert_eq!(
            "soft:/tmp/a:b.toml".parse::<SimSource>(),
            Ok(SimSource::Soft("/tmp/a:b.toml".into()))
        );
        assert!("soft:".parse::<SimSource>().is_err());
        assert!("usim.toml".parse::<SimSource>().is_err());
        assert!("pkcs11:x".parse::<SimSource>().is_err());
    }
}
