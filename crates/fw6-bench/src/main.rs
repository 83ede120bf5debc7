//! `fw6-bench`: fw6's benchmarks. Each prints its figure, the comparison measured in the same
//! run, and the ratio; `BENCHMARKS.md` has the results and the exact commands.
//!
//! Everything runs inside network namespaces this program creates and removes (a host with
//! `lan0`/`wan0` veth links to two peer namespaces, or a scratch namespace for `nft`), with a
//! private dbus-daemon; nothing touches the machine's own network namespace. Every loop is
//! bounded in count and in time. Needs root, and `fw6d` and `fw6` built next to this program
//! (`cargo build --release -p fw6d -p fw6 -p fw6-bench -p fw6-capi`) or in `--bin-dir`.
//!
//! `--smoke` runs every benchmark with tiny sizes and short durations so that CI proves they
//! still work; its figures mean nothing and its targets are not checked.

mod ablation;
mod api;
mod batch;
mod clients;
mod dataplane;
mod flood;
mod hostile;
mod lab;
mod nftproc;
mod phases;
mod report;
mod startup;
mod traffic;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::report::Report;

/// fw6 benchmarks: control plane, data plane, start-up, memory and enumeration.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Tiny sizes and short runs: proves every benchmark works (CI); figures are meaningless.
    #[arg(long)]
    smoke: bool,
    /// Directory with the `fw6d` and `fw6` binaries (default: this program's directory).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Data plane: seconds per measurement (default 1, smoke 0.2).
    #[arg(long)]
    seconds: Option<f64>,
    /// Data plane: repeats per measurement, the median is reported (default 7, smoke 1).
    ///
    /// Seven, not five: on a noisy VM a 5-round median was seen to land in either of two modes.
    #[arg(long)]
    repeats: Option<usize>,
    /// Data plane: upper bound on loading the one-rule-per-pair ruleset, seconds.
    #[arg(long, default_value_t = 300)]
    rules_load_limit: u64,
    /// Which benchmarks to run (default: all).
    #[arg(value_enum)]
    which: Vec<Which>,
    /// Internal: run as one hostile caller of `hostile` (this program runs itself as nobody).
    #[arg(long, value_enum, hide = true)]
    flood: Option<flood::Kind>,
    /// Internal: the hostile caller's bus address.
    #[arg(long, hide = true, default_value = "")]
    flood_address: String,
    /// Internal: how long the hostile caller runs, seconds.
    #[arg(long, hide = true, default_value_t = 1.0)]
    flood_seconds: f64,
    /// Internal: the hostile caller's size (batch items or connections).
    #[arg(long, hide = true, default_value_t = 1)]
    flood_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// 1. OpenPort over D-Bus vs one `nft add element` process, with 0/10k/100k stored.
    Api,
    /// 1c. One call from the Rust, C (libfw6) and Python clients against the same daemon.
    Clients,
    /// 2. 10,000 opens in one Apply vs one `nft -f` file.
    Batch,
    /// 3. UDP packets/s and TCP connections/s, open and closed port, per ruleset layout.
    Dataplane,
    /// 3b. UDP open: the cost of each rule of fw6's chain before the open lookup.
    Ablation,
    /// 4 and 5. Start-up with 100,000 entries, daemon RSS, and `fw6 port list --json`.
    Startup,
    /// 6. Hostile callers: a scoped big batch from nobody, and root's calls under a flood.
    Hostile,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
pub(crate) struct Scale {
    pub(crate) smoke: bool,
    pub(crate) api_sizes: Vec<usize>,
    pub(crate) api_calls: usize,
    pub(crate) nft_calls: usize,
    pub(crate) client_calls: usize,
    pub(crate) client_rounds: usize,
    pub(crate) batch: usize,
    pub(crate) batch_repeats: usize,
    pub(crate) dp_sizes: Vec<usize>,
    pub(crate) dp_seconds: f64,
    pub(crate) dp_repeats: usize,
    pub(crate) rules_load_limit: u64,
    pub(crate) startup_entries: usize,
    pub(crate) startup_repeats: usize,
    pub(crate) hostile_batch: usize,
    pub(crate) hostile_repeats: usize,
    pub(crate) hostile_seconds: f64,
    pub(crate) hostile_max_batch: usize,
    pub(crate) hostile_holders: usize,
    pub(crate) hostile_set_bytes: usize,
}

impl Scale {
    fn new(args: &Args) -> Self {
        let full = !args.smoke;
        Self {
            smoke: args.smoke,
            api_sizes: if full {
                vec![0, 10_000, 100_000]
            } else {
                vec![0, 10, 100]
            },
            api_calls: if full { 2000 } else { 20 },
            nft_calls: if full { 300 } else { 5 },
            client_calls: if full { 400 } else { 10 },
            client_rounds: if full { 6 } else { 1 },
            batch: if full { 10_000 } else { 100 },
            batch_repeats: if full { 7 } else { 2 },
            dp_sizes: if full {
                vec![1, 10_000, 131_070]
            } else {
                vec![1, 10, 100]
            },
            dp_seconds: args.seconds.unwrap_or(if full { 1.0 } else { 0.2 }),
            dp_repeats: args.repeats.unwrap_or(if full { 7 } else { 1 }),
            rules_load_limit: args.rules_load_limit,
            startup_entries: if full { 100_000 } else { 100 },
            startup_repeats: if full { 7 } else { 2 },
            hostile_batch: if full {
                10_000
            } else {
                std::env::var("FW6_BENCH_HOSTILE_BATCH")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100)
            },
            hostile_repeats: if full { 3 } else { 1 },
            hostile_seconds: if full { 10.0 } else { 2.0 },
            // fw6d's default max_batch: the flood sends batches at it and one over it.
            hostile_max_batch: 100_000,
            hostile_holders: if full { 1000 } else { 20 },
            hostile_set_bytes: if full { 1 << 20 } else { 64 << 10 },
        }
    }
}

/// Where `fw6d` and `fw6` are, and the directory they are in (libfw6 is built there too).
#[derive(Debug, Clone)]
pub(crate) struct Bins {
    pub(crate) dir: PathBuf,
    pub(crate) fw6d: PathBuf,
    pub(crate) fw6: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.flood {
        let orders = flood::Orders {
            kind,
            address: args.flood_address.clone(),
            seconds: args.flood_seconds,
            size: args.flood_size,
        };
        return match flood::run(&orders) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fw6-bench --flood {kind:?}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    fw6_testkit::require_root("the benchmarks (network namespaces, nftables, a private bus)");
    // Interrupted, it still removes its namespaces and stops its daemons.
    fw6_testkit::clean_up_on_signal();
    let dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_default(),
    };
    let bins = Bins {
        fw6d: dir.join("fw6d"),
        fw6: dir.join("fw6"),
        dir,
    };
    for bin in [&bins.fw6d, &bins.fw6] {
        if !bin.is_file() {
            eprintln!(
                "fw6-bench: {} not found: build it (cargo build --release -p fw6d -p fw6) or pass --bin-dir",
                bin.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let scale = Scale::new(&args);
    let which = if args.which.is_empty() {
        vec![
            Which::Api,
            Which::Clients,
            Which::Batch,
            Which::Dataplane,
            Which::Ablation,
            Which::Startup,
            Which::Hostile,
        ]
    } else {
        args.which.clone()
    };
    let mut report = Report::new(scale.smoke);
    for w in which {
        let result = match w {
            Which::Api => api::run(&scale, &bins, &mut report),
            Which::Clients => clients::run(&scale, &bins, &mut report),
            Which::Batch => batch::run(&scale, &bins, &mut report),
            Which::Dataplane => dataplane::run(&scale, &mut report),
            Which::Ablation => ablation::run(&scale),
            Which::Startup => startup::run(&scale, &bins, &mut report),
            Which::Hostile => hostile::run(&scale, &bins, &mut report),
        };
        if let Err(e) = result {
            eprintln!("fw6-bench: {w:?} failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    report.print_summary();
    ExitCode::SUCCESS
}
