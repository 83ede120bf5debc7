//! The Python package (`python/`) against the real fw6d: starts the lab with the real polkitd
//! and runs its pytest suite with `FW6_BUS_ADDRESS`, so the Python tests see a real daemon, a
//! real bus and real polkit decisions (an unprivileged caller is refused). It lives in this
//! crate because the foreign-language clients share the lab. Needs root, Debian's
//! `python3-jeepney` and `python3-pytest` for `/usr/bin/python3` (or `$FW6_PYTHON`).

mod lab;

use std::process::Command;

use lab::{Lab, repo, run};

#[test]
fn the_python_suite_passes_against_fw6d() {
    let lab = Lab::start(true);
    let python = std::env::var("FW6_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let dir = repo().join("python");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"])
        .current_dir(&dir)
        .env("PYTHONPATH", dir.join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run(&lab, "pytest (python/tests)", &mut lab.client(cmd));
    let report = String::from_utf8_lossy(&out.stdout);
    let last = report.lines().last().unwrap_or_default();
    println!("python/tests: {last}");
    assert!(
        last.contains(" passed") && !last.contains("failed") && !last.contains("skipped"),
        "{report}"
    );
}
