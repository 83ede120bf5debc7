//! A refused batch changes nothing: the listing and the generation are the same before and
//! after, and the error names the operation (down to the element) and keeps the errno.
//!
//! Needs root; each test runs in its own network namespace:
//! `sudo -E cargo test -p fw6-kernel --test nft_failure`.

mod common;

use common::{NetNs, ifname, key, sample, table_json};
use fw6_kernel::{Error, Nft};
use fw6_model::plan::{self, Element, ElementOp, Options, SetName};

/// `ENOENT`: no such element, set or table.
const ENOENT: i32 = 2;

fn open(interface: &str, port: &str) -> Element {
    Element::ConnectionPair(ifname(interface), key(port))
}

/// Runs `ops`, which must fail, and checks that the kernel kept its table and generation.
fn refused(kernel: &mut Nft, ops: &[ElementOp]) -> Error {
    let listing = kernel
        .table_exists()
        .expect("table lookup")
        .then(table_json);
    let generation = kernel.generation().expect("generation");
    let error = kernel
        .apply_changes(ops)
        .expect_err("the batch must be refused");
    eprintln!("refused as expected: {error}");
    assert_eq!(
        kernel.generation().expect("generation"),
        generation,
        "a commit happened"
    );
    let after = kernel
        .table_exists()
        .expect("table lookup")
        .then(table_json);
    assert_eq!(after, listing, "the kernel changed");
    error
}

#[test]
fn deleting_an_absent_element_refuses_the_whole_batch() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    let error = refused(
        &mut kernel,
        &[
            ElementOp::Add(SetName::Open, open("lan0", "443/tcp")),
            ElementOp::Add(SetName::GlobalOpen, Element::Pair(key("8080/tcp"))),
            ElementOp::Delete(SetName::Open, open("lan9", "9/udp")),
        ],
    );
    assert_eq!(error.errno(), Some(ENOENT));
    assert!(
        error
            .to_string()
            .contains(r#"delete element "lan9" . udp . 9 from set open"#),
        "{error}"
    );
    assert!(matches!(error, Error::Kernel { .. }));
}

#[test]
fn the_extended_ack_points_at_the_failing_element_inside_a_message() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    // One message of three deletes; only the middle element is absent.
    let error = refused(
        &mut kernel,
        &[
            ElementOp::Delete(SetName::Open, open("lan0", "80/tcp")),
            ElementOp::Delete(SetName::Open, open("lan0", "81/tcp")),
            ElementOp::Delete(SetName::Open, open("lan0", "5353/udp")),
        ],
    );
    assert_eq!(error.errno(), Some(ENOENT));
    assert!(
        error
            .to_string()
            .contains(r#"delete element "lan0" . tcp . 81 from set open"#),
        "the kernel's attribute offset should single out the element: {error}"
    );
}

#[test]
fn an_element_for_a_missing_set_changes_nothing() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let error = refused(
        &mut kernel,
        &[ElementOp::Add(
            SetName::Unfirewalled,
            Element::Connection(ifname("lan0")),
        )],
    );
    assert_eq!(error.errno(), Some(ENOENT));
    assert!(
        error
            .to_string()
            .contains(r#"add element "lan0" to set unfirewalled"#),
        "{error}"
    );
    assert!(!kernel.table_exists().expect("table lookup"));
}

#[test]
fn a_large_batch_failing_in_its_last_message_leaves_no_trace() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    let mut ops: Vec<ElementOp> = (1..=5000u32)
        .map(|port| ElementOp::Add(SetName::Open, open("bulk0", &format!("{port}/tcp"))))
        .collect();
    ops.push(ElementOp::Delete(SetName::Ignored, open("wan0", "23/tcp")));
    let error = refused(&mut kernel, &ops);
    assert_eq!(error.errno(), Some(ENOENT));
    assert!(
        error
            .to_string()
            .contains(r#"delete element "wan0" . tcp . 23 from set ignored"#),
        "{error}"
    );
    assert_eq!(
        common::nft_element_count("open"),
        2,
        "none of the 5000 adds stayed"
    );
}

/// A batch the kernel answers with more errors than the receive buffer holds (100,000 deletes of
/// one absent element: each its own message, each refused) fails in bounded time with an error
/// whose outcome is unknown or with the first refusal, the kernel keeps its table, and the next
/// commit through the same handle works.
#[test]
fn a_flood_of_refusals_fails_cleanly_and_the_handle_still_works() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    kernel
        .apply_full(&plan::full(&sample(), &Options::default()))
        .expect("apply_full");
    let absent = open("lan9", "9/udp");
    let ops = vec![ElementOp::Delete(SetName::Open, absent.clone()); 100_000];
    let started = std::time::Instant::now();
    let error = refused(&mut kernel, &ops);
    let took = started.elapsed();
    eprintln!(
        "100,000 refused messages: {took:?}, outcome unknown: {}",
        error.outcome_unknown()
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(
        error.outcome_unknown() || error.errno() == Some(ENOENT),
        "{error}"
    );
    let applied = kernel
        .apply_changes(&[
            ElementOp::Add(SetName::Open, absent.clone()),
            ElementOp::Delete(SetName::Open, absent),
        ])
        .expect("the next commit works");
    assert_eq!(applied.messages, 4, "{applied:?}");
}
