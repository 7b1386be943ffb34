//! The `supplicant` command line (clap). Exit codes: 0 success, 1
//! authentication failure or timeout, 2 usage or configuration error.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use eap::secret::{K, Opc, SecretBytes};
use eap::umts::{Amf, Sqn};
use std::path::PathBuf;
use supplicant::usim::sim::file::{SimFile, SimSpec};
use supplicant::usim::sim::{AdfPinTemplate, CardQuirks, DisabledPinVerify};
use supplicant::usim::spec::SimSource;
use supplicant::usim::{Usim, vpcd};
use zeroize::Zeroize;

pub use supplicant::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(Parser, Debug)]
#[command(
    name = "supplicant",
    version,
    about = "EAP-AKA/AKA'/SIM supplicant with a USIM (or 2G SIM) over PC/SC or a simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One authentication over wired 802.1X.
    Auth(AuthArgs),
    /// USIM tools: create a simulator, serve it to pcscd, read a card.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Wi-Fi (or wired 802.1X) through wpa_supplicant: Passpoint cred + external SIM.
    Wifi(crate::wifi::WifiArgs),
    /// One EAP-AKA/AKA' authentication against a RADIUS server, as NAS and
    /// peer with a simulated USIM (K/OPc given): each step printed, keys checked.
    Probe(crate::probe::ProbeArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Writes generated text to standard output; a closed pipe is not an error.
fn print_bytes(bytes: &[u8]) -> i32 {
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    match so.write_all(bytes).and_then(|()| so.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("supplicant: standard output: {e}");
            EXIT_FAILURE
        }
    }
}

/// EAP method.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// EAP-AKA (RFC 4187).
    Aka,
    /// EAP-AKA' (RFC 9048).
    AkaPrime,
    /// EAP-SIM (RFC 4186): GSM authentication on the card.
    Sim,
}

#[derive(clap::Args, Debug)]
struct AuthArgs {
    /// Network interface facing the authenticator.
    #[arg(long)]
    iface: String,
    /// The Passpoint/credential profile.
    #[arg(long)]
    profile: PathBuf,
    /// The USIM: soft:<file>, pcsc, pcsc:<reader name>.
    #[arg(long)]
    sim: SimSource,
    /// EAP method (default: the profile's).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// PIN1 of the card.
    #[arg(long, conflicts_with = "pin_file")]
    pin: Option<String>,
    /// File holding PIN1.
    #[arg(long)]
    pin_file: Option<PathBuf>,
    /// Overall timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Machine-readable outcome.
    #[arg(long)]
    json: bool,
    /// Pseudonym / fast re-authentication state file (default: the profile's `privacy_state`).
    #[arg(long)]
    state: Option<PathBuf>,
    /// IMSI privacy: operator certificate (PEM) (default: the profile's `imsi_privacy_cert`).
    #[arg(long)]
    imsi_privacy_cert: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Write a simulator file (mode 0600).
    Create {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// IMSI (6–15 digits).
        #[arg(long)]
        imsi: String,
        /// K, 32 hex digits.
        #[arg(long)]
        k: String,
        /// OPc, 32 hex digits.
        #[arg(long)]
        opc: String,
        /// AMF, 4 hex digits.
        #[arg(long, default_value = "8000")]
        amf: String,
        /// Starting SQN, 12 hex digits: the highest SQN the card treats as used.
        #[arg(long, default_value = "000000000000")]
        sqn: String,
        /// MNC length written into EF_AD.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
        mnc_len: u8,
        /// Enable PIN1 with this PIN (4–8 digits).
        #[arg(long)]
        pin: Option<String>,
        /// What a status VERIFY (no data) answers while PIN1 is disabled:
        /// 9000, or 63cx (the retry counter, as many real UICCs answer).
        #[arg(long, default_value = "9000", value_parser = ["9000", "63cx"])]
        disabled_pin_verify: String,
        /// Leave the PIN status template out of the ADF's FCP (the MF's keeps it).
        #[arg(long)]
        no_adf_pin_template: bool,
        /// A 2G SIM (TS 51.011: class A0, DF_GSM, RUN GSM ALGORITHM) instead
        /// of a USIM: EAP-SIM only.
        #[arg(long)]
        gsm_sim: bool,
    },
    /// Expose a simulator to pcscd through vsmartcard's vpcd driver.
    ServeVpcd {
        /// The simulator file.
        #[arg(long)]
        sim: PathBuf,
        /// vpcd's address.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// vpcd's port.
        #[arg(long, default_value_t = vpcd::DEFAULT_PORT)]
        port: u16,
    },
    /// Read IMSI, MNC length, USIM AID and PIN status from a card.
    Info {
        /// The USIM: soft:<file>, pcsc, pcsc:<reader name>.
        #[arg(long)]
        sim: SimSource,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn hex_arg<const N: usize>(name: &str, s: &str) -> Result<[u8; N], String> {
    let mut v = hex::decode(s.trim())
        .map_err(|_| format!("--{name}: not hex; expected {} hex digits", 2 * N))?;
    let r = <[u8; N]>::try_from(v.as_slice())
        .map_err(|_| format!("--{name}: must be {} hex digits", 2 * N));
    v.zeroize();
    r
}

/// Runs the CLI; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match cli.command {
        Command::Sim(cmd) => sim(cmd),
        Command::Wifi(args) => crate::wifi::main(args),
        Command::Probe(args) => crate::probe::main(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "supplicant", &mut script);
            print_bytes(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => print_bytes(&page),
                Err(e) => {
                    eprintln!("supplicant man: {e}");
                    EXIT_FAILURE
                }
            }
        }
        Command::Auth(args) => crate::run::auth(crate::run::AuthOptions {
            iface: args.iface,
            profile: args.profile,
            sim: args.sim,
            method: args.method,
            pin: args.pin.map(|p| SecretBytes::from(p.as_str())),
            pin_file: args.pin_file,
            timeout: std::time::Duration::from_secs(args.timeout.max(1)),
            json: args.json,
            state: args.state,
            imsi_privacy_cert: args.imsi_privacy_cert,
        }),
    }
}

fn sim(cmd: SimCommand) -> i32 {
    match cmd {
        SimCommand::Create {
            out,
            imsi,
            mut k,
            mut opc,
            amf,
            sqn,
            mnc_len,
            pin,
            disabled_pin_verify,
            no_adf_pin_template,
            gsm_sim,
        } => {
            let spec = (|| {
                Ok::<_, String>(SimSpec {
                    imsi,
                    k: K::new(hex_arg("k", &k)?),
                    opc: Opc::new(hex_arg("opc", &opc)?),
                    amf: Amf(hex_arg("amf", &amf)?),
                    sqn: Sqn::from_bytes(hex_arg("sqn", &sqn)?),
                    mnc_len,
                    pin: pin.as_deref().map(SecretBytes::from),
                    quirks: CardQuirks {
                        disabled_pin_verify: DisabledPinVerify::from_name(&disabled_pin_verify)
                            .ok_or("--disabled-pin-verify: 9000 or 63cx")?,
                        adf_pin_template: if no_adf_pin_template {
                            AdfPinTemplate::Absent
                        } else {
                            AdfPinTemplate::Present
                        },
                        gsm_sim,
                    },
                })
            })();
            k.zeroize();
            opc.zeroize();
            let spec = match spec {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("supplicant sim create: {e}");
                    return EXIT_USAGE;
                }
            };
            match SimFile::create(&out, &spec) {
                Ok(_) => {
                    println!("wrote {} (mode 0600)", out.display());
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("{e}");
                    EXIT_USAGE
                }
            }
        }
        SimCommand::ServeVpcd { sim, host, port } => {
            let file = match SimFile::load(&sim) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e}");
                    return EXIT_USAGE;
                }
            };
            eprintln!("serving {} to vpcd at {host}:{port}", sim.display());
            let mut card = file.into_simulator();
            vpcd::serve(&mut card, &host, port)
        }
        SimCommand::Info { sim, json } => {
            let card = match sim.open() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("supplicant sim info: {e}");
                    return EXIT_USAGE;
                }
            };
            let mut usim = Usim::new(card);
            match usim.info() {
                Ok(info) => {
                    if json {
                        println!("{}", serde_json::to_string(&info).unwrap_or_default());
                    } else {
                        println!("IMSI:       {}", info.imsi);
                        println!(
                            "MNC length: {}",
                            info.mnc_len
                                .map_or("(not in EF_AD)".to_string(), |n| n.to_string())
                        );
                        println!("USIM AID:   {}", info.aid);
                        let pin = match (info.pin, info.pin1_enabled) {
                            (supplicant::usim::PinStatus::NotRequired, Some(false)) => {
                                "disabled".to_string()
                            }
                            (supplicant::usim::PinStatus::NotRequired, Some(true)) => {
                                "enabled, verified".to_string()
                            }
                            (supplicant::usim::PinStatus::NotRequired, None) => {
                                "not required (disabled or verified)".to_string()
                            }
                            (supplicant::usim::PinStatus::Required { tries_left }, _) => {
                                format!("enabled, {tries_left} tries left")
                            }
                            (supplicant::usim::PinStatus::Blocked, _) => {
                                "BLOCKED (needs the PUK)".to_string()
                            }
                        };
                        println!("PIN1:       {pin}");
                    }
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("supplicant sim info: {e}");
                    EXIT_FAILURE
                }
            }
        }
    }
}
