//! The Python package (`python/`) against the real fw6d: starts the lab with the real polkitd
//! and runs its pytest suite with `FW6_BUS_ADDRESS`, so the Python tests see a real daemon, a
//! real bus and real polkit decisions (an unprivileged caller is refused). The package under
//! test is the one `pip install` makes of a copy of `python/` (so packaging is tested too, and
//! the checkout gets no build directories). It lives in this crate because the
//! foreign-language clients share the lab. Needs root and, for `/usr/bin/python3` (or
//! `$FW6_PYTHON`), Debian's `python3-jeepney`, `python3-pytest`, `python3-pip`,
//! `python3-setuptools` and `python3-wheel`.

mod lab;

use std::process::Command;

use lab::{Lab, Prefix, repo, run};

#[test]
fn the_python_suite_passes_against_fw6d() {
    let lab = Lab::start(true);
    let python = std::env::var("FW6_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let work = Prefix(fw6_testkit::temp_path("python"));
    let source = work.0.join("source");
    let site = work.0.join("site");
    std::fs::create_dir_all(&work.0).expect("create the work directory");
    run(
        &lab,
        "copying python/",
        Command::new("cp")
            .arg("-r")
            .arg(repo().join("python"))
            .arg(&source),
    );
    // Offline and without build isolation: setuptools comes from Debian, as jeepney does.
    run(
        &lab,
        "pip install python/",
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "--no-index"])
            .args(["--no-build-isolation", "--target"])
            .arg(&site)
            .arg(&source),
    );
    assert!(
        site.join("fw6/py.typed").exists(),
        "the package lacks py.typed"
    );
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"])
        .current_dir(&source)
        .env("PYTHONPATH", &site)
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
