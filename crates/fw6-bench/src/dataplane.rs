//! Benchmark 3: the data plane. UDP packets/s and TCP connections/s from a peer namespace to an
//! open and to a closed port of the host namespace, under four ruleset layouts, each in a fresh
//! topology (so conntrack and tables start empty):
//!
//! - `none`: no nftables table at all (no conntrack either);
//! - `minimal`: only `ct state established,related accept` (policy accept) — the unavoidable cost
//!   of being stateful;
//! - `fw6 N`: fw6's own table (fw6-model's plan, installed with fw6-kernel exactly as fw6d does)
//!   with N pairs open on `lan0`;
//! - `rules N`: the layout firewalld and ufw use, one rule per open pair
//!   (`iifname "lan0" tcp dport P accept`) after the same stateful/ICMPv6 preamble, then drop;
//!   an `inet` table like fw6's (and `minimal` too), so both filter IPv4 as well;
//! - `fw6 range N`: fw6's table with the N pairs of one `fw6 port open lan0 FIRST-LAST/PROTO`
//!   (resolved by the client library, as the CLI does), for the measured protocol: a range is
//!   one set element per port, so it should cost what one pair costs.
//!
//! N pairs: N = 1 is the one pair measured (its protocol); otherwise ports 1..=N/2, TCP and UDP
//! (131,070 = every port). The open port measured is N/4 (1 for N = 1), so in the
//! one-rule-per-pair layout its rule sits in the middle. The closed port is 40,000 reached
//! through `wan0`, where nothing is open (with 131,070 pairs every `lan0` pair is open); no
//! program listens on it. Without a firewall (`none`, `minimal`) a closed port is just a port
//! without a listener: the host answers (rate-limited ICMPv6 for UDP, RST for TCP).
//!
//! Figures, per second, median of the repeats:
//! - UDP open: datagrams that passed the host's input hook (`Ip6InDelivers`); the receiving
//!   program's count is printed too.
//! - UDP closed: datagrams that reached IPv6 input (`Ip6InReceives`), i.e. judged by the firewall
//!   and dropped (with fw6 `Ip6InDelivers` stays ~0, printed).
//! - TCP open: connections completed by the client (connect, then close with a RST).
//! - TCP closed: SYNs that reached IPv6 input and were judged (dropped by fw6).
//!
//! Every test runs over IPv6 and over IPv4 (the same table filters both; the IPv4 rows count
//! with the IPv4 counters, `Ip: InReceives` / `InDelivers`).

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use fw6_kernel::Nft;
use fw6_model::plan::{self, Element, Options, SetName};
use fw6_model::{IfName, PortKey, State};
use fw6_testkit::{Family, Topology};

use crate::Scale;
use crate::lab::Result;
use crate::nftproc;
use crate::report::{Report, Row, count, median, rate, thousands};
use crate::traffic::{self, Path2, Sample};

const CLOSED_PORT: u16 = 40_000;
/// The first port of the ranged layout (its span is `fw6::range::MAX_SPAN`), clear of the
/// closed port.
const RANGE_FIRST: u32 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    None,
    Minimal,
    Fw6(usize),
    Rules(usize),
    Fw6Range(u32),
    /// fw6's table with N pairs that all expire (leases, a day away): elements with timeouts.
    Fw6Leased(usize),
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Minimal => f.write_str("minimal"),
            Self::Fw6(n) => write!(f, "fw6 {}", count(*n as u64)),
            Self::Rules(n) => write!(f, "rules {}", count(*n as u64)),
            Self::Fw6Range(n) => write!(f, "fw6 range {}", count(u64::from(*n))),
            Self::Fw6Leased(n) => write!(f, "fw6 leased {}", count(*n as u64)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    UdpOpen,
    UdpClosed,
    TcpOpen,
    TcpClosed,
}

const TESTS: [Test; 4] = [
    Test::UdpOpen,
    Test::UdpClosed,
    Test::TcpOpen,
    Test::TcpClosed,
];

/// A test over a family: every test, IPv6 first, then IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Case {
    test: Test,
    family: Family,
}

/// The number of cases: [`TESTS`] over both families.
const CASES: usize = 8;

fn cases() -> [Case; CASES] {
    let case = |i: usize| Case {
        test: TESTS[i % 4],
        family: if i < 4 { Family::V6 } else { Family::V4 },
    };
    std::array::from_fn(case)
}

/// IPv6 rows keep their names; IPv4 rows say so.
impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V6 => write!(f, "{}", self.test),
            Family::V4 => write!(f, "IPv4 {}", self.test),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UdpOpen => "UDP open pkt/s",
            Self::UdpClosed => "UDP closed pkt/s",
            Self::TcpOpen => "TCP open conn/s",
            Self::TcpClosed => "TCP closed SYN/s",
        })
    }
}

impl Test {
    fn protocol(self) -> u32 {
        match self {
            Self::UdpOpen | Self::UdpClosed => 17,
            Self::TcpOpen | Self::TcpClosed => 6,
        }
    }
}

/// The open port measured with `n` pairs.
fn open_port(layout: Layout) -> u16 {
    match layout {
        Layout::Fw6(n) | Layout::Rules(n) | Layout::Fw6Leased(n) if n > 1 => {
            u16::try_from((n / 4).max(1)).unwrap_or(1)
        }
        Layout::Fw6Range(n) => u16::try_from(RANGE_FIRST + n / 2).unwrap_or(1),
        _ => 1,
    }
}

/// The pairs open with `n` pairs when measuring `protocol`.
fn pairs(n: usize, protocol: u32) -> Result<Vec<PortKey>> {
    if n == 1 {
        return Ok(vec![PortKey::from_raw(1, protocol)?]);
    }
    let mut out = Vec::with_capacity(n);
    for port in 1..=u32::try_from(n / 2)? {
        out.push(PortKey::from_raw(port, 6)?);
        out.push(PortKey::from_raw(port, 17)?);
    }
    Ok(out)
}

pub(crate) const MINIMAL: &str = "table inet minimal {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state established,related accept\n\t}\n}\n";

/// The pairs of `fw6 port open lan0 FIRST-LAST/PROTO` spanning `n` ports, as the CLI resolves
/// them.
fn ranged_pairs(n: u32, protocol: u32) -> Result<Vec<PortKey>> {
    let proto = if protocol == 6 { "tcp" } else { "udp" };
    let arg = format!("{RANGE_FIRST}-{}/{proto}", RANGE_FIRST + n - 1);
    let services = fw6::services::Services::builtin();
    Ok(fw6::spec::resolve(&arg, &services, fw6::spec::Bare::Refused)?.keys)
}

fn rules_text(keys: &[PortKey]) -> String {
    let mut out = String::from(
        "table inet rules {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiif \"lo\" accept\n\t\tct state established,related accept\n\t\tct state invalid drop\n\t\tmeta l4proto ipv6-icmp accept\n",
    );
    for k in keys {
        let _ = writeln!(
            out,
            "\t\tiifname \"lan0\" {} dport {} accept",
            k.protocol.as_str(),
            k.port.get()
        );
    }
    out.push_str("\t\tdrop\n\t}\n}\n");
    out
}

/// Installs `layout` (for `protocol` when it depends on it) in the host namespace.
fn install(
    topology: &Topology,
    layout: Layout,
    protocol: u32,
    limit: Duration,
) -> Result<Duration> {
    let host = topology.host();
    let started = Instant::now();
    match layout {
        Layout::None => {}
        Layout::Minimal => {
            nftproc::nft(host, &["-f", "-"], Some(MINIMAL), Duration::from_secs(30))?;
        }
        Layout::Fw6(_) | Layout::Fw6Range(_) | Layout::Fw6Leased(_) => {
            let keys = match layout {
                Layout::Fw6Range(n) => ranged_pairs(n, protocol)?,
                Layout::Fw6(n) | Layout::Fw6Leased(n) => pairs(n, protocol)?,
                _ => unreachable!("matched above"),
            };
            let lan0 = IfName::try_from("lan0")?;
            let mut table = plan::full(&State::default(), &Options::default());
            let open = table
                .sets
                .iter_mut()
                .find(|s| s.name == SetName::Open)
                .ok_or("the plan has no open set")?;
            let elements = keys
                .into_iter()
                .map(|k| Element::ConnectionPair(lan0.clone(), k));
            if let Layout::Fw6Leased(_) = layout {
                let day = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis()
                    + 86_400_000;
                let day = u64::try_from(day)?;
                open.expiring = elements.map(|e| (e, day)).collect();
            } else {
                open.elements = elements.collect();
            }
            let mut nft = {
                let _inside = host.enter();
                Nft::new()?
            };
            nft.apply_full(&table)?;
        }
        Layout::Rules(n) => {
            let dir = fw6_testkit::temp_path("bench-dp");
            std::fs::create_dir_all(&dir)?;
            let file = dir.join("rules.nft");
            // Replace any previous one (N = 1 is installed once per protocol).
            let _ = nftproc::nft(host, &["delete", "table", "inet", "rules"], None, limit);
            std::fs::write(&file, rules_text(&pairs(n, protocol)?))?;
            let loaded = nftproc::nft_file(host, &file, limit);
            let _ = std::fs::remove_dir_all(&dir);
            loaded?;
        }
    }
    Ok(started.elapsed())
}

/// One measurement of `test`; returns the figure and a note.
fn measure(topology: &Topology, layout: Layout, case: Case, seconds: f64) -> Result<(f64, Sample)> {
    let (test, family) = (case.test, case.family);
    let host = topology.host().path();
    let lan = topology.lan();
    let wan = topology.wan();
    let duration = Duration::from_secs_f64(seconds);
    let open = Path2 {
        host,
        peer: lan.peer().path(),
        to: lan.host_sock_in(family, open_port(layout)),
    };
    let closed = Path2 {
        host,
        peer: wan.peer().path(),
        to: wan.host_sock_in(family, CLOSED_PORT),
    };
    Ok(match test {
        Test::UdpOpen => {
            let s = traffic::udp(open, true, duration)?;
            (s.per_second(s.delivered), s)
        }
        Test::UdpClosed => {
            let s = traffic::udp(closed, false, duration)?;
            (s.per_second(s.received), s)
        }
        Test::TcpOpen => {
            let s = traffic::tcp_open(open, duration)?;
            (s.per_second(s.completed), s)
        }
        Test::TcpClosed => {
            let s = traffic::tcp_syn(closed, duration)?;
            (s.per_second(s.received), s)
        }
    })
}

/// Medians per (layout, test); `None` where the layout could not be loaded in time.
type Results = Vec<(Layout, [Option<f64>; CASES])>;

/// One layout in its own topology.
struct Bench {
    layout: Layout,
    topology: Topology,
    /// The protocol the layout was installed for (N = 1 is reinstalled per protocol).
    installed_for: Option<u32>,
    /// Why it could not be measured.
    failed: Option<String>,
    values: [Vec<f64>; CASES],
    last: [Sample; CASES],
}

impl Bench {
    /// Installs the layout for `protocol` unless it is already; untimed warm-up traffic after.
    fn prepare(&mut self, test: Test, limit: Duration) -> Result<()> {
        let per_protocol = matches!(
            self.layout,
            Layout::Fw6(1) | Layout::Rules(1) | Layout::Fw6Range(_)
        );
        let wanted = test.protocol();
        if self.installed_for.is_some() && (!per_protocol || self.installed_for == Some(wanted)) {
            return Ok(());
        }
        match install(&self.topology, self.layout, wanted, limit) {
            Ok(took) => {
                if self.installed_for.is_none() {
                    println!("{}: installed in {:.3} s", self.layout, took.as_secs_f64());
                }
                self.installed_for = Some(wanted);
                // Neighbour discovery and caches, untimed.
                for c in cases().into_iter().filter(|c| c.test.protocol() == wanted) {
                    measure(&self.topology, self.layout, c, 0.1)?;
                }
            }
            Err(e) => {
                println!("{}: NOT MEASURED: {e}", self.layout);
                self.failed = Some(e.to_string());
            }
        }
        Ok(())
    }
}

pub fn run(scale: &Scale, report: &mut Report) -> Result<()> {
    println!(
        "\n# 3. Data plane: {} s per measurement, median of {}, layouts interleaved per round",
        scale.dp_seconds, scale.dp_repeats
    );
    println!("load average at start: {}", load_average());
    let mut layouts = vec![Layout::None, Layout::Minimal];
    layouts.extend(scale.dp_sizes.iter().map(|&n| Layout::Fw6(n)));
    layouts.extend(scale.dp_sizes.iter().map(|&n| Layout::Rules(n)));
    layouts.push(Layout::Fw6Range(fw6::range::MAX_SPAN));
    // Leases at the second size (10,000 in a full run), against plain pairs of that size.
    if let Some(&n) = scale.dp_sizes.get(1) {
        layouts.push(Layout::Fw6Leased(n));
    }
    let limit = Duration::from_secs(scale.rules_load_limit);
    // Every layout in its own topology, side by side, so rounds can alternate between them
    // and slow drift of the machine (other load, thermal, host) hits all of them alike.
    let mut benches: Vec<Bench> = layouts
        .into_iter()
        .map(|layout| Bench {
            layout,
            topology: Topology::new(),
            installed_for: None,
            failed: None,
            values: Default::default(),
            last: [Sample::default(); CASES],
        })
        .collect();
    for round in 0..scale.dp_repeats {
        for (i, test) in cases().into_iter().enumerate() {
            // Alternate the order between rounds.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..benches.len()).collect()
            } else {
                (0..benches.len()).rev().collect()
            };
            for b in order {
                let bench = &mut benches[b];
                if bench.failed.is_some() {
                    continue;
                }
                bench.prepare(test.test, limit)?;
                if bench.failed.is_some() {
                    continue;
                }
                let (v, sample) = measure(&bench.topology, bench.layout, test, scale.dp_seconds)?;
                bench.values[i].push(v);
                bench.last[i] = sample;
            }
        }
    }
    let mut results: Results = Vec::new();
    for bench in &benches {
        let mut figures = [None; CASES];
        for (i, test) in cases().into_iter().enumerate() {
            if bench.values[i].is_empty() {
                continue;
            }
            let m = median(&bench.values[i]);
            figures[i] = Some(m);
            let last = bench.last[i];
            println!(
                "{}: {test}: median {} (runs: {}) [last run: sent {}/s, IP in {}/s, passed {}/s, read/completed {}/s, failed {}]",
                bench.layout,
                rate(m),
                bench.values[i]
                    .iter()
                    .map(|v| thousands(*v))
                    .collect::<Vec<_>>()
                    .join(" "),
                thousands(last.per_second(last.sent)),
                thousands(last.per_second(last.received)),
                thousands(last.per_second(last.delivered)),
                thousands(last.per_second(last.completed)),
                last.failed
            );
        }
        results.push((bench.layout, figures));
    }
    println!("load average at end: {}", load_average());
    drop(benches);
    judge(scale, &results, report);
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn figure(results: &Results, layout: Layout, test: usize) -> Option<f64> {
    results
        .iter()
        .find(|(l, _)| *l == layout)
        .and_then(|(_, f)| f[test])
}

fn judge(scale: &Scale, results: &Results, report: &mut Report) {
    println!(
        "\n| layout | {} |",
        cases().map(|t| t.to_string()).join(" | ")
    );
    println!("|---|{}", "---|".repeat(CASES));
    for (layout, figures) in results {
        println!(
            "| {layout} | {} |",
            figures
                .map(|f| f.map_or_else(|| "not measured".to_owned(), rate))
                .join(" | ")
        );
    }
    let (Some(&first), Some(&tenk)) = (scale.dp_sizes.first(), scale.dp_sizes.get(1)) else {
        return;
    };
    for (i, test) in cases().into_iter().enumerate() {
        let minimal = figure(results, Layout::Minimal, i);
        let one = figure(results, Layout::Fw6(first), i);
        let ranged = Layout::Fw6Range(fw6::range::MAX_SPAN);
        let leased = Layout::Fw6Leased(tenk);
        if let (Some(l), Some(p)) = (
            figure(results, leased, i),
            figure(results, Layout::Fw6(tenk), i),
        ) {
            report.add(Row {
                what: format!(
                    "3. {test}, {leased} (timeouts) vs fw6 {} plain",
                    count(tenk as u64)
                ),
                figure: rate(l),
                comparison: format!("plain {}", rate(p)),
                ratio: l / p,
                target: "≥ 0.97".into(),
                met: l / p >= 0.97,
            });
        }
        if let (Some(r), Some(o)) = (figure(results, ranged, i), one) {
            report.add(Row {
                what: format!("3. {test}, {ranged} (one range) vs fw6 1 pair"),
                figure: rate(r),
                comparison: format!("fw6 1 pair {}", rate(o)),
                ratio: r / o,
                target: "≥ 0.97".into(),
                met: r / o >= 0.97,
            });
        }
        for &n in &scale.dp_sizes {
            let Some(ours) = figure(results, Layout::Fw6(n), i) else {
                continue;
            };
            if let Some(m) = minimal {
                report.add(Row {
                    what: format!(
                        "3. {test}, fw6 {} pairs vs minimal stateful",
                        count(n as u64)
                    ),
                    figure: rate(ours),
                    comparison: format!("minimal {}", rate(m)),
                    ratio: ours / m,
                    target: "≥ 0.95".into(),
                    met: ours / m >= 0.95,
                });
            }
            if n != first
                && let Some(o) = one
            {
                report.add(Row {
                    what: format!("3. {test}, fw6 {} pairs vs fw6 1 pair", count(n as u64)),
                    figure: rate(ours),
                    comparison: format!("fw6 1 pair {}", rate(o)),
                    ratio: ours / o,
                    target: "≥ 0.97".into(),
                    met: ours / o >= 0.97,
                });
            }
            if n == tenk {
                match figure(results, Layout::Rules(n), i) {
                    Some(r) => report.add(Row {
                        what: format!(
                            "3. {test}, fw6 vs one rule per pair, {} pairs",
                            count(n as u64)
                        ),
                        figure: rate(ours),
                        comparison: format!("rules {}", rate(r)),
                        ratio: ours / r,
                        target: "≥ 10".into(),
                        met: ours / r >= 10.0,
                    }),
                    None => println!("one rule per pair with {n} pairs: not measured"),
                }
            }
        }
    }
}
