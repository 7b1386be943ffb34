//! Processes started inside a namespace, each in its own process group, with
//! its output in a log file, readiness probes with bounded timeouts, and a
//! stop on drop (SIGTERM to the group, SIGKILL after a grace period).

use crate::cleanup;
use crate::error::{Error, IoContext, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a stopped process gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What to start.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Short name, used for the log file `<name>.log`.
    pub name: String,
    /// Namespace to run in (`ip netns exec <ns>`), or none.
    pub netns: Option<String>,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment.
    pub env: Vec<(OsString, OsString)>,
}

impl Spec {
    /// A spec for `program` named `name`.
    pub fn new(name: &str, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.to_owned(),
            netns: None,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }
    /// Runs it inside `ns`.
    pub fn netns(mut self, ns: &str) -> Self {
        self.netns = Some(ns.to_owned());
        self
    }
    /// Adds an argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }
    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    /// Sets an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }
    /// The command line, for messages and `--keep` hints.
    pub fn command_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ns) = &self.netns {
            parts.push(format!("ip netns exec {ns}"));
        }
        parts.push(self.program.display().to_string());
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }
}

/// A readiness probe.
#[derive(Clone, Debug)]
pub enum Probe {
    /// The log file contains this text.
    LogLine(String),
    /// This path exists (a socket, a pid file).
    PathExists(PathBuf),
    /// The process has a UDP socket bound to this port (from /proc/<pid>/net/udp*,
    /// which shows the process's own namespace).
    UdpBound(u16),
    /// The process has a TCP socket listening on this port.
    TcpListen(u16),
    /// A wpa_supplicant/hostapd control socket answers `PING` with `PONG`.
    CtrlPing(PathBuf),
}

/// A running process; stopped on drop.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    pgid: i32,
    status: Option<ExitStatus>,
    started: Instant,
}

impl Process {
    /// Starts `spec`; stdout and stderr go to `<log_dir>/<name>.log`.
    pub fn spawn(spec: &Spec, log_dir: &Path) -> Result<Self> {
        let log = log_dir.join(format!("{}.log", spec.name));
        let out = std::fs::File::create(&log).ctx(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().ctx(|| "cloning the log handle".into())?;
        let mut cmd = match &spec.netns {
            Some(ns) => {
                let mut c = Command::new(crate::tools::find("ip")?);
                c.args(["netns", "exec", ns]).arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // Die with the testbed even if it is SIGKILLed.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| Error::Command {
            cmd: spec.command_line(),
            detail: e.to_string(),
        })?;
        let pgid = child.id() as i32;
        cleanup::register_pgid(pgid);
        Ok(Self {
            name: spec.name.clone(),
            child,
            log,
            pgid,
            status: None,
            started: Instant::now(),
        })
    }

    /// Starts `spec` and waits for `probe`, at most `timeout`.
    pub fn start(spec: &Spec, log_dir: &Path, probe: &Probe, timeout: Duration) -> Result<Self> {
        let mut p = Self::spawn(spec, log_dir)?;
        p.wait_ready(probe, timeout)?;
        Ok(p)
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The pid (also the process group id).
    pub fn pid(&self) -> i32 {
        self.pgid
    }
    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let t = self.log_text();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(s)) = self.child.try_wait()
        {
            self.status = Some(s);
        }
        self.status
    }

    fn not_ready(&self, what: String) -> Error {
        Error::NotReady {
            name: self.name.clone(),
            what,
            log: self.log.clone(),
        }
    }

    /// Polls `probe` every 10 ms until it holds; fails if the process exits
    /// or `timeout` passes.
    pub fn wait_ready(&mut self, probe: &Probe, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.probe_once(probe) {
                return Ok(());
            }
            if let Some(s) = self.try_status() {
                return Err(self.not_ready(format!(
                    "exited ({s}) before {probe:?}; log tail:\n{}",
                    self.log_tail(15)
                )));
            }
            if Instant::now() >= deadline {
                return Err(self.not_ready(format!(
                    "not ready after {timeout:?} waiting for {probe:?}; log tail:\n{}",
                    self.log_tail(15)
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn probe_once(&self, probe: &Probe) -> bool {
        match probe {
            Probe::LogLine(s) => self.log_text().contains(s.as_str()),
            Probe::PathExists(p) => p.exists(),
            Probe::UdpBound(port) => socket_in_proc(self.pgid, "udp", *port, None),
            Probe::TcpListen(port) => socket_in_proc(self.pgid, "tcp", *port, Some("0A")),
            Probe::CtrlPing(p) => crate::ctrl::Ctrl::open(p)
                .and_then(|c| c.request("PING", Duration::from_millis(200)))
                .is_ok_and(|r| r.starts_with("PONG")),
        }
    }

    /// Waits for the process to exit, at most `timeout`; on timeout it is
    /// stopped and an error returned.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                cleanup::unregister_pgid(self.pgid);
                // Reap anything left in its group.
                kill_group(self.pgid);
                return Ok(s);
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Error::Timeout(format!(
                    "{} still running after {timeout:?} (log {})",
                    self.name,
                    self.log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM to the process group, SIGKILL after [`STOP_GRACE`]; returns the
    /// exit status. Idempotent.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.try_status().is_none() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(-self.pgid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && self.try_status().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
            if self.try_status().is_none() {
                // SAFETY: as above.
                unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
                self.status = self.child.wait().ok();
            }
        }
        kill_group(self.pgid);
        cleanup::unregister_pgid(self.pgid);
        self.status
    }
}

/// SIGKILLs whatever is left of a process group (children that outlived
/// their leader).
fn kill_group(pgid: i32) {
    if cleanup::group_alive(pgid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether /proc/<pid>/net/<proto>{,6} has a socket on local `port` (and in
/// TCP state `state` when given, e.g. `0A` = LISTEN).
fn socket_in_proc(pid: i32, proto: &str, port: u16, state: Option<&str>) -> bool {
    let want = format!("{port:04X}");
    [proto.to_owned(), format!("{proto}6")].iter().any(|p| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{p}")).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3
                    && f[1].rsplit(':').next() == Some(want.as_str())
                    && state.is_none_or(|s| f[3] == s)
            })
        })
    })
}

/// Runs a short command to completion (inside `netns` if given) and returns
/// its combined output; fails on a non-zero exit or after `timeout`.
pub fn run_to_completion(spec: &Spec, log_dir: &Path, timeout: Duration) -> Result<String> {
    let mut p = Process::spawn(spec, log_dir)?;
    let status = p.wait_exit(timeout)?;
    let text = p.log_text();
    if !status.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: format!("{status}: {}", text.trim()),
        });
    }
    Ok(text)
}
