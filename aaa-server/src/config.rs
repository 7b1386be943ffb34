//! The server's TOML configuration: listen addresses, RADIUS clients, the HSS
//! store and the EAP method preferences.
//!
//! Every error names the file, the line and the key (`aaa.toml:7: client[0].secret: …`).
//! Unknown keys are errors (`deny_unknown_fields`).

use eap::secret::SecretBytes;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A configuration error located in the file.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// The key the error is about (dotted path, or `-` when unknown).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// `file:line: key: message`, leaving out the line when the file could
    /// not be read and the key when none applies.
    fn render(&self) -> String {
        let mut out = self.file.display().to_string();
        if self.line > 0 {
            out.push_str(&format!(":{}", self.line));
        }
        if self.key != "-" {
            out.push_str(&format!(": {}", self.key));
        }
        format!("{out}: {}", self.message)
    }
}

/// An IP network in CIDR notation (`192.0.2.0/24`, `::1/128`, or a bare address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` (or a bare address, meaning a single host).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// True when `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An EAP method the server may offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum MethodName {
    /// EAP-AKA' (RFC 9048).
    #[serde(rename = "aka-prime")]
    AkaPrime,
    /// EAP-AKA (RFC 4187).
    #[serde(rename = "aka")]
    Aka,
    /// EAP-SIM (RFC 4186): the weakest of the three (docs/eap-sim.md).
    #[serde(rename = "sim")]
    Sim,
}

/// A RADIUS client (NAS) allowed to talk to the server.
#[derive(Clone, Debug)]
pub struct Client {
    /// A name for logs (defaults to the network).
    pub name: String,
    /// Source addresses this client may send from.
    pub network: Cidr,
    /// The RADIUS shared secret.
    pub secret: SecretBytes,
    /// Drop Access-Requests without Message-Authenticator (RFC 3579 §3.2; BlastRADIUS).
    pub require_message_authenticator: bool,
    /// The NAS's Dynamic Authorization Server (RFC 5176), `das = "IP:PORT"`:
    /// where Disconnect/CoA-Requests for its sessions go (same secret).
    pub das: Option<SocketAddr>,
}

/// EAP server settings.
#[derive(Clone, Debug)]
pub struct EapConfig {
    /// Methods in order of preference (never empty, no duplicates).
    pub methods: Vec<MethodName>,
    /// The access network name for AT_KDF_INPUT (RFC 9048 §3.1).
    pub network_name: String,
    /// How long an unfinished authentication is kept.
    pub session_timeout: Duration,
    /// How many unfinished authentications are kept at once (the oldest is dropped).
    pub max_sessions: usize,
}

/// `[radius]`: RADIUS tuning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadiusConfig {
    /// How long every answer stays answerable to a retransmission
    /// (RFC 5080 §2.2.2; FreeRADIUS' `cleanup_delay`).
    pub duplicate_window: Duration,
    /// Most answers (and requests in progress) the duplicate cache holds;
    /// past it the oldest go before their window ends, and are counted.
    pub duplicate_cache_size: usize,
    /// An active session with no accounting for this long is closed.
    pub session_idle_timeout: Duration,
}

impl Default for RadiusConfig {
    fn default() -> Self {
        Self {
            duplicate_window: Duration::from_secs(5),
            // 5 s at 80 000 requests/s.
            duplicate_cache_size: 400_000,
            session_idle_timeout: Duration::from_secs(24 * 3600),
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// RADIUS authentication address (default `0.0.0.0:1812`).
    pub listen: SocketAddr,
    /// RADIUS accounting address (default: `listen`'s address, port 1813).
    pub accounting_listen: SocketAddr,
    /// Clients, first match wins.
    pub clients: Vec<Client>,
    /// The subscriber store (SQLite file), resolved against the config file's directory.
    pub database: PathBuf,
    /// Store workers: threads that wait for the subscriber store (`[hss] workers`).
    pub hss_workers: usize,
    /// `[hss] backend = "postgres"`: the PostgreSQL store instead of `database`.
    pub postgres: Option<PostgresBackend>,
    /// EAP settings.
    pub eap: EapConfig,
    /// Identity privacy and fast re-authentication (`[privacy]`).
    pub privacy: PrivacyConfig,
    /// RADIUS tuning (`[radius]`).
    pub radius: RadiusConfig,
    /// The RadSec listener (`[radsec]`), if any.
    pub radsec: Option<crate::radsec::RadsecConfig>,
    /// The realm table and proxy settings (`[[realm]]`, `[proxy]`).
    pub proxy: crate::proxy::ProxyConfig,
    /// The Prometheus endpoint (`[metrics]`).
    pub metrics: MetricsConfig,
    /// `[cui] key_file`: Chargeable-User-Identity (RFC 4372) for Access-Accepts; off when absent.
    pub cui: Option<std::sync::Arc<crate::cui::CuiKey>>,
}

/// `[metrics]`: the Prometheus/OpenMetrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `listen`: where `/metrics` is served over HTTP; off when absent.
    pub listen: Option<SocketAddr>,
}

/// `[hss] backend = "postgres"` (docs/postgresql.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresBackend {
    /// `url`: a libpq connection string or `postgresql://` URL, without a password.
    pub url: String,
    /// `password_file` (mode 0600), resolved against the config file's
    /// directory; `None`: `PGPASSFILE`, if set.
    pub password_file: Option<PathBuf>,
    /// `sqn_lease`: SEQ values leased per subscriber and commit (default 1: every vector commits; 1..=1024).
    pub sqn_lease: u64,
}

/// Logging settings, the part of the configuration a SIGHUP applies to a
/// running server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// `log_level`: a tracing filter (`info`, `aaa_server=debug,warn`); default `info`.
    /// `RUST_LOG`, when set, overrides it.
    pub level: String,
    /// `[logging] log_identities`: `masked` (default) or `full` IMSIs and
    /// identities in logs and `serve --debug`.
    pub identities: crate::logging::LogIdentities,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "info".into(),
            identities: crate::logging::LogIdentities::Masked,
        }
    }
}

/// `[privacy]`: identity privacy, fast re-authentication, result indication
/// and IMSI privacy (RFC 4187 §4.1, §5, §6.2; RFC 9048 §3.5).
#[derive(Clone, Debug, Default)]
pub struct PrivacyConfig {
    /// What to issue and accept.
    pub policy: crate::privacy::Policy,
    /// The configured identity-protection keys; `None`: generated and kept
    /// in the HSS database on first start.
    pub keys: Option<crate::privacy::KeySet>,
    /// PEM RSA private key for IMSI privacy, resolved against the config file's directory.
    pub imsi_privacy_key: Option<PathBuf>,
    /// Realm for issued re-auth identities when the peer's identity has none.
    pub realm: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    log_level: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    accounting_listen: Option<Spanned<String>>,
    #[serde(default)]
    client: Vec<RawClient>,
    hss: RawHss,
    #[serde(default)]
    eap: RawEap,
    #[serde(default)]
    privacy: RawPrivacy,
    #[serde(default)]
    radius: RawRadius,
    radsec: Option<crate::radsec::config::RawRadsec>,
    #[serde(default)]
    logging: RawLogging,
    #[serde(default)]
    realm: Vec<crate::proxy::config::RawRealm>,
    proxy: Option<crate::proxy::config::RawProxy>,
    tls_client: Option<crate::proxy::config::RawTlsClient>,
    dns: Option<crate::proxy::config::RawDns>,
    #[serde(default)]
    metrics: RawMetrics,
    cui: Option<crate::cui::RawCui>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLogging {
    log_identities: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRadius {
    duplicate_window: Option<Spanned<u64>>,
    duplicate_cache_size: Option<Spanned<u64>>,
    session_idle_timeout: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    pseudonyms: Option<bool>,
    fast_reauth: Option<bool>,
    reauth_limit: Option<Spanned<u64>>,
    reauth_lifetime: Option<Spanned<u64>>,
    result_indication: Option<bool>,
    current_key: Option<Spanned<u64>>,
    #[serde(default)]
    key: Vec<RawPrivacyKey>,
    imsi_privacy_key: Option<Spanned<String>>,
    realm: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivacyKey {
    index: Spanned<u64>,
    secret: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: Option<String>,
    network: Spanned<String>,
    secret: Spanned<String>,
    #[serde(default = "yes")]
    require_message_authenticator: bool,
    das: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHss {
    database: Option<Spanned<String>>,
    workers: Option<Spanned<u64>>,
    backend: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    sqn_lease: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEap {
    methods: Option<Spanned<Vec<MethodName>>>,
    network_name: Option<Spanned<String>>,
    session_timeout: Option<Spanned<u64>>,
    max_sessions: Option<Spanned<u64>>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The text between the first pair of backticks ("unknown field `foo`").
fn backticked(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(&msg[start..end])
}

/// A table header line (`[eap]`, `[[client]]`): its name and whether it is an array.
fn header(line: &str) -> Option<(&str, bool)> {
    let l = line.split('#').next().unwrap_or("").trim();
    if let Some(n) = l.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
        return Some((n.trim(), true));
    }
    let n = l.strip_prefix('[')?.strip_suffix(']')?;
    (!n.contains(['"', ',', '='])).then_some((n.trim(), false))
}

/// Where `offset` sits: the dotted table path (`client[1]`, `eap`, or empty)
/// and the key of the `key = value` line holding it, if any.
fn locate(text: &str, offset: usize) -> (String, Option<String>) {
    let offset = offset.min(text.len());
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let before: Vec<&str> = text[..line_end].lines().collect();
    let mut key = None;
    let mut table = String::new();
    for (i, l) in before.iter().enumerate().rev() {
        if let Some((name, array)) = header(l) {
            table = if array {
                let n = before[..i]
                    .iter()
                    .filter(|x| header(x) == Some((name, true)))
                    .count();
                format!("{name}[{n}]")
            } else {
                name.to_string()
            };
            break;
        }
        if key.is_none()
            && let Some((k, _)) = l.split_once('=')
        {
            let k = k.trim();
            if !k.is_empty() && !k.starts_with(['#', '"', '\'']) {
                key = Some(k.to_string());
            }
        }
    }
    (table, key)
}

fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// What a key's value must be, for error messages.
fn expected(key: &str) -> Option<&'static str> {
    // `client[3].network` -> `client.network`
    let mut plain = String::new();
    let mut skip = false;
    for c in key.chars() {
        match c {
            '[' => skip = true,
            ']' => skip = false,
            c if !skip => plain.push(c),
            _ => {}
        }
    }
    Some(match plain.as_str() {
        "log_level" => "a string: a log filter like \"info\" or \"aaa_server=debug,warn\"",
        "listen" => "a string \"ip:port\"",
        "accounting_listen" => "a string \"ip:port\" or \":port\"",
        "client" => "[[client]] tables",
        "client.name" | "eap.network_name" | "privacy.realm" => "a string",
        "client.network" => "a string: an IP address or CIDR network like \"192.0.2.0/24\"",
        "client.secret" => "a string (the RADIUS shared secret)",
        "client.require_message_authenticator"
        | "privacy.pseudonyms"
        | "privacy.fast_reauth"
        | "privacy.result_indication" => "true or false",
        "hss" => "a table [hss]",
        "hss.database" => "a string (path of the SQLite file)",
        "eap" | "privacy" => "a table",
        "eap.methods" => "a list of methods like [\"aka-prime\", \"aka\", \"sim\"]",
        "eap.session_timeout" | "privacy.reauth_lifetime" => "a positive integer (seconds)",
        "eap.max_sessions" | "privacy.reauth_limit" => "a non-negative integer",
        "privacy.current_key" | "privacy.key.index" => "an integer 0..=255",
        "privacy.key" => "[[privacy.key]] tables",
        "privacy.key.secret" => "a string of 64 hex digits (or base64)",
        "privacy.imsi_privacy_key" => "a string (path of a PEM RSA private key)",
        "logging" => "a table [logging]",
        "logging.log_identities" => "\"masked\" or \"full\"",
        _ => return None,
    })
}

/// The key and a readable message for a toml/serde error at `span`.
fn describe_toml_error(text: &str, span: std::ops::Range<usize>, msg: &str) -> (String, String) {
    let (table, key) = locate(text, span.start);
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let name = backticked(rest).unwrap_or(rest);
        let k = join(&table, name);
        let m = match expected(&k) {
            Some(e) => format!("required, expected {e}"),
            None => "required".into(),
        };
        return (k, m);
    }
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let name = backticked(rest).unwrap_or(rest);
        let tail = rest.strip_prefix(&format!("`{name}`")).unwrap_or("");
        return (join(&table, name), format!("unknown key{tail}"));
    }
    let k = match key {
        Some(k) => join(&table, &k),
        None if table.is_empty() => "-".to_string(),
        None => table,
    };
    for p in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(p)
            && let Some((found, exp)) = rest.split_once(", expected ")
        {
            let found = found.replace('`', "");
            let exp = expected(&k).map_or(exp.to_string(), str::to_string);
            return (k, format!("expected {exp}, found {found}"));
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return (k, format!("unknown value {rest}"));
    }
    (k, msg.to_string())
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_logging(path).map(|(c, _)| c)
    }

    /// As [`Config::load`], with the logging settings (`log_level`) that
    /// `serve` applies at start and on SIGHUP.
    pub fn load_with_logging(path: &Path) -> Result<(Self, Logging), ConfigError> {
        use crate::input::{InputError, MAX_CONFIG, read_text_capped};
        let text = read_text_capped(path, MAX_CONFIG).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            key: "-".into(),
            message: match e {
                InputError::Read { err, .. } => {
                    format!("cannot read: {}", crate::input::os_message(&err))
                }
                InputError::TooLarge { limit, .. } => {
                    format!("larger than the {limit}-byte limit for a configuration file")
                }
                InputError::NotText { .. } => "not UTF-8 text".into(),
            },
        })?;
        Self::parse_with_logging(&text, path)
    }

    /// Parses and validates configuration text; `path` names the file in
    /// errors and anchors a relative database path.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        Self::parse_with_logging(text, path).map(|(c, _)| c)
    }

    /// As [`Config::parse`], with the logging settings.
    pub fn parse_with_logging(text: &str, path: &Path) -> Result<(Self, Logging), ConfigError> {
        let err = |span: std::ops::Range<usize>, key: &str, message: String| ConfigError {
            file: path.to_path_buf(),
            line: line_of(text, span.start),
            key: key.to_string(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let (key, message) = describe_toml_error(text, span.clone(), e.message().trim());
            err(span, &key, message)
        })?;

        let listen = match &raw.listen {
            None => SocketAddr::from(([0, 0, 0, 0], 1812)),
            Some(s) => s.get_ref().parse().map_err(|_| {
                err(
                    s.span(),
                    "listen",
                    format!(
                        "expected a string \"ip:port\" like \"0.0.0.0:1812\", found \"{}\"",
                        s.get_ref()
                    ),
                )
            })?,
        };
        let accounting_listen = match &raw.accounting_listen {
            None => SocketAddr::new(listen.ip(), 1813),
            Some(s) => parse_listen(s.get_ref(), listen.ip()).ok_or_else(|| {
                err(
                    s.span(),
                    "accounting_listen",
                    format!(
                        "expected a string \"ip:port\" or \":port\", found \"{}\"",
                        s.get_ref()
                    ),
                )
            })?,
        };
        if listen.port() != 0
            && listen.port() == accounting_listen.port()
            && (listen.ip() == accounting_listen.ip()
                || listen.ip().is_unspecified()
                || accounting_listen.ip().is_unspecified())
        {
            let span = raw
                .accounting_listen
                .as_ref()
                .or(raw.listen.as_ref())
                .map_or(0..0, |s| s.span());
            return Err(err(
                span,
                "accounting_listen",
                format!(
                    "{accounting_listen} overlaps listen ({listen}): authentication and accounting need distinct ports"
                ),
            ));
        }

        let mut clients = Vec::new();
        for (i, c) in raw.client.iter().enumerate() {
            let network = Cidr::parse(c.network.get_ref())
                .map_err(|m| err(c.network.span(), &format!("client[{i}].network"), m))?;
            if c.secret.get_ref().is_empty() {
                return Err(err(
                    c.secret.span(),
                    &format!("client[{i}].secret"),
                    "the shared secret must not be empty".into(),
                ));
            }
            let das = match &c.das {
                Some(d) => Some(d.get_ref().parse::<SocketAddr>().map_err(|_| {
                    err(
                        d.span(),
                        &format!("client[{i}].das"),
                        "must be IP:PORT of the NAS's Dynamic Authorization Server (e.g. \"192.0.2.1:3799\")".into(),
                    )
                })?),
                None => None,
            };
            clients.push(Client {
                name: c.name.clone().unwrap_or_else(|| network.to_string()),
                network,
                secret: SecretBytes::from(c.secret.get_ref().as_str()),
                require_message_authenticator: c.require_message_authenticator,
                das,
            });
        }
        if clients.is_empty() {
            return Err(err(
                0..0,
                "client",
                "no [[client]] configured: every request would be dropped".into(),
            ));
        }

        let postgres = parse_postgres_backend(&raw.hss, path, &err)?;
        let database = match (&raw.hss.database, &postgres) {
            (None, Some(_)) => PathBuf::new(),
            (Some(d), Some(_)) => {
                return Err(err(
                    d.span(),
                    "hss.database",
                    "not used with backend = \"postgres\" (the store is at url)".into(),
                ));
            }
            (None, None) => {
                return Err(err(
                    0..0,
                    "hss.database",
                    "required, expected a string (path of the SQLite file)".into(),
                ));
            }
            (Some(database_raw), None) => {
                let db = database_raw.get_ref();
                if db.is_empty() {
                    return Err(err(
                        database_raw.span(),
                        "hss.database",
                        "must not be empty".into(),
                    ));
                }
                let mut database = PathBuf::from(db);
                if let (true, Some(dir)) = (database.is_relative(), path.parent()) {
                    database = dir.join(database);
                }
                let dir = match database.parent() {
                    Some(d) if d.as_os_str().is_empty() => Path::new("."),
                    Some(d) => d,
                    None => Path::new("/"),
                };
                if !dir.is_dir() {
                    return Err(err(
                        database_raw.span(),
                        "hss.database",
                        format!("directory {} does not exist", dir.display()),
                    ));
                }
                database
            }
        };

        let methods = match &raw.eap.methods {
            None => vec![MethodName::AkaPrime, MethodName::Aka],
            Some(m) => {
                let v = m.get_ref().clone();
                if v.is_empty() {
                    return Err(err(
                        m.span(),
                        "eap.methods",
                        "must name at least one method".into(),
                    ));
                }
                if v.iter().enumerate().any(|(i, m)| v[..i].contains(m)) {
                    return Err(err(
                        m.span(),
                        "eap.methods",
                        "a method is listed twice".into(),
                    ));
                }
                v
            }
        };
        let network_name = match &raw.eap.network_name {
            None => "WLAN".to_string(),
            Some(n) => {
                let v = n.get_ref();
                // AT_KDF_INPUT carries at most 255*4-4 bytes.
                if v.is_empty() || v.len() > 1016 {
                    return Err(err(
                        n.span(),
                        "eap.network_name",
                        "must be 1..=1016 bytes".into(),
                    ));
                }
                v.clone()
            }
        };
        let session_timeout = match &raw.eap.session_timeout {
            None => Duration::from_secs(30),
            Some(t) if *t.get_ref() == 0 || *t.get_ref() > 3600 => {
                return Err(err(
                    t.span(),
                    "eap.session_timeout",
                    "must be 1..=3600 seconds".into(),
                ));
            }
            Some(t) => Duration::from_secs(*t.get_ref()),
        };
        let max_sessions = match &raw.eap.max_sessions {
            None => 10_000,
            Some(t) if *t.get_ref() == 0 || *t.get_ref() > 10_000_000 => {
                return Err(err(
                    t.span(),
                    "eap.max_sessions",
                    "must be 1..=10000000".into(),
                ));
            }
            Some(t) => *t.get_ref() as usize,
        };

        let hss_workers = match &raw.hss.workers {
            None => crate::radius::pool::DEFAULT_WORKERS,
            Some(w) if *w.get_ref() == 0 || *w.get_ref() > 1024 => {
                return Err(err(w.span(), "hss.workers", "must be 1..=1024".into()));
            }
            Some(w) => *w.get_ref() as usize,
        };
        let privacy = parse_privacy(&raw.privacy, path, &err)?;
        if postgres.is_some() && privacy.keys.is_none() {
            return Err(err(
                0..0,
                "privacy.key",
                "backend = \"postgres\" needs [[privacy.key]]: every node must seal and open the same pseudonyms and re-auth identities".into(),
            ));
        }
        let d = RadiusConfig::default();
        let duplicate_window = match &raw.radius.duplicate_window {
            None => d.duplicate_window,
            Some(t) if *t.get_ref() == 0 || *t.get_ref() > 300 => {
                return Err(err(
                    t.span(),
                    "radius.duplicate_window",
                    "must be 1..=300 seconds".into(),
                ));
            }
            Some(t) => Duration::from_secs(*t.get_ref()),
        };
        let duplicate_cache_size = match &raw.radius.duplicate_cache_size {
            None => d.duplicate_cache_size,
            Some(t) if *t.get_ref() < 1000 || *t.get_ref() > 100_000_000 => {
                return Err(err(
                    t.span(),
                    "radius.duplicate_cache_size",
                    "must be 1000..=100000000".into(),
                ));
            }
            Some(t) => *t.get_ref() as usize,
        };
        let session_idle_timeout = match &raw.radius.session_idle_timeout {
            None => d.session_idle_timeout,
            Some(t) if *t.get_ref() < 60 || *t.get_ref() > 10 * 365 * 86400 => {
                return Err(err(
                    t.span(),
                    "radius.session_idle_timeout",
                    "must be 60..=315360000 seconds".into(),
                ));
            }
            Some(t) => Duration::from_secs(*t.get_ref()),
        };

        let identities = match &raw.logging.log_identities {
            None => crate::logging::LogIdentities::Masked,
            Some(v) => match v.get_ref().as_str() {
                "masked" => crate::logging::LogIdentities::Masked,
                "full" => crate::logging::LogIdentities::Full,
                other => {
                    return Err(err(
                        v.span(),
                        "logging.log_identities",
                        format!("expected \"masked\" or \"full\", found \"{other}\""),
                    ));
                }
            },
        };
        let logging = match &raw.log_level {
            None => Logging {
                identities,
                ..Logging::default()
            },
            Some(l) => {
                tracing_subscriber::EnvFilter::builder()
                    .parse(l.get_ref())
                    .map_err(|e| {
                        err(
                            l.span(),
                            "log_level",
                            format!(
                                "expected a log filter like \"info\" or \"aaa_server=debug,warn\", found \"{}\": {e}",
                                l.get_ref()
                            ),
                        )
                    })?;
                Logging {
                    level: l.get_ref().clone(),
                    identities,
                }
            }
        };

        let radsec = match &raw.radsec {
            None => None,
            Some(r) => Some(r.parse(path, &err)?),
        };
        let cui = match &raw.cui {
            None => None,
            Some(c) => Some(std::sync::Arc::new(crate::cui::parse(c, path, &err)?)),
        };
        let proxy = crate::proxy::config::parse(
            &raw.realm,
            raw.proxy.as_ref(),
            raw.tls_client.as_ref(),
            raw.dns.as_ref(),
            path,
            &err,
        )?;
        let metrics = MetricsConfig {
            listen: match &raw.metrics.listen {
                None => None,
                Some(s) => Some(s.get_ref().parse().map_err(|_| {
                    err(
                        s.span(),
                        "metrics.listen",
                        format!(
                            "expected a string \"ip:port\" like \"127.0.0.1:9812\", found \"{}\"",
                            s.get_ref()
                        ),
                    )
                })?),
            },
        };

        let config = Config {
            listen,
            accounting_listen,
            clients,
            database,
            hss_workers,
            postgres,
            eap: EapConfig {
                methods,
                network_name,
                session_timeout,
                max_sessions,
            },
            privacy,
            radius: RadiusConfig {
                duplicate_window,
                duplicate_cache_size,
                session_idle_timeout,
            },
            radsec,
            proxy,
            metrics,
            cui,
        };
        Ok((config, logging))
    }

    /// A warning when the file at `path` (this configuration) is readable by
    /// group or others: it holds the RADIUS shared secrets and maybe privacy keys.
    pub fn permission_warning(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return None;
        }
        let what = if self.privacy.keys.is_some() {
            "RADIUS client secrets and privacy keys"
        } else {
            "RADIUS client secrets"
        };
        Some(format!(
            "{}: holds {what} but is readable by group/others (mode {mode:03o}); run chmod 600 {}",
            path.display(),
            path.display()
        ))
    }

    /// The first client whose network contains `ip`.
    pub fn client_for(&self, ip: IpAddr) -> Option<&Client> {
        self.clients.iter().find(|c| c.network.contains(ip))
    }
}

/// Validates `[privacy]` (keys decoded here, so `serve --check` catches them).
fn parse_privacy(
    raw: &RawPrivacy,
    path: &Path,
    err: &dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError,
) -> Result<PrivacyConfig, ConfigError> {
    let d = crate::privacy::Policy::default();
    let reauth_limit = match &raw.reauth_limit {
        None => d.reauth_limit,
        Some(v) => u16::try_from(*v.get_ref())
            .ok()
            .filter(|n| *n < u16::MAX)
            .ok_or_else(|| err(v.span(), "privacy.reauth_limit", "must be 0..=65534".into()))?,
    };
    let reauth_lifetime = match &raw.reauth_lifetime {
        None => d.reauth_lifetime,
        Some(v) if *v.get_ref() == 0 || *v.get_ref() > 365 * 86_400 => {
            return Err(err(
                v.span(),
                "privacy.reauth_lifetime",
                "must be 1..=31536000 seconds".into(),
            ));
        }
        Some(v) => *v.get_ref(),
    };
    let policy = crate::privacy::Policy {
        pseudonyms: raw.pseudonyms.unwrap_or(d.pseudonyms),
        fast_reauth: raw.fast_reauth.unwrap_or(d.fast_reauth),
        reauth_limit,
        reauth_lifetime,
        result_indication: raw.result_indication.unwrap_or(d.result_indication),
    };
    let mut entries = Vec::new();
    for (i, k) in raw.key.iter().enumerate() {
        let index = u8::try_from(*k.index.get_ref()).map_err(|_| {
            err(
                k.index.span(),
                &format!("privacy.key[{i}].index"),
                "must be 0..=255".into(),
            )
        })?;
        if let Err(e) = crate::privacy::PrivacyKey::parse(index, k.secret.get_ref()) {
            return Err(err(
                k.secret.span(),
                &format!("privacy.key[{i}].secret"),
                e.to_string(),
            ));
        }
        entries.push((index, k.secret.get_ref().as_str()));
    }
    let keys = match (&raw.current_key, entries.is_empty()) {
        (None, true) => None,
        (None, false) => {
            return Err(err(
                raw.key[0].index.span(),
                "privacy.current_key",
                "keys are configured but current_key is missing".into(),
            ));
        }
        (Some(c), _) => {
            let current = u8::try_from(*c.get_ref())
                .map_err(|_| err(c.span(), "privacy.current_key", "must be 0..=255".into()))?;
            Some(
                crate::privacy::KeySet::from_config(current, &entries)
                    .map_err(|e| err(c.span(), "privacy.current_key", e.to_string()))?,
            )
        }
    };
    let imsi_privacy_key = raw.imsi_privacy_key.as_ref().map(|p| {
        let mut f = PathBuf::from(p.get_ref());
        if let (true, Some(dir)) = (f.is_relative(), path.parent()) {
            f = dir.join(f);
        }
        f
    });
    let realm = match &raw.realm {
        None => None,
        Some(r) if r.get_ref().is_empty() || r.get_ref().len() > 200 => {
            return Err(err(
                r.span(),
                "privacy.realm",
                "must be 1..=200 bytes".into(),
            ));
        }
        Some(r) => Some(r.get_ref().clone()),
    };
    Ok(PrivacyConfig {
        policy,
        keys,
        imsi_privacy_key,
        realm,
    })
}

/// `ip:port`, or `:port` meaning the default address.
fn parse_listen(s: &str, default_ip: IpAddr) -> Option<SocketAddr> {
    if let Some(p) = s.strip_prefix(':') {
        return p.parse().ok().map(|p| SocketAddr::new(default_ip, p));
    }
    s.parse().ok()
}

/// `[hss] backend`, `url`, `password_file`, `sqn_lease`: `None` for the
/// SQLite default. The URL is parsed here and refused when it carries a password.
fn parse_postgres_backend(
    raw: &RawHss,
    path: &Path,
    err: &dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError,
) -> Result<Option<PostgresBackend>, ConfigError> {
    let backend = raw
        .backend
        .as_ref()
        .map_or("sqlite", |b| b.get_ref().as_str());
    let span = |o: &Option<Spanned<String>>| o.as_ref().map_or(0..0, |s| s.span());
    match backend {
        "sqlite" => {
            for (k, present) in [
                ("hss.url", raw.url.is_some()),
                ("hss.password_file", raw.password_file.is_some()),
                ("hss.sqn_lease", raw.sqn_lease.is_some()),
            ] {
                if present {
                    return Err(err(0..0, k, "only with backend = \"postgres\"".into()));
                }
            }
            return Ok(None);
        }
        "postgres" => {}
        other => {
            return Err(err(
                span(&raw.backend),
                "hss.backend",
                format!("expected \"sqlite\" or \"postgres\", found \"{other}\""),
            ));
        }
    }
    let Some(url) = &raw.url else {
        return Err(err(
            span(&raw.backend),
            "hss.url",
            "required with backend = \"postgres\", expected a PostgreSQL connection string or postgresql:// URL".into(),
        ));
    };
    match crate::hss::postgres::conninfo::config(url.get_ref(), None) {
        Err(e @ crate::hss::postgres::conninfo::ConnInfoError::PasswordInUrl)
        | Err(e @ crate::hss::postgres::conninfo::ConnInfoError::Parse(_)) => {
            return Err(err(url.span(), "hss.url", e.to_string()));
        }
        // PGPASSFILE problems show at start, with the file named.
        _ => {}
    }
    let password_file = raw.password_file.as_ref().map(|p| {
        let p = PathBuf::from(p.get_ref());
        match (p.is_relative(), path.parent()) {
            (true, Some(dir)) => dir.join(p),
            _ => p,
        }
    });
    let sqn_lease = match &raw.sqn_lease {
        None => 1,
        Some(n) if (1..=crate::hss::postgres::MAX_LEASE).contains(n.get_ref()) => *n.get_ref(),
        Some(n) => {
            return Err(err(
                n.span(),
                "hss.sqn_lease",
                format!("must be 1..={}", crate::hss::postgres::MAX_LEASE),
            ));
        }
    };
    Ok(Some(PostgresBackend {
        url: url.get_ref().clone(),
        password_file,
        sqn_lease,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/tmp/aaa.toml"))
    }

    const GOOD: &str = r#"
listen = "127.0.0.1:18120"
[[client]]
network = "127.0.0.0/8"
secret = "testing123"
[hss]
database = "subscribers.db"
[eap]
methods = ["aka", "aka-prime"]
network_name = "WLAN"
session_timeout = 10
max_sessions = 5
"#;

    #[test]
    fn good_config_and_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.listen, "127.0.0.1:18120".parse().unwrap());
        assert_eq!(c.accounting_listen, "127.0.0.1:1813".parse().unwrap());
        assert_eq!(c.database, PathBuf::from("/tmp/subscribers.db"));
        assert_eq!(c.eap.methods, vec![MethodName::Aka, MethodName::AkaPrime]);
        assert_eq!(c.eap.max_sessions, 5);
        assert!(c.clients[0].require_message_authenticator);
        assert!(c.client_for("127.9.9.9".parse().unwrap()).is_some());
        assert!(c.client_for("10.0.0.1".parse().unwrap()).is_none());
        assert!(c.client_for("::ffff:127.0.0.1".parse().unwrap()).is_some());
    }

    #[test]
    fn radius_tuning_defaults_values_and_errors() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.radius, RadiusConfig::default());
        assert_eq!(c.radius.duplicate_window, Duration::from_secs(5));
        let c = parse(&format!(
            "{GOOD}[radius]\nduplicate_window = 10\nduplicate_cache_size = 5000\n"
        ))
        .unwrap();
        assert_eq!(c.radius.duplicate_window, Duration::from_secs(10));
        assert_eq!(c.radius.duplicate_cache_size, 5000);
        let e = parse(&format!("{GOOD}[radius]\nduplicate_window = 0\n")).unwrap_err();
        assert_eq!(e.key, "radius.duplicate_window");
        assert_eq!(e.line, 14);
        let e = parse(&format!("{GOOD}[radius]\nduplicate_cache_size = 10\n")).unwrap_err();
        assert_eq!(e.key, "radius.duplicate_cache_size");
        assert_eq!(
            parse(GOOD).unwrap().radius.session_idle_timeout,
            Duration::from_secs(86400)
        );
        let c = parse(&format!("{GOOD}[radius]\nsession_idle_timeout = 3600\n")).unwrap();
        assert_eq!(c.radius.session_idle_timeout, Duration::from_secs(3600));
        let e = parse(&format!("{GOOD}[radius]\nsession_idle_timeout = 59\n")).unwrap_err();
        assert_eq!(e.key, "radius.session_idle_timeout");
    }

    #[test]
    fn example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aaa.toml");
        let text = std::fs::read_to_string(path).unwrap();
        // The example's database lives in /var/lib; check everything but the directory.
        let text = text.replace("/var/lib/aaa-server/subscribers.db", "/tmp/x.db");
        let c = Config::parse(&text, Path::new(path)).unwrap();
        assert_eq!(c.eap.methods[0], MethodName::AkaPrime);
        let c = parse(&GOOD.replace("\"aka\", ", "\"sim\", \"aka\", ")).unwrap();
        assert_eq!(
            c.eap.methods,
            vec![MethodName::Sim, MethodName::Aka, MethodName::AkaPrime]
        );
    }

    #[test]
    fn privacy_defaults_keys_and_errors() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.privacy.policy, crate::privacy::Policy::default());
        assert!(c.privacy.keys.is_none() && c.privacy.imsi_privacy_key.is_none());
        let k1 = "01".repeat(32);
        let k2 = "02".repeat(32);
        let text = format!(
            "{GOOD}[privacy]\npseudonyms = false\nreauth_limit = 3\nresult_indication = true\n\
             imsi_privacy_key = \"key.pem\"\nrealm = \"example.org\"\ncurrent_key = 2\n\
             [[privacy.key]]\nindex = 2\nsecret = \"{k2}\"\n[[privacy.key]]\nindex = 1\nsecret = \"{k1}\"\n"
        );
        let c = parse(&text).unwrap();
        let p = &c.privacy;
        assert!(!p.policy.pseudonyms && p.policy.fast_reauth && p.policy.result_indication);
        assert_eq!(p.policy.reauth_limit, 3);
        assert_eq!(p.keys.as_ref().unwrap().indexes(), vec![2, 1]);
        assert_eq!(p.imsi_privacy_key, Some(PathBuf::from("/tmp/key.pem")));
        assert_eq!(p.realm.as_deref(), Some("example.org"));

        let e = parse(&text.replace("current_key = 2", "current_key = 3")).unwrap_err();
        assert_eq!(e.key, "privacy.current_key", "{e}");
        let e = parse(&text.replace(&k1, "zz")).unwrap_err();
        assert_eq!(e.key, "privacy.key[1].secret", "{e}");
        assert_eq!(e.line, 25, "{e}");
        let e = parse(&text.replace("current_key = 2\n", "")).unwrap_err();
        assert_eq!(e.key, "privacy.current_key", "{e}");
        let e = parse(&text.replace("reauth_limit = 3", "reauth_limit = 70000")).unwrap_err();
        assert_eq!(e.key, "privacy.reauth_limit", "{e}");
        let e = parse(&format!("{GOOD}[privacy]\npseudonym = true\n")).unwrap_err();
        assert_eq!(e.key, "privacy.pseudonym", "{e}");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = GOOD.replace("max_sessions = 5", "max_sessions = 5\nmax_sesions = 6");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, 13, "{e}");
        assert_eq!(e.key, "eap.max_sesions", "{e}");
        assert!(
            e.to_string()
                .starts_with("/tmp/aaa.toml:13: eap.max_sesions: unknown key, expected one of"),
            "{e}"
        );
    }

    /// Issue point 7: a value of the wrong type names the key and what was
    /// expected, not the value (`c.toml:1: 1812: invalid type` before).
    #[test]
    fn wrong_type_names_key_and_expectation() {
        let msg = |t: &str| parse(t).unwrap_err().to_string();
        assert_eq!(
            msg(&GOOD.replace("\"127.0.0.1:18120\"", "1812")),
            "/tmp/aaa.toml:2: listen: expected a string \"ip:port\", found integer 1812"
        );
        assert_eq!(
            msg(&GOOD.replace("\"testing123\"", "5")),
            "/tmp/aaa.toml:5: client[0].secret: expected a string (the RADIUS shared secret), found integer 5"
        );
        let two = GOOD.replace(
            "[hss]",
            "[[client]]\nnetwork = \"::1\"\nsecret = \"s\"\nrequire_message_authenticator = \"yes\"\n[hss]",
        );
        assert_eq!(
            msg(&two),
            "/tmp/aaa.toml:9: client[1].require_message_authenticator: expected true or false, found string \"yes\""
        );
        assert_eq!(
            msg(&GOOD.replace("session_timeout = 10", "session_timeout = \"10\"")),
            "/tmp/aaa.toml:11: eap.session_timeout: expected a positive integer (seconds), found string \"10\""
        );
        assert_eq!(
            msg(&GOOD.replace("session_timeout = 10", "session_timeout = -1")),
            "/tmp/aaa.toml:11: eap.session_timeout: expected a positive integer (seconds), found integer -1"
        );
        assert!(
            msg(&GOOD.replace("\"aka\", ", "\"gtc\", "))
                .starts_with("/tmp/aaa.toml:9: eap.methods: unknown value `gtc`, expected"),
            "{}",
            msg(&GOOD.replace("\"aka\", ", "\"gtc\", "))
        );
        assert_eq!(
            msg(&GOOD.replace("\"aka\", ", "\"sim\", \"aka\", \"sim\", ")),
            "/tmp/aaa.toml:9: eap.methods: a method is listed twice"
        );
        assert_eq!(
            msg(&GOOD.replace("secret = \"testing123\"\n", "")),
            "/tmp/aaa.toml:3: client[0].secret: required, expected a string (the RADIUS shared secret)"
        );
        assert_eq!(
            msg("listen = \"127.0.0.1:1\"\n"),
            "/tmp/aaa.toml:1: hss: required, expected a table [hss]"
        );
        assert_eq!(
            msg(&GOOD.replace("\"127.0.0.1:18120\"", "\"localhost:1812\"")),
            "/tmp/aaa.toml:2: listen: expected a string \"ip:port\" like \"0.0.0.0:1812\", found \"localhost:1812\""
        );
    }

    #[test]
    fn unreadable_and_oversized_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("aaa.toml");
        assert_eq!(
            Config::load(&missing).unwrap_err().to_string(),
            format!(
                "{}: cannot read: No such file or directory",
                missing.display()
            )
        );
        assert_eq!(
            Config::load(Path::new("/dev/zero"))
                .unwrap_err()
                .to_string(),
            "/dev/zero: larger than the 1048576-byte limit for a configuration file"
        );
    }

    #[test]
    fn auth_and_accounting_must_not_share_a_port() {
        let e = parse(&format!("accounting_listen = \":18120\"\n{GOOD}")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (1, "accounting_listen"), "{e}");
        assert!(e.to_string().contains("distinct ports"), "{e}");
        let wild = GOOD.replace("127.0.0.1:18120", "0.0.0.0:1812");
        let e = parse(&format!("accounting_listen = \"127.0.0.1:1812\"\n{wild}")).unwrap_err();
        assert_eq!(e.key, "accounting_listen", "{e}");
        // Port 0 (tests): the kernel picks two different ports.
        let zero = GOOD.replace("127.0.0.1:18120", "127.0.0.1:0");
        assert!(parse(&format!("accounting_listen = \":0\"\n{zero}")).is_ok());
    }

    #[test]
    fn group_readable_config_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aaa.toml");
        std::fs::write(&path, GOOD).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let c = Config::load(&path).unwrap();
        let w = c.permission_warning(&path).unwrap();
        assert!(w.contains("mode 640") && w.contains("chmod 600"), "{w}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.permission_warning(&path), None);
    }

    #[test]
    fn bad_cidr_empty_secret_missing_dir() {
        let e = parse(&GOOD.replace("127.0.0.0/8", "127.0.0.0/33")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "client[0].network"), "{e}");
        let e = parse(&GOOD.replace("127.0.0.0/8", "localhost")).unwrap_err();
        assert_eq!(e.key, "client[0].network");
        let e = parse(&GOOD.replace("\"testing123\"", "\"\"")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (5, "client[0].secret"), "{e}");
        let e = parse(&GOOD.replace("subscribers.db", "/nonexistent/dir/s.db")).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (7, "hss.database"), "{e}");
        let e = parse(&GOOD.replace("\"aka\", ", "\"eap-sim\", ")).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        let e = parse(&GOOD.replace("max_sessions = 5", "max_sessions = 0")).unwrap_err();
        assert_eq!(e.key, "eap.max_sessions");
    }

    #[test]
    fn cidr() {
        let n = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.255.1".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/x").is_err());
    }

    #[test]
    fn log_identities_masked_by_default_full_or_an_error_naming_the_line() {
        use crate::logging::LogIdentities;
        let p = Path::new("/etc/passpoint-aka/aaa.toml");
        let base = "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"s3cret-s3cret\"\n[hss]\ndatabase = \"/tmp/x.db\"\n";
        let (_, l) = Config::parse_with_logging(base, p).unwrap();
        assert_eq!(l.identities, LogIdentities::Masked);
        let (_, l) =
            Config::parse_with_logging(&format!("{base}[logging]\nlog_identities = \"full\"\n"), p)
                .unwrap();
        assert_eq!(l.identities, LogIdentities::Full);
        let e = Config::parse_with_logging(
            &format!("{base}[logging]\nlog_identities = \"plain\"\n"),
            p,
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (7, "logging.log_identities"),
            "{e}"
        );
        assert!(
            e.to_string().contains("expected \"masked\" or \"full\""),
            "{e}"
        );
        let e =
            Config::parse_with_logging(&format!("{base}[logging]\nlevel = 1\n"), p).unwrap_err();
        assert_eq!(e.key, "logging.level", "{e}");
    }

    #[test]
    fn log_level_defaults_to_info_and_bad_filters_name_the_line() {
        let p = Path::new("/etc/passpoint-aka/aaa.toml");
        let base = "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"s3cret-s3cret\"\n[hss]\ndatabase = \"/tmp/x.db\"\n";
        let (_, l) = Config::parse_with_logging(base, p).unwrap();
        assert_eq!(l.level, "info");
        let (_, l) = Config::parse_with_logging(
            &format!("log_level = \"aaa_server=debug,warn\"\n{base}"),
            p,
        )
        .unwrap();
        assert_eq!(l.level, "aaa_server=debug,warn");
        let e =
            Config::parse_with_logging(&format!("\nlog_level = \"aaa_server=bogus\"\n{base}"), p)
                .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "log_level"), "{e}");
        assert!(e.message.contains("log filter"), "{e}");
    }
}
