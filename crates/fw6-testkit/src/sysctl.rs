//! Writing sysctls of one of our namespaces.
//!
//! `/proc/sys/net` shows the network namespace of the thread that opens it, so the write runs on
//! a thread inside the namespace ([`NetNs::run_in`]).

use crate::NetNs;

/// Writes `value` to `/proc/sys/net/<key>` (key with slashes, e.g. `ipv6/conf/default/...`)
/// inside `ns`, panicking on failure.
pub(crate) fn write(ns: &NetNs, key: &str, value: &str) {
    let path = format!("/proc/sys/net/{key}");
    let value = value.to_owned();
    ns.run_in(move || {
        std::fs::write(&path, &value)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot write {value:?} to {path}: {e}"));
    });
}

/// Reads `/proc/sys/net/<key>` inside `ns`, trimmed.
pub(crate) fn read(ns: &NetNs, key: &str) -> String {
    let path = format!("/proc/sys/net/{key}");
    ns.run_in(move || {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot read {path}: {e}"))
            .trim()
            .to_owned()
    })
}
