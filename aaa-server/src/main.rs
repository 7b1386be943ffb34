//! `aaa-server` command line: `serve`, `subscriber add|import|list|set|remove`, `hlr-gw`,
//! `completions`, `man`.

use aaa_server::authz::AttributeUpdate;
use aaa_server::authz::sqlite::AuthzUpdate;
use aaa_server::config::{Config, MethodName};
use aaa_server::hss::any::AnyStore;
use aaa_server::hss::sqlite::StoreCheck;
use aaa_server::hss::sqlite::{NewSubscriber, SubscriberUpdate};
use aaa_server::hss::{HssError, Imsi, milenage_db};
use aaa_server::input::{MAX_IMPORT, read_text_capped};
use aaa_server::privacy::startup::KeySource;
use clap::{CommandFactory, Parser, Subcommand};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "aaa-server",
    version,
    about = "RADIUS AAA server with EAP-AKA/EAP-AKA' and an HSS stub"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the RADIUS server until SIGINT/SIGTERM; SIGHUP re-reads the
    /// configuration and applies the clients, [privacy], log_level and [logging].
    Serve {
        /// Configuration file (TOML).
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Validate the configuration and exit.
        #[arg(long)]
        check: bool,
        /// Log line format on standard error: text, or JSON (one object per line).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Print every RADIUS packet in and out, decoded (attributes, EAP,
        /// EAP-AKA/AKA'/SIM attributes), on standard output; keys and
        /// passwords show as <hidden>.
        #[arg(long)]
        debug: bool,
    },
    /// Manage subscribers in the HSS store.
    Subscriber {
        #[command(subcommand)]
        cmd: SubCmd,
    },
    /// Active sessions (from accounting) and Disconnect-Requests to their NAS.
    Session {
        #[command(subcommand)]
        cmd: SessionCmd,
    },
    /// Serve the subscriber store over hostapd's hlr_auc_gw protocol.
    HlrGw {
        /// Subscriber store (SQLite path or postgresql:// URL).
        #[arg(long)]
        db: PathBuf,
        /// AF_UNIX datagram socket path to bind.
        #[arg(long)]
        socket: PathBuf,
        /// SEQ values leased per subscriber and PostgreSQL commit (1 to
        /// 1024; PostgreSQL only, docs/postgresql.md).
        #[arg(long, default_value_t = 1)]
        sqn_lease: u64,
    },
    /// PostgreSQL store maintenance.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// `serve --log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (tracing's default format).
    Text,
    /// One JSON object per line (timestamp, level, fields, target).
    Json,
}

/// Where `serve` reads its configuration unless `--config` says otherwise.
const DEFAULT_CONFIG: &str = "/etc/passpoint-aka/aaa.toml";

#[derive(Subcommand)]
enum DbCmd {
    /// Bring a PostgreSQL store's schema up to date (`serve` does it at start).
    Migrate {
        /// postgresql:// URL or libpq connection string (password from PGPASSFILE).
        #[arg(long)]
        db: String,
    },
    /// Copy subscribers (with SQN) and accounting between stores (SQLite
    /// path or postgresql:// URL, either way); stop the source's nodes first.
    Copy {
        /// Source store.
        #[arg(long)]
        from: PathBuf,
        /// Target store (an SQLite file is created 0600).
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Subcommand)]
enum SubCmd {
    /// Add one subscriber.
    Add {
        /// Subscriber store (SQLite path or postgresql:// URL), created 0600 if missing (its directory 0700).
        #[arg(long)]
        db: PathBuf,
        /// IMSI (6–15 digits).
        #[arg(long)]
        imsi: String,
        /// K, 32 hex digits.
        #[arg(long)]
        k: String,
        /// OPc, 32 hex digits.
        #[arg(long)]
        opc: String,
        /// AMF, 4 hex digits.
        #[arg(long, default_value = "8000")]
        amf: String,
        /// Last used SQN, up to 12 hex digits.
        #[arg(long, default_value = "0")]
        sqn: String,
    },
    /// Import hostapd's hlr_auc_gw milenage_db file (`IMSI Ki OPc AMF SQN [RES_len]`)
    /// and/or its GSM triplet file (`IMSI:Kc:SRES:RAND`, for 2G-only SIMs).
    ///
    /// Refuses (importing nothing) when it would change an existing
    /// subscriber's K, OPc or AMF, unless --update.
    Import {
        /// Subscriber store (SQLite path or postgresql:// URL), created 0600 if missing.
        #[arg(long)]
        db: PathBuf,
        /// The milenage_db file.
        #[arg(long, required_unless_present = "triplets")]
        milenage_db: Option<PathBuf>,
        /// hlr_auc_gw's GSM triplet file (EAP-SIM for SIMs without K/OPc here;
        /// handed out round-robin, least used first).
        #[arg(long)]
        triplets: Option<PathBuf>,
        /// Overwrite the K, OPc and AMF of existing subscribers.
        #[arg(long)]
        update: bool,
    },
    /// Change a subscriber's K, OPc or AMF (and SQN only with --sqn), its
    /// group, or its own reply attributes (which override its group's).
    ///
    /// A running `serve` or `hlr-gw` uses the new values within 250 ms; an
    /// authentication in flight ends in Access-Reject.
    Set {
        /// Subscriber store (SQLite path or postgresql:// URL).
        #[arg(long)]
        db: PathBuf,
        /// IMSI.
        #[arg(long)]
        imsi: String,
        /// New K, 32 hex digits.
        #[arg(long)]
        k: Option<String>,
        /// New OPc, 32 hex digits.
        #[arg(long)]
        opc: Option<String>,
        /// New AMF, 4 hex digits.
        #[arg(long)]
        amf: Option<String>,
        /// New last used SQN, up to 12 hex digits.
        #[arg(long)]
        sqn: Option<String>,
        /// Put the subscriber in this group (`subscriber group add` makes one).
        #[arg(long, conflicts_with = "no_group")]
        group: Option<String>,
        /// Take the subscriber out of its group.
        #[arg(long)]
        no_group: bool,
        /// The subscriber's own reply attributes (override its group's).
        #[command(flatten)]
        attrs: Box<AttrArgs>,
    },
    /// Bar a subscriber: Access-Reject, no new vector; a running `serve`
    /// turns down its authentications in flight.
    Bar {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// IMSI.
        #[arg(long)]
        imsi: String,
    },
    /// Lift a subscriber's bar.
    Unbar {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// IMSI.
        #[arg(long)]
        imsi: String,
    },
    /// Show a subscriber's group, bar and the reply attributes it gets (JSON).
    Show {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// IMSI.
        #[arg(long)]
        imsi: String,
    },
    /// Manage subscriber groups and their reply attributes.
    Group {
        #[command(subcommand)]
        cmd: GroupCmd,
    },
    /// List subscribers (never prints K or OPc).
    List {
        /// Subscriber store (SQLite path or postgresql:// URL).
        #[arg(long)]
        db: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a subscriber.
    Remove {
        /// Subscriber store (SQLite path or postgresql:// URL).
        #[arg(long)]
        db: PathBuf,
        /// IMSI.
        #[arg(long)]
        imsi: String,
    },
}

#[derive(Subcommand)]
enum SessionCmd {
    /// List active sessions.
    List {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// Only this subscriber's.
        #[arg(long)]
        imsi: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Send a Disconnect-Request (RFC 5176) for a subscriber's sessions, or
    /// one session, to its NAS (`[[client]] das`); exits non-zero unless every one is ACKed.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["imsi", "session"])))]
    Disconnect {
        /// Configuration file (TOML): the store, and each client's `das` and secret.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Every session of this subscriber.
        #[arg(long)]
        imsi: Option<String>,
        /// The session with this Acct-Session-Id.
        #[arg(long)]
        session: Option<String>,
    },
}

#[derive(Subcommand)]
enum GroupCmd {
    /// Add a group.
    Add {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// Group name.
        name: String,
        /// Its reply attributes.
        #[command(flatten)]
        attrs: Box<AttrArgs>,
    },
    /// Change a group's reply attributes.
    Set {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// Group name.
        name: String,
        /// Reply attributes to set or --unset.
        #[command(flatten)]
        attrs: Box<AttrArgs>,
    },
    /// List groups, their reply attributes and member counts.
    List {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a group that has no members.
    Remove {
        /// Subscriber store (SQLite).
        #[arg(long)]
        db: PathBuf,
        /// Group name.
        name: String,
    },
}

/// Reply attributes on the command line (Access-Accept only).
#[derive(clap::Args, Default)]
struct AttrArgs {
    /// Session-Timeout, seconds (RFC 2865 §5.27).
    #[arg(long)]
    session_timeout: Option<u32>,
    /// Termination-Action: `radius-request` (re-authenticate) or `default`.
    #[arg(long, value_parser = ["default", "radius-request"])]
    termination_action: Option<String>,
    /// Class (RFC 2865 §5.25).
    #[arg(long)]
    class: Option<String>,
    /// VLAN ID (Tunnel-Type/-Medium-Type/-Private-Group-ID, RFC 3580).
    #[arg(long)]
    vlan: Option<u16>,
    /// Filter-Id (RFC 2865 §5.11).
    #[arg(long)]
    filter_id: Option<String>,
    /// WISPr-Bandwidth-Max-Up, bits/s.
    #[arg(long)]
    bandwidth_max_up: Option<u32>,
    /// WISPr-Bandwidth-Max-Down, bits/s.
    #[arg(long)]
    bandwidth_max_down: Option<u32>,
    /// A vendor attribute, VENDOR:TYPE:HEX (repeatable).
    #[arg(long = "vsa")]
    vsa: Vec<String>,
    /// Clear an attribute: session-timeout, termination-action, class, vlan,
    /// filter-id, bandwidth-max-up, bandwidth-max-down, vendor (repeatable).
    #[arg(long)]
    unset: Vec<String>,
}

impl AttrArgs {
    fn update(self) -> Result<AttributeUpdate, String> {
        use aaa_server::authz::{ReplyAttributes, TerminationAction, parse_vendor_attr};
        let set = ReplyAttributes {
            session_timeout: self.session_timeout,
            termination_action: self.termination_action.map(|t| match t.as_str() {
                "default" => TerminationAction::Default,
                _ => TerminationAction::RadiusRequest,
            }),
            class: self.class,
            vlan: self.vlan,
            filter_id: self.filter_id,
            bandwidth_max_up: self.bandwidth_max_up,
            bandwidth_max_down: self.bandwidth_max_down,
            vendor: self
                .vsa
                .iter()
                .map(|v| parse_vendor_attr(v).map_err(|e| format!("--vsa: {e}")))
                .collect::<Result<_, _>>()?,
        };
        set.check().map_err(|e| e.to_string())?;
        Ok(AttributeUpdate {
            set,
            unset: self.unset,
        })
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A message for stderr.
    #[error("{0}")]
    Msg(String),
    /// Standard output was closed (`aaa-server subscriber list | head`): not an error.
    #[error("standard output closed")]
    StdoutClosed,
}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError::Msg(s)
    }
}

impl From<&str> for CliError {
    fn from(s: &str) -> Self {
        CliError::Msg(s.to_string())
    }
}

/// Writes `text` to standard output; a closed pipe ends the command quietly.
fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    so.write_all(text.as_bytes())
        .and_then(|()| so.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::StdoutClosed,
            _ => CliError::Msg(format!("standard output: {e}")),
        })
}

/// `println!` through [`out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Creates the directory of a new store (mode 0700, it will hold keys) when missing.
fn make_store_dir(db: &std::path::Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    if aaa_server::hss::any::is_postgres(db) {
        return Ok(());
    }
    match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| CliError::Msg(format!("{}: cannot create: {e}", dir.display()))),
        _ => Ok(()),
    }
}

fn parse_amf(amf: &str) -> Result<Amf, String> {
    u16::from_str_radix(amf.trim(), 16)
        .ok()
        .filter(|_| amf.trim().len() <= 4)
        .map(|a| Amf(a.to_be_bytes()))
        .ok_or_else(|| "--amf must be up to 4 hex digits".to_string())
}

fn parse_sqn(sqn: &str) -> Result<Sqn, String> {
    u64::from_str_radix(sqn.trim(), 16)
        .ok()
        .filter(|_| sqn.trim().len() <= 12)
        .and_then(Sqn::new)
        .ok_or_else(|| "--sqn must be up to 12 hex digits".to_string())
}

fn hex_key<const N: usize>(s: &str, what: &str) -> Result<Zeroizing<[u8; N]>, String> {
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(s.trim(), &mut out[..])
        .map_err(|_| format!("--{what} must be {} hex digits", 2 * N))?;
    Ok(out)
}

/// An existing store (every command but `subscriber add`/`import`).
fn store(db: &std::path::Path) -> Result<AnyStore, String> {
    AnyStore::open(db, false, 1).map_err(|e| e.to_string())
}

/// The store, created `0600` when missing (`subscriber add`/`import`).
fn store_or_new(db: &std::path::Path) -> Result<AnyStore, String> {
    AnyStore::open(db, true, 1).map_err(|e| e.to_string())
}

/// `subscriber bar` (`bar`) / `unbar`.
fn bar(db: &std::path::Path, imsi: &str, bar: bool) -> Result<(), CliError> {
    let imsi = Imsi::parse(imsi).map_err(|e| format!("--imsi: {e}"))?;
    store(db)?
        .set_barred(&imsi, bar)
        .map_err(|e| format!("{}: {imsi}: {e}", db.display()))?;
    outln!("{} {imsi}", if bar { "barred" } else { "unbarred" })
}

/// `session …`.
fn session_cmd(cmd: SessionCmd) -> Result<(), CliError> {
    match cmd {
        SessionCmd::List { db, imsi, json } => {
            let imsi = imsi
                .map(|i| Imsi::parse(&i).map_err(|e| format!("--imsi: {e}")))
                .transpose()?;
            let list = store(&db)?
                .sessions(imsi.as_ref())
                .map_err(|e| e.to_string())?;
            if json {
                return outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
                );
            }
            outln!(
                "{:<16} {:<24} {:<16} {:<18} {:<10} {:<10} USER-NAME",
                "CLIENT",
                "ACCT-SESSION-ID",
                "IMSI",
                "CALLING-STATION",
                "STARTED",
                "UPDATED"
            )?;
            for s in list {
                outln!(
                    "{:<16} {:<24} {:<16} {:<18} {:<10} {:<10} {}",
                    s.client,
                    s.session_id,
                    s.imsi.as_deref().unwrap_or("-"),
                    s.calling_station_id,
                    s.started,
                    s.updated,
                    s.user_name
                )?;
            }
            Ok(())
        }
        SessionCmd::Disconnect {
            config,
            imsi,
            session,
        } => {
            use aaa_server::authz::das::{DasEvent, DasKind, Retry, udp};
            let cfg = Config::load(&config).map_err(|e| e.to_string())?;
            let imsi = imsi
                .map(|i| Imsi::parse(&i).map_err(|e| format!("--imsi: {e}")))
                .transpose()?;
            // The serving store: `[hss] backend = "postgres"` or the SQLite file.
            let db = match &cfg.postgres {
                Some(pg) => AnyStore::Postgres(
                    aaa_server::hss::postgres::PgStore::open(
                        &pg.url,
                        pg.password_file.as_deref(),
                        1,
                    )
                    .map_err(|e| e.to_string())?,
                ),
                None => store(&cfg.database)?,
            };
            let sessions: Vec<_> = db
                .sessions(imsi.as_ref())
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|s| session.as_ref().is_none_or(|id| *id == s.session_id))
                .collect();
            if sessions.is_empty() {
                return Err("no such active session".into());
            }
            let targets = aaa_server::authz::watch::targets(&cfg.clients, &sessions);
            if targets.is_empty() {
                return Err(format!(
                    "{}: no [[client]] of these sessions has a `das`",
                    config.display()
                )
                .into());
            }
            let (events, _) = udp::run(DasKind::Disconnect, &targets, &[], Retry::default())
                .map_err(|e| format!("DAS socket: {e}"))?;
            let mut all_acked = events.len() == targets.len();
            for ev in &events {
                match ev {
                    DasEvent::Ack { nas, session, .. } => outln!("{session}: ACK from {nas}")?,
                    DasEvent::Nak {
                        nas,
                        session,
                        error_cause,
                        ..
                    } => {
                        all_acked = false;
                        outln!(
                            "{session}: NAK from {nas} (Error-Cause {})",
                            error_cause.map_or("none".into(), |c| c.to_string())
                        )?
                    }
                    DasEvent::TimedOut { nas, session, .. } => {
                        all_acked = false;
                        outln!("{session}: no answer from {nas}")?
                    }
                }
            }
            if all_acked {
                Ok(())
            } else {
                Err("not every session was disconnected".into())
            }
        }
    }
}

/// `subscriber group …`.
fn group_cmd(cmd: GroupCmd) -> Result<(), CliError> {
    match cmd {
        GroupCmd::Add { db, name, attrs } => {
            let u = (*attrs).update()?;
            store(&db)?.group_add(&name, &u.set).map_err(|e| match e {
                HssError::Exists => format!("{}: group {name} already exists", db.display()),
                e => format!("{}: group {name}: {e}", db.display()),
            })?;
            outln!("added group {name}")
        }
        GroupCmd::Set { db, name, attrs } => {
            let u = (*attrs).update()?;
            store(&db)?
                .group_set(&name, &u)
                .map_err(|e| format!("{}: group {name}: {e}", db.display()))?;
            outln!("updated group {name}")
        }
        GroupCmd::List { db, json } => {
            let list = store(&db)?.group_list().map_err(|e| e.to_string())?;
            if json {
                return outln!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
                );
            }
            outln!("{:<16} {:>7} ATTRIBUTES", "GROUP", "MEMBERS")?;
            for g in list {
                outln!(
                    "{:<16} {:>7} {}",
                    g.name,
                    g.members,
                    serde_json::to_string(&g.attributes).map_err(|e| e.to_string())?
                )?;
            }
            Ok(())
        }
        GroupCmd::Remove { db, name } => {
            store(&db)?
                .group_remove(&name)
                .map_err(|e| format!("{}: group {name}: {e}", db.display()))?;
            outln!("removed group {name}")
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.cmd {
        Cmd::Serve {
            config,
            check,
            log_format,
            debug,
        } => {
            let (cfg, logging) = Config::load_with_logging(&config).map_err(|e| e.to_string())?;
            let warning = cfg.permission_warning(&config);
            if check {
                if let Some(w) = &warning {
                    eprintln!("aaa-server: warning: {w}");
                }
                let p = aaa_server::server::preflight(&cfg).map_err(|e| e.to_string())?;
                let StoreCheck::Present { subscribers } = p.store;
                let store = format!("{subscribers} subscriber(s)");
                let keys = match p.keys {
                    KeySource::Configured(i) => format!("configured {i:?}"),
                    KeySource::Stored(i) => format!("stored {i:?}"),
                    KeySource::FirstStart => "generated on first start".into(),
                };
                let methods: Vec<&str> = cfg
                    .eap
                    .methods
                    .iter()
                    .map(|m| match m {
                        MethodName::AkaPrime => "aka-prime",
                        MethodName::Aka => "aka",
                        MethodName::Sim => "sim",
                    })
                    .collect();
                return outln!(
                    "{}: OK (auth {}, accounting {}, {} client(s), methods {}, database {}: {store}, privacy keys {keys})",
                    config.display(),
                    cfg.listen,
                    cfg.accounting_listen,
                    cfg.clients.len(),
                    methods.join(", "),
                    cfg.postgres
                        .as_ref()
                        .map_or_else(|| cfg.database.display().to_string(), |p| p.url.clone())
                );
            }
            let apply_logging = init_tracing_reloadable(&logging, log_format);
            aaa_server::logging::set_identities(logging.identities);
            if debug {
                aaa_server::radius::debug::enable();
            }
            if let Some(w) = &warning {
                tracing::warn!("{w}");
            }
            let life = aaa_server::server::Lifecycle {
                config_path: Some(config),
                apply_logging,
            };
            Ok(aaa_server::server::run_with(cfg, life).map_err(|e| e.to_string())?)
        }
        Cmd::Subscriber { cmd } => match cmd {
            SubCmd::Add {
                db,
                imsi,
                k,
                opc,
                amf,
                sqn,
            } => {
                let imsi = Imsi::parse(&imsi).map_err(|e| format!("--imsi: {e}"))?;
                let k = hex_key::<16>(&k, "k")?;
                let opc = hex_key::<16>(&opc, "opc")?;
                let amf = parse_amf(&amf)?;
                let sqn = parse_sqn(&sqn)?;
                make_store_dir(&db)?;
                let s = store_or_new(&db)?;
                s.add(&NewSubscriber {
                    imsi: imsi.clone(),
                    keys: SubscriberKeys::new(K::new(*k), Opc::new(*opc)),
                    amf,
                    sqn,
                })
                .map_err(|e| match e {
                    HssError::Exists => {
                        format!("{}: subscriber {imsi} already exists", db.display())
                    }
                    e => e.to_string(),
                })?;
                outln!("added {imsi}")
            }
            SubCmd::Import {
                db,
                milenage_db,
                triplets,
                update,
            } => {
                if let Some(file) = triplets {
                    let text = Zeroizing::new(
                        read_text_capped(&file, MAX_IMPORT).map_err(|e| e.to_string())?,
                    );
                    let t = aaa_server::hss::sqlite::triplets::parse(&text)
                        .map_err(|e| format!("{}:{}: {}", file.display(), e.line, e.message))?;
                    make_store_dir(&db)?;
                    let r = store_or_new(&db)?
                        .import_triplets(&t)
                        .map_err(|e| e.to_string())?;
                    outln!(
                        "imported {} triplet(s): {} added, {} replaced",
                        t.len(),
                        r.added,
                        r.replaced
                    )?;
                }
                let Some(file) = milenage_db else {
                    return Ok(());
                };
                let text =
                    Zeroizing::new(read_text_capped(&file, MAX_IMPORT).map_err(|e| e.to_string())?);
                let subs = milenage_db::parse(&text)
                    .map_err(|e| format!("{}:{}: {}", file.display(), e.line, e.message))?;
                make_store_dir(&db)?;
                let r = store_or_new(&db)?
                    .import(&subs, update)
                    .map_err(|e| match e {
                        HssError::Clash(_) => format!(
                            "{}: {}: {e}; nothing imported (--update overwrites)",
                            db.display(),
                            file.display()
                        ),
                        e => e.to_string(),
                    })?;
                outln!(
                    "imported {} subscriber(s): {} added, {} updated, {} unchanged",
                    subs.len(),
                    r.added,
                    r.updated,
                    r.unchanged
                )
            }
            SubCmd::Set {
                db,
                imsi,
                k,
                opc,
                amf,
                sqn,
                group,
                no_group,
                attrs,
            } => {
                let imsi = Imsi::parse(&imsi).map_err(|e| format!("--imsi: {e}"))?;
                let authz = AuthzUpdate {
                    group: if no_group {
                        Some(None)
                    } else {
                        group.map(Some)
                    },
                    attributes: (*attrs).update()?,
                };
                let authz_given = authz.group.is_some()
                    || !authz.attributes.unset.is_empty()
                    || !authz.attributes.set.is_empty();
                let keys_given = k.is_some() || opc.is_some() || amf.is_some() || sqn.is_some();
                if authz_given {
                    store(&db)?
                        .set_authz(&imsi, &authz)
                        .map_err(|e| format!("{}: {imsi}: {e}", db.display()))?;
                    if !keys_given {
                        return outln!("updated {imsi}");
                    }
                }
                let update = SubscriberUpdate {
                    k: k.map(|k| hex_key::<16>(&k, "k").map(|k| K::new(*k)))
                        .transpose()?,
                    opc: opc
                        .map(|o| hex_key::<16>(&o, "opc").map(|o| Opc::new(*o)))
                        .transpose()?,
                    amf: amf.as_deref().map(parse_amf).transpose()?,
                    sqn: sqn.as_deref().map(parse_sqn).transpose()?,
                };
                if update.k.is_none()
                    && update.opc.is_none()
                    && update.amf.is_none()
                    && update.sqn.is_none()
                {
                    return Err(
                        "subscriber set: give at least one of --k, --opc, --amf, --sqn, --group, or a reply attribute".into(),
                    );
                }
                store(&db)?
                    .set(&imsi, &update)
                    .map_err(|e| format!("{}: {imsi}: {e}", db.display()))?;
                outln!("updated {imsi}")
            }
            SubCmd::List { db, json } => {
                let list = AnyStore::list_of(&db).map_err(|e| e.to_string())?;
                if json {
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
                    )
                } else {
                    outln!(
                        "{:<16} {:<5} {:<13} {:>12} {:>3}",
                        "IMSI",
                        "AMF",
                        "SQN",
                        "SEQ",
                        "IND"
                    )?;
                    for s in list {
                        outln!(
                            "{:<16} {:<5} {:<13} {:>12} {:>3}",
                            s.imsi,
                            s.amf,
                            s.sqn,
                            s.seq,
                            s.ind
                        )?;
                    }
                    Ok(())
                }
            }
            SubCmd::Bar { db, imsi } => bar(&db, &imsi, true),
            SubCmd::Unbar { db, imsi } => bar(&db, &imsi, false),
            SubCmd::Show { db, imsi } => {
                let imsi = Imsi::parse(&imsi).map_err(|e| format!("--imsi: {e}"))?;
                let a = store(&db)?
                    .authorization_of(&imsi)
                    .map_err(|e| format!("{}: {imsi}: {e}", db.display()))?;
                let v = serde_json::json!({
                    "imsi": imsi.as_str(),
                    "barred": a.barred,
                    "reply": a.reply,
                });
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                )
            }
            SubCmd::Group { cmd } => group_cmd(cmd),
            SubCmd::Remove { db, imsi } => {
                let imsi = Imsi::parse(&imsi).map_err(|e| format!("--imsi: {e}"))?;
                store(&db)?
                    .remove(&imsi)
                    .map_err(|e| format!("{}: {imsi}: {e}", db.display()))?;
                outln!("removed {imsi}")
            }
        },
        Cmd::Session { cmd } => session_cmd(cmd),
        Cmd::HlrGw {
            db,
            socket,
            sqn_lease,
        } => {
            init_tracing();
            let s = AnyStore::open(&db, false, sqn_lease).map_err(|e| e.to_string())?;
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [libc_sig::SIGINT, libc_sig::SIGTERM] {
                signal_flag(sig, stop.clone()).map_err(|e| e.to_string())?;
            }
            // SIGHUP (logrotate, `systemctl reload`) must not end it: nothing to reload.
            signal_flag(libc_sig::SIGHUP, Arc::new(AtomicBool::new(false)))
                .map_err(|e| e.to_string())?;
            tracing::info!(socket = %socket.display(), "hlr-gw serving");
            Ok(aaa_server::hlr_gw::serve(&s, &socket, &stop)
                .map_err(|e| format!("{}: {e}", socket.display()))?)
        }
        Cmd::Db {
            cmd: DbCmd::Migrate { db },
        } => {
            let applied = aaa_server::hss::postgres::PgStore::migrate_only(&db, None)
                .map_err(|e| format!("--db: {e}"))?;
            match applied.last() {
                Some(v) => outln!("migrated to schema version {v}"),
                None => outln!(
                    "schema up to date (version {})",
                    aaa_server::hss::postgres::migrate::known()
                ),
            }
        }
        Cmd::Db {
            cmd: DbCmd::Copy { from, to },
        } => {
            make_store_dir(&to)?;
            let r = aaa_server::hss::copy::copy(&from, &to).map_err(|e| e.to_string())?;
            outln!(
                "copied {} subscriber(s) ({} new) and {} accounting record(s)",
                r.subscribers,
                r.added,
                r.accounting
            )
        }
        Cmd::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aaa-server", &mut script);
            out(&String::from_utf8_lossy(&script))
        }
        Cmd::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| e.to_string())?;
            out(&String::from_utf8_lossy(&page))
        }
    }
}

mod libc_sig {
    pub const SIGINT: i32 = libc::SIGINT;
    pub const SIGTERM: i32 = libc::SIGTERM;
    pub const SIGHUP: i32 = libc::SIGHUP;
}

/// Sets `flag` when `sig` arrives (a tokio signal watcher on a helper thread).
fn signal_flag(sig: i32, flag: Arc<AtomicBool>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut s = rt.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(sig))
    })?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            s.recv().await;
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        })
    });
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(aaa_server::auth_log::MakeStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The tracing filter: `RUST_LOG` when set, else the configuration's `log_level`.
fn filter_for(
    logging: &aaa_server::config::Logging,
) -> Result<tracing_subscriber::EnvFilter, String> {
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            tracing_subscriber::EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG: {e}"))
        }
        _ => tracing_subscriber::EnvFilter::try_new(&logging.level).map_err(|e| e.to_string()),
    }
}

/// Installs the `serve` subscriber behind a reload layer and returns what
/// applies new logging settings on SIGHUP.
fn init_tracing_reloadable(
    logging: &aaa_server::config::Logging,
    format: LogFormat,
) -> aaa_server::server::ApplyLogging {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let initial =
        filter_for(logging).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(initial);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Plain text without colours: the log thread writes the line itself.
    aaa_server::auth_log::set_plain_text(format == LogFormat::Text && !ansi);
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            // Batched on the log thread: one write per batch, not per line.
            .with_writer(aaa_server::auth_log::MakeStderr)
            .with_ansi(ansi)
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(aaa_server::auth_log::MakeStderr)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init();
    Box::new(move |l| {
        let f = filter_for(l)?;
        handle.reload(f).map_err(|e| e.to_string())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) | Err(CliError::StdoutClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aaa-server: {e}");
            ExitCode::FAILURE
        }
    }
}
