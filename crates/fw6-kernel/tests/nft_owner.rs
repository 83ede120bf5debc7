//! `owner` + `persist` (Linux 6.9 and later): detected at the first rebuild of an owning handle;
//! other programs can then neither change nor delete the table, `flush ruleset` leaves it, it
//! outlives its owner, and a new owning handle adopts it. On an older kernel the handle falls
//! back to drift repair, and the test checks that instead.
//!
//! Needs root; each test runs in its own network namespace:
//! `sudo -E cargo test -p fw6-kernel --test nft_owner`.

mod common;

use std::process::Command;

use common::{NetNs, nft, sample};
use fw6_kernel::{Nft, Protection};
use fw6_model::plan::{self, Options};

/// Whether this kernel has `NFT_TABLE_F_PERSIST` (6.9).
fn kernel_has_persist() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 9)
}

/// `nft ARGS`, which must fail: its stderr.
fn nft_refused(args: &[&str]) -> String {
    let out = Command::new("nft").args(args).output().expect("run nft");
    assert!(
        !out.status.success(),
        "nft {args:?} succeeded on an owned table"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn table_exists() -> bool {
    Command::new("nft")
        .args(["list", "table", "inet", "fw6"])
        .output()
        .expect("run nft")
        .status
        .success()
}

#[test]
fn an_owned_table_resists_others_outlives_its_owner_and_is_adopted() {
    let _ns = NetNs::enter_new();
    let full = plan::full(&sample(), &Options::default());
    let mut owner = Nft::new().expect("open netlink").owning();
    owner.apply_full(&full).expect("first apply_full");
    if !kernel_has_persist() {
        assert_eq!(owner.protection(), Protection::DriftRepair);
        return;
    }
    assert_eq!(owner.protection(), Protection::OwnerPersist);
    let listing = nft(&["list", "table", "inet", "fw6"]);
    assert!(listing.contains("owner"), "{listing}");

    // Others: no change, no delete, and `flush ruleset` passes it by.
    let e = nft_refused(&["delete", "table", "inet", "fw6"]);
    assert!(e.contains("Operation not permitted"), "{e}");
    nft_refused(&["add", "chain", "inet", "fw6", "intruder"]);
    nft(&["flush", "ruleset"]);
    assert!(table_exists(), "flush ruleset deleted the owned table");

    // The owner rebuilds and changes it as before.
    owner.apply_full(&full).expect("rebuild by the owner");

    // The owner dies (its socket closes): the table stays, and a new owner adopts it.
    drop(owner);
    assert!(table_exists(), "the table died with its owner");
    let mut heir = Nft::new().expect("open netlink").owning();
    heir.apply_full(&full).expect("adopt the orphaned table");
    assert_eq!(heir.protection(), Protection::OwnerPersist);
    nft_refused(&["delete", "table", "inet", "fw6"]);

    // Orphaned again, anyone may delete it (what `apt purge` does).
    drop(heir);
    nft(&["delete", "table", "inet", "fw6"]);
    assert!(!table_exists());
}

#[test]
fn an_owning_handle_takes_over_a_plain_table_and_a_plain_handle_stays_plain() {
    let _ns = NetNs::enter_new();
    let full = plan::full(&sample(), &Options::default());
    let mut plain = Nft::new().expect("open netlink");
    plain.apply_full(&full).expect("plain apply_full");
    assert_eq!(plain.protection(), Protection::DriftRepair);
    assert!(!nft(&["list", "table", "inet", "fw6"]).contains("owner"));
    drop(plain);

    // An older fw6d's table (no flags) is replaced by an owned one.
    let mut owner = Nft::new().expect("open netlink").owning();
    owner.apply_full(&full).expect("take over a plain table");
    let expected = if kernel_has_persist() {
        Protection::OwnerPersist
    } else {
        Protection::DriftRepair
    };
    assert_eq!(owner.protection(), expected);
    owner.delete_table().expect("the owner deletes its table");
    assert!(!table_exists());
}

#[test]
fn a_plain_handle_replaces_an_orphaned_owned_table() {
    let _ns = NetNs::enter_new();
    let full = plan::full(&sample(), &Options::default());
    let mut owner = Nft::new().expect("open netlink").owning();
    owner.apply_full(&full).expect("owned apply_full");
    drop(owner);
    // fw6d restarted with table_owner = false: it takes the orphan over and makes it plain.
    // The kernel lets go of the closed owner's table as it releases the socket, which a loaded
    // machine was seen to finish just after `close` returned: until then the table is still
    // owned (EPERM). A restarted daemon comes far later; the test allows a bounded moment.
    let mut plain = Nft::new().expect("open netlink");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while let Err(e) = plain.apply_full(&full) {
        assert!(
            std::time::Instant::now() < deadline,
            "replace the orphaned table: {e}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(plain.protection(), Protection::DriftRepair);
    assert!(!nft(&["list", "table", "inet", "fw6"]).contains("owner"));
    nft(&["delete", "table", "inet", "fw6"]);
}
