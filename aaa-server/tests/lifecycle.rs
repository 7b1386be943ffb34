//! `aaa-server serve` under a service manager: systemd notifications
//! (READY/RELOADING/STOPPING/WATCHDOG) on a Unix datagram socket given as
//! `NOTIFY_SOCKET`, and SIGHUP reloading the configuration instead of
//! killing the server.

use std::io::BufRead;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Creates the subscriber store `serve` needs (it never creates one).
fn make_store(dir: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", "add", "--db"])
        .arg(dir.join("subscribers.db"))
        .args([
            "--imsi",
            "001010000000001",
            "--k",
            "465b5ce8b199b49faa5f0a2ee238a6bc",
            "--opc",
            "cd63cb71954a9f4e48a5994e37a02baf",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn config(log_level: &str) -> String {
    format!(
        "log_level = \"{log_level}\"\nlisten = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
         [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"testing123\"\n\
         [hss]\ndatabase = \"subscribers.db\"\n"
    )
}

struct Serve {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(conf: &Path, env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aaa-server"));
        cmd.args(["serve", "--config"])
            .arg(conf)
            .env_remove("RUST_LOG")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                l.lock().unwrap().push(line);
            }
        });
        Serve { child, logs }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signals our own child process, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits up to 5 s for a log line containing `needle`.
    fn wait_log(&self, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(l) = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "no log line with {needle:?}; log:\n{}",
            self.logs.lock().unwrap().join("\n")
        );
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..500 {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("server did not exit within 5 s");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next notification datagram (20 s at most: the server may be compiling
/// its first start on a loaded machine).
fn next(sock: &UnixDatagram, serve: &Serve) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 4096];
    match sock.recv(&mut buf) {
        Ok(n) => String::from_utf8(buf[..n].to_vec()).unwrap(),
        Err(e) => panic!(
            "no notification: {e}; log:\n{}",
            serve.logs.lock().unwrap().join("\n")
        ),
    }
}

#[test]
fn sighup_reloads_the_log_level_keeps_serving_and_notifies_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aaa.toml");
    std::fs::write(&conf, config("info")).unwrap();
    make_store(dir.path());
    let sock_path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut serve = Serve::start(&conf, &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())]);

    assert_eq!(next(&sock, &serve), "READY=1\n");
    // READY only after the sockets are bound and the store is open.
    serve.wait_log("aaa-server listening");

    // A reload that turns debug logging on.
    std::fs::write(&conf, config("aaa_server=debug,info")).unwrap();
    serve.signal(libc::SIGHUP);
    let r = next(&sock, &serve);
    assert!(r.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{r}");
    let usec: u64 = r.trim_end().rsplit('=').next().unwrap().parse().unwrap();
    assert!(usec > 0);
    assert_eq!(next(&sock, &serve), "READY=1\n");
    serve.wait_log("configuration reloaded");
    serve.wait_log("debug logging is on");
    assert!(
        serve.child.try_wait().unwrap().is_none(),
        "SIGHUP ended serve"
    );

    // A reload that fails keeps the running configuration and says why.
    std::fs::write(&conf, "listen = 5\n[hss]\ndatabase = \"x.db\"\n").unwrap();
    serve.signal(libc::SIGHUP);
    assert!(next(&sock, &serve).starts_with("RELOADING=1\n"));
    assert_eq!(next(&sock, &serve), "READY=1\n");
    let l = serve.wait_log("reload failed, keeping the running configuration");
    assert!(l.contains("aaa.toml:1: listen"), "{l}");

    // A change that needs a restart is named.
    std::fs::write(&conf, format!("{}workers = 3\n", config("info"))).unwrap();
    serve.signal(libc::SIGHUP);
    assert!(next(&sock, &serve).starts_with("RELOADING=1\n"));
    assert_eq!(next(&sock, &serve), "READY=1\n");
    let l = serve.wait_log("need a restart");
    assert!(l.contains("hss.workers"), "{l}");
    assert!(
        serve.child.try_wait().unwrap().is_none(),
        "SIGHUP ended serve"
    );

    serve.signal(libc::SIGTERM);
    assert_eq!(next(&sock, &serve), "STOPPING=1\n");
    assert!(serve.wait_exit().success());
}

#[test]
fn abstract_notify_socket_and_watchdog() {
    use std::os::linux::net::SocketAddrExt;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("aaa.toml");
    std::fs::write(&conf, config("info")).unwrap();
    make_store(dir.path());
    let name = format!(
        "passpoint-aka-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    let mut serve = Serve::start(
        &conf,
        &[
            ("NOTIFY_SOCKET", &format!("@{name}")),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    assert_eq!(next(&sock, &serve), "READY=1\n");
    assert_eq!(next(&sock, &serve), "WATCHDOG=1\n");
    assert_eq!(next(&sock, &serve), "WATCHDOG=1\n");
    serve.signal(libc::SIGTERM);
    // A watchdog datagram may precede STOPPING.
    let mut m = next(&sock, &serve);
    while m == "WATCHDOG=1\n" {
        m = next(&sock, &serve);
    }
    assert_eq!(m, "STOPPING=1\n");
    assert!(serve.wait_exit().success());
}

#[test]
fn config_defaults_to_etc_passpoint_aka() {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["serve", "--check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if Path::new("/etc/passpoint-aka/aaa.toml").exists() {
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("/etc/passpoint-aka/aaa.toml")
                || err.contains("/etc/passpoint-aka/aaa.toml"),
            "{err}"
        );
    } else {
        assert!(!o.status.success());
        assert!(
            err.contains("/etc/passpoint-aka/aaa.toml") && err.contains("cannot read"),
            "{err}"
        );
    }
}

#[test]
fn hlr_gw_survives_sighup() {
    let dir = tempfile::tempdir().unwrap();
    make_store(dir.path());
    let db = dir.path().join("subscribers.db");
    let sock = dir.path().join("hlr.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["hlr-gw", "--db", db.to_str().unwrap(), "--socket"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sock.exists(), "hlr-gw did not bind");
    let pid = child.id() as i32;
    let kill = |sig| {
        // SAFETY: our own child, not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    };
    kill(libc::SIGHUP);
    kill(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    let alive = child.try_wait().unwrap();
    kill(libc::SIGTERM);
    let mut status = None;
    for _ in 0..500 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    assert!(alive.is_none(), "SIGHUP ended hlr-gw: {alive:?}");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
