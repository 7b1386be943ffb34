//! `supplicant wifi`: the command line of [`supplicant::wifi`].

use crate::cli::MethodArg;
use eap::secret::SecretBytes;
use std::path::PathBuf;
use std::time::Duration;
use supplicant::EXIT_USAGE;
use supplicant::usim::spec::SimSource;
use supplicant::wifi::profile::NetworkTarget;
use supplicant::wifi::profile::WifiMethod;
use supplicant::wifi::{WifiOptions, run};

/// `supplicant wifi` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct WifiArgs {
    /// wpa_supplicant's control socket, its control directory, or the
    /// `DIR=<dir> GROUP=<group>` value of its ctrl_interface setting.
    #[arg(long, default_value = "/var/run/wpa_supplicant")]
    pub ctrl: String,
    /// Interface whose socket to use when --ctrl is a directory holding several.
    #[arg(long)]
    pub iface: Option<String>,
    /// Where our own client socket is bound; wpa_supplicant must be able to
    /// reach it (no PrivateTmp between the two).
    #[arg(long, default_value = "/tmp")]
    pub client_dir: PathBuf,
    /// The Passpoint profile (PPS MO, x-wifi-config, wpa_supplicant cred,
    /// TOML). Optional with --network.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// The USIM: soft:<file>, pcsc, pcsc:<reader name>.
    #[arg(long)]
    pub sim: SimSource,
    /// PIN1 of the card.
    #[arg(long, conflicts_with = "pin_file")]
    pub pin: Option<String>,
    /// File holding PIN1.
    #[arg(long)]
    pub pin_file: Option<PathBuf>,
    /// Add a plain 802.1X network block instead of a Passpoint cred: an SSID
    /// (WPA-EAP), or `any` (IEEE8021X, no SSID: wired 802.1X with -Dwired).
    #[arg(long)]
    pub network: Option<NetworkTarget>,
    /// EAP method (default: the profile's, else AKA').
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// cred `sim_num` (which SIM on a multi-SIM device).
    #[arg(long, default_value_t = 1)]
    pub sim_num: u32,
    /// Do not run `INTERWORKING_SELECT auto` after adding the cred.
    #[arg(long)]
    pub no_select: bool,
    /// Also set `auto_interworking 1` while running (restored on exit).
    #[arg(long)]
    pub auto_interworking: bool,
    /// Exit after the first success (0) or failure (1).
    #[arg(long)]
    pub once: bool,
    /// Give up after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

fn read_pin(args: &WifiArgs) -> Result<Option<SecretBytes>, String> {
    match (&args.pin, &args.pin_file) {
        (Some(p), _) => Ok(Some(SecretBytes::from(p.as_str()))),
        (None, Some(f)) => supplicant::input::read_pin_file(f)
            .map(Some)
            .map_err(|e| e.to_string()),
        (None, None) => Ok(None),
    }
}

impl TryFrom<&WifiArgs> for WifiOptions {
    type Error = String;
    fn try_from(a: &WifiArgs) -> Result<WifiOptions, String> {
        Ok(WifiOptions {
            ctrl: a.ctrl.clone(),
            iface: a.iface.clone(),
            client_dir: a.client_dir.clone(),
            profile: a.profile.clone(),
            sim: a.sim.clone(),
            pin: read_pin(a)?,
            network: a.network.clone(),
            method: match a.method {
                None => None,
                Some(MethodArg::Aka) => Some(WifiMethod::Aka),
                Some(MethodArg::AkaPrime) => Some(WifiMethod::AkaPrime),
                Some(MethodArg::Sim) => Some(WifiMethod::Sim),
            },
            sim_num: a.sim_num,
            select: !a.no_select,
            auto_interworking: a.auto_interworking,
            once: a.once,
            timeout: a.timeout.map(|s| Duration::from_secs(s.max(1))),
        })
    }
}

/// The `wifi` subcommand: returns the exit code (0 success or stopped, 1
/// failure/timeout/wpa_supplicant gone, 2 usage, SIM or wpa_supplicant setup
/// errors).
pub fn main(args: WifiArgs) -> i32 {
    let opts = match WifiOptions::try_from(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("supplicant wifi: {e}");
            return EXIT_USAGE;
        }
    };
    match run(&opts, args.json) {
        Ok(o) => o.exit_code(),
        Err(e) => {
            eprintln!("supplicant wifi: {e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The subcommand as the CLI wires it.
    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Cmd {
        Wifi(WifiArgs),
    }

    fn parse(args: &[&str]) -> Result<WifiOptions, String> {
        let cli = Cli::try_parse_from(["supplicant", "wifi"].iter().chain(args))
            .map_err(|e| e.to_string())?;
        let Cmd::Wifi(a) = cli.cmd;
        WifiOptions::try_from(&a)
    }

    #[test]
    fn arguments() {
        let o = parse(&["--sim", "pcsc", "--profile", "p.xml"]).unwrap();
        assert_eq!(o.ctrl, "/var/run/wpa_supplicant");
        assert_eq!(o.sim, SimSource::Pcsc(None));
        assert!(o.select && !o.once && o.network.is_none());
        assert_eq!(o.sim_num, 1);
        let o = parse(&[
            "--ctrl",
            "/run/w/eth0",
            "--sim",
            "soft:u.toml",
            "--network",
            "any",
            "--method",
            "aka",
            "--once",
            "--timeout",
            "30",
            "--no-select",
            "--sim-num",
            "2",
        ])
        .unwrap();
        assert_eq!(o.network, Some(NetworkTarget::Any));
        assert_eq!(o.method, Some(WifiMethod::Aka));
        assert_eq!(o.timeout, Some(Duration::from_secs(30)));
        assert!(o.once && !o.select);
        assert_eq!(o.sim_num, 2);
        let o = parse(&["--sim", "pcsc", "--network", "any", "--method", "sim"]).unwrap();
        assert_eq!(o.method, Some(WifiMethod::Sim));
        assert!(parse(&["--sim", "floppy"]).is_err());
        assert!(parse(&["--sim", "pcsc", "--network", ""]).is_err());
        assert!(parse(&["--sim", "pcsc", "--pin", "1234", "--pin-file", "f"]).is_err());
        let e = parse(&["--sim", "pcsc", "--pin-file", "/nonexistent/pin"]).unwrap_err();
        assert!(e.starts_with("/nonexistent/pin:0:"), "{e}");
    }
}
