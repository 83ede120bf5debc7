//! `clean_up_on_signal`: an interrupted user of the kit leaves no namespace, child process or
//! temporary directory behind, and still dies by the signal (so a shell loop around it stops).

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// Kills the helper if the test fails before it signals it (its own clean-up then runs).
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            signal(&self.0, Signal::TERM);
            let _ = self.0.wait();
        }
    }
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    kill_process(pid, signal).unwrap();
}

/// Gone, or a zombie waiting for its new parent to reap it.
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
    let mut hold = Helper(
        Command::new(env!("CARGO_BIN_EXE_fw6-testkit-hold"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fw6-testkit-hold"),
    );
    let mut line = String::new();
    BufReader::new(hold.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [ns, dir, child] = parts[..] else {
        panic!("fw6-testkit-hold printed {line:?}");
    };
    assert!(Path::new(ns).exists() && Path::new(dir).is_dir() && !gone(child));
    signal(&hold.0, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = hold.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fw6-testkit-hold did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(!Path::new(ns).exists(), "{ns} is still there");
    assert!(!Path::new(dir).exists(), "{dir} is still there");
    assert!(gone(child), "child {child} is still running");
}
