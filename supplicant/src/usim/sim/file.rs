//! The simulator file: a TOML with the card's personalisation (IMSI, K, OPc,
//! AMF, MNC length, optional PIN) and its durable state (SEQ_MS per IND, PIN
//! tries). Written `0600` with write-then-rename + fsync; a key file that
//! group or others can read is refused.

use super::sqn::{ENTRIES, SqnArray};
use super::{
    AdfPinTemplate, CardQuirks, CardState, DisabledPinVerify, PIN_TRIES, Personalisation,
    Simulator, StateStore,
};
use crate::input::line_of_key;
use crate::usim::files::encode_ef_imsi;
use eap::secret::{K, Opc, SecretBytes};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// A problem with the simulator file, with the file (and line when known).
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {what}")]
pub struct SimFileError {
    /// The file.
    pub path: String,
    /// 1-based line, 0 when the problem concerns the whole file.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

fn err(path: &Path, line: usize, what: impl Into<String>) -> SimFileError {
    SimFileError {
        path: path.display().to_string(),
        line,
        what: what.into(),
    }
}

/// The on-disk form. Key fields are hex strings, wiped on drop.
#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Raw {
    imsi: String,
    k: String,
    opc: String,
    #[serde(default = "default_amf")]
    amf: String,
    #[serde(default = "default_mnc_len")]
    mnc_len: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pin: Option<String>,
    #[serde(default = "default_tries")]
    pin_tries_left: u8,
    /// The SQN the card was created with: the highest it accepts as used.
    #[serde(default = "default_sqn")]
    sqn: String,
    /// SEQ_MS(i), i = IND 0..31 (3GPP TS 33.102 Annex C.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq_ms: Option<Vec<u64>>,
    /// A status VERIFY while PIN1 is disabled answers "9000" (default) or
    /// "63cx" (the retry counter, as many real UICCs do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled_pin_verify: Option<String>,
    /// `false`: the ADF's FCP has no PIN status template (only the MF's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adf_pin_template: Option<bool>,
    /// `true`: a 2G SIM (TS 51.011), no USIM application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsm_sim: Option<bool>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.k.zeroize();
        self.opc.zeroize();
        if let Some(p) = self.pin.as_mut() {
            p.zeroize();
        }
    }
}

fn default_amf() -> String {
    "8000".into()
}
fn default_mnc_len() -> u8 {
    2
}
fn default_tries() -> u8 {
    PIN_TRIES
}
fn default_sqn() -> String {
    "000000000000".into()
}

/// Everything `sim create` takes.
#[derive(Debug, Clone)]
pub struct SimSpec {
    /// IMSI digits.
    pub imsi: String,
    /// K.
    pub k: K,
    /// OPc.
    pub opc: Opc,
    /// AMF the network is expected to use (informative for the card).
    pub amf: Amf,
    /// Starting SQN.
    pub sqn: Sqn,
    /// MNC length, 2 or 3.
    pub mnc_len: u8,
    /// PIN1 (enables it), 4–8 digits.
    pub pin: Option<SecretBytes>,
    /// Real-card behaviours to imitate.
    pub quirks: CardQuirks,
}

/// A loaded simulator file.
#[derive(Debug)]
pub struct SimFile {
    /// Where it lives.
    pub path: PathBuf,
    /// Personalisation.
    pub perso: Personalisation,
    /// AMF recorded at creation.
    pub amf: Amf,
    /// Real-UICC behaviours it imitates.
    pub quirks: CardQuirks,
    /// Durable state.
    pub state: CardState,
}

fn hex_fixed<const N: usize>(
    path: &Path,
    line: usize,
    field: &str,
    s: &str,
) -> Result<[u8; N], SimFileError> {
    let mut v = hex::decode(s.trim()).map_err(|_| {
        err(
            path,
            line,
            format!("{field}: not hex; expected {} hex digits", 2 * N),
        )
    })?;
    let out = <[u8; N]>::try_from(v.as_slice()).map_err(|_| {
        err(
            path,
            line,
            format!("{field}: must be {N} bytes ({} hex digits)", 2 * N),
        )
    });
    v.zeroize();
    out
}

fn check_pin(pin: &[u8]) -> bool {
    (4..=8).contains(&pin.len()) && pin.iter().all(u8::is_ascii_digit)
}

impl SimFile {
    /// Loads `path`, refusing group/world-readable files.
    pub fn load(path: &Path) -> Result<SimFile, SimFileError> {
        let meta =
            std::fs::metadata(path).map_err(|e| err(path, 0, format!("cannot read: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(
                path,
                0,
                format!(
                    "holds K/OPc but its mode is {mode:04o}; run `chmod 600 {}`",
                    path.display()
                ),
            ));
        }
        let text = crate::input::read_text(path, crate::input::SIM_FILE)
            .map_err(|e| err(path, 0, e.detail()))?;
        let parsed: Result<Raw, _> = toml::from_str(&text);
        let raw = match parsed {
            Ok(r) => r,
            Err(e) => {
                let (line, what) = crate::input::toml_error(&text, &e);
                // `text` (Zeroizing) is wiped on return.
                return Err(err(path, line, what));
            }
        };
        Self::from_raw(path, &text, &raw)
    }

    fn from_raw(path: &Path, text: &str, raw: &Raw) -> Result<SimFile, SimFileError> {
        let ef_imsi = encode_ef_imsi(&raw.imsi)
            .map_err(|e| err(path, line_of_key(text, "imsi"), format!("imsi: {e}")))?;
        let k = K::new(hex_fixed(path, line_of_key(text, "k"), "k", &raw.k)?);
        let opc = Opc::new(hex_fixed(path, line_of_key(text, "opc"), "opc", &raw.opc)?);
        let amf = Amf(hex_fixed(path, line_of_key(text, "amf"), "amf", &raw.amf)?);
        let sqn = Sqn::from_bytes(hex_fixed(path, line_of_key(text, "sqn"), "sqn", &raw.sqn)?);
        if !matches!(raw.mnc_len, 2 | 3) {
            return Err(err(
                path,
                line_of_key(text, "mnc_len"),
                format!("mnc_len: {} is not 2 or 3", raw.mnc_len),
            ));
        }
        let pin = match &raw.pin {
            Some(p) if !check_pin(p.as_bytes()) => {
                return Err(err(
                    path,
                    line_of_key(text, "pin"),
                    "pin: expected 4 to 8 digits",
                ));
            }
            Some(p) => Some(SecretBytes::from(p.as_str())),
            None => None,
        };
        if raw.pin_tries_left > PIN_TRIES {
            return Err(err(
                path,
                line_of_key(text, "pin_tries_left"),
                format!(
                    "pin_tries_left: {} is above {PIN_TRIES}",
                    raw.pin_tries_left
                ),
            ));
        }
        let sqn_array = match &raw.seq_ms {
            None => SqnArray::starting_at(sqn),
            Some(v) => {
                let arr = <[u64; ENTRIES]>::try_from(v.as_slice()).map_err(|_| {
                    err(
                        path,
                        line_of_key(text, "seq_ms"),
                        format!("seq_ms: expected {ENTRIES} entries, found {}", v.len()),
                    )
                })?;
                if arr.iter().any(|&s| s > Sqn::MAX >> Sqn::IND_BITS) {
                    return Err(err(
                        path,
                        line_of_key(text, "seq_ms"),
                        "seq_ms: an entry is above 2^43-1",
                    ));
                }
                SqnArray::from_entries(arr)
            }
        };
        let disabled_pin_verify = match raw.disabled_pin_verify.as_deref() {
            None => DisabledPinVerify::default(),
            Some(v) => DisabledPinVerify::from_name(v).ok_or_else(|| {
                err(
                    path,
                    line_of_key(text, "disabled_pin_verify"),
                    format!("disabled_pin_verify: {v:?} is neither \"9000\" nor \"63cx\""),
                )
            })?,
        };
        let adf_pin_template = match raw.adf_pin_template {
            Some(false) => AdfPinTemplate::Absent,
            Some(true) | None => AdfPinTemplate::Present,
        };
        Ok(SimFile {
            path: path.to_path_buf(),
            perso: Personalisation {
                imsi: raw.imsi.clone(),
                ef_imsi,
                mnc_len: raw.mnc_len,
                keys: SubscriberKeys::new(k, opc),
                pin,
            },
            quirks: CardQuirks {
                disabled_pin_verify,
                adf_pin_template,
                gsm_sim: raw.gsm_sim.unwrap_or(false),
            },
            amf,
            state: CardState {
                sqn: sqn_array,
                pin_tries_left: raw.pin_tries_left,
            },
        })
    }

    /// Writes a new simulator file (`0600`, atomically). Refuses to overwrite.
    pub fn create(path: &Path, spec: &SimSpec) -> Result<SimFile, SimFileError> {
        encode_ef_imsi(&spec.imsi).map_err(|e| err(path, 0, e.to_string()))?;
        if !matches!(spec.mnc_len, 2 | 3) {
            return Err(err(path, 0, "MNC length must be 2 or 3"));
        }
        if let Some(p) = &spec.pin
            && !check_pin(p.expose())
        {
            return Err(err(path, 0, "PIN must be 4 to 8 digits"));
        }
        if path.exists() {
            return Err(err(path, 0, "exists already; not overwriting a card"));
        }
        let file = SimFile {
            path: path.to_path_buf(),
            perso: Personalisation {
                imsi: spec.imsi.clone(),
                ef_imsi: encode_ef_imsi(&spec.imsi).map_err(|e| err(path, 0, e.to_string()))?,
                mnc_len: spec.mnc_len,
                keys: SubscriberKeys::new(spec.k.clone(), spec.opc.clone()),
                pin: spec.pin.clone(),
            },
            quirks: spec.quirks,
            amf: spec.amf,
            state: CardState {
                sqn: SqnArray::starting_at(spec.sqn),
                pin_tries_left: PIN_TRIES,
            },
        };
        let mut raw = file.raw(&file.state, Some(spec.sqn));
        raw.seq_ms = None;
        file.write(&raw)?;
        Ok(file)
    }

    fn raw(&self, state: &CardState, sqn: Option<Sqn>) -> Raw {
        let p = &self.perso;
        Raw {
            imsi: p.imsi.clone(),
            k: hex::encode(p.keys.k.expose()),
            opc: hex::encode(p.keys.opc.expose()),
            amf: hex::encode(self.amf.0),
            mnc_len: p.mnc_len,
            pin: p
                .pin
                .as_ref()
                .map(|s| String::from_utf8_lossy(s.expose()).into_owned()),
            pin_tries_left: state.pin_tries_left,
            sqn: hex::encode(sqn.unwrap_or_else(|| state.sqn.sqn_ms()).to_bytes()),
            seq_ms: Some(state.sqn.entries().to_vec()),
            disabled_pin_verify: (self.quirks.disabled_pin_verify != DisabledPinVerify::default())
                .then(|| self.quirks.disabled_pin_verify.name().to_string()),
            adf_pin_template: (self.quirks.adf_pin_template == AdfPinTemplate::Absent)
                .then_some(false),
            gsm_sim: self.quirks.gsm_sim.then_some(true),
        }
    }

    fn write(&self, raw: &Raw) -> Result<(), SimFileError> {
        let mut text = toml::to_string(raw).map_err(|e| err(&self.path, 0, e.to_string()))?;
        let header = "# USIM simulator (supplicant sim create). Holds K/OPc: keep it 0600.\n";
        text.insert_str(0, header);
        let r = write_atomic(&self.path, text.as_bytes())
            .map_err(|e| err(&self.path, 0, format!("cannot write: {e}")));
        text.zeroize();
        r
    }

    /// A simulator backed by this file: state changes are written back to it.
    pub fn into_simulator(self) -> Simulator<FileStore> {
        let state = self.state.clone();
        let perso = self.perso.clone();
        let quirks = self.quirks;
        Simulator::new(perso, state, FileStore { file: self }).with_quirks(quirks)
    }
}

/// Writes `bytes` to `path` durably: temp file (0600) in the same directory,
/// fsync, rename over `path`, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The [`StateStore`] that rewrites the simulator file.
#[derive(Debug)]
pub struct FileStore {
    file: SimFile,
}

impl StateStore for FileStore {
    fn persist(&mut self, state: &CardState) -> std::io::Result<()> {
        let raw = self.file.raw(state, None);
        self.file
            .write(&raw)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.file.state = state.clone();
        Ok(())
    }
}
