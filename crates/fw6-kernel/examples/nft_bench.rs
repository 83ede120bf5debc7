//! Measures the nftables layer: a 100,000-element `apply_full` and single-element transactions
//! with that set present, next to the same work done by `nft` itself, in the same run.
//!
//! It refuses to run in a namespace that has any interface but `lo` (the machine's own). Run it in a throw-away one:
//! `cargo build --release -p fw6-kernel --example nft_bench &&
//!  unshare -n target/release/examples/nft_bench`

use std::error::Error;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fw6_kernel::Nft;
use fw6_model::plan::{self, Element, ElementOp, Options, SetName};
use fw6_model::{IfName, PortKey, State};

const ELEMENTS: u32 = 100_000;
const ROUNDS: u32 = 2000;
const NFT_ROUNDS: u32 = 200;

fn main() -> Result<(), Box<dyn Error>> {
    // A fresh namespace has no interface but `lo`; anything else may be a real machine.
    let interfaces = std::fs::read_to_string("/proc/self/net/dev")?;
    if interfaces
        .lines()
        .skip(2)
        .any(|l| !l.trim_start().starts_with("lo:"))
    {
        return Err(
            "refusing to run in a namespace with interfaces: run under `unshare -n`".into(),
        );
    }
    let mut kernel = Nft::new()?;
    let mut plan = plan::full(&State::default(), &Options::default());
    let elements: Vec<Element> = (0..ELEMENTS)
        .map(|i| {
            let name = IfName::try_from(format!("big{}", i / 50_000))?;
            Ok(Element::ConnectionPair(
                name,
                PortKey::from_raw(i % 50_000 + 1, 6)?,
            ))
        })
        .collect::<Result<_, fw6_model::Error>>()?;
    let nft_text = format!(
        "{}add element inet fw6 open {{ {} }}\n",
        plan::render(&plan),
        elements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    plan.sets
        .iter_mut()
        .find(|s| s.name == SetName::Open)
        .ok_or("no open set")?
        .elements = elements;

    let started = Instant::now();
    let applied = kernel.apply_full(&plan)?;
    let ours = started.elapsed();
    let started = Instant::now();
    nft_stdin(&["-f", "-"], &nft_text)?;
    let theirs = started.elapsed();
    kernel.apply_full(&plan)?;
    println!(
        "apply_full, {ELEMENTS} elements, one transaction ({} messages): {ours:?}; \
         nft -f of the same table: {theirs:?}; ratio {:.1}x",
        applied.messages,
        ratio(theirs, ours)
    );

    let lan0 = IfName::try_from("lan0")?;
    let extra = Element::ConnectionPair(lan0, PortKey::from_raw(443, 6)?);
    let add = [ElementOp::Add(SetName::Open, extra.clone())];
    let delete = [ElementOp::Delete(SetName::Open, extra)];
    let mut samples = Vec::with_capacity(ROUNDS as usize);
    for i in 0..ROUNDS {
        let ops = if i % 2 == 0 { &add } else { &delete };
        let started = Instant::now();
        let applied = kernel.apply_changes(ops)?;
        samples.push(started.elapsed());
        assert_eq!(applied.messages, 3);
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / ROUNDS;
    let p = |percent: usize| samples[(samples.len() - 1) * percent / 100];
    let started = Instant::now();
    for i in 0..NFT_ROUNDS {
        let verb = if i % 2 == 0 { "add" } else { "delete" };
        nft_stdin(
            &[
                verb,
                "element",
                "inet",
                "fw6",
                "open",
                "{ \"lan0\" . tcp . 443 }",
            ],
            "",
        )?;
    }
    let nft_each = started.elapsed() / NFT_ROUNDS;
    println!(
        "single-element transaction with {ELEMENTS} elements present, {ROUNDS} rounds: \
         mean {mean:?}, p50 {:?}, p99 {:?}, max {:?}; one `nft add/delete element` process: \
         {nft_each:?}; ratio {:.0}x",
        p(50),
        p(99),
        p(100),
        ratio(nft_each, mean)
    );
    kernel.delete_table()?;
    Ok(())
}

fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64()
}

fn nft_stdin(args: &[&str], input: &str) -> Result<(), Box<dyn Error>> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(input.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("nft {args:?} failed: {status}").into());
    }
    Ok(())
}
