//! Upgrade in place (docs/ruleset.md, "Upgrade"): a host with the `ip6 fw6` table of a release
//! before dual stack goes to `inet fw6` in one transaction, so there is no instant without a
//! table and none with both. The old table is the previous release's own rendering of the
//! golden sample (`fixtures/ip6-fw6-previous.nft`), loaded with `nft -f` as it left it.
//!
//! Needs root: `sudo -E cargo test -p fw6-kernel --test nft_upgrade`.

mod common;

use common::{NetNs, nft, nft_load, sample};
use fw6_kernel::Nft;
use fw6_model::plan::{self, Options};

const PREVIOUS: &str = include_str!("fixtures/ip6-fw6-previous.nft");

#[test]
fn an_earlier_release_table_is_replaced_in_the_rebuild_transaction() {
    let _ns = NetNs::enter_new();
    nft_load(PREVIOUS);
    let mut kernel = Nft::new().expect("open netlink");
    assert!(kernel.legacy_table_exists().expect("look up ip6 fw6"));
    assert!(!kernel.table_exists().expect("look up inet fw6"));
    let before = kernel.generation().expect("generation");

    let plan = plan::full(&sample(), &Options::default());
    let applied = kernel
        .apply_full(&plan)
        .expect("apply_full over the old table");

    // One commit: the generation moved by exactly one, and it is the one that did both.
    assert_eq!(
        applied.generation,
        before.wrapping_add(1),
        "one transaction"
    );
    assert!(!kernel.legacy_table_exists().expect("look up ip6 fw6"));
    assert!(kernel.table_exists().expect("look up inet fw6"));
    assert_eq!(nft(&["list", "tables"]), "table inet fw6\n");

    // Later rebuilds (drift repair) find no old table and replace only ours.
    let again = kernel.apply_full(&plan).expect("rebuild");
    assert_eq!(again.generation, applied.generation.wrapping_add(1));
    assert_eq!(nft(&["list", "tables"]), "table inet fw6\n");
}

#[test]
fn an_old_table_made_again_by_someone_is_removed_by_the_next_rebuild() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let plan = plan::full(&sample(), &Options::default());
    kernel.apply_full(&plan).expect("first build");
    // A stale configuration-management run restores the old ruleset next to ours.
    nft_load(PREVIOUS);
    assert_eq!(nft(&["list", "tables"]), "table inet fw6\ntable ip6 fw6\n");
    kernel.apply_full(&plan).expect("rebuild");
    assert_eq!(nft(&["list", "tables"]), "table inet fw6\n");
}
