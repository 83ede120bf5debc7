//! Scale: 100,000 set elements go in as one transaction, and a one-element change stays a
//! three-message transaction (BEGIN, element, END) however large the set (docs/design.md §1.1).
//! Times are printed for information (`--nocapture`), never asserted; `examples/nft_bench.rs` gives
//! release-build figures.
//!
//! Needs root; runs in its own network namespace:
//! `sudo -E cargo test -p fw6-kernel --test nft_scale -- --nocapture`.

mod common;

use std::time::Instant;

use common::{NetNs, ifname, nft, nft_element_count};
use fw6_kernel::Nft;
use fw6_model::plan::{self, Element, ElementOp, Options, SetName};
use fw6_model::{PortKey, State};

const ELEMENTS: usize = 100_000;

/// 100,000 distinct `open` elements: two interfaces × 50,000 ports over TCP.
fn big_open_set() -> Vec<Element> {
    ["big0", "big1"]
        .into_iter()
        .flat_map(|name| {
            (1..=50_000u32).map(move |port| {
                Element::ConnectionPair(ifname(name), PortKey::from_raw(port, 6).expect("port"))
            })
        })
        .collect()
}

#[test]
fn a_hundred_thousand_elements_in_one_transaction_then_single_element_changes() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let mut plan = plan::full(&State::default(), &Options::default());
    let open = plan
        .sets
        .iter_mut()
        .find(|s| s.name == SetName::Open)
        .expect("open set");
    open.elements = big_open_set();
    assert_eq!(plan.element_count(), ELEMENTS);

    let before = kernel.generation().expect("generation");
    let started = Instant::now();
    let applied = kernel
        .apply_full(&plan)
        .expect("apply_full with 100k elements");
    eprintln!(
        "apply_full: {ELEMENTS} elements in {} messages, {:?}",
        applied.messages,
        started.elapsed()
    );
    // One transaction: exactly one generation step.
    assert_eq!(applied.generation, before.wrapping_add(1));
    // BEGIN, add/delete/add table, 2 chains, 4 sets, 100 element lists, the rules, END.
    let rules = plan.rules.len() + plan.icmpv6_rules.len();
    assert_eq!(applied.messages, 1 + 3 + 2 + 4 + 100 + rules + 1);
    assert_eq!(nft_element_count("open"), ELEMENTS);
    assert!(
        kernel
            .dump()
            .expect("dump")
            .contains(&format!("set open: key type 0x2930d, {ELEMENTS} elements")),
    );

    // One element in or out is one small transaction, whatever the set size.
    let extra = Element::ConnectionPair(ifname("lan0"), PortKey::from_raw(443, 6).expect("port"));
    let add = [ElementOp::Add(SetName::Open, extra.clone())];
    let delete = [ElementOp::Delete(SetName::Open, extra)];
    let applied = kernel.apply_changes(&add).expect("add one");
    assert_eq!(applied.messages, 3);
    nft(&[
        "get",
        "element",
        "inet",
        "fw6",
        "open",
        "{ \"lan0\" . tcp . 443 }",
    ]);
    let applied = kernel.apply_changes(&delete).expect("delete one");
    assert_eq!(applied.messages, 3);

    let rounds = 2000;
    let started = Instant::now();
    for i in 0..rounds {
        let ops = if i % 2 == 0 { &add } else { &delete };
        let applied = kernel.apply_changes(ops).expect("single change");
        assert_eq!(applied.messages, 3);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{rounds} single-element transactions with {ELEMENTS} elements present: {:?} each (debug build)",
        elapsed / rounds
    );
    assert_eq!(nft_element_count("open"), ELEMENTS);
}
