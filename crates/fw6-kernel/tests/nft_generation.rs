//! Generation tracking and drift detection: `apply_full` works whether or not the table
//! exists, every commit bumps the generation, `verify` tells our last commit apart from an
//! outside change or a deleted table, the monitor sees changes, and `dump` describes the table.
//!
//! Needs root; each test runs in its own network namespace:
//! `sudo -E cargo test -p fw6-kernel --test nft_generation`.

mod common;

use common::{NetNs, nft, sample, table_json};
use fw6_kernel::{Monitor, Nft, QUIET_ABOVE, TableState};
use fw6_model::State;
use fw6_model::plan::{self, Element, ElementOp, Options, SetName};

#[test]
fn apply_full_twice_replaces_the_table_and_bumps_the_generation() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let before = kernel.generation().expect("generation");
    let first = kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("first apply_full (no table yet)");
    assert!(first.generation > before, "{first:?} after {before}");
    assert_eq!(first.generation, kernel.generation().expect("generation"));
    let sample_json = table_json();

    let second = kernel
        .apply_full(&plan::full(&State::default(), &Options::default()))
        .expect("second apply_full (table exists)");
    assert!(second.generation > first.generation);
    assert_ne!(
        table_json(),
        sample_json,
        "the second plan replaced the first"
    );
    assert_eq!(common::nft_element_count("open"), 0);
    assert_eq!(kernel.verify().expect("verify"), TableState::InSync);
}

#[test]
fn verify_detects_outside_changes_and_a_missing_table() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    assert_eq!(kernel.verify().expect("verify"), TableState::Missing);
    let applied = kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    assert_eq!(kernel.verify().expect("verify"), TableState::InSync);

    nft(&[
        "add",
        "element",
        "inet",
        "fw6",
        "global_open",
        "{ tcp . 9 }",
    ]);
    assert_eq!(kernel.verify().expect("verify"), TableState::Changed);
    assert!(kernel.generation().expect("generation") > applied.generation);
    // A change anywhere in the ruleset counts: fw6 cannot know it left our table alone.
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("repair");
    assert_eq!(kernel.verify().expect("verify"), TableState::InSync);
    nft(&["add", "table", "inet", "someone_else"]);
    assert_eq!(kernel.verify().expect("verify"), TableState::Changed);

    nft(&["delete", "table", "inet", "fw6"]);
    assert_eq!(kernel.verify().expect("verify"), TableState::Missing);
    kernel
        .delete_table()
        .expect("delete_table of an absent table");
    assert!(kernel.table_exists().is_ok_and(|exists| !exists));
    // The other table was never touched.
    assert!(nft(&["list", "tables"]).contains("table inet someone_else"));
}

#[test]
fn delete_table_is_idempotent() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    kernel.delete_table().expect("delete absent table");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    kernel.delete_table().expect("delete present table");
    assert!(!nft(&["list", "tables"]).contains("fw6"));
    kernel.delete_table().expect("delete absent table again");
}

#[test]
fn monitor_counts_changes_to_our_table_only() {
    let _ns = NetNs::enter_new();
    let mut monitor = Monitor::new().expect("subscribe");
    assert_eq!(monitor.drain().expect("drain"), 0, "nothing happened yet");
    let mut kernel = Nft::new().expect("open netlink");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    assert!(monitor.drain().expect("drain") > 0);
    assert_eq!(monitor.drain().expect("drain"), 0, "drained");
    nft(&[
        "add",
        "element",
        "inet",
        "fw6",
        "unfirewalled",
        "{ \"x0\" }",
    ]);
    assert!(monitor.drain().expect("drain") > 0);
    // Other tables, other families, even one named fw6: not ours.
    nft(&["add", "table", "inet", "other"]);
    nft(&["add", "set", "inet", "other", "s", "{ type ipv4_addr; }"]);
    nft(&["add", "table", "ip", "fw6"]);
    assert_eq!(
        monitor.drain().expect("drain"),
        0,
        "other tables are not drift"
    );
    let op = ElementOp::Delete(
        SetName::Unfirewalled,
        Element::Connection(common::ifname("x0")),
    );
    kernel.apply_changes(&[op]).expect("delete x0");
    assert!(monitor.drain().expect("drain") > 0);
    assert_eq!(monitor.drain().expect("drain"), 0);
}

#[test]
fn a_monitor_can_ignore_our_own_commits() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let mut monitor = Monitor::new().expect("subscribe").ignoring(kernel.port());
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    assert_eq!(monitor.drain().expect("drain"), 0, "our own commit");
    nft(&["flush", "set", "inet", "fw6", "open"]);
    assert!(monitor.drain().expect("drain") > 0, "someone else's");
}

/// `n` additions to `open` on `lan0`, ports from `first`.
fn opens(first: usize, n: usize) -> Vec<ElementOp> {
    (first..first + n)
        .map(|port| {
            ElementOp::Add(
                SetName::Open,
                Element::ConnectionPair(
                    common::ifname("lan0"),
                    common::key(&format!("{port}/tcp")),
                ),
            )
        })
        .collect()
}

/// A monitor (not ignoring our port: anything it reads was sent to it) and an `Nft` that makes
/// its large commits with that monitor away, holding the sample table (a quiet commit nobody
/// else overlapped).
fn quiet_kernel_with_sample() -> (Monitor, Nft) {
    let monitor = Monitor::new().expect("subscribe");
    let mut kernel = Nft::new()
        .expect("open netlink")
        .quieting(monitor.subscription());
    let full = kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    assert!(!full.unwatched, "nobody else committed: {full:?}");
    (monitor, kernel)
}

#[test]
fn large_commits_are_made_with_the_monitor_not_listening() {
    let _ns = NetNs::enter_new();
    let (mut monitor, mut kernel) = quiet_kernel_with_sample();
    let large = kernel
        .apply_changes(&opens(1000, QUIET_ABOVE + 1))
        .expect("large batch");
    assert!(!large.unwatched, "{large:?}");
    assert_eq!(
        monitor.drain().expect("drain"),
        0,
        "no notification for either"
    );
    assert_eq!(common::nft_element_count("open"), 2 + QUIET_ABOVE + 1);

    // Small commits are made listening (the monitor is back after the large one) ...
    kernel.apply_changes(&opens(3000, 1)).expect("small batch");
    assert!(
        monitor.drain().expect("drain") > 0,
        "a small commit notifies"
    );
    // ... and so is everyone else's.
    nft(&["flush", "set", "inet", "fw6", "open"]);
    assert!(monitor.drain().expect("drain") > 0, "someone else's change");
}

/// Runs `attempt` (which says whether it saw an unwatched commit) until it does or 20 s pass,
/// while another program commits to its own table over and over (a thread inherits the
/// namespace), and returns whether it saw one.
fn while_another_program_commits(mut attempt: impl FnMut(usize) -> bool) -> bool {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u32;
            // Adding an existing table is an empty transaction, which does not bump the
            // generation: add and delete in turn, so that every call is a real commit.
            while !stop.load(Ordering::Relaxed) && n < 2_000 {
                let verb = if n.is_multiple_of(2) { "add" } else { "delete" };
                nft(&[verb, "table", "inet", "other"]);
                n += 1;
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut round = 0;
    let seen = loop {
        if attempt(round) {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        round += 1;
    };
    stop.store(true, Ordering::Relaxed);
    other.join().expect("the other committer");
    seen
}

fn deletes(ops: Vec<ElementOp>) -> Vec<ElementOp> {
    ops.into_iter()
        .map(|op| match op {
            ElementOp::Add(set, e)
            | ElementOp::Delete(set, e)
            | ElementOp::AddExpiring(set, e, _) => ElementOp::Delete(set, e),
        })
        .collect()
}

#[test]
fn a_commit_by_someone_else_while_the_monitor_is_away_is_reported() {
    let _ns = NetNs::enter_new();
    let (_monitor, mut kernel) = quiet_kernel_with_sample();
    let seen = while_another_program_commits(|round| {
        let add = opens(10_000 + round % 2 * 1000, QUIET_ABOVE + 1);
        let added = kernel.apply_changes(&add).expect("add").unwatched;
        let deleted = kernel
            .apply_changes(&deletes(add))
            .expect("delete")
            .unwatched;
        added || deleted
    });
    assert!(
        seen,
        "quiet commits overlapped another program's commits for 20 s and none was reported"
    );
}

#[test]
fn a_commit_by_someone_else_during_a_refused_quiet_commit_is_reported_by_the_next() {
    let _ns = NetNs::enter_new();
    let (_monitor, mut kernel) = quiet_kernel_with_sample();
    let seen = while_another_program_commits(|round| {
        // Deleting absent elements: refused, with the monitor away.
        let absent = deletes(opens(20_000, QUIET_ABOVE + 1));
        assert!(kernel.apply_changes(&absent).is_err(), "refused");
        // A small commit is made listening: only the refusal's gap can make it unwatched.
        let one = opens(30_000 + round % 2, 1);
        let reported = kernel.apply_changes(&one).expect("add one").unwatched;
        kernel.apply_changes(&deletes(one)).expect("delete one");
        reported
    });
    assert!(
        seen,
        "refused quiet commits overlapped another program's commits for 20 s and none was reported"
    );
}

#[test]
fn dump_describes_sets_and_chain() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    assert!(kernel.dump().expect("dump").contains("absent"));
    let plan = plan::full(&sample(), &Options::default());
    let applied = kernel.apply_full(&plan).expect("apply_full");
    let dump = kernel.dump().expect("dump");
    assert!(
        dump.contains(&format!("generation {}", applied.generation)),
        "{dump}"
    );
    for (set, count) in [
        ("unfirewalled", 1),
        ("open", 2),
        ("ignored", 1),
        ("global_open", 2),
    ] {
        let line = dump
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("set {set}: ")))
            .unwrap_or_else(|| panic!("no line for set {set}: {dump}"));
        assert!(line.ends_with(&format!(", {count} elements")), "{line}");
        assert_eq!(common::nft_element_count(set), count);
    }
    assert!(
        dump.contains(&format!("chain input: {} rules\n", plan.rules.len())),
        "{dump}"
    );
    assert!(
        dump.contains(&format!(
            "chain input_icmpv6: {} rules\n",
            plan.icmpv6_rules.len()
        )),
        "{dump}"
    );
    assert!(!dump.contains("not fw6's"), "{dump}");
}
