//! Shared helpers of the nftables tests: the `nft` binary as the oracle, and the model states the
//! tests load.
//!
//! Each test runs in a private network namespace of its own: fw6-testkit's
//! [`NetNs::enter_new`] (re-exported here) creates one and moves the calling thread into it;
//! dropping the guard moves the thread back and deletes the namespace, also when the test
//! panics. Processes started from the thread (`nft`, `ip`) inherit the namespace. The machine's
//! own namespace is never touched.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::process::Command;

pub use fw6_model::fixtures::{ifname, key, logging, name, sample};
pub use fw6_testkit::NetNs;

/// Runs a command and returns its stdout, failing the test with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `nft ARGS` in the current namespace.
pub fn nft(args: &[&str]) -> String {
    run("nft", args)
}

/// Loads nft text with `nft -f`.
pub fn nft_load(text: &str) {
    let path = std::env::temp_dir().join(format!(
        "fw6-kernel-test-{}-{:?}.nft",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, text).expect("write nft file");
    let result = Command::new("nft").arg("-f").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let out = result.expect("run nft -f");
    assert!(
        out.status.success(),
        "nft -f failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nft -j list table inet fw6`, without handles and metainfo, set elements sorted: the table's
/// content and nothing about how or when it was made.
pub fn table_json() -> serde_json::Value {
    let text = nft(&["-j", "list", "table", "inet", "fw6"]);
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("nft -j output");
    normalize(&mut value);
    value
}

fn normalize(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("handle");
            map.remove("metainfo");
            if let Some(serde_json::Value::Array(elements)) = map.get_mut("elem") {
                elements.sort_by_key(ToString::to_string);
            }
            map.values_mut().for_each(normalize);
        }
        serde_json::Value::Array(items) => {
            items.retain(|item| item.get("metainfo").is_none());
            items.iter_mut().for_each(normalize);
        }
        _ => {}
    }
}

/// The number of elements `nft` lists in set `set` of our table.
pub fn nft_element_count(set: &str) -> usize {
    let text = nft(&["-j", "list", "set", "inet", "fw6", set]);
    let value: serde_json::Value = serde_json::from_str(&text).expect("nft -j output");
    value["nftables"]
        .as_array()
        .expect("nftables array")
        .iter()
        .filter_map(|item| item.get("set"))
        .map(|set| {
            set.get("elem")
                .and_then(|e| e.as_array())
                .map_or(0, Vec::len)
        })
        .sum()
}
