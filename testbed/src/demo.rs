//! `testbed demo`: one EAP-AKA' (or AKA) authentication of our supplicant,
//! through hostapd as the wired authenticator, against our aaa-server, with
//! the USIM simulator seen through pcscd as a virtual card; then a readable
//! transcript from the capture.

use crate::bed::{Bed, RADIUS_PORT};
use crate::error::{Error, Result};
use crate::interop::{self, Row};
use crate::netns::{addr, iface};
use crate::process::Spec;
use crate::scenario::{self, Method};
use crate::tools::{self, BinDirs};
use crate::transcript;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// EAP method of the demo.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum MethodArg {
    /// EAP-AKA (RFC 4187).
    Aka,
    /// EAP-AKA' (RFC 9048).
    AkaPrime,
}

/// Where the USIM lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SimArg {
    /// The simulator file, read in-process by the supplicant.
    Soft,
    /// The simulator behind pcscd + vpcd, read through PC/SC.
    Pcsc,
}

/// The EAP server behind hostapd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerArg {
    /// Our `aaa-server serve`.
    Aaa,
    /// hostapd's own RADIUS/EAP server, with `aaa-server hlr-gw` as its HSS.
    Hostapd,
}

/// Options of `testbed demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// EAP method.
    #[arg(long, value_enum, default_value = "aka-prime")]
    pub method: MethodArg,
    /// USIM access.
    #[arg(long, value_enum, default_value = "pcsc")]
    pub sim: SimArg,
    /// The EAP server: ours, or hostapd's (HSS = our hlr-gw).
    #[arg(long, value_enum, default_value = "aaa")]
    pub server: ServerArg,
    /// Leave everything running (until Ctrl-C) and print how to enter each namespace.
    #[arg(long)]
    pub keep: bool,
    /// Where to copy the capture.
    #[arg(long, default_value = "/tmp/passpoint-aka-demo.pcap")]
    pub pcap: PathBuf,
    /// Do not install missing Debian packages.
    #[arg(long)]
    pub no_install: bool,
}

/// Installs the missing Debian packages (as root, idempotent); without root,
/// says what is needed.
pub fn ensure_packages() -> Result<()> {
    let missing: Vec<&str> = tools::DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            std::process::Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| !String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !tools::is_root() {
        return Err(Error::Invalid(format!(
            "missing Debian packages: {m}; run as root, or: sudo apt-get install {m}",
            m = missing.join(" ")
        )));
    }
    eprintln!("installing: {}", missing.join(" "));
    let ok = std::process::Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "apt-get install {} failed",
            missing.join(" ")
        )))
    }
}

/// Runs the demo; prints the transcript; the exit code.
pub fn main(args: &DemoArgs, bins: &BinDirs) -> ExitCode {
    match run(args, bins) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("testbed demo: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &DemoArgs, bins: &BinDirs) -> Result<bool> {
    if !args.no_install {
        ensure_packages()?;
    }
    let problems = crate::preflight::problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(format!(
            "cannot run:\n  {}",
            problems.join("\n  ")
        )));
    }
    let sup = bins.find("supplicant")?;
    let aaa = bins.find("aaa-server")?;
    let (method, row) = match args.method {
        MethodArg::Aka => (Method::Aka, Row::AkaFull),
        MethodArg::AkaPrime => (Method::AkaPrime, Row::AkaPrimeFull),
    };
    let sim = row.sim_subscriber();
    let t0 = Instant::now();
    let mut bed = Bed::new("demo")?;
    match args.server {
        ServerArg::Aaa => interop::start_aaa_server(
            &mut bed,
            row,
            &aaa,
            &format!("{}:{RADIUS_PORT}", addr::AAA),
            &[addr::NETWORK],
        )?,
        ServerArg::Hostapd => interop::start_hostapd_eap_with_hlr_gw(&mut bed, row, &aaa)?,
    }
    bed.start_hostapd_wired()?;
    let usim = interop::create_usim(&bed, &sim, &sup)?;
    let profile = bed
        .dir
        .write("profile.toml", &scenario::supplicant_profile(&sim, method))?;
    let mut spec = Spec::new("supplicant", &sup)
        .netns(bed.net.sta.name())
        .args(["auth", "--iface", iface::STA, "--profile"])
        .arg(&profile)
        .args(["--method", method.cli_name(), "--timeout", "8"])
        .env("RUST_LOG", "info");
    if args.sim == SimArg::Pcsc {
        let sock = interop::start_pcsc(&mut bed, &sim, &sup)?;
        spec = spec
            .args(["--sim", "pcsc"])
            .env("PCSCLITE_CSOCK_NAME", &sock);
    } else {
        spec = spec.arg("--sim").arg(format!("soft:{}", usim.display()));
    }
    let setup = t0.elapsed();
    let t_auth = Instant::now();
    let (st, out) = bed.run(&spec, Duration::from_secs(12))?;
    let auth_time = t_auth.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    let data = std::fs::read(bed.pcap()).unwrap_or_default();
    let events = transcript::parse_pcap(&data).map_err(|e| Error::Invalid(e.to_string()))?;

    println!(
        "== passpoint-aka demo: {} with the USIM {} ==",
        method.wpa_name(),
        if args.sim == SimArg::Pcsc {
            "behind pcscd (virtual card via vpcd)"
        } else {
            "simulator (in-process)"
        }
    );
    println!(
        "namespaces {0}-sta / {0}-ap / {0}-aaa; identity {1}; EAP server: {2}\n",
        bed.run_id(),
        sim.permanent_nai(method),
        match args.server {
            ServerArg::Aaa => "aaa-server",
            ServerArg::Hostapd => "hostapd (HSS: aaa-server hlr-gw)",
        }
    );
    print!("{}", transcript::render(&events));
    println!("\nsupplicant says:");
    for l in out
        .lines()
        .filter(|l| !l.contains(" DEBUG ") && !l.trim().is_empty())
        .take(12)
    {
        println!("  {l}");
    }
    let ok = st.success();
    println!(
        "\noutcome: {} — method {}, {} RADIUS round trips, EAP exchange {:.1} ms on the wire (supplicant process {:.0} ms; setup {:.2} s, total {:.2} s)",
        if ok { "SUCCESS" } else { "FAILURE" },
        method.wpa_name(),
        transcript::radius_round_trips(&events),
        exchange_ms(&events),
        auth_time.as_secs_f64() * 1e3,
        setup.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    if args.keep {
        let kept = bed.dir.path().to_owned();
        println!("\nkept running (Ctrl-C tears everything down). Enter a namespace:");
        for ns in [bed.net.sta.name(), bed.net.ap.name(), bed.net.aaa.name()] {
            println!("  ip netns exec {ns} bash");
        }
        println!("configs and logs (removed at Ctrl-C): {}", kept.display());
        println!("live capture: {}", bed.pcap().display());
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let (pcap, report) = bed.finish_capture()?;
    std::fs::copy(&pcap, &args.pcap).map_err(|e| Error::Io {
        context: format!("copying the capture to {}", args.pcap.display()),
        source: e,
    })?;
    println!(
        "capture: {} ({} EAPOL, {} RADIUS frames; tshark: no malformed frames, no expert errors)",
        args.pcap.display(),
        report.eapol,
        report.radius
    );
    if !ok {
        let kept = bed.dir.keep();
        println!("logs kept in {}", kept.display());
    }
    Ok(ok)
}

/// From the first EAPOL frame to the EAP-Success/Failure, in milliseconds.
fn exchange_ms(events: &[transcript::Event]) -> f64 {
    let end = events.iter().find_map(|e| match e {
        transcript::Event::Eap { t, eap } if matches!(eap.first(), Some(3 | 4)) => Some(*t),
        _ => None,
    });
    end.unwrap_or(0.0) * 1e3
}
