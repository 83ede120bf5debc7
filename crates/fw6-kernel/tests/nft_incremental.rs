//! A state reached by incremental set-element changes lists exactly as the full rebuild of the
//! same state: `plan::update` plus `Nft::apply_changes` never drift from `plan::full`.
//!
//! Needs root; runs in its own network namespace:
//! `sudo -E cargo test -p fw6-kernel --test nft_incremental`.

mod common;

use common::{NetNs, ifname, key, name, table_json};
use fw6_kernel::Nft;
use fw6_model::plan::{self, Options, Update};
use fw6_model::{Mutation, State};
use fw6_testkit::stats::Rng;

/// A random mutation over a few connections and ports, so opens, closes, ignores and
/// firewall switches hit the same elements again and again.
fn mutation(rng: &mut Rng) -> Mutation {
    let connections = ["lan0", "wan0", "wlan0", "lab0"];
    let connection = ifname(connections[rng.pick(connections.len())]);
    let port = [22, 80, 443, 546, 5353, 8080][rng.pick(6)];
    let proto = ["tcp", "udp"][rng.pick(2)];
    let key = key(&format!("{port}/{proto}"));
    match rng.pick(10) {
        0 => Mutation::OpenGlobalPort {
            key,
            name: name("g"),
            lease: None,
        },
        1 => Mutation::CloseGlobalPort { key },
        2 => Mutation::EnableFirewall { connection },
        3 => Mutation::DisableFirewall { connection },
        4 | 5 => Mutation::OpenPort {
            connection,
            key,
            name: name("p"),
            lease: None,
        },
        6 => Mutation::ClosePort { connection, key },
        7 => Mutation::IgnoreGlobalPort {
            connection,
            key,
            name: name("i"),
        },
        8 => Mutation::ObserveGlobalPort { connection, key },
        _ => Mutation::SetLogDroppedPackets {
            enabled: rng.pick(2) == 0,
        },
    }
}

#[test]
fn incremental_changes_list_exactly_as_a_full_rebuild() {
    let _ns = NetNs::enter_new();
    let mut kernel = Nft::new().expect("open netlink");
    let options = Options::default();
    let mut state = State::default();
    kernel
        .apply_full(&plan::full(&state, &options))
        .expect("initial table");
    let mut rng = Rng::new(0x5eed_f00d);
    let (mut element_batches, mut rebuilds) = (0, 0);
    for step in 0..400 {
        // Mostly single calls; every fifth step a batch of several mutations in one call.
        let count = if step % 5 == 0 { 1 + rng.pick(6) } else { 1 };
        let batch: Vec<Mutation> = (0..count).map(|_| mutation(&mut rng)).collect();
        let Ok(changes) = state.apply_batch(&batch) else {
            continue; // e.g. closing a port that is not open: the state refused it, as the API would
        };
        match plan::update(&changes) {
            Update::Elements(ops) => {
                let applied = kernel
                    .apply_changes(&ops)
                    .unwrap_or_else(|e| panic!("step {step} {batch:?}: {e}"));
                if !ops.is_empty() {
                    element_batches += 1;
                    assert!(applied.messages >= 3, "{applied:?}");
                }
            }
            Update::Rebuild => {
                rebuilds += 1;
                kernel
                    .apply_full(&plan::full(&state, &options))
                    .expect("rebuild");
            }
        }
        if step % 50 == 49 {
            let incremental = table_json();
            kernel
                .apply_full(&plan::full(&state, &options))
                .expect("full rebuild");
            assert_eq!(incremental, table_json(), "after step {step}");
        }
    }
    assert!(
        element_batches > 100,
        "only {element_batches} element batches"
    );
    assert!(rebuilds > 0, "the sequence never switched logging");
    let incremental = table_json();
    kernel
        .apply_full(&plan::full(&state, &options))
        .expect("full rebuild");
    assert_eq!(incremental, table_json());
    assert!(
        plan::full(&state, &options).element_count() > 5,
        "the final state should not be trivial"
    );
}
