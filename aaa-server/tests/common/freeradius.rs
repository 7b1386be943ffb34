//! FreeRADIUS 3.2 (Debian package `freeradius`) run from a configuration
//! generated in a temp dir (`-d DIR`): the launcher and the home-server
//! configuration (RadSec listener, EAP-PEAP/MSCHAPv2 with a `users` file)
//! shared by aaa-server/tests/freeradius.rs and testbed/tests/roaming_hostapd.rs.
//!
//! Include it with `#[path = "common/freeradius.rs"] mod freeradius;`, next
//! to `mod pki` (common/pki.rs) at the crate root.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The FreeRADIUS daemon (`/usr/sbin/freeradius`), or `None` with a note;
/// with CI=true a missing FreeRADIUS fails the test.
pub fn freeradius() -> Option<PathBuf> {
    let found = ["/usr/sbin/freeradius", "/usr/sbin/radiusd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("freeradius is required in CI (Debian package freeradius)");
        }
        eprintln!("NOTE: freeradius not installed; this test did not run");
    }
    found
}

/// A running FreeRADIUS, killed and reaped on drop; its debug output in `log`.
pub struct FreeRadius {
    child: Option<Child>,
    log: PathBuf,
}

impl FreeRadius {
    /// Writes `radiusd.conf` (the common part, then `body`) in `dir` and
    /// runs `freeradius -f -xx -l stdout -d dir` until it is ready.
    pub fn start(bin: &Path, dir: &Path, body: &str) -> FreeRadius {
        write_config(dir, body);
        let log = dir.join("freeradius.log");
        let child = Command::new(bin)
            .args(ARGS)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("freeradius.err")).unwrap())
            .spawn()
            .unwrap();
        let mut fr = FreeRadius {
            child: Some(child),
            log,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while !fr.output().contains(READY) {
            if let Some(st) = fr.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("freeradius exited ({st}):\n{}", fr.output());
            }
            assert!(
                Instant::now() < until,
                "freeradius not ready:\n{}",
                fr.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fr
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// FreeRADIUS's arguments before the configuration directory: foreground,
/// debug output to stdout.
pub const ARGS: [&str; 7] = ["-f", "-xx", "-l", "stdout", "-n", "radiusd", "-d"];
/// What FreeRADIUS logs once it listens.
pub const READY: &str = "Ready to process requests";

/// Writes `radiusd.conf` (the common part, then `body`) and the `run` and
/// `log` directories in `dir`.
pub fn write_config(dir: &Path, body: &str) {
    for d in ["run", "log"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(
            dir.join("radiusd.conf"),
            format!(
                "prefix = /usr\nexec_prefix = /usr\nsysconfdir = /etc\nlocalstatedir = /var\n\
                 sbindir = /usr/sbin\nraddbdir = {dir}\nconfdir = ${{raddbdir}}\n\
                 modconfdir = ${{confdir}}/mods-config\nlogdir = ${{confdir}}/log\n\
                 radacctdir = ${{logdir}}/radacct\nname = radiusd\ncertdir = ${{confdir}}\n\
                 cadir = ${{confdir}}\nrun_dir = ${{confdir}}/run\ndb_dir = ${{confdir}}\n\
                 libdir = /usr/lib/freeradius\npidfile = ${{run_dir}}/radiusd.pid\n\
                 max_request_time = 30\ncleanup_delay = 5\nmax_requests = 1024\n\
                 hostname_lookups = no\n\
                 log {{\n  destination = stdout\n  auth = yes\n}}\n\
                 security {{\n  allow_core_dumps = no\n  max_attributes = 200\n  reject_delay = 0\n  status_server = yes\n}}\n\
                 thread pool {{\n  start_servers = 2\n  max_servers = 4\n  min_spare_servers = 1\n  max_spare_servers = 2\n  max_requests_per_server = 0\n}}\n\
                 {body}",
                dir = dir.display()
            ),
        )
        .unwrap();
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `tls { … }` for a FreeRADIUS listener or home_server: `id`'s chain and
/// key, the test root as the only CA, TLS 1.2 up to `max_version`.
pub fn freeradius_tls(
    pki: &crate::pki::Pki,
    id: &crate::pki::Identity,
    max_version: &str,
    extra: &str,
) -> String {
    format!(
        "tls {{\n    private_key_file = {}\n    certificate_file = {}\n    ca_file = {}\n\
         \x20   fragment_size = 8192\n    cipher_list = \"DEFAULT\"\n    tls_min_version = \"1.2\"\n\
         \x20   tls_max_version = \"{max_version}\"\n{extra}  }}\n",
        id.key.display(),
        id.chain.display(),
        pki.root_pem.display()
    )
}

/// FreeRADIUS as a RadSec home server on 127.0.0.1:`tls_port`: the listener
/// shows `listener`, requires a client certificate from the test root;
/// EAP-PEAP/MSCHAPv2 with the server certificate `eap`, users from the
/// configuration directory's `users` file.
pub fn home_body(
    pki: &crate::pki::Pki,
    listener: &crate::pki::Identity,
    eap: &crate::pki::Identity,
    tls_port: u16,
) -> String {
    format!(
        "proxy_requests = no\n\
             clients radsec {{\n  client localhost {{\n    ipaddr = 127.0.0.1\n    proto = tls\n    secret = radsec\n  }}\n}}\n\
             modules {{\n\
             \x20 files {{\n    filename = ${{confdir}}/users\n  }}\n\
             \x20 mschap {{\n  }}\n\
             \x20 eap {{\n    default_eap_type = peap\n    timer_expire = 60\n    max_sessions = ${{max_requests}}\n\
             \x20   tls-config tls-common {{\n      private_key_file = {key}\n      certificate_file = {chain}\n\
             \x20     ca_file = {root}\n      cipher_list = \"DEFAULT\"\n      tls_min_version = \"1.2\"\n      tls_max_version = \"1.2\"\n    }}\n\
             \x20   peap {{\n      tls = tls-common\n      default_eap_type = mschapv2\n      virtual_server = \"inner-tunnel\"\n    }}\n\
             \x20   mschapv2 {{\n    }}\n  }}\n}}\n\
             listen {{\n  ipaddr = 127.0.0.1\n  port = {tls_port}\n  type = auth\n  proto = tcp\n\
             \x20 virtual_server = default\n  clients = radsec\n  {tls}}}\n\
             server default {{\n  authorize {{\n    eap {{\n      ok = return\n    }}\n  }}\n\
             \x20 authenticate {{\n    eap\n  }}\n}}\n\
             server inner-tunnel {{\n  authorize {{\n    files\n    mschap\n    eap {{\n      ok = return\n    }}\n  }}\n\
             \x20 authenticate {{\n    Auth-Type MS-CHAP {{\n      mschap\n    }}\n    eap\n  }}\n}}\n",
        key = eap.key.display(),
        chain = eap.chain.display(),
        root = pki.root_pem.display(),
        tls = freeradius_tls(pki, listener, "1.3", "    require_client_cert = yes\n"),
    )
}
