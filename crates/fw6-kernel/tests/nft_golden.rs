//! Golden tests: the table `Nft::apply_full` writes is the table `nft -f` loads from
//! `plan::render` of the same plan (docs/design.md §3; `nft -j list table ip6 fw6` is the oracle).
//!
//! Needs root; each test runs in its own network namespaces:
//! `sudo -E cargo test -p fw6-kernel --test nft_golden`.

mod common;

use common::{NetNs, logging, nft, nft_load, sample, table_json};
use fw6_kernel::Nft;
use fw6_model::State;
use fw6_model::plan::{self, EchoRequest, Options, TablePlan};

/// Loads `plan` over netlink in one namespace and as nft text in another; both listings agree.
fn assert_same_as_nft(plan: &TablePlan) {
    let text = plan::render(plan);
    let (ours, ours_text) = {
        let _ns = NetNs::enter_new();
        let mut kernel = Nft::new().expect("open netlink");
        kernel.apply_full(plan).expect("apply_full");
        (table_json(), nft(&["list", "table", "ip6", "fw6"]))
    };
    let theirs = {
        let _ns = NetNs::enter_new();
        nft_load(&text);
        table_json()
    };
    assert!(
        ours == theirs,
        "netlink-built table differs from nft's:\nours:   {ours}\ntheirs: {theirs}"
    );
    // render() starts with the add/delete idiom; the rest is what `nft list` prints.
    let expected = text
        .splitn(3, '\n')
        .nth(2)
        .expect("render() has the idiom lines");
    assert_eq!(
        ours_text, expected,
        "plain-text listing differs from render()"
    );
}

#[test]
fn empty_state_matches_nft() {
    assert_same_as_nft(&plan::full(&State::default(), &Options::default()));
}

#[test]
fn sample_state_with_every_set_populated_matches_nft() {
    assert_same_as_nft(&plan::full(&sample(), &Options::default()));
}

#[test]
fn logging_with_echo_drop_matches_nft() {
    let options = Options {
        echo_request: EchoRequest::Drop,
        ..Options::default()
    };
    assert_same_as_nft(&plan::full(&logging(), &options));
}

#[test]
fn non_default_rates_and_group_match_nft() {
    let options = Options {
        echo_request: EchoRequest::Accept { per_second: 3 },
        log_group: 300,
        log_per_second: 7,
    };
    assert_same_as_nft(&plan::full(&logging(), &options));
}
