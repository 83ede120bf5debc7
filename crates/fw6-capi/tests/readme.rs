//! The README's "From C" and "From Python" sections are run, not only written: the first `c`
//! block of "## From C" is compiled with pkg-config against the installed libfw6, the first
//! `python` block of "## From Python" runs with the package from `python/src`, both against the
//! real fw6d in a lab, and their outputs are what the README's comments say.

mod lab;

use std::process::Command;

use lab::{Lab, compile, install, repo, run};

/// The first block fenced as `lang` after the heading `section`.
fn block(readme: &str, section: &str, lang: &str) -> String {
    let (_, after) = readme
        .split_once(&format!("\n{section}\n"))
        .unwrap_or_else(|| panic!("README.md has no {section:?}"));
    let (_, code) = after
        .split_once(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("{section} has no {lang} block"));
    code.split_once("```").expect("a closed block").0.to_owned()
}

#[test]
fn the_readme_examples_run_against_fw6d() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let lab = Lab::start(false);
    let prefix = install(&lab, false);

    let source = prefix.prefix().join("open.c");
    std::fs::write(&source, block(&readme, "## From C", "c")).expect("write open.c");
    let binary = compile(&lab, &prefix, &source, false);
    let mut cmd = Command::new(&binary);
    cmd.env("LD_LIBRARY_PATH", prefix.prefix().join("lib"));
    let out = run(&lab, "the README's C example", &mut lab.client(cmd));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "27015/udp open: yes\n"
    );

    let python = std::env::var("FW6_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut cmd = Command::new(python);
    cmd.args(["-c", &block(&readme, "## From Python", "python")])
        .env("PYTHONPATH", repo().join("python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run(&lab, "the README's Python example", &mut lab.client(cmd));
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[..2], ["True", "27015 UDP my game"], "{printed}");
    assert!(
        lines[2].starts_with("0x80070057 port 0 is out of range: use 1-65535"),
        "{printed}"
    );
}
