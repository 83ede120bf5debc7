//! `fw6d`: the fw6 daemon. See `docs/architecture.md`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fw6d::config::{Config, DEFAULT_CONFIG_PATH};

/// The fw6 IPv6 firewall daemon: serves `org.fw6.Firewall1` and enforces it with nftables.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file.
    #[arg(long, env = "FW6_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// D-Bus address to serve on instead of the system bus (tests, the sandbox lab).
    #[arg(long, env = "FW6_BUS_ADDRESS")]
    bus_address: Option<String>,
    /// Directory of the store instead of the configured one.
    #[arg(long, env = "FW6_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Log filter (tracing syntax), e.g. `info` or `fw6d=debug`.
    #[arg(long, env = "FW6_LOG", default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    fw6d::heap::without_thread_caches();
    fw6d::heap::configure();
    // Whatever started fw6d (systemd's `UMask=` or a shell's 022), what it creates is its own:
    // the store holds the audit of every change (who, which program), not for other users.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args = Args::parse();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never escape codes in a journal or a file.
        .with_ansi(std::io::stderr().is_terminal());
    // Under systemd, stderr goes to the journal (JOURNAL_STREAM is set), which stamps every
    // line itself: a second timestamp would only clutter `journalctl -u fw6d`.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        subscriber.without_time().init();
    } else {
        subscriber.init();
    }
    let must_exist = args.config.as_os_str() != DEFAULT_CONFIG_PATH;
    let mut config = match Config::load(&args.config, must_exist) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("fw6d: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(address) = args.bus_address {
        config.bus_address = Some(address);
    }
    if let Some(dir) = args.state_dir {
        config.state_dir = dir;
    }
    // Two worker threads: zbus runs every method call as its own task, so a call that is slow to
    // decode (a caller's batch at max_batch) no longer holds up the calls behind it, root's
    // included. Netlink sockets belong to the process's network namespace, which fw6d never
    // leaves, and the writer and the log readers have threads of their own.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fw6d-rt")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fw6d: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fw6d::daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("fw6d: {e}");
            ExitCode::FAILURE
        }
    }
}
