//! The I/O shell of the wpa_supplicant control interface: an AF_UNIX datagram
//! socket bound to a path of our own and connected to wpa_supplicant's
//! per-interface socket (`ctrl_interface=DIR=…` → `<DIR>/<ifname>`).
//! Protocol decisions live in [`super::proto`].

use super::proto::{self, Message};
use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The largest reply or event wpa_supplicant sends (its `CTRL_IFACE_MAX_LEN`
/// is 4096 for replies; events are shorter), with room to spare.
const MAX_DATAGRAM: usize = 16 * 1024;

/// What can go wrong reaching or talking to wpa_supplicant.
#[derive(Debug, thiserror::Error)]
pub enum CtrlError {
    /// No socket at the path.
    #[error(
        "no wpa_supplicant control socket at {path}: is wpa_supplicant running with ctrl_interface=DIR={dir}? (start it, or give --ctrl <dir>/<ifname>)"
    )]
    NoSocket {
        /// The path tried.
        path: String,
        /// Its directory.
        dir: String,
    },
    /// A directory with several interface sockets and no `--iface`.
    #[error("{dir} holds sockets for several interfaces ({}): choose one with --iface", names.join(", "))]
    Ambiguous {
        /// The control directory.
        dir: String,
        /// The sockets in it.
        names: Vec<String>,
    },
    /// The socket file exists but nobody listens: a stale socket.
    #[error("{path}: connection refused — a stale socket, wpa_supplicant is not running")]
    Refused {
        /// The path.
        path: String,
    },
    /// The socket (or its directory) is not ours to use.
    #[error(
        "{path}: permission denied — run as root or as a member of the group named in ctrl_interface (GROUP=…)"
    )]
    PermissionDenied {
        /// The path.
        path: String,
    },
    /// No reply in time.
    #[error("wpa_supplicant did not answer {command} within {timeout:?}")]
    Timeout {
        /// The command (its first word).
        command: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The socket went away under us (wpa_supplicant stopped or restarted).
    #[error("wpa_supplicant went away ({0})")]
    Gone(String),
    /// Any other socket error.
    #[error("control socket {context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The error.
        source: io::Error,
    },
}

/// Resolves `--ctrl` (a socket, a control directory, or the
/// `DIR=<dir> [GROUP=<g>]` form of `ctrl_interface`) and `--iface` to the
/// socket path.
pub fn resolve(ctrl: &str, iface: Option<&str>) -> Result<PathBuf, CtrlError> {
    let ctrl = ctrl.trim();
    let base = match ctrl.strip_prefix("DIR=") {
        Some(rest) => rest.split_whitespace().next().unwrap_or(""),
        None => ctrl,
    };
    let base = PathBuf::from(base);
    let no_socket = |p: &Path| CtrlError::NoSocket {
        path: p.display().to_string(),
        dir: p
            .parent()
            .map_or_else(|| ".".into(), |d| d.display().to_string()),
    };
    let meta = std::fs::metadata(&base);
    match meta {
        Ok(m) if m.is_dir() => {
            if let Some(i) = iface {
                return Ok(base.join(i));
            }
            let mut names: Vec<String> = std::fs::read_dir(&base)
                .map_err(|e| io_or_denied(e, &base, "reading the control directory"))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
                .filter_map(|e| e.file_name().into_string().ok())
                // wpa_supplicant -g's global socket is not an interface.
                .filter(|n| n != "global" && !n.starts_with("p2p-dev-"))
                .collect();
            names.sort();
            match names.len() {
                0 => Err(CtrlError::NoSocket {
                    path: base.join("<ifname>").display().to_string(),
                    dir: base.display().to_string(),
                }),
                1 => Ok(base.join(&names[0])),
                _ => Err(CtrlError::Ambiguous {
                    dir: base.display().to_string(),
                    names,
                }),
            }
        }
        Ok(_) => Ok(base),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(CtrlError::PermissionDenied {
            path: base.display().to_string(),
        }),
        Err(_) => Err(no_socket(&base)),
    }
}

fn io_or_denied(e: io::Error, path: &Path, context: &str) -> CtrlError {
    match e.kind() {
        io::ErrorKind::PermissionDenied => CtrlError::PermissionDenied {
            path: path.display().to_string(),
        },
        _ => CtrlError::Io {
            context: format!("{context} {}", path.display()),
            source: e,
        },
    }
}

static NEXT_LOCAL: AtomicU32 = AtomicU32::new(0);

/// One connection to wpa_supplicant's control interface.
pub struct CtrlSocket {
    sock: UnixDatagram,
    local: PathBuf,
    remote: PathBuf,
    /// Events that arrived while waiting for a reply.
    pending: VecDeque<(u8, String)>,
    attached: bool,
    /// Whether wpa_supplicant has answered at all: a refusal before its first
    /// datagram means a stale socket (a process forked elsewhere may briefly
    /// keep a dead socket connectable), after it that wpa_supplicant went away.
    heard_from: std::cell::Cell<bool>,
}

impl std::fmt::Debug for CtrlSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrlSocket")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("attached", &self.attached)
            .finish()
    }
}

impl CtrlSocket {
    /// Binds `<client_dir>/wpa_ctrl_<pid>-<n>` (the naming of wpa_ctrl.c) and
    /// connects to `remote`. wpa_supplicant answers to that path, so it must
    /// be reachable from wpa_supplicant's mount namespace.
    pub fn connect(remote: &Path, client_dir: &Path) -> Result<Self, CtrlError> {
        let local = client_dir.join(format!(
            "wpa_ctrl_{}-{}",
            std::process::id(),
            NEXT_LOCAL.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&local);
        let sock = UnixDatagram::bind(&local)
            .map_err(|e| io_or_denied(e, &local, "binding the client socket"))?;
        let this_local = local.clone();
        let cleanup = |e| {
            let _ = std::fs::remove_file(&this_local);
            e
        };
        sock.connect(remote)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => CtrlError::NoSocket {
                    path: remote.display().to_string(),
                    dir: remote
                        .parent()
                        .map_or_else(|| ".".into(), |d| d.display().to_string()),
                },
                io::ErrorKind::ConnectionRefused => CtrlError::Refused {
                    path: remote.display().to_string(),
                },
                io::ErrorKind::PermissionDenied => CtrlError::PermissionDenied {
                    path: remote.display().to_string(),
                },
                _ => CtrlError::Io {
                    context: format!("connecting to {}", remote.display()),
                    source: e,
                },
            })
            .map_err(cleanup)?;
        Ok(Self {
            sock,
            local,
            remote: remote.to_path_buf(),
            pending: VecDeque::new(),
            attached: false,
            heard_from: std::cell::Cell::new(false),
        })
    }

    /// The wpa_supplicant socket this connects to.
    pub fn remote(&self) -> &Path {
        &self.remote
    }

    /// The error for a refused or vanished socket (see `heard_from`).
    fn gone(&self, e: &io::Error) -> CtrlError {
        if self.heard_from.get() {
            CtrlError::Gone(e.to_string())
        } else {
            CtrlError::Refused {
                path: self.remote.display().to_string(),
            }
        }
    }

    fn send(&self, bytes: &[u8]) -> Result<(), CtrlError> {
        match self.sock.send(bytes) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                ) =>
            {
                Err(self.gone(&e))
            }
            Err(e) => Err(CtrlError::Io {
                context: "send".into(),
                source: e,
            }),
        }
    }

    /// Receives one datagram before `deadline`; `None` on timeout.
    fn recv(&self, deadline: Instant) -> Result<Option<Message>, CtrlError> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        self.sock
            .set_read_timeout(Some(left))
            .map_err(|e| CtrlError::Io {
                context: "set_read_timeout".into(),
                source: e,
            })?;
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                self.heard_from.set(true);
                Ok(Some(proto::classify(&buf[..n])))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            // A signal: let the caller look at its stop flag.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(self.gone(&e)),
            Err(e) => Err(CtrlError::Io {
                context: "recv".into(),
                source: e,
            }),
        }
    }

    /// Sends `command` and returns its reply. Events arriving meanwhile are
    /// queued for [`next_event`](Self::next_event); a stray reply left from
    /// a command that timed out earlier is discarded first.
    pub fn request(&mut self, command: &str, timeout: Duration) -> Result<String, CtrlError> {
        // Drain what is already there so the next reply is ours.
        while let Some(m) = self.recv(Instant::now() + Duration::from_millis(1))? {
            if let Message::Event { level, text } = m {
                self.pending.push_back((level, text));
            }
        }
        self.send(command.as_bytes())?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline)? {
                Some(Message::Reply(r)) => return Ok(r),
                Some(Message::Event { level, text }) => self.pending.push_back((level, text)),
                None if Instant::now() >= deadline => {
                    return Err(CtrlError::Timeout {
                        command: command.split(' ').next().unwrap_or("").to_string(),
                        timeout,
                    });
                }
                None => {}
            }
        }
    }

    /// `ATTACH`: from now on unsolicited messages come to this socket.
    pub fn attach(&mut self, timeout: Duration) -> Result<(), CtrlError> {
        let r = self.request("ATTACH", timeout)?;
        if proto::reply_status(&r) == proto::ReplyStatus::Ok {
            self.attached = true;
            Ok(())
        } else {
            Err(CtrlError::Io {
                context: "ATTACH".into(),
                source: io::Error::other(r.trim().to_string()),
            })
        }
    }

    /// The next unsolicited message (level, text) before `timeout`, queued
    /// ones first; `None` on timeout or when a signal interrupted the wait.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<(u8, String)>, CtrlError> {
        if let Some(e) = self.pending.pop_front() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.recv(deadline)? {
                Some(Message::Event { level, text }) => return Ok(Some((level, text))),
                // A late reply to a command that timed out: not an event.
                Some(Message::Reply(_)) => {}
                None => return Ok(None),
            }
        }
    }
}

impl Drop for CtrlSocket {
    fn drop(&mut self) {
        if self.attached {
            let _ = self.sock.send(b"DETACH");
            // Wait briefly for the OK so wpa_supplicant does not keep us as a
            // monitor whose socket vanished.
            let _ = self.recv(Instant::now() + Duration::from_millis(200));
        }
        let _ = std::fs::remove_file(&self.local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in server socket: answers each command with a scripted
    /// reply, preceded by an event, as an attached wpa_supplicant may.
    #[test]
    fn events_interleaved_with_replies_are_queued() {
        let dir = tempfile::tempdir().unwrap();
        let server_path = dir.path().join("wlan0");
        let server = UnixDatagram::bind(&server_path).unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let to = from.as_pathname().unwrap().to_path_buf();
                let cmd = String::from_utf8_lossy(&buf[..n]).to_string();
                match cmd.as_str() {
                    "ATTACH" => {
                        server.send_to(b"OK\n", &to).unwrap();
                    }
                    "GET hs20" => {
                        server
                            .send_to(b"<3>CTRL-EVENT-EAP-STARTED EAP authentication started", &to)
                            .unwrap();
                        server.send_to(b"0", &to).unwrap();
                    }
                    _ => {
                        server.send_to(b"UNKNOWN COMMAND\n", &to).unwrap();
                    }
                }
            }
        });
        let mut c = CtrlSocket::connect(&server_path, dir.path()).unwrap();
        c.attach(Duration::from_secs(2)).unwrap();
        assert_eq!(c.request("GET hs20", Duration::from_secs(2)).unwrap(), "0");
        assert_eq!(
            c.request("ADD_CRED", Duration::from_secs(2)).unwrap(),
            "UNKNOWN COMMAND\n"
        );
        let (level, text) = c.next_event(Duration::from_millis(10)).unwrap().unwrap();
        assert_eq!(level, 3);
        assert!(text.starts_with("CTRL-EVENT-EAP-STARTED"));
        assert!(c.next_event(Duration::from_millis(10)).unwrap().is_none());
        t.join().unwrap();
        let local = c.local.clone();
        drop(c);
        assert!(!local.exists(), "client socket removed on drop");
    }

    #[test]
    fn connect_errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("wlan0");
        assert!(matches!(
            CtrlSocket::connect(&missing, dir.path()),
            Err(CtrlError::NoSocket { .. })
        ));
        // A socket file nobody listens on.
        let stale = dir.path().join("stale");
        drop(UnixDatagram::bind(&stale).unwrap());
        let e = CtrlSocket::connect(&stale, dir.path()).unwrap_err();
        assert!(matches!(e, CtrlError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("stale socket"));
        // Nothing left behind by the failed attempts.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("wpa_ctrl_"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn request_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let server_path = dir.path().join("wlan0");
        let _server = UnixDatagram::bind(&server_path).unwrap();
        let mut c = CtrlSocket::connect(&server_path, dir.path()).unwrap();
        let e = c.request("PING", Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, CtrlError::Timeout { ref command, .. } if command == "PING"));
    }

    #[test]
    fn resolves_dirs_and_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        assert!(matches!(resolve(&d, None), Err(CtrlError::NoSocket { .. })));
        let _a = UnixDatagram::bind(dir.path().join("wlan0")).unwrap();
        let _g = UnixDatagram::bind(dir.path().join("global")).unwrap();
        assert_eq!(resolve(&d, None).unwrap(), dir.path().join("wlan0"));
        assert_eq!(
            resolve(&format!("DIR={d} GROUP=netdev"), None).unwrap(),
            dir.path().join("wlan0")
        );
        let _b = UnixDatagram::bind(dir.path().join("wlan1")).unwrap();
        let e = resolve(&d, None).unwrap_err();
        assert!(e.to_string().contains("wlan0, wlan1"), "{e}");
        assert_eq!(
            resolve(&d, Some("wlan1")).unwrap(),
            dir.path().join("wlan1")
        );
        let sock = dir.path().join("wlan1").display().to_string();
        assert_eq!(resolve(&sock, None).unwrap(), dir.path().join("wlan1"));
        assert!(matches!(
            resolve("/nonexistent/wpa", None),
            Err(CtrlError::NoSocket { .. })
        ));
    }
}
