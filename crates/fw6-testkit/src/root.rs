//! The privilege check every helper starts with.

/// Panics unless the process runs as root. `what` says which helper needed it.
///
/// Tests that need root must fail loudly rather than skip: a skipped privileged suite would
/// look like a pass in CI (docs/design.md §6).
pub fn require_root(what: &str) {
    assert!(
        rustix::process::geteuid().is_root(),
        "fw6-testkit: {what} needs root (network namespaces, veth links, raw sockets); \
         run the tests as root, e.g. with CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER='sudo -E'"
    );
}
