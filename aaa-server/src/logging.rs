//! How identities appear in logs (`[logging] log_identities`): masked by
//! default (`0001010*********@realm`, [`eap::identity::mask_identity`]),
//! or in full for a lab where "unknown subscriber 001010000000042" must be
//! diagnosed. One process-wide switch, set at start and on SIGHUP; every
//! log line and `serve --debug` dump that names an IMSI or an identity goes
//! through [`identity`] or [`imsi`]. `Debug` forms stay masked whatever it says.

use std::sync::atomic::{AtomicBool, Ordering};

/// `[logging] log_identities`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogIdentities {
    /// The MSIN digits replaced by `*` (the default).
    #[default]
    Masked,
    /// As received (labs, troubleshooting).
    Full,
}

impl LogIdentities {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            LogIdentities::Masked => "masked",
            LogIdentities::Full => "full",
        }
    }
}

static FULL: AtomicBool = AtomicBool::new(false);

/// Sets how identities are logged from now on.
pub fn set_identities(v: LogIdentities) {
    FULL.store(v == LogIdentities::Full, Ordering::Relaxed);
}

/// How identities are logged now.
pub fn identities() -> LogIdentities {
    if FULL.load(Ordering::Relaxed) {
        LogIdentities::Full
    } else {
        LogIdentities::Masked
    }
}

/// An identity (NAI, bare IMSI, pseudonym) as the logs show it: masked
/// unless `log_identities = "full"`; a trailing NUL is dropped, non-UTF-8
/// bytes replaced.
pub fn identity(bytes: &[u8]) -> String {
    identity_as(bytes, identities())
}

/// [`identity`] under the given setting.
pub fn identity_as(bytes: &[u8], how: LogIdentities) -> String {
    match how {
        LogIdentities::Masked => eap::identity::mask_identity(bytes),
        LogIdentities::Full => {
            String::from_utf8_lossy(bytes.strip_suffix(&[0]).unwrap_or(bytes)).into_owned()
        }
    }
}

/// An IMSI as the logs show it.
pub fn imsi(imsi: &eap::identity::Imsi) -> String {
    identity(imsi.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_or_full() {
        let nai = b"0001010000000042@wlan.mnc001.mcc001.3gppnetwork.org";
        assert_eq!(
            identity_as(nai, LogIdentities::Masked),
            "0001010*********@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            identity_as(b"001010000000042", LogIdentities::Masked),
            "001010*********"
        );
        assert_eq!(
            identity_as(b"0001010000000042\0", LogIdentities::Full),
            "0001010000000042"
        );
        assert_eq!(
            identity_as(nai, LogIdentities::Full),
            String::from_utf8_lossy(nai)
        );
        // No unit test changes the process-wide switch (tests run in parallel).
        assert_eq!(identities(), LogIdentities::Masked);
    }
}
