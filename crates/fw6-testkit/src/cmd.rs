//! Running `ip` and other tools inside one of our namespaces.
//!
//! Link and address setup shells out to `ip -n <ns>`: the switch into the namespace happens in
//! the child before it does anything, so a typo can never touch the machine's own namespace.

use std::process::{Command, Output};

/// Runs `cmd`, panicking with its stderr when it fails: a broken test fixture must stop the
/// test at the line that built it.
pub(crate) fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "fw6-testkit: {shown} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// `ip -n <ns> <args>`, panicking on failure; returns stdout.
pub(crate) fn ip(ns: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("ip");
    cmd.arg("-n").arg(ns).args(args);
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}
