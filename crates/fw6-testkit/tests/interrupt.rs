//! `clean_up_on_signal`: an interrupted user of the kit leaves no namespace, child process or
//! temporary directory behind.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn sigterm_removes_namespaces_children_and_directories() {
    fw6_testkit::require_root("network namespaces");
    let mut hold = Command::new(env!("CARGO_BIN_EXE_fw6-testkit-hold"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start fw6-testkit-hold");
    let mut line = String::new();
    BufReader::new(hold.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [ns, dir, child] = parts[..] else {
        panic!("fw6-testkit-hold printed {line:?}");
    };
    assert!(Path::new(ns).exists() && Path::new(dir).is_dir() && !gone(child));
    let pid = rustix::process::Pid::from_raw(i32::try_from(hold.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = hold.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fw6-testkit-hold did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "{status:?} (signal {:?})",
        status.signal()
    );
    assert!(!Path::new(ns).exists(), "{ns} is still there");
    assert!(!Path::new(dir).exists(), "{dir} is still there");
    assert!(gone(child), "child {child} is still running");
}
