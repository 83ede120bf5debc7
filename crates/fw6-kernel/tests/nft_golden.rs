//! Golden tests: the table `Nft::apply_full` writes is the table `nft -f` loads from
//! `plan::render` of the same plan (docs/design.md §3; `nft -j list table inet fw6` is the oracle).
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
    let (ours, ours_text, our_expressions) = {
        let _ns = NetNs::enter_new();
        let mut kernel = Nft::new().expect("open netlink");
        kernel.apply_full(plan).expect("apply_full");
        (
            table_json(),
            nft(&["list", "table", "inet", "fw6"]),
            expressions(),
        )
    };
    let (theirs, their_expressions) = {
        let _ns = NetNs::enter_new();
        nft_load(&text);
        (table_json(), expressions())
    };
    assert!(
        ours == theirs,
        "netlink-built table differs from nft's:\nours:   {ours}\ntheirs: {theirs}"
    );
    // The listing hides the dependencies nft adds (`meta nfproto ipv6` before an IPv6 header
    // match in an `inet` table): the kernel's expressions must agree too.
    assert_eq!(
        our_expressions, their_expressions,
        "netlink-built rules' expressions differ from nft's"
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

/// The rules' kernel expressions as `nft --debug=netlink` prints them, register for register,
/// each under its chain's name (the handles, which depend on creation order, left out).
fn expressions() -> String {
    nft(&["--debug=netlink", "list", "table", "inet", "fw6"])
        .lines()
        .take_while(|line| !line.starts_with("table "))
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["[", ..] => Some(line.to_owned()),
                ["inet", "fw6", chain, _handle, ..] => Some(format!("{chain}:")),
                _ => None,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
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
        ipv4: true,
    };
    assert_same_as_nft(&plan::full(&logging(), &options));
}

#[test]
fn ipv6_only_families_match_nft() {
    let options = Options {
        ipv4: false,
        ..Options::default()
    };
    assert_same_as_nft(&plan::full(&logging(), &options));
    assert_same_as_nft(&plan::full(&sample(), &options));
}
