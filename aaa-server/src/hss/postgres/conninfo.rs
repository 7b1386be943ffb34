//! Where the PostgreSQL store is, from `[hss] url` (a libpq `key=value`
//! string or a `postgresql://` URL, Unix socket hosts included) and where its
//! password is: `password_file` (mode 0600) or `PGPASSFILE` (libpq's
//! `host:port:database:user:password` lines, also 0600). Never from the
//! configuration text: a URL or string carrying a password is refused.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// Why a connection target is refused. Never carries the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnInfoError {
    /// libpq would not parse it either.
    #[error("url: not a PostgreSQL connection string or URL: {0}")]
    Parse(String),
    /// The password is in the configuration text.
    #[error("url: carries a password; put it in password_file (mode 0600) or PGPASSFILE instead")]
    PasswordInUrl,
    /// The password file cannot be read.
    #[error("{}: cannot read: {why}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The password file is readable by group or others.
    #[error("{}: group or others may read it (mode {mode:o}); chmod 600", path.display())]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The password file is empty.
    #[error("{}: empty password file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Whether `db` (a `--db` argument) names PostgreSQL rather than an SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgresql://") || db.starts_with("postgres://")
}

/// Parses `url` and adds the password from `password_file`, else from
/// `PGPASSFILE` when one of its lines matches.
pub fn config(url: &str, password_file: Option<&Path>) -> Result<postgres::Config, ConnInfoError> {
    let mut cfg =
        postgres::Config::from_str(url).map_err(|e| ConnInfoError::Parse(e.to_string()))?;
    if cfg.get_password().is_some() {
        return Err(ConnInfoError::PasswordInUrl);
    }
    if cfg.get_user().is_none()
        && let Ok(u) = std::env::var("USER")
    {
        cfg.user(&u);
    }
    if let Some(p) = password_file {
        let pw = read_secret(p)?;
        let line = pw.lines().next().unwrap_or("");
        if line.is_empty() {
            return Err(ConnInfoError::Empty { path: p.into() });
        }
        cfg.password(line.as_bytes());
    } else if let Some(p) = std::env::var_os("PGPASSFILE") {
        let p = PathBuf::from(p);
        let text = read_secret(&p)?;
        if let Some(pw) = pgpass_lookup(&text, &cfg) {
            cfg.password(pw.as_bytes());
        }
    }
    Ok(cfg)
}

/// Reads a secret file, refused unless only its owner may read it.
fn read_secret(path: &Path) -> Result<Zeroizing<String>, ConnInfoError> {
    let read = |e: std::io::Error| ConnInfoError::Read {
        path: path.into(),
        why: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConnInfoError::Mode {
            path: path.into(),
            mode,
        });
    }
    Ok(Zeroizing::new(std::fs::read_to_string(path).map_err(read)?))
}

/// The fields of one pgpass line (`\:` and `\\` unescaped).
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The password of the first pgpass line matching `cfg` (libpq §34.16:
/// `*` matches anything; a Unix socket host matches `localhost` too).
fn pgpass_lookup(text: &str, cfg: &postgres::Config) -> Option<Zeroizing<String>> {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let unix = cfg
        .get_hosts()
        .iter()
        .any(|h| matches!(h, postgres::config::Host::Unix(_)));
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = cfg.get_user().unwrap_or("");
    let db = cfg.get_dbname().unwrap_or(user);
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f = pgpass_fields(line);
        if f.len() != 5 {
            continue;
        }
        let host_ok = f[0] == "*"
            || hosts.contains(&f[0])
            || (unix && f[0] == "localhost")
            || hosts.is_empty() && f[0] == "localhost";
        if host_ok
            && (f[1] == "*" || f[1] == port)
            && (f[2] == "*" || f[2] == db)
            && (f[3] == "*" || f[3] == user)
        {
            return Some(Zeroizing::new(f[4].clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_in_url_is_refused_and_socket_hosts_parse() {
        assert_eq!(
            config("postgresql://aaa:secret@db.example/aaa", None).unwrap_err(),
            ConnInfoError::PasswordInUrl
        );
        assert_eq!(
            config("host=/tmp dbname=aaa user=aaa password=x", None).unwrap_err(),
            ConnInfoError::PasswordInUrl
        );
        let c = config("postgresql://aaa@%2Ftmp%2Fpg/aaa", None).unwrap();
        assert!(matches!(
            &c.get_hosts()[0],
            postgres::config::Host::Unix(p) if p == Path::new("/tmp/pg")
        ));
        let c = config("host=/run/pg port=5433 dbname=aaa user=aaa", None).unwrap();
        assert_eq!(c.get_ports(), &[5433]);
        assert!(matches!(
            config("postgresql://[::1", None),
            Err(ConnInfoError::Parse(_))
        ));
    }

    #[test]
    fn password_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = config("host=/tmp user=aaa", Some(&p)).unwrap_err();
        assert!(matches!(e, ConnInfoError::Mode { mode: 0o644, .. }), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = config("host=/tmp user=aaa", Some(&p)).unwrap();
        assert_eq!(c.get_password(), Some(&b"s3cret"[..]));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn pgpass_matches_like_libpq() {
        let c = postgres::Config::from_str("host=/tmp/s port=5433 dbname=aaa user=node").unwrap();
        let text = "# comment\nother:*:*:*:no\nlocalhost:5433:aaa:node:pa\\:ss\n*:*:*:*:any\n";
        assert_eq!(pgpass_lookup(text, &c).unwrap().as_str(), "pa:ss");
        let c = postgres::Config::from_str("host=db port=5432 dbname=x user=y").unwrap();
        assert_eq!(pgpass_lookup(text, &c).unwrap().as_str(), "any");
        assert!(pgpass_lookup("db:1:x:y:z", &c).is_none());
    }
}
