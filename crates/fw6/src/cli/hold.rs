//! `fw6 run --open PAIR… [--on CONN] -- COMMAND`: pairs open while a command runs, in the shape
//! of `systemd-inhibit` and `flock`. The pairs are opened through a [`fw6::Binding`] (a bus
//! connection of this process's own, docs/dbus-api.md "Leases"), so they close when the command
//! exits, when fw6 is interrupted, and when fw6 itself dies — fw6d closes them when the bus
//! says the connection left. The command's exit status (128 + N for a signal N) is fw6's, and
//! SIGTERM and SIGHUP sent to fw6 are passed on to it, and SIGINT and SIGQUIT too unless they
//! came from the terminal, which sent them to the command already.

use std::process::Stdio;

use fw6::{EntryName, ErrorKind};
use rustix::process::{Pid, Signal, kill_process};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use super::args::RunArgs;
use super::change;
use super::exit::Failure;
use super::output::Out;
use super::session::Session;

/// The signals passed on to the command.
const FORWARDED: [(SignalKind, Signal); 4] = [
    (SignalKind::interrupt(), Signal::INT),
    (SignalKind::terminate(), Signal::TERM),
    (SignalKind::hangup(), Signal::HUP),
    (SignalKind::quit(), Signal::QUIT),
];

/// Opens the pairs, runs the command, closes the pairs; the command's exit status.
pub async fn run(session: &Session, args: RunArgs, out: Out) -> Result<u8, Failure> {
    let mut keys = Vec::new();
    for arg in &args.open {
        keys.extend(change::pairs(arg)?.keys);
    }
    keys.sort_unstable();
    keys.dedup();
    let program = args.command.first().cloned().unwrap_or_default();
    let name = match &args.name {
        Some(given) => EntryName::try_from(given.as_str())
            .map_err(|e| fw6::Error::from(e).context("--name"))?,
        None => default_name(&program),
    };
    let manager = session.manager().await?;
    let connection = match &args.on {
        Some(conn) => Some(manager.connection(conn).await?),
        None => None,
    };
    // Signals are caught before anything is opened, so none can end fw6 between the opening
    // and the command's start without the pairs being closed.
    let mut signals = Vec::new();
    for (kind, to) in FORWARDED {
        let stream = signal(kind).map_err(|e| {
            fw6::Error::new(ErrorKind::Unexpected, format!("cannot catch signals: {e}"))
        })?;
        signals.push((stream, to));
    }
    let binding = manager.binding().await?;
    if let Err(e) = open_all(&binding, connection.as_ref(), &keys, &name).await {
        let _ = binding.close().await;
        return Err(e.into());
    }
    let on = args.on.as_deref().unwrap_or("every connection");
    if !out.json {
        eprintln!(
            "fw6: {} open on {on} while {program} runs",
            change::describe(&keys)
        );
    }
    let child = tokio::process::Command::new(&program)
        .args(&args.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            let _ = binding.close().await;
            return Err(fw6::Error::new(
                ErrorKind::InvalidArg,
                format!("cannot run {program:?}: {e}; nothing was left open"),
            )
            .into());
        }
    };
    let status = wait_forwarding(&mut child, &mut signals).await;
    let closed = binding.close().await;
    let code = match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            return Err(fw6::Error::new(
                ErrorKind::Unexpected,
                format!("cannot wait for {program:?}: {e}"),
            )
            .into());
        }
    };
    // The command's status is what a script wants; a slow close is only a warning (fw6d closes
    // the pairs when it sees the connection go, whatever this process does next).
    if let Err(e) = closed {
        eprintln!("fw6: warning: {e}");
    }
    if out.json {
        out.emit(
            &json!({ "command": args.command, "exit_status": code, "pairs": change::ranges_json(&keys), "connection": args.on }),
            String::new,
        );
    } else {
        eprintln!(
            "fw6: {program} exited ({code}); its openings of {} ended",
            change::describe(&keys)
        );
    }
    Ok(code)
}

/// The name of the pairs when `--name` is not given: `fw6 run PROGRAM`, the program's file name
/// made printable and cut to fit an entry name.
fn default_name(program: &str) -> EntryName {
    let base = std::path::Path::new(program)
        .file_name()
        .map_or_else(|| program.to_owned(), |b| b.to_string_lossy().into_owned());
    let mut name: String = format!("fw6 run {base}")
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    while name.len() > fw6::MAX_NAME_BYTES {
        name.pop();
    }
    EntryName::try_from(name).unwrap_or_default()
}

/// Opens `keys` through `binding`, on `connection` or globally.
async fn open_all(
    binding: &fw6::Binding,
    connection: Option<&fw6::Connection>,
    keys: &[fw6::PortKey],
    name: &EntryName,
) -> Result<(), fw6::Error> {
    for key in keys {
        let opened = match connection {
            Some(c) => binding.open_port(c, *key, name).await,
            None => binding.open_global_port(*key, name).await,
        };
        opened.map_err(|e| e.context(format!("opening {key}")))?;
    }
    Ok(())
}

/// Waits for `child`, passing on to it each signal caught in `signals`.
async fn wait_forwarding(
    child: &mut tokio::process::Child,
    signals: &mut [(tokio::signal::unix::Signal, Signal)],
) -> std::io::Result<std::process::ExitStatus> {
    let pid = child.id().and_then(|id| Pid::from_raw(id.cast_signed()));
    loop {
        let caught = futures_util::future::select_all(
            signals
                .iter_mut()
                .map(|(s, to)| Box::pin(async move { s.recv().await.map(|()| *to) })),
        );
        tokio::select! {
            status = child.wait() => return status,
            (Some(to), _, _) = caught => {
                let typed = matches!(to, Signal::INT | Signal::QUIT) && foreground();
                if let (Some(pid), false) = (pid, typed) {
                    let _ = kill_process(pid, to);
                }
            }
        }
    }
}

/// Whether fw6 is its terminal's foreground job. A SIGINT or SIGQUIT it gets is then almost
/// surely Ctrl-C or Ctrl-\\, which the terminal sent to the command too (the same process
/// group): passing it on would make a second one, which many programs take as "quit now".
fn foreground() -> bool {
    rustix::termios::tcgetpgrp(std::io::stdin()).is_ok_and(|fg| fg == rustix::process::getpgrp())
}

/// A shell's view of an exit status: the code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        _ => 1,
    }
}
