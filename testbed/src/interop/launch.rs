//! The column runners: start the peers and servers of a cell in its bed and
//! report what the authentication did ([`Observed`]).

use super::{Observed, Row};
use crate::bed::{Bed, RADIUS_PORT};
use crate::error::{Error, Result};
use crate::netns::{addr, iface};
use crate::process::{Probe, Spec};
use crate::scenario::{self, Method, Subscriber};
use crate::tools;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
fn wpas_methods(row: Row) -> Vec<Method> {
    match row {
        Row::BiddingDownRefused => vec![Method::Aka, Method::AkaPrime],
        r => vec![r.method()],
    }
}

/// wpa_supplicant -Dwired with the external SIM answered by the testbed
/// (or PC/SC through the virtual card); returns success and detail.
fn run_wpa_supplicant(bed: &mut Bed, row: Row, pcsc_sock: Option<&Path>) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let identity = sim.permanent_nai(row.method());
    let ctrl = bed.start_wpa_supplicant_with(&wpas_methods(row), &identity, pcsc_sock)?;
    if pcsc_sock.is_none() {
        bed.attach_extsim(&ctrl, &sim)?;
    }
    bed.kick_wpa_supplicant(&ctrl)?;
    let st = bed.wait_eap_state(&ctrl, Duration::from_secs(8))?;
    let get = |k: &str| {
        st.iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let eap = get("EAP state");
    let method = get("selectedMethod");
    let success = eap == "SUCCESS" && get("Supplicant PAE state") == "AUTHENTICATED";
    if success && !method.starts_with(&format!("{} ", row.method().eap_type())) {
        return Ok(Observed {
            success: false,
            detail: format!("EAP state=SUCCESS but selectedMethod={method}"),
        });
    }
    Ok(Observed {
        success,
        detail: format!(
            "wpa_cli: EAP state={eap}, selectedMethod={method}; SIM: {}",
            if pcsc_sock.is_some() {
                "wpa_supplicant PC/SC -> pcscd -> our USIM simulator (vpcd)"
            } else {
                "external SIM answered by the testbed's soft USIM"
            }
        ),
    })
}

pub(super) fn run_reference(bed: &mut Bed, row: Row, bins: &[(&str, PathBuf)]) -> Result<Observed> {
    let subs: Vec<Subscriber> = row.hss_subscriber().into_iter().collect();
    let sock = bed.start_hlr_stub(&subs)?;
    bed.start_hostapd_radius_users(&reference_users(row), Some(&sock))?;
    bed.start_hostapd_wired()?;
    let pcsc = if row.pcsc() {
        Some(start_pcsc(
            bed,
            &row.sim_subscriber(),
            &find_supplicant(bins)?,
        )?)
    } else {
        None
    };
    run_wpa_supplicant(bed, row, pcsc.as_deref())
}

fn find_supplicant(bins: &[(&str, PathBuf)]) -> Result<PathBuf> {
    bins.iter()
        .find(|(b, _)| *b == "supplicant")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("supplicant".into(), String::new()))
}

/// hostapd eap_user_file for the reference / hostapd-EAP columns.
pub(super) fn reference_users(row: Row) -> String {
    match row {
        Row::AkaPrimePeerAkaOnlyServer => "\"0\"* AKA\n\"6\"* AKA\n".into(),
        // hostapd's default eap_sim_id=3 issues AKA' pseudonyms (7…) and
        // re-auth ids (8…); they must be users too.
        Row::FastReauth | Row::Pseudonym => {
            "\"0\"* AKA\n\"6\"* AKA'\n\"7\"* AKA'\n\"8\"* AKA'\n".into()
        }
        Row::SimFull | Row::SimPcsc => "\"0\"* AKA\n\"6\"* AKA'\n\"1\"* SIM\n".into(),
        _ => "\"0\"* AKA\n\"6\"* AKA'\n".into(),
    }
}

pub(super) fn provision_aaa(bed: &mut Bed, row: Row, aaa: &Path) -> Result<PathBuf> {
    let db = bed.dir.join("subscribers.db");
    if let Some(s) = row.hss_subscriber() {
        let spec = Spec::new("aaa-server-subscriber-add", aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args([
                "--imsi", &s.imsi, "--k", &s.k, "--opc", &s.opc, "--amf", &s.amf, "--sqn", &s.sqn,
            ]);
        let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
        if !st.success() {
            return Err(Error::Command {
                cmd: spec.command_line(),
                detail: out,
            });
        }
    } else {
        // An empty store: provision someone else.
        let mut other = Subscriber::demo();
        other.imsi = "001010999999999".into();
        let spec = Spec::new("aaa-server-subscriber-add", aaa)
            .args(["subscriber", "add", "--db"])
            .arg(&db)
            .args(["--imsi", &other.imsi, "--k", &other.k, "--opc", &other.opc]);
        let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
        if !st.success() {
            return Err(Error::Command {
                cmd: spec.command_line(),
                detail: out,
            });
        }
    }
    Ok(db)
}

/// Starts `aaa-server serve` in the AAA namespace on `listen`.
pub(crate) fn start_aaa_server(
    bed: &mut Bed,
    row: Row,
    aaa: &Path,
    listen: &str,
    clients: &[&str],
) -> Result<()> {
    let db = provision_aaa(bed, row, aaa)?;
    let mut toml = scenario::aaa_server_toml(listen, &db, &row.server_methods(), clients);
    if row.is_privacy() {
        let key = if row == Row::ImsiPrivacy {
            Some(imsi_privacy_keypair(bed)?.0)
        } else {
            None
        };
        toml.push_str(&scenario::aaa_privacy_toml(
            row == Row::ResultIndication,
            key.as_deref(),
        ));
    }
    let conf = bed.dir.write("aaa.toml", &toml)?;
    let spec = Spec::new("aaa-server", aaa)
        .netns(bed.net.aaa.name())
        .args(["serve", "--config"])
        .arg(&conf)
        .env("RUST_LOG", "debug");
    bed.start(&spec, &Probe::UdpBound(RADIUS_PORT))?;
    Ok(())
}

/// The operator's IMSI-privacy RSA key (0600, for aaa-server) and its
/// self-signed certificate (for the supplicant), made by `openssl req`.
fn imsi_privacy_keypair(bed: &Bed) -> Result<(PathBuf, PathBuf)> {
    let key = bed.dir.join("imsi-privacy-key.pem");
    let cert = bed.dir.join("imsi-privacy-cert.pem");
    if key.exists() && cert.exists() {
        return Ok((key, cert));
    }
    let spec = Spec::new("openssl-req", tools::find("openssl")?)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=passpoint-aka testbed IMSI privacy",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    let (st, out) = bed.run(&spec, Duration::from_secs(20))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::Io {
            context: format!("chmod 600 {}", key.display()),
            source: e,
        }
    })?;
    Ok((key, cert))
}

pub(super) fn run_wpas_aaa(
    bed: &mut Bed,
    row: Row,
    bins: &[(&str, PathBuf)],
    wifi: Option<&Path>,
) -> Result<Observed> {
    let aaa = bins
        .iter()
        .find(|(b, _)| *b == "aaa-server")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("aaa-server".into(), String::new()))?;
    let aaa = aaa.as_path();
    start_aaa_server(
        bed,
        row,
        aaa,
        &format!("{}:{RADIUS_PORT}", addr::AAA),
        &[addr::NETWORK],
    )?;
    bed.start_hostapd_wired()?;
    let pcsc = if row.pcsc() {
        Some(start_pcsc(
            bed,
            &row.sim_subscriber(),
            &find_supplicant(bins)?,
        )?)
    } else {
        None
    };
    match (wifi, &pcsc) {
        // The bidding-down row needs a peer that allows both methods but
        // announces an AKA identity: a hand-written network block.
        (Some(sup), None) if row != Row::BiddingDownRefused => run_supplicant_wifi(bed, row, sup),
        _ => run_wpa_supplicant(bed, row, pcsc.as_deref()),
    }
}

/// wpa_supplicant -Dwired whose network and external SIM come from
/// `supplicant wifi --network any` (our USIM simulator answers CTRL-REQ-SIM).
fn run_supplicant_wifi(bed: &mut Bed, row: Row, sup: &Path) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let usim = create_usim(bed, &sim, sup)?;
    let ctrl = bed.start_wpa_supplicant_bare()?;
    let spec = Spec::new("supplicant-wifi", sup)
        .netns(bed.net.sta.name())
        .args(["wifi", "--ctrl"])
        .arg(&ctrl)
        .arg("--client-dir")
        .arg(bed.dir.path())
        .arg("--sim")
        .arg(format!("soft:{}", usim.display()))
        .args(["--network", "any", "--method", row.method().cli_name()])
        .args(["--once", "--timeout", "8", "--json"])
        .env("RUST_LOG", "debug");
    let mut p = crate::process::Process::spawn(&spec, bed.dir.path())?;
    bed.kick_wpa_supplicant(&ctrl)?;
    let st = p.wait_exit(Duration::from_secs(12))?;
    let out = p.log_text();
    let code = st.code();
    if code == Some(2) || code.is_none() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: format!(
                "{st}: {}",
                out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    // supplicant wifi undoes its changes on exit (network removed), so the
    // outcome is its exit status; the method is checked in the capture.
    let json_line = out.lines().rev().find(|l| l.trim_start().starts_with('{'));
    Ok(Observed {
        success: code == Some(0),
        detail: format!(
            "supplicant wifi (our USIM simulator as wpa_supplicant's external SIM) exit {}{}",
            code.unwrap_or(-1),
            json_line
                .map(|j| format!(" {}", j.trim()))
                .unwrap_or_default()
        ),
    })
}

pub(super) fn run_eapol_test_aaa(
    bed: &mut Bed,
    row: Row,
    bins: &[(&str, PathBuf)],
) -> Result<Observed> {
    let aaa = bins
        .iter()
        .find(|(b, _)| *b == "aaa-server")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| Error::MissingBinary("aaa-server".into(), String::new()))?;
    start_aaa_server(
        bed,
        row,
        &aaa,
        &format!("127.0.0.1:{RADIUS_PORT}"),
        &["127.0.0.1/32"],
    )?;
    eapol_test_against(bed, row, bins)
}

/// eapol_test (external SIM answered by the testbed, or PC/SC) against the
/// RADIUS server on 127.0.0.1:1812 of the AAA namespace.
pub(super) fn eapol_test_against(
    bed: &mut Bed,
    row: Row,
    bins: &[(&str, PathBuf)],
) -> Result<Observed> {
    let sim = row.sim_subscriber();
    let pcsc = if row.pcsc() {
        let sup = bins
            .iter()
            .find(|(b, _)| *b == "supplicant")
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::MissingBinary("supplicant".into(), String::new()))?;
        Some(start_pcsc_in(bed, &sim, &sup, true)?)
    } else {
        None
    };
    let ctrl_dir = bed.dir.subdir("eapol_test-ctrl")?;
    let identity = sim.permanent_nai(row.method());
    let mut conf_text =
        scenario::eapol_test(&ctrl_dir, &wpas_methods(row), &identity, pcsc.is_some());
    if row == Row::ResultIndication {
        conf_text = scenario::with_network_line(&conf_text, "phase1=\"result_ind=1\"");
    }
    // Fast re-authentication: two EAPOL re-authentications after the full one.
    let reauths: u32 = if row == Row::FastReauth { 2 } else { 0 };
    let conf = bed.dir.write("eapol_test.conf", &conf_text)?;
    let mut spec = Spec::new("eapol_test", tools::find("eapol_test")?)
        .netns(bed.net.aaa.name())
        .arg("-c")
        .arg(&conf)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &RADIUS_PORT.to_string(),
            "-s",
            scenario::RADIUS_SECRET,
            "-t",
            "8",
            "-r",
            &reauths.to_string(),
        ]);
    if let Some(sock) = &pcsc {
        spec = spec.env("PCSCLITE_CSOCK_NAME", sock);
    } else {
        spec = spec.arg("-W");
    }
    let mut p = crate::process::Process::spawn(&spec, bed.dir.path())?;
    if pcsc.is_none() {
        bed.attach_extsim(&ctrl_dir.join("test"), &sim)?;
    }
    let st = p.wait_exit(Duration::from_secs(15))?;
    let log = p.log_text();
    let mppe_ok = log.contains(&format!("MPPE keys OK: {}  mismatch: 0", reauths + 1));
    let success = st.success() && log.lines().any(|l| l.trim() == "SUCCESS");
    if success && !mppe_ok {
        return Ok(Observed {
            success: false,
            detail: "eapol_test SUCCESS but MPPE keys do not match the MSK".into(),
        });
    }
    Ok(Observed {
        success,
        detail: format!(
            "eapol_test{} {}{}",
            if reauths > 0 {
                format!(" -r {reauths}")
            } else {
                String::new()
            },
            if success { "SUCCESS" } else { "FAILURE" },
            if mppe_ok {
                format!(", MPPE keys OK x{}", reauths + 1)
            } else {
                String::new()
            }
        ),
    })
}

/// Our supplicant over hostapd, to aaa-server (`hostapd_eap = false`) or to
/// hostapd's EAP server with `aaa-server hlr-gw` as HSS.
pub(super) fn run_ours(
    bed: &mut Bed,
    row: Row,
    sup: &Path,
    aaa: &Path,
    hostapd_eap: bool,
) -> Result<Observed> {
    if hostapd_eap {
        start_hostapd_eap_with_hlr_gw(bed, row, aaa)?;
    } else {
        start_aaa_server(
            bed,
            row,
            aaa,
            &format!("{}:{RADIUS_PORT}", addr::AAA),
            &[addr::NETWORK],
        )?;
    }
    bed.start_hostapd_wired()?;
    let sim = row.sim_subscriber();
    let usim = create_usim(bed, &sim, sup)?;
    let profile_text = if row == Row::ResultIndication {
        scenario::supplicant_profile_result_ind(&sim, row.method())
    } else {
        scenario::supplicant_profile(&sim, row.method())
    };
    let profile = bed.dir.write("profile.toml", &profile_text)?;
    let state = bed.dir.join("privacy-state.toml");
    let mut base = Spec::new("supplicant", sup)
        .netns(bed.net.sta.name())
        .args(["auth", "--iface", iface::STA, "--profile"])
        .arg(&profile)
        .args([
            "--method",
            row.method().cli_name(),
            "--timeout",
            "8",
            "--json",
        ])
        .env("RUST_LOG", "debug");
    if row.is_privacy() {
        base = base.arg("--state").arg(&state);
    }
    if row == Row::ImsiPrivacy {
        let (_, cert) = imsi_privacy_keypair(bed)?;
        base = base.arg("--imsi-privacy-cert").arg(cert);
    }
    if row.pcsc() {
        let sock = start_pcsc(bed, &sim, sup)?;
        base = base
            .args(["--sim", "pcsc"])
            .env("PCSCLITE_CSOCK_NAME", &sock);
    } else {
        base = base.arg("--sim").arg(format!("soft:{}", usim.display()));
    }
    let first = run_supplicant(bed, &base)?;
    let obs = match row {
        Row::FastReauth | Row::Pseudonym => {
            if !first.success {
                return Ok(Observed {
                    success: false,
                    detail: format!("run 1: {}", first.detail),
                });
            }
            if row == Row::Pseudonym {
                keep_only_pseudonym(&state)?;
            }
            new_station_mac(bed)?;
            let mut again = base.clone();
            again.name = "supplicant-2".into();
            let second = run_supplicant(bed, &again)?;
            let (auth, kind) = if row == Row::FastReauth {
                ("reauth", "reauth")
            } else {
                ("full", "pseudonym")
            };
            let json = second.json.clone().unwrap_or_default();
            let ok = second.success
                && json["auth"] == auth
                && json["identity_kind"] == kind
                && first.json.as_ref().is_some_and(|j| j["auth"] == "full");
            Observed {
                success: ok,
                detail: format!(
                    "run 1: {}; run 2 (same --state{}): {}{}",
                    first.detail,
                    if row == Row::Pseudonym {
                        ", re-auth id removed"
                    } else {
                        ""
                    },
                    second.detail,
                    if second.success && !ok {
                        format!(" — expected auth={auth}, identity_kind={kind}")
                    } else {
                        String::new()
                    }
                ),
            }
        }
        _ => Observed {
            success: first.success,
            detail: first.detail,
        },
    };
    Ok(obs)
}

/// hostapd ignores a station for 5 s after its EAPOL-Logoff
/// (`AP_MAX_INACTIVITY_AFTER_DEAUTH`): the second run presents a new MAC,
/// as a station roaming back would.
fn new_station_mac(bed: &Bed) -> Result<()> {
    let spec = Spec::new("ip-link-mac", tools::find("ip")?).args([
        "-n",
        bed.net.sta.name(),
        "link",
        "set",
        "dev",
        iface::STA,
        "address",
        "02:00:5e:00:8a:02",
    ]);
    let (st, out) = bed.run(&spec, Duration::from_secs(5))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    Ok(())
}

/// One `supplicant auth` run: exit status and its `--json` line.
struct AuthRun {
    success: bool,
    detail: String,
    json: Option<serde_json::Value>,
}

fn run_supplicant(bed: &Bed, spec: &Spec) -> Result<AuthRun> {
    let (st, out) = bed.run(spec, Duration::from_secs(12))?;
    let code = st.code();
    if code == Some(2) || code.is_none() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: format!(
                "{st}: {}",
                out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    let json_line = out.lines().rev().find(|l| l.trim_start().starts_with('{'));
    Ok(AuthRun {
        success: code == Some(0),
        detail: format!(
            "supplicant exit {}{}",
            code.unwrap_or(-1),
            json_line
                .map(|j| format!(" {}", j.trim()))
                .unwrap_or_default()
        ),
        json: json_line.and_then(|j| serde_json::from_str(j.trim()).ok()),
    })
}

/// Drops the `[reauth]` table from the supplicant's state file (written by
/// `supplicant auth --state`), keeping the pseudonym: the next run must use
/// the pseudonym. The file keeps its 0600 mode (rewritten in place).
fn keep_only_pseudonym(state: &Path) -> Result<()> {
    let io = |e| Error::Io {
        context: format!("rewriting {}", state.display()),
        source: e,
    };
    let text = std::fs::read_to_string(state).map_err(io)?;
    if !text
        .lines()
        .any(|l| l.trim_start().starts_with("pseudonym"))
    {
        return Err(Error::Invalid(format!(
            "{}: no pseudonym after the first authentication",
            state.display()
        )));
    }
    let mut out = String::new();
    let mut in_reauth = false;
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') {
            in_reauth = t == "[reauth]";
        }
        if !in_reauth {
            out.push_str(l);
            out.push('\n');
        }
    }
    std::fs::write(state, out).map_err(io)
}

/// `aaa-server hlr-gw` on a fresh store and hostapd as RADIUS/EAP server using it.
pub(crate) fn start_hostapd_eap_with_hlr_gw(bed: &mut Bed, row: Row, aaa: &Path) -> Result<()> {
    let db = provision_aaa(bed, row, aaa)?;
    let sock = bed.dir.join("hlr-gw.sock");
    let spec = Spec::new("aaa-server-hlr-gw", aaa)
        .netns(bed.net.aaa.name())
        .args(["hlr-gw", "--db"])
        .arg(&db)
        .arg("--socket")
        .arg(&sock)
        .env("RUST_LOG", "debug");
    bed.start(&spec, &Probe::PathExists(sock.clone()))?;
    bed.start_hostapd_radius_users(&reference_users(row), Some(&sock))
}

/// `supplicant sim create` → the simulator file.
pub(crate) fn create_usim(bed: &Bed, sim: &Subscriber, sup: &Path) -> Result<PathBuf> {
    let file = bed.dir.join("usim.toml");
    let spec = Spec::new("supplicant-sim-create", sup)
        .args(["sim", "create", "--out"])
        .arg(&file)
        .args([
            "--imsi",
            &sim.imsi,
            "--k",
            &sim.k,
            "--opc",
            &sim.opc,
            "--amf",
            &sim.amf,
            "--sqn",
            &sim.sqn,
            "--mnc-len",
            &sim.mnc_len.to_string(),
        ]);
    let (st, out) = bed.run(&spec, Duration::from_secs(10))?;
    if !st.success() {
        return Err(Error::Command {
            cmd: spec.command_line(),
            detail: out,
        });
    }
    Ok(file)
}

/// pcscd (isolated: own mount namespace with a private /run/pcscd) with the
/// vpcd driver, and `supplicant sim serve-vpcd`, in the station namespace.
/// Returns the pcscd socket for `PCSCLITE_CSOCK_NAME`.
pub(crate) fn start_pcsc(bed: &mut Bed, sim: &Subscriber, sup: &Path) -> Result<PathBuf> {
    start_pcsc_in(bed, sim, sup, false)
}

fn start_pcsc_in(bed: &mut Bed, sim: &Subscriber, sup: &Path, in_aaa: bool) -> Result<PathBuf> {
    let ns = if in_aaa {
        bed.net.aaa.name().to_owned()
    } else {
        bed.net.sta.name().to_owned()
    };
    let usim = bed.dir.join("usim.toml");
    if !usim.exists() {
        create_usim(bed, sim, sup)?;
    }
    let run_dir = bed.dir.subdir("pcscd-run")?;
    let conf_dir = bed.dir.subdir("pcscd-conf")?;
    std::fs::write(
        conf_dir.join("vpcd.conf"),
        scenario::pcscd_reader_conf(&tools::vpcd_driver()?),
    )
    .map_err(|e| Error::Io {
        context: "writing reader.conf".into(),
        source: e,
    })?;
    let pcscd = tools::find("pcscd")?;
    let script = format!(
        "mkdir -p /run/pcscd && mount --bind {run} /run/pcscd && exec {pcscd} -f -d -c {conf}",
        run = run_dir.display(),
        pcscd = pcscd.display(),
        conf = conf_dir.join("vpcd.conf").display()
    );
    let spec = Spec::new("pcscd", tools::find("unshare")?)
        .netns(&ns)
        .args(["-m", "sh", "-c", &script]);
    bed.start(&spec, &Probe::TcpListen(scenario::VPCD_PORT))?;
    let vspec = Spec::new("serve-vpcd", sup)
        .netns(&ns)
        .args(["sim", "serve-vpcd", "--sim"])
        .arg(&usim)
        .args(["--port", &scenario::VPCD_PORT.to_string()])
        .env("RUST_LOG", "debug");
    let sock = run_dir.join("pcscd.comm");
    bed.start(&vspec, &Probe::PathExists(sock.clone()))?;
    // The card appears in pcscd about 0.5 s after the bridge connects.
    let pcscd_log = bed.dir.join("pcscd.log");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(&pcscd_log).unwrap_or_default();
        if log.contains("Card ATR") {
            return Ok(sock);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::NotReady {
        name: "pcscd".into(),
        what: "no card ATR within 5 s".into(),
        log: pcscd_log,
    })
}
