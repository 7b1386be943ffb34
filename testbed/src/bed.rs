//! A running testbed: the run directory, the three namespaces, the capture
//! and the processes of one scenario, torn down in reverse order on drop.

use crate::capture::Capture;
use crate::error::{Error, Result};
use crate::hlr::HlrStub;
use crate::netns::{ThreeNs, addr, iface, new_run_id};
use crate::process::{Probe, Process, Spec};
use crate::run::RunDir;
use crate::scenario::{self, Method};
use crate::tools;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Timeout for a daemon to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// The RADIUS auth port the AAA side listens on.
pub const RADIUS_PORT: u16 = 1812;

/// One running scenario environment.
pub struct Bed {
    procs: Vec<Process>,
    extsim: Option<crate::extsim::Responder>,
    hlr: Option<HlrStub>,
    capture: Option<Capture>,
    /// The namespaces.
    pub net: ThreeNs,
    /// The run directory (configs, logs, sockets).
    pub dir: RunDir,
    pcap: PathBuf,
}

impl std::fmt::Debug for Bed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bed")
            .field("run_id", &self.net.run_id)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Bed {
    /// Creates the run directory and the namespaces, and starts the capture
    /// in the AP namespace (pcap `<dir>/<name>.pcap`).
    pub fn new(name: &str) -> Result<Self> {
        Self::new_at(name, false)
    }

    /// Like [`new`](Self::new); with `capture_in_aaa` the capture runs in the
    /// AAA namespace (for peers that talk RADIUS on its loopback).
    pub fn new_at(name: &str, capture_in_aaa: bool) -> Result<Self> {
        let run_id = new_run_id();
        let dir = RunDir::create(&run_id)?;
        let net = ThreeNs::create(&run_id)?;
        let pcap = dir.join(&format!("{name}.pcap"));
        let ns = if capture_in_aaa {
            net.aaa.name()
        } else {
            net.ap.name()
        };
        let capture = Capture::start(ns, &pcap, dir.path(), "tcpdump")?;
        Ok(Self {
            procs: Vec::new(),
            extsim: None,
            hlr: None,
            capture: Some(capture),
            net,
            dir,
            pcap,
        })
    }

    /// The run id (namespace prefix).
    pub fn run_id(&self) -> &str {
        &self.net.run_id
    }

    /// Starts a daemon, waits for `probe`, keeps it until teardown.
    pub fn start(&mut self, spec: &Spec, probe: &Probe) -> Result<&mut Process> {
        let p = Process::start(spec, self.dir.path(), probe, READY_TIMEOUT)?;
        self.procs.push(p);
        let last = self.procs.len() - 1;
        Ok(&mut self.procs[last])
    }

    /// Runs a one-shot command (inside a namespace) to completion.
    pub fn run(
        &self,
        spec: &Spec,
        timeout: Duration,
    ) -> Result<(std::process::ExitStatus, String)> {
        let mut p = Process::spawn(spec, self.dir.path())?;
        let st = p.wait_exit(timeout)?;
        Ok((st, p.log_text()))
    }

    /// hostapd as the wired authenticator in the AP namespace; returns its
    /// control socket.
    pub fn start_hostapd_wired(&mut self) -> Result<PathBuf> {
        let ctrl = self.dir.subdir("hostapd-ctrl")?;
        let conf = self.dir.write(
            "hostapd-wired.conf",
            &scenario::hostapd_wired(&ctrl, RADIUS_PORT),
        )?;
        let sock = ctrl.join(iface::AP_STA);
        let spec = Spec::new("hostapd-wired", tools::find("hostapd")?)
            .netns(self.net.ap.name())
            .arg("-d")
            .arg(&conf);
        self.start(&spec, &Probe::CtrlPing(sock.clone()))?;
        Ok(sock)
    }

    /// hostapd as a RADIUS server with its own EAP server in the AAA
    /// namespace; `sim_db` is the hlr_auc_gw socket for AKA/AKA'.
    pub fn start_hostapd_radius(
        &mut self,
        method: Method,
        allowed: &[Method],
        sim_db: Option<&Path>,
    ) -> Result<()> {
        self.start_hostapd_radius_users(&scenario::eap_users(method, allowed), sim_db)
    }

    /// Like [`start_hostapd_radius`](Self::start_hostapd_radius) with an
    /// explicit eap_user_file text.
    pub fn start_hostapd_radius_users(&mut self, users: &str, sim_db: Option<&Path>) -> Result<()> {
        let clients = self
            .dir
            .write("radius-clients", &scenario::radius_clients())?;
        let users = self.dir.write("eap-users", users)?;
        let conf = self.dir.write(
            "hostapd-radius.conf",
            &scenario::hostapd_radius_server(&clients, &users, sim_db, RADIUS_PORT),
        )?;
        let spec = Spec::new("hostapd-radius", tools::find("hostapd")?)
            .netns(self.net.aaa.name())
            .arg("-d")
            .arg(&conf);
        self.start(&spec, &Probe::UdpBound(RADIUS_PORT))?;
        Ok(())
    }

    /// The testbed's hlr_auc_gw stub on `<dir>/hlr.sock`.
    pub fn start_hlr_stub(&mut self, subs: &[scenario::Subscriber]) -> Result<PathBuf> {
        let p = self.dir.join("hlr.sock");
        self.hlr = Some(HlrStub::start(&p, subs)?);
        Ok(p)
    }

    /// wpa_supplicant `-Dwired` on the station's veth; returns its control socket.
    pub fn start_wpa_supplicant(&mut self, method: Method, identity: &str) -> Result<PathBuf> {
        self.start_wpa_supplicant_with(&[method], identity, None)
    }

    /// wpa_supplicant `-Dwired` allowing `methods`; with `pcsc_sock` it uses
    /// PC/SC through that pcscd socket, otherwise the external SIM.
    pub fn start_wpa_supplicant_with(
        &mut self,
        methods: &[Method],
        identity: &str,
        pcsc_sock: Option<&Path>,
    ) -> Result<PathBuf> {
        let ctrl = self.dir.subdir("wpas-ctrl")?;
        let conf = self.dir.write(
            "wpa_supplicant.conf",
            &scenario::wpa_supplicant_wired(&ctrl, methods, identity, pcsc_sock.is_some()),
        )?;
        let sock = ctrl.join(iface::STA);
        let mut spec = Spec::new("wpa_supplicant", tools::find("wpa_supplicant")?)
            .netns(self.net.sta.name())
            .args(["-Dwired", "-i", iface::STA, "-dd", "-t", "-c"])
            .arg(&conf);
        if let Some(p) = pcsc_sock {
            spec = spec.env("PCSCLITE_CSOCK_NAME", p);
        }
        self.start(&spec, &Probe::CtrlPing(sock.clone()))?;
        Ok(sock)
    }

    /// wpa_supplicant `-Dwired` without a network (for `supplicant wifi`);
    /// returns its control socket.
    pub fn start_wpa_supplicant_bare(&mut self) -> Result<PathBuf> {
        let ctrl = self.dir.subdir("wpas-ctrl")?;
        let conf = self
            .dir
            .write("wpa_supplicant.conf", &scenario::wpa_supplicant_bare(&ctrl))?;
        let sock = ctrl.join(iface::STA);
        let spec = Spec::new("wpa_supplicant", tools::find("wpa_supplicant")?)
            .netns(self.net.sta.name())
            .args(["-Dwired", "-i", iface::STA, "-dd", "-t", "-c"])
            .arg(&conf);
        self.start(&spec, &Probe::CtrlPing(sock.clone()))?;
        Ok(sock)
    }

    /// Once wpa_supplicant's PAE is CONNECTING, sends the EAPOL-Start it
    /// would send 2 s later (see [`crate::netns::send_eapol_start`]). If the
    /// state is not reached within 1 s, does nothing: wpa_supplicant's own
    /// EAPOL-Start still comes.
    pub fn kick_wpa_supplicant(&self, ctrl: &Path) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let c = crate::ctrl::Ctrl::open(ctrl)?;
        while std::time::Instant::now() < deadline {
            let st = c.request("STATUS", Duration::from_millis(500))?;
            if st.contains("Supplicant PAE state=CONNECTING") {
                return crate::netns::send_eapol_start(self.net.sta.name(), iface::STA);
            }
            if st.contains("Supplicant PAE state=AUTHENTICATING") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Attaches the soft-USIM responder to a control socket.
    pub fn attach_extsim(&mut self, ctrl: &Path, sim: &scenario::Subscriber) -> Result<()> {
        let usim = crate::extsim::SoftUsim::new(sim)?;
        self.extsim = Some(crate::extsim::Responder::start(ctrl, usim, READY_TIMEOUT)?);
        Ok(())
    }

    /// The SIM responder, when attached.
    pub fn extsim(&self) -> Option<&crate::extsim::Responder> {
        self.extsim.as_ref()
    }

    /// `wpa_cli -p <dir> -i <iface> status` inside the station namespace, as pairs.
    pub fn wpa_cli_status(&self, ctrl: &Path) -> Result<Vec<(String, String)>> {
        let dir = ctrl.parent().unwrap_or(Path::new("/"));
        let ifname = ctrl
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let spec = Spec::new("wpa_cli", tools::find("wpa_cli")?)
            .netns(self.net.sta.name())
            .arg("-p")
            .arg(dir)
            .args(["-i", &ifname, "status"]);
        let (st, out) = self.run(&spec, Duration::from_secs(5))?;
        if !st.success() {
            return Err(Error::Command {
                cmd: spec.command_line(),
                detail: out,
            });
        }
        Ok(crate::ctrl::parse_status(&out))
    }

    /// Polls `wpa_cli status` until `EAP state` is SUCCESS or FAILURE (or timeout).
    pub fn wait_eap_state(&self, ctrl: &Path, timeout: Duration) -> Result<Vec<(String, String)>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let st = self.wpa_cli_status(ctrl)?;
            let eap = st
                .iter()
                .find(|(k, _)| k == "EAP state")
                .map(|(_, v)| v.as_str());
            if matches!(eap, Some("SUCCESS" | "FAILURE")) || std::time::Instant::now() >= deadline {
                return Ok(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops every process, then the capture; checks the pcap with tshark.
    /// Returns the pcap path and the check report.
    pub fn finish_capture(&mut self) -> Result<(PathBuf, crate::capture::CheckReport)> {
        self.stop_processes();
        let pcap = match self.capture.take() {
            Some(c) => c.finish(),
            None => self.pcap.clone(),
        };
        let report = crate::capture::check(&pcap)?;
        Ok((pcap, report))
    }

    /// The pcap path.
    pub fn pcap(&self) -> &Path {
        &self.pcap
    }

    fn stop_processes(&mut self) {
        self.extsim = None;
        while let Some(mut p) = self.procs.pop() {
            p.stop();
        }
        self.hlr = None;
    }

    /// Names of the AP—AAA addresses, for messages.
    pub fn addresses() -> (&'static str, &'static str) {
        (addr::AP, addr::AAA)
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.stop_processes();
        self.capture = None;
    }
}
