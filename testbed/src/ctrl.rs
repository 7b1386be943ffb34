//! A client for the wpa_supplicant / hostapd / eapol_test control interface
//! (AF_UNIX datagram sockets, text commands, `<level>EVENT` unsolicited
//! messages after `ATTACH`).

use crate::error::{Error, IoContext, Result};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One connection to a control socket; the client socket file is removed on drop.
#[derive(Debug)]
pub struct Ctrl {
    sock: UnixDatagram,
    local: PathBuf,
    /// Events received while waiting for a command's reply.
    pending: Vec<String>,
}

impl Ctrl {
    /// Connects to the control socket at `path`. The client socket is bound
    /// next to it (`<dir>/.tb-<pid>-<n>`), so it lives in the run directory.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("/tmp"));
        let local = dir.join(format!(
            ".tb-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&local);
        let sock = UnixDatagram::bind(&local).ctx(|| format!("binding {}", local.display()))?;
        let me = Self {
            sock,
            local,
            pending: Vec::new(),
        };
        me.sock
            .connect(path)
            .ctx(|| format!("connecting to {}", path.display()))?;
        Ok(me)
    }

    fn recv(&self, deadline: Instant) -> Result<Option<String>> {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        self.sock
            .set_read_timeout(Some(deadline - now))
            .ctx(|| "setting a timeout".into())?;
        let mut buf = vec![0u8; 8192];
        match self.sock.recv(&mut buf) {
            Ok(n) => Ok(Some(String::from_utf8_lossy(&buf[..n]).into_owned())),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::Io {
                context: "reading the control socket".into(),
                source: e,
            }),
        }
    }

    /// Sends `cmd` and returns the reply, discarding events that arrive first.
    pub fn request(&self, cmd: &str, timeout: Duration) -> Result<String> {
        self.sock
            .send(cmd.as_bytes())
            .ctx(|| format!("sending {cmd}"))?;
        let deadline = Instant::now() + timeout;
        while let Some(msg) = self.recv(deadline)? {
            if !msg.starts_with('<') {
                return Ok(msg);
            }
        }
        Err(Error::Timeout(format!("no reply to {cmd}")))
    }

    /// Sends `cmd`, keeping events that arrive before the reply.
    pub fn command(&mut self, cmd: &str, timeout: Duration) -> Result<String> {
        self.sock
            .send(cmd.as_bytes())
            .ctx(|| format!("sending {cmd}"))?;
        let deadline = Instant::now() + timeout;
        while let Some(msg) = self.recv(deadline)? {
            if let Some(ev) = strip_level(&msg) {
                self.pending.push(ev.to_owned());
            } else {
                return Ok(msg);
            }
        }
        Err(Error::Timeout(format!("no reply to {cmd}")))
    }

    /// `ATTACH`: start receiving events.
    pub fn attach(&mut self) -> Result<()> {
        let r = self.command("ATTACH", Duration::from_secs(2))?;
        if r.trim() != "OK" {
            return Err(Error::Invalid(format!("ATTACH answered {r:?}")));
        }
        Ok(())
    }

    /// The next event (without its `<level>` prefix), or `None` at `deadline`.
    pub fn next_event(&mut self, deadline: Instant) -> Result<Option<String>> {
        if !self.pending.is_empty() {
            return Ok(Some(self.pending.remove(0)));
        }
        while let Some(msg) = self.recv(deadline)? {
            if let Some(ev) = strip_level(&msg) {
                return Ok(Some(ev.to_owned()));
            }
        }
        Ok(None)
    }
}

fn strip_level(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(&rest[end + 1..])
}

impl Drop for Ctrl {
    fn drop(&mut self) {
        let _ = self.sock.send(b"DETACH");
        let _ = std::fs::remove_file(&self.local);
    }
}

/// Parses `STATUS` output (`key=value` lines) into pairs.
pub fn parse_status(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_event_level() {
        assert_eq!(
            strip_level("<3>CTRL-EVENT-EAP-SUCCESS x"),
            Some("CTRL-EVENT-EAP-SUCCESS x")
        );
        assert_eq!(strip_level("PONG\n"), None);
    }

    #[test]
    fn parses_status() {
        let s = parse_status(
            "Supplicant PAE state=AUTHENTICATED\nEAP state=SUCCESS\nselectedMethod=23 (EAP-AKA)\n",
        );
        assert!(s.contains(&("EAP state".into(), "SUCCESS".into())));
        assert_eq!(s.len(), 3);
    }
}
