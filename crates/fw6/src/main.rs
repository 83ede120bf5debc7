//! `fw6`: the command-line tool of the fw6 firewall. See docs/cli.md for commands, the JSON
//! schema, file formats and exit codes.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

use cli::args::{Cli, Command};
use cli::exit::{self, Failure};
use cli::output::Out;
use cli::session::Session;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(&err),
    };
    let out = Out { json: cli.json };
    if let Command::Generate { what } = &cli.command {
        return match cli::generate::generate(what) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fw6: cannot generate: {e}");
                ExitCode::from(exit::OTHER)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fw6: cannot start the runtime: {e}");
            return ExitCode::from(exit::OTHER);
        }
    };
    let session = Session::new(cli.bus);
    if let Command::Run(args) = cli.command {
        // The command's exit status is fw6's.
        return match runtime.block_on(cli::hold::run(&session, args, out)) {
            Ok(status) => ExitCode::from(status),
            Err(failure) => failure.report(out.json),
        };
    }
    match runtime.block_on(cli::run::run(&session, cli.command, out)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => failure.report(out.json),
    }
}

/// A command line clap refused (exit 2), or `--help`/`--version` (exit 0). With `--json`
/// anywhere on the line, the refusal is a JSON error like any other.
fn usage(err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--json") {
        let msg = err.render().to_string();
        let first = msg
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        return Failure::Usage(format!("{first}: see `fw6 --help`")).report(true);
    }
    let _ = err.print();
    ExitCode::from(exit::USAGE)
}
