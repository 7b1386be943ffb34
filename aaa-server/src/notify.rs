//! systemd service notifications (`sd_notify(3)`, `Type=notify`): one
//! datagram of `KEY=VALUE` lines per state change to `$NOTIFY_SOCKET`, a
//! file path or, with a leading `@`, a Linux abstract socket name.
//! Without `NOTIFY_SOCKET` every call does nothing.

use sd_notify::NotifyState;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The connected notification socket, if the service manager gave one.
#[derive(Debug)]
pub struct Notifier {
    sock: Option<UnixDatagram>,
}

/// The address in `NOTIFY_SOCKET`: `@name` is abstract, anything else a path.
fn address(var: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match var.as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(var),
    }
}

impl Notifier {
    /// Connects to `$NOTIFY_SOCKET`; a socket that cannot be reached is
    /// logged and notifications are dropped (the server still runs).
    pub fn from_env() -> Self {
        let Some(var) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { sock: None };
        };
        let sock = address(&var).and_then(|addr| {
            let s = UnixDatagram::unbound()?;
            s.connect_addr(&addr)?;
            Ok(s)
        });
        match sock {
            Ok(s) => Notifier { sock: Some(s) },
            Err(e) => {
                tracing::warn!(socket = ?var, "NOTIFY_SOCKET: cannot connect: {e}");
                Notifier { sock: None }
            }
        }
    }

    /// Whether a service manager listens.
    pub fn enabled(&self) -> bool {
        self.sock.is_some()
    }

    /// Sends `states` as one datagram; a failure is logged, never fatal.
    pub fn send(&self, states: &[NotifyState]) {
        let Some(sock) = &self.sock else { return };
        let msg: String = states.iter().map(|s| format!("{s}\n")).collect();
        if let Err(e) = sock.send(msg.as_bytes()) {
            tracing::warn!("NOTIFY_SOCKET: cannot send {}: {e}", msg.trim_end());
        }
    }

    /// `READY=1`: the sockets are bound and the store is open.
    pub fn ready(&self) {
        self.send(&[NotifyState::Ready]);
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (systemd 253+ requires it for
    /// `Type=notify-reload`; older versions ignore it).
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    /// `STOPPING=1`: shutdown has begun.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// `WATCHDOG=1`: still alive.
    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` (as
/// `sd_watchdog_enabled(3)` advises), when it is set for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_and_path_addresses() {
        use std::os::linux::net::SocketAddrExt;
        let a = address(std::ffi::OsStr::new("@sd/notify")).unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"sd/notify"[..]));
        let p = address(std::ffi::OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            p.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
    }

    #[test]
    fn sends_one_datagram_per_state_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let tx = UnixDatagram::unbound().unwrap();
        tx.connect(&path).unwrap();
        let n = Notifier { sock: Some(tx) };
        n.ready();
        n.reloading();
        n.stopping();
        let mut buf = [0u8; 256];
        let mut next = || {
            let len = rx.recv(&mut buf).unwrap();
            String::from_utf8(buf[..len].to_vec()).unwrap()
        };
        assert_eq!(next(), "READY=1\n");
        let r = next();
        assert!(r.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{r}");
        let usec: u64 = r.trim_end().rsplit('=').next().unwrap().parse().unwrap();
        assert!(usec > 0);
        assert_eq!(next(), "STOPPING=1\n");
    }
}
