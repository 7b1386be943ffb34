//! A throwaway PostgreSQL for one test: Debian's server binaries
//! (`/usr/lib/postgresql/N/bin`), `initdb` + `pg_ctl` in a temporary
//! directory, run as the `postgres` system user when the test runs as root
//! (PostgreSQL refuses root), listening only on a Unix socket inside that
//! directory (no TCP). Stopped and removed on drop. Missing binaries fail the
//! test when CI=true, else the test notes it and does not run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_postgres: bool,
}

/// Debian's newest installed PostgreSQL server binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

impl Postgres {
    /// Starts one, or `None` (with a note) when PostgreSQL is not installed;
    /// with CI=true a missing PostgreSQL fails the test.
    pub fn start() -> Option<Self> {
        let Some(bin) = bin_dir() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "PostgreSQL is required in CI (Debian package postgresql, scripts/packages.sh)"
                );
            }
            eprintln!(
                "NOTE: PostgreSQL (/usr/lib/postgresql/*/bin) not installed; this test did not run"
            );
            return None;
        };
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new()
            .prefix("aaa-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let gid = Command::new("id")
                .args(["-g", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect(
                "running as root needs the postgres system user (Debian package postgresql)",
            );
            let gid: u32 = String::from_utf8_lossy(&gid.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let pg = Postgres {
            bin,
            dir,
            as_postgres,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start_server();
        Some(pg)
    }

    /// Starts the server (again) on the same data directory and socket.
    pub fn start_server(&self) {
        let opts = format!(
            "-c listen_addresses='' -k {} -c max_connections=100",
            self.socket_dir().display()
        );
        let log = self.dir.path().join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server (fast shutdown); [`Self::start_server`] brings it back.
    pub fn stop_server(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the server's Unix socket is.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A libpq-style connection string for database `db`.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port=5432 user=postgres dbname={db}",
            self.socket_dir().display()
        )
    }

    /// A `postgresql://` URL for database `db` (the socket directory as host).
    pub fn url(&self, db: &str) -> String {
        let host: String = self.socket_dir().display().to_string().replace('/', "%2F");
        format!("postgresql://postgres@{host}:5432/{db}")
    }

    /// Creates database `db`.
    pub fn create_db(&self, db: &str) {
        self.run(
            "createdb",
            &[
                "-h",
                self.socket_dir().to_str().unwrap(),
                "-U",
                "postgres",
                db,
            ],
        );
    }

    /// Runs `psql -c sql` on `db`; returns its output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.run(
            "psql",
            &[
                "-h",
                self.socket_dir().to_str().unwrap(),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
        )
    }

    fn run(&self, tool: &str, args: &[&str]) -> String {
        let path = self.bin.join(tool);
        let path = if path.is_file() {
            path
        } else {
            PathBuf::from(tool)
        };
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            panic!(
                "{tool} {args:?} failed: {}\n{}\nserver log:\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
