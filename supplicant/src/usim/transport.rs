//! The one thing a card transport does: send a C-APDU, return the R-APDU.

/// A transport failure below the APDU layer (reader, pcscd, socket).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// pcscd does not answer.
    #[error("pcscd is not running (start it: `pcscd` or `systemctl start pcscd.socket`)")]
    NoService,
    /// No reader, or the named reader is absent.
    #[error("{what}; readers seen: {}", if readers.is_empty() { "none".to_string() } else { readers.join(", ") })]
    NoReader {
        /// What went wrong.
        what: String,
        /// The readers pcscd reports.
        readers: Vec<String>,
    },
    /// A reader without a card in it.
    #[error("no card in reader {reader:?}; readers seen: {}", readers.join(", "))]
    NoCard {
        /// The reader tried.
        reader: String,
        /// The readers pcscd reports.
        readers: Vec<String>,
    },
    /// Any other PC/SC error.
    #[error("PC/SC: {0}")]
    Pcsc(String),
    /// The card answered fewer than two bytes.
    #[error("card answered {0} bytes, not an R-APDU")]
    ShortResponse(usize),
    /// The transport's worker is gone.
    #[error("card transport closed")]
    Closed,
}

/// Sends one command APDU and returns the card's response APDU bytes.
///
/// No T=0 procedure bytes (`61xx`, `6Cxx`) are handled here: the
/// [`Usim`](super::client::Usim) client handles them, so every transport
/// sees the same APDU sequence a real card sees.
pub trait CardTransport {
    /// Transmits `apdu`, returns data ‖ SW1 SW2.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
}

impl<T: CardTransport + ?Sized> CardTransport for Box<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
}
