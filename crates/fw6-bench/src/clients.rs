//! Benchmark 1c: one call from each client library against the same daemon, in the same run —
//! the Rust blocking client (`fw6::blocking`), libfw6 from C (`clients/calls.c`, compiled with
//! `cc $(pkg-config --cflags --libs fw6)` against the library built next to this program) and
//! the Python package over jeepney (`clients/calls.py`). Each client makes `OpenPort` calls (an
//! effective change: stored durably and enforced before the reply) and then `IsPortOpen` calls
//! (the bus round trip alone) on ports nobody opened before.
//!
//! The store and the sets grow as the clients run, and a client that runs first meets a colder
//! machine, so the clients take turns: several rounds, the order rotated each round, and each
//! client's figure is the median of its per-round medians.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fw6::{EntryName, PortKey};
use fw6_testkit::capi::{CLibrary, Compile};

use crate::lab::{Lab, Result};
use crate::report::{Report, Row, median};
use crate::{Bins, Scale};

/// Uncounted `OpenPort` calls before the timed ones, in every client and round (the C and
/// Python programs have the same constant): connection set-up, cold caches.
const WARMUP: usize = 20;
/// Ports used per client and round: timed calls plus warm-up, rounded up.
const STRIDE: usize = 1000;
/// Upper bound on one client's round.
const ROUND_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Rust,
    C,
    Python,
}

const CLIENTS: [Client; 3] = [Client::Rust, Client::C, Client::Python];

/// A client's medians of one round, nanoseconds: `open_port`, `is_port_open`.
type Medians = HashMap<String, f64>;

pub fn run(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    println!("\n# 1c. One call from the Rust, C and Python clients, same daemon, same run");
    let calls = scale.client_calls;
    if calls + WARMUP > STRIDE {
        return Err(format!("{calls} calls per round do not fit the port stride {STRIDE}").into());
    }
    let mut lab = Lab::new(bins);
    lab.start_daemon()?;
    let manager = lab.manager()?;
    let c_program = CProgram::build(&lab, bins)?;
    let mut rounds: HashMap<Client, Vec<Medians>> = HashMap::new();
    for round in 0..scale.client_rounds {
        for turn in 0..CLIENTS.len() {
            let client = CLIENTS[(round + turn) % CLIENTS.len()];
            let slot = round * CLIENTS.len() + turn;
            let base = 1001 + slot * STRIDE;
            if base + STRIDE > usize::from(u16::MAX) {
                return Err("too many rounds for the port space".into());
            }
            let medians = match client {
                Client::Rust => rust(&manager, calls, base)?,
                Client::C => c_program.run(&lab, calls, base)?,
                Client::Python => python(&lab, calls, base)?,
            };
            println!(
                "round {}: {client:?} OpenPort {:.0} µs, IsPortOpen {:.0} µs (medians of {calls})",
                round + 1,
                medians["open_port"] / 1e3,
                medians["is_port_open"] / 1e3
            );
            rounds.entry(client).or_default().push(medians);
        }
    }
    let expected = scale.client_rounds * CLIENTS.len() * (calls + WARMUP);
    let open = manager.status()?.open as usize;
    if open != expected {
        return Err(format!("status says {open} open pairs, expected {expected}").into());
    }
    let figure = |client: Client, what: &str| {
        median(
            &rounds[&client]
                .iter()
                .map(|m| m[what])
                .collect::<Vec<f64>>(),
        )
    };
    for (what, member) in [("open_port", "OpenPort"), ("is_port_open", "IsPortOpen")] {
        let rust = figure(Client::Rust, what);
        let c = figure(Client::C, what);
        let py = figure(Client::Python, what);
        let us = |ns: f64| format!("{:.0} µs", ns / 1e3);
        report.add(Row {
            what: format!("1c. {member} from C (libfw6), median"),
            figure: us(c),
            comparison: format!("Rust blocking client {}", us(rust)),
            ratio: c / rust,
            target: "≤ 1.1".into(),
            met: c / rust <= 1.1,
        });
        report.add(Row {
            what: format!("1c. {member} from Python (jeepney), median"),
            figure: us(py),
            comparison: format!("Rust blocking client {}", us(rust)),
            ratio: py / rust,
            target: "none (recorded)".into(),
            met: true,
        });
    }
    Ok(())
}

/// The Rust blocking client's medians: `calls` timed calls on ports `base…`.
fn rust(manager: &fw6::blocking::Manager, calls: usize, base: usize) -> Result<Medians> {
    let lan = manager.connection("lan0")?;
    let name = EntryName::try_from("bench")?;
    let key = |i: usize| -> Result<PortKey> { Ok(PortKey::from_raw(u32::try_from(base + i)?, 6)?) };
    for i in calls..calls + WARMUP {
        lan.open_port(key(i)?, &name)?;
    }
    let keys = (0..calls).map(key).collect::<Result<Vec<_>>>()?;
    let deadline = Instant::now() + ROUND_LIMIT;
    let mut open = Vec::with_capacity(calls);
    for key in &keys {
        let t = Instant::now();
        lan.open_port(*key, &name)?;
        open.push(t.elapsed().as_secs_f64() * 1e9);
        if Instant::now() > deadline {
            return Err("the Rust client's round exceeded its time bound".into());
        }
    }
    let mut read = Vec::with_capacity(calls);
    for key in &keys {
        let t = Instant::now();
        if !lan.is_port_open(*key)? {
            return Err(format!("IsPortOpen {key:?} is false after OpenPort").into());
        }
        read.push(t.elapsed().as_secs_f64() * 1e9);
    }
    Ok(HashMap::from([
        ("open_port".to_owned(), median(&open)),
        ("is_port_open".to_owned(), median(&read)),
    ]))
}

/// The checkout this program was built from: the C and Python sources, the install script and
/// the Python package live there.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `clients/calls.c` compiled against libfw6 installed, as a distribution would, under a
/// temporary prefix (removed on drop).
struct CProgram {
    library: CLibrary,
    binary: PathBuf,
}

impl CProgram {
    fn build(lab: &Lab, bins: &Bins) -> Result<Self> {
        let built = &bins.dir;
        if !built.join("libfw6_capi.so").is_file() {
            return Err(format!(
                "{}/libfw6_capi.so not found: build it with this program (cargo build --release -p fw6-capi)",
                built.display()
            )
            .into());
        }
        let library = CLibrary::install(lab, built, false)?;
        let how = Compile {
            optimize: true,
            statically: false,
        };
        let binary = library.compile(lab, &repo().join("crates/fw6-bench/clients/calls.c"), how)?;
        Ok(Self { library, binary })
    }

    fn run(&self, lab: &Lab, calls: usize, base: usize) -> Result<Medians> {
        let mut cmd = Command::new(&self.binary);
        cmd.args([calls.to_string(), base.to_string()])
            .env("LD_LIBRARY_PATH", self.library.lib_dir())
            .env("FW6_BUS_ADDRESS", lab.bus.address());
        medians(&checked(lab, "clients/calls.c", &mut cmd)?)
    }
}

/// The Python package's medians (`/usr/bin/python3`, or `FW6_PYTHON`; with jeepney).
fn python(lab: &Lab, calls: usize, base: usize) -> Result<Medians> {
    let python = std::env::var("FW6_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("crates/fw6-bench/clients/calls.py"))
        .args([calls.to_string(), base.to_string()])
        .env("PYTHONPATH", repo().join("python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("FW6_BUS_ADDRESS", lab.bus.address());
    medians(&checked(lab, "clients/calls.py", &mut cmd)?)
}

/// Runs `cmd` to its end; its standard output, or an error with its output and fw6d's log.
fn checked(lab: &Lab, what: &str, cmd: &mut Command) -> Result<String> {
    let out = lab.run_checked(what, cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `name nanoseconds` lines of a client program's output.
fn medians(out: &str) -> Result<Medians> {
    let medians: Medians = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| Ok((k.to_owned(), v.trim().parse::<f64>()?)))
        .collect::<Result<_>>()?;
    for what in ["open_port", "is_port_open"] {
        if !medians.contains_key(what) {
            return Err(format!("the client printed no {what} figure:\n{out}").into());
        }
    }
    Ok(medians)
}
