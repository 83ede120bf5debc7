//! The cost of one call from each client, in the same run against the same daemon: the Rust
//! blocking client, libfw6 from C, and the Python package; N `OpenPort` calls (each an effective,
//! durable, enforced change) and N `IsPortOpen` calls (the bus round trip alone), medians.
//! Prints `FIGURE` lines; BENCHMARKS.md records them with `FW6_CLIENT_CALLS=1000` (at most
//! 9,000: the three clients' port ranges must not overlap). By default
//! the run is small (a smoke test that the three paths work and are measured).

mod lab;

use fw6_testkit::stats::median_duration;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use fw6::{EntryName, PortKey};
use lab::{Lab, compile, install, repo, run};

/// Uncounted `OpenPort` calls before the timed ones, in every client (ports after the timed
/// ones): the first calls pay for connection set-up and cold caches.
const WARMUP: usize = 20;

fn calls() -> usize {
    std::env::var("FW6_CLIENT_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(1, 9000)
}

/// `name value` lines of a client's output.
fn medians(out: &[u8]) -> HashMap<String, Duration> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| {
            (
                k.to_owned(),
                Duration::from_nanos(v.trim().parse().expect("ns")),
            )
        })
        .collect()
}

/// The Rust blocking client's medians on `manager`: ports 20001…
fn rust(manager: &fw6::blocking::Manager, n: usize) -> HashMap<String, Duration> {
    let lan = manager.connection("lan0").expect("lan0");
    let name = EntryName::try_from("bench").expect("name");
    let key = |i: usize| PortKey::from_raw(u32::try_from(20_001 + i).expect("port"), 6);
    for i in n..n + WARMUP {
        lan.open_port(key(i).expect("key"), &name)
            .expect("OpenPort");
    }
    let keys: Vec<PortKey> = (0..n).map(|i| key(i).expect("key")).collect();
    let mut samples = Vec::with_capacity(n);
    for key in &keys {
        let t = Instant::now();
        lan.open_port(*key, &name).expect("OpenPort");
        samples.push(t.elapsed());
    }
    let open = median_duration(&samples);
    let mut samples = Vec::with_capacity(n);
    for key in &keys {
        let t = Instant::now();
        assert!(lan.is_port_open(*key).expect("IsPortOpen"));
        samples.push(t.elapsed());
    }
    HashMap::from([
        ("open_port".to_owned(), open),
        ("is_port_open".to_owned(), median_duration(&samples)),
    ])
}

/// libfw6's medians, from C: ports 30001…
fn c(lab: &Lab, n: usize) -> HashMap<String, Duration> {
    let prefix = install(lab, false);
    let source = repo().join("crates/fw6-capi/tests/bench/calls.c");
    let binary = compile(lab, &prefix.0, &source, false);
    let mut cmd = Command::new(&binary);
    cmd.args([n.to_string(), "30001".into()])
        .env("LD_LIBRARY_PATH", prefix.0.join("lib"));
    medians(&run(lab, "bench/calls.c", &mut lab.client(cmd)).stdout)
}

/// The Python package's medians: ports 40001…
fn python(lab: &Lab, n: usize) -> HashMap<String, Duration> {
    let python = std::env::var("FW6_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("crates/fw6-capi/tests/bench/calls.py"))
        .args([n.to_string(), "40001".into()])
        .env("PYTHONPATH", repo().join("python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    medians(&run(lab, "bench/calls.py", &mut lab.client(cmd)).stdout)
}

#[test]
fn one_call_from_rust_c_and_python() {
    let n = calls();
    let lab = Lab::start(false);
    let manager = fw6::blocking::Manager::connect_to(lab.bus.address()).expect("connect");
    // The store and the sets grow as the clients run, so the order can favour the first:
    // FW6_CLIENT_ORDER=reverse measures Python, then C, then Rust.
    let reverse = std::env::var("FW6_CLIENT_ORDER").is_ok_and(|v| v == "reverse");
    let (rust_, c_, py) = if reverse {
        let py = python(&lab, n);
        let c_ = c(&lab, n);
        (rust(&manager, n), c_, py)
    } else {
        let rust_ = rust(&manager, n);
        let c_ = c(&lab, n);
        (rust_, c_, python(&lab, n))
    };
    println!(
        "order: {}",
        if reverse {
            "python, c, rust"
        } else {
            "rust, c, python"
        }
    );

    let status = manager.status().expect("Status");
    assert!(status.open as usize >= 3 * (n + WARMUP), "{status:?}");
    for (what, rust, c, py) in [
        (
            "open_port",
            rust_["open_port"],
            c_["open_port"],
            py["open_port"],
        ),
        (
            "is_port_open",
            rust_["is_port_open"],
            c_["is_port_open"],
            py["is_port_open"],
        ),
    ] {
        println!(
            "FIGURE {what}_median_us n={n}: rust {:.0} c {:.0} python {:.0} (c/rust {:.2}, python/rust {:.2})",
            rust.as_secs_f64() * 1e6,
            c.as_secs_f64() * 1e6,
            py.as_secs_f64() * 1e6,
            c.as_secs_f64() / rust.as_secs_f64(),
            py.as_secs_f64() / rust.as_secs_f64()
        );
    }
}
