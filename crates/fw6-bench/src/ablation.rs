//! Benchmark 3b: where a datagram to an open UDP port spends the time fw6's chain costs over the
//! minimal stateful ruleset. A one-way UDP flow never becomes `established`, so every datagram
//! walks `input` down to the `open` lookup. Each variant is fw6's own table with one UDP pair
//! open on `lan0` and one rule removed (or all five), loaded with `nft -f` in its own topology;
//! rounds alternate between the variants, as in benchmark 3.
//!
//! The cost of a rule is `1/rate(fw6) − 1/rate(without it)`, in nanoseconds per datagram
//! (positive: the rule costs that much). The echo-request rule now sits after the `open`
//! lookup, so removing it must cost nothing: it is the control that shows the method's noise.
//! The ICMPv6 jump is not removed: without it neighbour discovery would fall to the final drop.
//! Rule texts come from the plan's own rendering, so they follow any change to it.

use std::time::Duration;

use fw6_model::plan::{self, Options, Rule};
use fw6_model::{PortKey, State};
use fw6_testkit::Topology;

use crate::Scale;
use crate::dataplane::MINIMAL;
use crate::lab::Result;
use crate::nftproc;
use crate::report::{median, rate};
use crate::traffic::{self, Path2};

/// The rules of `input` before the `open` lookup that a UDP datagram evaluates (docs/ruleset.md
/// rules 1, 4, 5 and 6), and the echo-request rule (12), the control; as nft lists them.
fn removable() -> Result<(Vec<String>, String)> {
    let rules = plan::full(&State::default(), &Options::default()).rules;
    let guards = rules
        .iter()
        .filter(|r| {
            matches!(
                r,
                Rule::AcceptLoopback
                    | Rule::AcceptUnfirewalled
                    | Rule::DropInvalid
                    | Rule::DropRoutingHeader0
            )
        })
        .map(ToString::to_string)
        .collect();
    let echo = rules
        .iter()
        .find(|r| matches!(r, Rule::AcceptEchoRequest { .. }))
        .ok_or("the default plan has no echo-request rule")?
        .to_string();
    Ok((guards, echo))
}

/// The floor of any firewall that decides from a set of (connection, protocol, port): the
/// minimal stateful ruleset plus fw6's `open` lookup holding the measured pair, and nothing
/// else (policy accept, so neighbour discovery passes).
fn floor() -> String {
    format!(
        r#"table ip6 floor {{
    set open {{
        type ifname . inet_proto . inet_service
        elements = {{ "lan0" . udp . {PORT} }}
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        ct state established,related accept
        {open}
    }}
}}
"#,
        open = Rule::AcceptOpen
    )
}

/// The UDP port measured.
const PORT: u16 = 1;

struct Variant {
    name: String,
    topology: Topology,
    rates: Vec<f64>,
}

/// The line of `full` that holds `rule`; an error if the rendering does not list it on a line
/// of its own (then removing it would silently measure fw6 unchanged).
fn line_of<'a>(full: &'a str, rule: &str) -> Result<&'a str> {
    full.lines()
        .find(|l| l.trim() == rule)
        .ok_or_else(|| format!("fw6's table text has no line `{rule}`").into())
}

/// fw6's table text without the rules in `removed`.
fn without(full: &str, removed: &[String]) -> Result<String> {
    for rule in removed {
        line_of(full, rule)?;
    }
    let mut out = String::with_capacity(full.len());
    for line in full
        .lines()
        .filter(|l| !removed.iter().any(|r| r == l.trim()))
    {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// fw6's table text in its first order (docs/design.md §7): the echo-request rule right before
/// the `open` lookup (the order fw6 used until the lookup was moved ahead of it).
fn echo_before_open(full: &str, echo: &str) -> Result<String> {
    let echo_line = line_of(full, echo)?;
    let open_line = line_of(full, &Rule::AcceptOpen.to_string())?;
    Ok(without(full, &[echo.to_owned()])?.replace(
        &format!("{open_line}\n"),
        &format!("{echo_line}\n{open_line}\n"),
    ))
}

pub fn run(scale: &Scale) -> Result<()> {
    println!(
        "\n# 3b. UDP open: the cost of each rule of fw6's chain ({} s per measurement, median of {})",
        scale.dp_seconds, scale.dp_repeats
    );
    let full = nftproc::fw6_table_text(&[PortKey::from_raw(u32::from(PORT), 17)?])?;
    let (guards, echo) = removable()?;
    let rules: Vec<String> = guards.into_iter().chain([echo.clone()]).collect();
    let mut texts = vec![
        ("minimal".to_owned(), MINIMAL.to_owned()),
        ("minimal + the open lookup".to_owned(), floor()),
        ("fw6".to_owned(), full.clone()),
        (
            "fw6, echo-request before open (first order)".to_owned(),
            echo_before_open(&full, &echo)?,
        ),
    ];
    for rule in &rules {
        let text = without(&full, std::slice::from_ref(rule))?;
        texts.push((format!("fw6 without `{rule}`"), text));
    }
    texts.push(("fw6 without all five".to_owned(), without(&full, &rules)?));
    let mut variants = Vec::new();
    for (name, text) in texts {
        let topology = Topology::new();
        nftproc::nft(
            topology.host(),
            &["-f", "-"],
            Some(&text),
            Duration::from_secs(30),
        )?;
        variants.push(Variant {
            name,
            topology,
            rates: Vec::new(),
        });
    }
    let seconds = Duration::from_secs_f64(scale.dp_seconds);
    for v in &variants {
        // Neighbour discovery and caches, untimed.
        udp_open(&v.topology, Duration::from_millis(100))?;
    }
    for round in 0..scale.dp_repeats {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..variants.len()).collect()
        } else {
            (0..variants.len()).rev().collect()
        };
        for i in order {
            let r = udp_open(&variants[i].topology, seconds)?;
            variants[i].rates.push(r);
        }
    }
    let median_of = |name: &str| {
        variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| median(&v.rates))
            .expect("the minimal and fw6 variants are always measured")
    };
    let (fw6, minimal) = (median_of("fw6"), median_of("minimal"));
    println!("| variant | UDP open pkt/s | ns per datagram vs fw6 | ratio to minimal |");
    println!("|---|---|---|---|");
    for v in &variants {
        let m = median(&v.rates);
        println!(
            "| {} | {} | {:+.0} | {:.3} |",
            v.name,
            rate(m),
            (1e9 / fw6 - 1e9 / m),
            m / minimal
        );
    }
    Ok(())
}

fn udp_open(topology: &Topology, duration: Duration) -> Result<f64> {
    let lan = topology.lan();
    let s = traffic::udp(
        Path2 {
            host: topology.host().path(),
            peer: lan.peer().path(),
            to: lan.host_sock(PORT).into(),
        },
        true,
        duration,
    )?;
    Ok(s.per_second(s.delivered))
}
