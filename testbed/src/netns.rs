//! Network namespaces and veth links, with unique names per run, torn down on
//! `Drop` (and, through [`crate::cleanup`], on a signal).
//!
//! Names: `pa-<pid>-<n>-<role>` for namespaces (`<n>` counts runs inside one
//! process). Interfaces are created directly inside their namespaces
//! (`ip link add … netns …`), so their names never touch the root namespace
//! and can be short fixed names (`sta0`, `ap0`, `ap1`, `aaa0`, all ≤ 15 chars).

use crate::cleanup;
use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh run id, `pa-<pid>-<n>`, unique among live processes.
pub fn new_run_id() -> String {
    format!(
        "pa-{}-{}",
        std::process::id(),
        RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `ip <args>` and returns its stdout, or an error with its stderr.
pub fn ip<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let ip = crate::tools::find("ip")?;
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = Command::new(&ip)
        .args(&args)
        .output()
        .map_err(|e| Error::Command {
            cmd: format!("ip {args:?}"),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: format!(
                "ip {}",
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Kills whatever still runs in `name` and deletes it; errors are ignored
/// (this is teardown).
pub(crate) fn delete_namespace(name: &str) {
    if let Ok(pids) = ip(["netns", "pids", name]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = ip(["netns", "del", name]);
}

/// One network namespace; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace `name` and brings its loopback up.
    pub fn create(name: &str) -> Result<Self> {
        cleanup::register_namespace(name);
        let ns = Self {
            name: name.to_owned(),
        };
        if let Err(e) = ip(["netns", "add", name]) {
            cleanup::unregister_namespace(name);
            std::mem::forget(ns);
            return Err(e);
        }
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> <args>`.
    pub fn ip<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = vec!["-n".into(), self.name.clone().into()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        ip(all)
    }

    /// Assigns `cidr` (e.g. `10.99.0.1/30`) to `iface` and brings it up.
    pub fn addr(&self, iface: &str, cidr: &str) -> Result<()> {
        self.ip(["addr", "add", cidr, "dev", iface])?;
        self.ip(["link", "set", iface, "up"])?;
        Ok(())
    }

    /// PIDs of the processes running in this namespace.
    pub fn pids(&self) -> Vec<i32> {
        ip(["netns", "pids", &self.name])
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_namespace(&self.name);
        cleanup::unregister_namespace(&self.name);
    }
}

/// Creates a veth pair with one end in each namespace, both up.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    if a_if.len() > 15 || b_if.len() > 15 {
        return Err(Error::Invalid(format!(
            "interface names must be at most 15 characters: {a_if}, {b_if}"
        )));
    }
    ip([
        "link", "add", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns",
        &b.name,
    ])?;
    a.ip(["link", "set", a_if, "up"])?;
    b.ip(["link", "set", b_if, "up"])?;
    Ok(())
}

/// Addresses of the three-namespace network.
pub mod addr {
    /// The access point's address on the AP—AAA link (hostapd's own_ip_addr).
    pub const AP: &str = "10.99.0.1";
    /// The AAA server's address on the AP—AAA link.
    pub const AAA: &str = "10.99.0.2";
    /// The link's prefix length.
    pub const PREFIX: u8 = 30;
    /// The link's network, for RADIUS client lists.
    pub const NETWORK: &str = "10.99.0.0/30";
}

/// Interface names of the three-namespace network.
pub mod iface {
    /// Station side of the station—AP link.
    pub const STA: &str = "sta0";
    /// AP side of the station—AP link (hostapd's wired interface).
    pub const AP_STA: &str = "ap0";
    /// AP side of the AP—AAA link.
    pub const AP_AAA: &str = "ap1";
    /// AAA side of the AP—AAA link.
    pub const AAA: &str = "aaa0";
}

/// The three-namespace network: station — access point — AAA.
///
/// ```text
///  [pa-…-sta]  sta0 ──veth── ap0  [pa-…-ap]  ap1 ──veth── aaa0  [pa-…-aaa]
///   supplicant    EAPOL (L2)    hostapd wired   RADIUS/UDP     aaa-server
///                               10.99.0.1/30                   10.99.0.2/30
/// ```
#[derive(Debug)]
pub struct ThreeNs {
    /// The run id, prefix of the namespace names.
    pub run_id: String,
    /// Station namespace.
    pub sta: Netns,
    /// Access-point namespace.
    pub ap: Netns,
    /// AAA namespace.
    pub aaa: Netns,
}

impl ThreeNs {
    /// Builds the network for `run_id`.
    pub fn create(run_id: &str) -> Result<Self> {
        let sta = Netns::create(&format!("{run_id}-sta"))?;
        let ap = Netns::create(&format!("{run_id}-ap"))?;
        let aaa = Netns::create(&format!("{run_id}-aaa"))?;
        veth(&sta, iface::STA, &ap, iface::AP_STA)?;
        veth(&ap, iface::AP_AAA, &aaa, iface::AAA)?;
        ap.addr(iface::AP_AAA, &format!("{}/{}", addr::AP, addr::PREFIX))?;
        aaa.addr(iface::AAA, &format!("{}/{}", addr::AAA, addr::PREFIX))?;
        Ok(Self {
            run_id: run_id.to_owned(),
            sta,
            ap,
            aaa,
        })
    }
}

/// Names of namespaces that currently exist and start with `prefix`.
pub fn list_with_prefix(prefix: &str) -> Vec<String> {
    ip(["netns", "list"])
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(prefix))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Sends one EAPOL-Start (IEEE 802.1X-2010 §11.3, version 2) to the PAE group
/// address 01:80:C2:00:00:03 out of `ifname` inside namespace `ns`, from a
/// short-lived thread that joins the namespace (setns affects only that
/// thread). The kernel fills in the interface's own source address.
///
/// `wpa_supplicant -Dwired` waits 2 s before its first EAPOL-Start
/// (eapol_supp_sm.c, `startWhen = 2`); sending the same frame from its
/// interface right away makes hostapd start the authentication at once.
/// The EAP exchange that follows is unchanged.
pub fn send_eapol_start(ns: &str, ifname: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let ns_path = format!("/var/run/netns/{ns}");
    let cname = std::ffi::CString::new(ifname)
        .map_err(|_| Error::Invalid(format!("bad interface name {ifname:?}")))?;
    let joined = std::thread::spawn(move || -> std::io::Result<()> {
        let f = std::fs::File::open(&ns_path)?;
        // SAFETY: setns on a valid namespace fd; only this thread moves.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        const ETH_P_PAE: u16 = 0x888e;
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_PAE.to_be()),
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: cname is a valid NUL-terminated string.
        let idx = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_PAE.to_be();
        sll.sll_ifindex = idx as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0x01, 0x80, 0xc2, 0x00, 0x00, 0x03]);
        let frame = [2u8, 1, 0, 0]; // version 2, EAPOL-Start, body length 0
        // SAFETY: frame and sll outlive the call; lengths match.
        let sent = unsafe {
            libc::sendto(
                fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        let err = std::io::Error::last_os_error();
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        if idx == 0 || sent < 0 {
            return Err(err);
        }
        Ok(())
    })
    .join();
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Io {
            context: format!("sending EAPOL-Start on {ifname} in {ns}"),
            source: e,
        }),
        Err(_) => Err(Error::Invalid("EAPOL-Start thread panicked".into())),
    }
}
