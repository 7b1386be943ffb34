//! `passpoint-profile`: check, show, convert and match Passpoint profiles.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use passpoint_profile::matching::{self, MatchOptions, MatchResult};
use passpoint_profile::model::{CredentialKind, Profile};
use passpoint_profile::read::{self, Document, Format};
use passpoint_profile::validate::validate_document;
use passpoint_profile::write::{self, OutputFormat, WriteOptions};
use passpoint_profile::{Severity, Target};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Read, validate, convert and match Hotspot 2.0 (Passpoint) profiles.
///
/// Input formats are recognised from the content: PPS MO XML (OMA-DM TNDS or
/// element-per-node), Android application/x-wifi-config, wpa_supplicant
/// configuration with cred blocks, and this tool's TOML.
#[derive(Debug, Parser)]
#[command(name = "passpoint-profile", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    /// Android (AOSP PpsMoParser / PasspointConfiguration): strictest.
    Android,
    /// wpa_supplicant cred blocks.
    WpaSupplicant,
    /// Passpoint specification.
    Spec,
}

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Target {
        match t {
            TargetArg::Android => Target::Android,
            TargetArg::WpaSupplicant => Target::WpaSupplicant,
            TargetArg::Spec => Target::Spec,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate profiles; exit status 1 when any error is found.
    Validate {
        /// Profile files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Whose rules to apply.
        #[arg(long, value_enum, default_value = "spec")]
        target: TargetArg,
        /// Input format (default: recognised from the content).
        #[arg(long, value_enum)]
        from: Option<Format>,
        /// Print findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a readable summary (secrets masked).
    Show {
        /// Profile file.
        file: PathBuf,
        /// Input format (default: recognised from the content).
        #[arg(long, value_enum)]
        from: Option<Format>,
    },
    /// Convert to another format; lossy conversions are reported on stderr.
    Convert {
        /// Profile file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        to: OutputFormat,
        /// Output file (default: standard output); written mode 0600 when it
        /// holds a secret (password, K/OPc, key passphrase, PKCS#12).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite the output file when it exists.
        #[arg(long, requires = "output")]
        force: bool,
        /// Input format (default: recognised from the content).
        #[arg(long, value_enum)]
        from: Option<Format>,
        /// wpa_supplicant <= 2.10 field names (roaming_consortium,
        /// required_roaming_consortium) instead of home_ois/required_home_ois.
        #[arg(long)]
        wpa_legacy: bool,
        /// Leave out the wpa_supplicant globals (interworking=1, hs20=1, ...).
        #[arg(long)]
        no_globals: bool,
    },
    /// Match a profile against a BSS's ANQP data: home, roaming, excluded or
    /// no match (exit status 0 for home/roaming, 1 otherwise).
    Match {
        /// Profile file.
        profile: PathBuf,
        /// ANQP data as JSON (ssid, hessid, domain_names, nai_realms, plmns,
        /// roaming_consortiums).
        #[arg(
            long,
            conflicts_with = "hostapd_conf",
            required_unless_present = "hostapd_conf"
        )]
        anqp: Option<PathBuf>,
        /// Take the ANQP data from a hostapd configuration file.
        #[arg(long)]
        hostapd_conf: Option<PathBuf>,
        /// Android matching rules instead of wpa_supplicant's.
        #[arg(long)]
        android: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum Fail {
    /// A message for stderr.
    #[error("{0}")]
    Msg(String),
    /// Standard output was closed (`... | head`): not an error.
    #[error("standard output closed")]
    StdoutClosed,
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Msg(s)
    }
}

/// Writes `text` to standard output; a closed pipe ends the command quietly.
fn out(text: &[u8]) -> Result<(), Fail> {
    let mut so = std::io::stdout().lock();
    so.write_all(text)
        .and_then(|()| so.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Fail::StdoutClosed,
            _ => Fail::Msg(format!("standard output: {e}")),
        })
}

/// `println!` through [`out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        out(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Fail::StdoutClosed) => ExitCode::SUCCESS,
        Err(Fail::Msg(msg)) => {
            eprintln!("passpoint-profile: {msg}");
            ExitCode::from(1)
        }
    }
}

fn load(file: &Path, from: Option<Format>) -> Result<Document, String> {
    read::read_file(file, from).map_err(|e| e.render(&file.display().to_string()))
}

/// True when a profile carries a secret a writer may copy out: a password,
/// a key passphrase, Milenage K/OPc or a PKCS#12 bundle (at any depth, so
/// subscription and policy update credentials count too).
fn holds_secret(profiles: &[Profile]) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.iter().any(|(k, v)| {
                (matches!(
                    k.as_str(),
                    "Password" | "PrivateKeyPassword" | "Milenage" | "PKCS12"
                ) && !v.is_null())
                    || walk(v)
            }),
            serde_json::Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    profiles
        .iter()
        .any(|p| serde_json::to_value(p).map_or(true, |v| walk(&v)))
}

/// Writes `text` to `path`: mode 0600 when `secret` (else 0644 less the
/// umask), refusing an existing file unless `force` (then replaced atomically).
fn write_output(path: &Path, text: &[u8], secret: bool, force: bool) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if secret { 0o600 } else { 0o644 };
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let create = |p: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
    };
    if !force {
        let mut f = create(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("{}: exists; use --force to overwrite it", path.display())
            }
            _ => err(e),
        })?;
        return f.write_all(text).and_then(|()| f.sync_all()).map_err(err);
    }
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = create(&tmp).and_then(|mut f| f.write_all(text).and_then(|()| f.sync_all()));
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode, Fail> {
    match cli.command {
        Command::Validate {
            files,
            target,
            from,
            json,
        } => validate(&files, target.into(), from, json),
        Command::Show { file, from } => {
            let doc = load(&file, from)?;
            out(show(&doc).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Convert {
            file,
            to,
            output,
            force,
            from,
            wpa_legacy,
            no_globals,
        } => {
            let doc = load(&file, from)?;
            let name = file.display().to_string();
            for f in validate_document(&doc, Target::Spec) {
                if f.severity == Severity::Error {
                    eprintln!(
                        "warning: input has an error: {}",
                        f.diagnostic.render(&name)
                    );
                }
            }
            let opts = WriteOptions {
                wpa_legacy,
                wpa_no_globals: no_globals,
            };
            let written = write::write(&doc.profiles, to, &opts).map_err(|e| e.to_string())?;
            for w in &written.warnings {
                eprintln!("warning: {to}: {}: {}", w.path, w.message);
            }
            match output {
                Some(path) => write_output(
                    &path,
                    written.text.as_bytes(),
                    holds_secret(&doc.profiles),
                    force,
                )?,
                None => out(written.text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Match {
            profile,
            anqp,
            hostapd_conf,
            android,
            json,
        } => {
            let doc = load(&profile, None)?;
            let anqp = match (anqp, hostapd_conf) {
                (Some(p), _) => {
                    let t = read_text(&p)?;
                    matching::anqp_from_json(&t).map_err(|e| format!("{}: {e}", p.display()))?
                }
                (None, Some(p)) => {
                    let t = read_text(&p)?;
                    matching::anqp_from_hostapd_conf(&t)
                        .map_err(|e| format!("{}: {e}", p.display()))?
                }
                (None, None) => return Err(Fail::Msg("give --anqp or --hostapd-conf".into())),
            };
            let opts = MatchOptions { android };
            let mut any = false;
            let mut results = Vec::new();
            for p in &doc.profiles {
                let r = matching::match_profile(p, &anqp, opts);
                any |= matches!(r, MatchResult::Home { .. } | MatchResult::Roaming { .. });
                results.push((p.display_name().to_string(), r));
            }
            if json {
                let v: Vec<serde_json::Value> = results
                    .iter()
                    .map(|(n, r)| serde_json::json!({"profile": n, "match": r}))
                    .collect();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                )?;
            } else {
                for (n, r) in &results {
                    outln!("{n}: {}", describe(r))?;
                }
            }
            Ok(if any {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "passpoint-profile", &mut script);
            out(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| e.to_string())?;
            out(&page)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_text(p: &Path) -> Result<String, String> {
    let bytes = read::read_capped(p).map_err(|e| e.render(&p.display().to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not valid UTF-8 at byte {}",
            p.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn describe(r: &MatchResult) -> String {
    match r {
        MatchResult::Home { via } => format!("home ({via})"),
        MatchResult::Roaming {
            partner_priority,
            via,
        } => format!("roaming, partner priority {partner_priority} ({via})"),
        MatchResult::Excluded { reason } => format!("excluded: {reason}"),
        MatchResult::NoMatch { reasons } => format!("no match: {}", reasons.join("; ")),
    }
}

fn validate(
    files: &[PathBuf],
    target: Target,
    from: Option<Format>,
    json: bool,
) -> Result<ExitCode, Fail> {
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut report = Vec::new();
    for file in files {
        let name = file.display().to_string();
        match read::read_file(file, from) {
            Err(e) => {
                errors += 1;
                if json {
                    report.push(serde_json::json!({
                        "file": name,
                        "error": e.render(&name),
                    }));
                } else {
                    outln!("error: {}", e.render(&name))?;
                }
            }
            Ok(doc) => {
                let findings = validate_document(&doc, target);
                for f in &findings {
                    match f.severity {
                        Severity::Error => errors += 1,
                        Severity::Warning => warnings += 1,
                    }
                    if !json {
                        outln!("{}: {}", f.severity, f.diagnostic.render(&name))?;
                    }
                }
                if json {
                    let items: Vec<serde_json::Value> = findings
                        .iter()
                        .map(|f| {
                            serde_json::json!({
                                "severity": f.severity,
                                "profile": f.diagnostic.profile,
                                "path": f.diagnostic.path,
                                "message": f.diagnostic.message,
                                "location": f.diagnostic.location,
                                "text": f.diagnostic.render(&name),
                            })
                        })
                        .collect();
                    report.push(serde_json::json!({
                        "file": name,
                        "format": doc.format,
                        "profiles": doc.profiles.len(),
                        "findings": items,
                    }));
                }
            }
        }
    }
    if json {
        let v = serde_json::json!({
            "target": target,
            "errors": errors,
            "warnings": warnings,
            "files": report,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        )?;
    } else {
        eprintln!(
            "{} file(s), {errors} error(s), {warnings} warning(s) for target {target}",
            files.len()
        );
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Masks the MSIN of an IMSI, keeping MCC+MNC (first 6 digits at most).
fn mask_imsi(imsi: &str) -> String {
    if imsi.ends_with('*') {
        return imsi.to_string();
    }
    imsi.chars()
        .enumerate()
        .map(|(i, c)| if i < 6 { c } else { '*' })
        .collect()
}

fn show(doc: &Document) -> String {
    let mut o = String::new();
    let fmt = doc.format.map(|f| f.to_string()).unwrap_or_default();
    o.push_str(&format!(
        "format: {fmt}, {} profile(s)\n",
        doc.profiles.len()
    ));
    for (i, p) in doc.profiles.iter().enumerate() {
        o.push_str(&format!("\n[{}] {}\n", i + 1, p.display_name()));
        o.push_str(&show_profile(p));
    }
    o
}

fn show_profile(p: &Profile) -> String {
    let mut o = String::new();
    let mut line = |k: &str, v: String| o.push_str(&format!("  {k:<20} {v}\n"));
    let h = &p.home_sp;
    line("provider (FQDN)", p.fqdn().unwrap_or("-").to_string());
    let others: Vec<&str> = h
        .other_home_partners
        .iter()
        .filter_map(|x| x.fqdn.as_deref())
        .collect();
    if !others.is_empty() {
        line("other home FQDNs", others.join(", "));
    }
    line("realm", p.realm().unwrap_or("-").to_string());
    let cred = match p.credential.kind() {
        Some(CredentialKind::Sim(s)) => {
            let imsi = s.imsi.as_deref().map(mask_imsi).unwrap_or("-".into());
            format!("SIM, IMSI {imsi}")
        }
        Some(CredentialKind::UsernamePassword(u)) => format!(
            "username/password, user {}, password {}",
            u.username.as_deref().unwrap_or("-"),
            if u.password.is_some() {
                "********"
            } else {
                "-"
            }
        ),
        Some(CredentialKind::DigitalCertificate(d)) => format!(
            "certificate, SHA-256 {}",
            d.cert_sha256_fingerprint.as_deref().unwrap_or("-")
        ),
        None => "invalid (not exactly one credential type)".into(),
    };
    line("credential", cred);
    let eap = match p.eap_method() {
        Some(e) => {
            let inner = p
                .credential
                .username_password
                .as_ref()
                .and_then(|u| u.eap_method.as_ref())
                .and_then(|m| m.inner_method.as_deref())
                .map(|m| format!(" / {m}"))
                .unwrap_or_default();
            format!("{} ({}){inner}", e.wpa_name(), e.type_number())
        }
        None => "-".into(),
    };
    line("EAP method", eap);
    if let Some(pl) = p.plmn() {
        line("PLMN", format!("{}-{} ({})", pl.mcc, pl.mnc, pl.realm()));
    }
    if !h.roaming_consortium_oi.is_empty() {
        line("roaming OIs", h.roaming_consortium_oi.join(", "));
    }
    if !h.home_oi_list.is_empty() {
        let v: Vec<String> = h
            .home_oi_list
            .iter()
            .map(|x| {
                format!(
                    "{}{}",
                    x.home_oi.as_deref().unwrap_or("?"),
                    if x.home_oi_required == Some(true) {
                        " (required)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        line("home OIs", v.join(", "));
    }
    if !h.network_id.is_empty() {
        let v: Vec<String> = h
            .network_id
            .iter()
            .map(|n| n.ssid.clone().unwrap_or_default())
            .collect();
        line("home SSIDs", v.join(", "));
    }
    if let Some(prio) = p.credential_priority {
        line("priority", prio.to_string());
    }
    if let Some(d) = &p.credential.expiration_date {
        line("expires", d.clone());
    }
    if let Some(pol) = &p.policy {
        let partners: Vec<String> = pol
            .preferred_roaming_partner_list
            .iter()
            .map(|r| {
                format!(
                    "{} (prio {})",
                    r.fqdn_match.as_deref().unwrap_or("?"),
                    r.priority.map(|x| x.to_string()).unwrap_or("-".into())
                )
            })
            .collect();
        if !partners.is_empty() {
            line("roaming partners", partners.join(", "));
        }
        let excl: Vec<&str> = pol
            .sp_exclusion_list
            .iter()
            .filter_map(|s| s.ssid.as_deref())
            .collect();
        if !excl.is_empty() {
            line("excluded SSIDs", excl.join(", "));
        }
        if let Some(m) = pol.maximum_bss_load_value {
            line("max BSS load", m.to_string());
        }
        for m in &pol.min_backhaul_threshold {
            line(
                "min backhaul",
                format!(
                    "{}: DL {} / UL {} kbit/s",
                    m.network_type.as_deref().unwrap_or("?"),
                    m.dl_bandwidth.map(|x| x.to_string()).unwrap_or("-".into()),
                    m.ul_bandwidth.map(|x| x.to_string()).unwrap_or("-".into())
                ),
            );
        }
        for t in &pol.required_proto_port_tuple {
            line(
                "required proto/port",
                format!(
                    "{}:{}",
                    t.ip_protocol.map(|x| x.to_string()).unwrap_or("?".into()),
                    t.port_number.as_deref().unwrap_or("")
                ),
            );
        }
    }
    if let Some(l) = &p.local
        && l.milenage.is_some()
    {
        line("milenage", "******** (set)".into());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_msin() {
        assert_eq!(mask_imsi("244910000000001"), "244910*********");
        assert_eq!(mask_imsi("24491*"), "24491*");
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
