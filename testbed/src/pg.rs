//! A throwaway PostgreSQL for `testbed bench --store postgres`: Debian's
//! server binaries (`/usr/lib/postgresql/N/bin`), `initdb` in a temporary
//! directory, `postgres` run as a child in its own process group (torn down
//! with the run, also on a signal), as the `postgres` system user when
//! testbed runs as root (PostgreSQL refuses root), listening only on a Unix
//! socket in that directory. Durable defaults (`fsync`, `synchronous_commit
//! = on`): an SQN is committed before its vector leaves, as in production.
//!
//! [`Postgres::cpu_time`] sums the CPU of the whole cluster from /proc: the
//! postmaster (with its reaped children's) and every live backend and
//! auxiliary process, so a run's CPU per authentication is the database's.

use crate::bench::Guard;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster; stopped (fast shutdown) and removed on drop.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_postgres: bool,
    server: Option<Guard>,
}

/// Debian's newest installed PostgreSQL server binaries.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let b = e.path().join("bin");
            (b.join("initdb").is_file() && b.join("postgres").is_file()).then_some((v, b))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn id_of(flag: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            "running as root needs the postgres system user (Debian package postgresql)".into()
        })
}

impl Postgres {
    /// initdb + start; `max_connections` covers every node's pool.
    pub fn start(max_connections: u32) -> Result<Self, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL not installed (/usr/lib/postgresql/*/bin; Debian package postgresql, scripts/packages.sh)",
        )?;
        let as_postgres = crate::tools::is_root();
        let dir = tempfile::Builder::new()
            .prefix("testbed-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        crate::cleanup::register_dir(dir.path());
        if as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(id_of("-u")?), Some(id_of("-g")?))
                .map_err(|e| format!("{}: chown postgres: {e}", dir.path().display()))?;
        }
        let mut pg = Postgres {
            bin,
            dir,
            as_postgres,
            server: None,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let log = pg.dir.path().join("postgres.log");
        let mut cmd = pg.command("postgres");
        cmd.arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses="])
            .arg("-k")
            .arg(pg.dir.path())
            .args(["-c", &format!("max_connections={max_connections}")]);
        pg.server = Some(Guard::spawn("postgres", cmd, &log)?);
        let t0 = Instant::now();
        loop {
            let ready = pg
                .command("pg_isready")
                .arg("-q")
                .arg("-h")
                .arg(pg.dir.path())
                .args(["-U", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            if let Some(g) = pg.server.as_mut() {
                g.check_alive(&log)?;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("PostgreSQL not ready after 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `postgresql://` URL for database `db` over the Unix socket.
    pub fn url(&self, db: &str) -> String {
        let host = self.socket_dir().display().to_string().replace('/', "%2F");
        format!("postgresql://postgres@{host}:5432/{db}")
    }

    /// Creates database `db`.
    pub fn create_db(&self, db: &str) -> Result<(), String> {
        let host = self.socket_dir().display().to_string();
        self.run("createdb", &["-h", &host, "-U", "postgres", db])
            .map(|_| ())
    }

    /// The postmaster's pid (first line of postmaster.pid).
    pub fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// CPU (user + system) the cluster used so far: the postmaster with its
    /// reaped children, plus every live child (backends, checkpointer,
    /// WAL writer, …).
    pub fn cpu_time(&self) -> Option<Duration> {
        let pm = self.postmaster_pid()?;
        let hz = clock_ticks()?;
        let mut ticks = 0u64;
        let (own, reaped) = stat_ticks(pm)?;
        ticks += own + reaped;
        for e in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid != pm
                && parent_of(pid) == Some(pm)
                && let Some((own, _)) = stat_ticks(pid)
            {
                ticks += own;
            }
        }
        Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let path = if path.is_file() {
            path
        } else {
            PathBuf::from(tool)
        };
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{tool} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Fast shutdown (SIGINT to the postmaster): clients are cut, shared
        // memory is released. The guard then reaps the process group.
        if let Some(pm) = self.postmaster_pid() {
            // SAFETY: kill(2) on the postmaster we started; no memory involved.
            unsafe {
                libc::kill(pm as i32, libc::SIGINT);
            }
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10)
                && std::path::Path::new(&format!("/proc/{pm}")).exists()
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some(mut g) = self.server.take() {
            g.stop();
        }
        crate::cleanup::unregister_dir(self.dir.path());
    }
}

fn clock_ticks() -> Option<u64> {
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|h| *h > 0)
}

/// Fields after "pid (comm) " of /proc/<pid>/stat (state is the first).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// (utime + stime, cutime + cstime) in clock ticks (proc(5) fields 14–17).
fn stat_ticks(pid: u32) -> Option<(u64, u64)> {
    let f = stat_fields(pid)?;
    // Field n of proc(5) is index n - 4 here (pid, comm and state skipped).
    Some((f.get(10)? + f.get(11)?, f.get(12)? + f.get(13)?))
}

/// The parent pid (proc(5) field 4).
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.first().map(|p| *p as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_this_process() {
        let me = std::process::id();
        assert!(stat_ticks(me).is_some());
        // Our parent is whoever ran the test, never ourselves.
        let parent = parent_of(me).unwrap();
        assert_ne!(parent, me);
        assert_eq!(parent, std::os::unix::process::parent_id());
        assert_eq!(stat_ticks(u32::MAX), None);
    }
}
