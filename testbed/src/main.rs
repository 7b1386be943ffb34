//! `testbed` — the demo, the interop matrix and the orchestration smoke test.
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use testbed::interop::{self, Column, Row};
use testbed::tools::BinDirs;

#[derive(Parser)]
#[command(
    name = "testbed",
    version,
    about = "passpoint-aka against the real tools, in network namespaces (run as root)"
)]
struct Cli {
    /// Where aaa-server and supplicant are (default: PASSPOINT_BIN_DIR, then
    /// the directory of this executable).
    #[arg(long, global = true)]
    bin_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One EAP-AKA' (or AKA) authentication through hostapd, with a transcript.
    Demo(testbed::demo::DemoArgs),
    /// The interop matrix.
    Interop {
        /// Only these rows (repeatable).
        #[arg(long = "row", value_enum)]
        rows: Vec<RowArg>,
        /// Only these columns (repeatable).
        #[arg(long = "column", value_enum)]
        columns: Vec<ColArg>,
        /// Write the cells as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write JUnit XML.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Keep each cell's pcap and logs in this directory.
        #[arg(long)]
        artifacts: Option<PathBuf>,
    },
    /// EAP-MD5 through hostapd: proves namespaces, processes, capture, teardown.
    Smoke,
    /// RADIUS load generator: many NAS + supplicant pairs (EAP-AKA/AKA').
    Loadgen(testbed::loadgen::LoadgenArgs),
    /// Benchmark: aaa-server vs hostapd (+ hlr-gw), concurrency sweep, JSON + SVG.
    Bench(testbed::bench::BenchArgs),
    /// Print the EAP/RADIUS transcript of a pcap (as the demo does).
    Transcript {
        /// The capture (classic pcap, as tcpdump writes).
        pcap: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Clone, Copy, ValueEnum)]
enum RowArg {
    Aka,
    AkaPrime,
    SqnResync,
    WrongK,
    UnknownSubscriber,
    AkaPrimePeerAkaOnlyServer,
    BiddingDownRefused,
    PcscVirtualCard,
    FastReauth,
    Pseudonym,
    ResultIndication,
    ImsiPrivacy,
    Sim,
    SimPcsc,
}

impl From<RowArg> for Row {
    fn from(r: RowArg) -> Row {
        match r {
            RowArg::Aka => Row::AkaFull,
            RowArg::AkaPrime => Row::AkaPrimeFull,
            RowArg::SqnResync => Row::SqnResync,
            RowArg::WrongK => Row::WrongK,
            RowArg::UnknownSubscriber => Row::UnknownSubscriber,
            RowArg::AkaPrimePeerAkaOnlyServer => Row::AkaPrimePeerAkaOnlyServer,
            RowArg::BiddingDownRefused => Row::BiddingDownRefused,
            RowArg::PcscVirtualCard => Row::PcscVirtualCard,
            RowArg::FastReauth => Row::FastReauth,
            RowArg::Pseudonym => Row::Pseudonym,
            RowArg::ResultIndication => Row::ResultIndication,
            RowArg::ImsiPrivacy => Row::ImsiPrivacy,
            RowArg::Sim => Row::SimFull,
            RowArg::SimPcsc => Row::SimPcsc,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ColArg {
    OursAaa,
    OursHostapdEap,
    WpasAaa,
    EapolTestAaa,
    Reference,
    /// eapol_test → aaa-server (proxy) → RadSec → aaa-server (home).
    Roaming,
}

impl From<ColArg> for Column {
    fn from(c: ColArg) -> Column {
        match c {
            ColArg::OursAaa => Column::OursAaa,
            ColArg::OursHostapdEap => Column::OursHostapdEap,
            ColArg::WpasAaa => Column::WpasAaa,
            ColArg::EapolTestAaa => Column::EapolTestAaa,
            ColArg::Reference => Column::Reference,
            ColArg::Roaming => Column::Roaming,
        }
    }
}

/// Prints `text`; a closed standard output (`testbed transcript x.pcap | head`)
/// is not an error: the command ends quietly.
fn out(text: &str) -> ExitCode {
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    match so.write_all(text.as_bytes()).and_then(|()| so.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testbed: standard output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let code = run();
    // A signal's teardown may still be running: let it finish and exit.
    testbed::cleanup::park_if_signalled();
    code
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "testbed", &mut script);
            return out(&String::from_utf8_lossy(&script));
        }
        Cmd::Man => {
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
                eprintln!("testbed man: {e}");
                return ExitCode::FAILURE;
            }
            return out(&String::from_utf8_lossy(&page));
        }
        _ => {}
    }
    if let Err(e) = testbed::cleanup::install_signal_handlers() {
        eprintln!("testbed: cannot install signal handlers: {e}");
        return ExitCode::from(2);
    }
    let bins = BinDirs::discover(cli.bin_dir.as_deref());
    match cli.cmd {
        Cmd::Demo(args) => testbed::demo::main(&args, &bins),
        Cmd::Loadgen(args) => testbed::loadgen::run(&args),
        Cmd::Bench(args) => testbed::bench::run(&args),
        Cmd::Completions { .. } | Cmd::Man => ExitCode::SUCCESS,
        Cmd::Transcript { pcap } => {
            use testbed::transcript::{MAX_PCAP, parse_pcap, read_capped, render};
            let parsed = read_capped(&pcap, MAX_PCAP)
                .map_err(|e| e.to_string())
                .and_then(|d| parse_pcap(&d).map_err(|e| format!("{}: {e}", pcap.display())));
            match parsed {
                Ok(ev) => out(&render(&ev)),
                Err(e) => {
                    eprintln!("testbed: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Smoke => {
            let problems = testbed::preflight::problems();
            if !problems.is_empty() {
                eprintln!("testbed: cannot run:\n  {}", problems.join("\n  "));
                return ExitCode::from(2);
            }
            match testbed::smoke::run_md5() {
                Ok(o) => {
                    println!(
                        "smoke: EAP-MD5 through hostapd: SUCCESS in {:.2}s ({} EAPOL, {} RADIUS frames, tshark clean)",
                        o.elapsed.as_secs_f64(),
                        o.capture.eapol,
                        o.capture.radius
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("testbed smoke: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Interop {
            rows,
            columns,
            json,
            junit,
            artifacts,
        } => {
            let problems = testbed::preflight::problems();
            if !problems.is_empty() {
                eprintln!("testbed: cannot run:\n  {}", problems.join("\n  "));
                return ExitCode::from(2);
            }
            let opts = interop::Options {
                bins,
                rows: rows.into_iter().map(Row::from).collect(),
                columns: columns.into_iter().map(Column::from).collect(),
                artifacts,
            };
            let t0 = std::time::Instant::now();
            let cells = interop::run(&opts, |c| {
                eprintln!(
                    "  {:<32} {:<42} {}",
                    c.row.id(),
                    c.column.id(),
                    match &c.verdict {
                        interop::Verdict::Pass(_) => format!("pass ({:.1}s)", c.seconds),
                        interop::Verdict::Fail(r) => format!("FAIL ({:.1}s): {r}", c.seconds),
                        interop::Verdict::NotApplicable(r) => format!("n/a: {r}"),
                    }
                );
            });
            out(&format!(
                "\n{}\nmatrix time: {:.1}s\n",
                interop::table(&cells),
                t0.elapsed().as_secs_f64()
            ));
            if let Some(p) = json {
                let text = serde_json::to_string_pretty(&cells).unwrap_or_default();
                if let Err(e) = std::fs::write(&p, text) {
                    eprintln!("testbed: {}: {e}", p.display());
                    return ExitCode::from(2);
                }
            }
            if let Some(p) = junit
                && let Err(e) = std::fs::write(&p, interop::junit(&cells))
            {
                eprintln!("testbed: {}: {e}", p.display());
                return ExitCode::from(2);
            }
            if interop::any_failed(&cells) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
