//! libfw6 as a C programmer uses it: installed with `scripts/capi-install.sh` (header, soname
//! links, `fw6.pc`), programs compiled with `cc $(pkg-config --cflags --libs fw6)`, run against
//! the real fw6d in a namespace lab, and again under valgrind (no leak, no invalid access).
//! `tests/c/members.c` covers every member and the boundary rules; `examples/c/open_ports.c`
//! is the ICF sample ported. Needs root, `cc`, `pkg-config` and `valgrind`.

mod lab;

use std::path::Path;
use std::process::Command;

use lab::{Lab, compile, install, repo, run};

/// `program ARGS` against the lab, finding libfw6 in the prefix; under valgrind if asked.
fn program(lab: &Lab, prefix: &Path, binary: &Path, args: &[&str], valgrind: bool) -> String {
    let mut cmd = if valgrind {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
        ])
        .arg(binary);
        cmd
    } else {
        Command::new(binary)
    };
    cmd.args(args).env("LD_LIBRARY_PATH", prefix.join("lib"));
    let what = format!(
        "{}{} {args:?}",
        if valgrind { "valgrind " } else { "" },
        binary.display()
    );
    let out = run(lab, &what, &mut lab.client(cmd));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn members_and_the_ported_sample_run_clean_against_fw6d() {
    let lab = Lab::start(false);
    let prefix = install(&lab, true);
    let members = compile(
        &lab,
        &prefix,
        &repo().join("crates/fw6-capi/tests/c/members.c"),
        false,
    );
    let sample = compile(
        &lab,
        &prefix,
        &repo().join("examples/c/open_ports.c"),
        false,
    );
    let sample_static = compile(&lab, &prefix, &repo().join("examples/c/open_ports.c"), true);

    // The soname is what the program records, so an upgrade of libfw6.so.0 is picked up.
    let needed = run(
        &lab,
        "readelf",
        Command::new("readelf").arg("-d").arg(&sample),
    )
    .stdout;
    assert!(
        String::from_utf8_lossy(&needed).contains("[libfw6.so.0]"),
        "{}",
        String::from_utf8_lossy(&needed)
    );

    for valgrind in [false, true] {
        let report = program(&lab, prefix.prefix(), &members, &[], valgrind);
        assert!(report.trim_end().ends_with(" 0 failed"), "{report}");
        println!(
            "members.c{}: {}",
            if valgrind { " (valgrind)" } else { "" },
            report.trim()
        );
    }

    let first = program(
        &lab,
        prefix.prefix(),
        &sample,
        &["lan0", "27015", "udp", "my game"],
        false,
    );
    assert!(first.contains("opened port 27015 for my game"), "{first}");
    assert!(first.contains("open 27015/udp my game"), "{first}");
    // Another program's tag: the stored name marks the pair as someone else's.
    let second = program(
        &lab,
        prefix.prefix(),
        &sample_static,
        &["lan0", "27015", "udp", "other"],
        false,
    );
    assert!(
        second.contains("port 27015 is already open for my game"),
        "{second}"
    );
    // The check can fail: a forgotten enumerator is a leak valgrind reports.
    let leak = compile(
        &lab,
        &prefix,
        &repo().join("crates/fw6-capi/tests/c/leak.c"),
        false,
    );
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
    ])
    .arg(&leak)
    .env("LD_LIBRARY_PATH", prefix.prefix().join("lib"));
    let out = lab.client(cmd).output().expect("run valgrind");
    assert_eq!(
        out.status.code(),
        Some(99),
        "valgrind did not report the leaked enumerator:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = program(
        &lab,
        prefix.prefix(),
        &sample,
        &["lan0", "8080", "tcp", "web"],
        true,
    );
    assert!(checked.contains("open 8080/tcp web"), "{checked}");
    assert!(checked.contains("open 27015/udp my game"), "{checked}");
}
