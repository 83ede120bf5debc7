//! `fw6 log tail --file`: the last lines, and `-f` across a rotation (the file renamed to
//! `.old`, a new one started), as the real binary prints them; control characters escaped
//! unless `--raw`. Needs no daemon and no root.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fw6-log-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn tail_prints_the_last_lines_and_json() {
    let dir = scratch("last");
    let path = dir.join("a.log");
    std::fs::write(&path, "#Version: 1.0\none\ntwo\nthree\npartial").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["log", "tail", "-n", "2", "--file"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "two\nthree\n");
    let out = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["--json", "log", "tail", "-n", "1", "--file"])
        .arg(&path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lines"], serde_json::json!(["three"]));
    let missing = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["log", "tail", "--file", "/nonexistent/fw6.log"])
        .output()
        .unwrap();
    assert_eq!(
        missing.status.code(),
        Some(3),
        "a missing file is InvalidArg"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn follow_continues_across_a_rotation_until_interrupted() {
    let dir = scratch("follow");
    let path = dir.join("f.log");
    std::fs::write(&path, "old-1\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["log", "tail", "-f", "--file"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(3))
            .expect("a line within 3 s")
    };
    assert_eq!(next(), "old-1");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"old-2\n"))
        .unwrap();
    assert_eq!(next(), "old-2");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(&path, dir.join("f.log.old")).unwrap();
    std::fs::write(&path, "new-1\n").unwrap();
    assert_eq!(next(), "new-1");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "Ctrl-C ends -f cleanly: {exit:?}");
    reader.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_planted_line_cannot_reach_the_terminal_unless_raw() {
    let dir = scratch("escape");
    let path = dir.join("e.log");
    // A window title, a screen clear, a bell, a C1 CSI and a right-to-left override.
    let planted = "x \u{1b}]0;owned\u{7} \u{1b}[2J \u{9b}31m \u{202e}gnp.exe\n";
    std::fs::write(&path, format!("ok\n{planted}")).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fw6"))
            .args(["log", "tail", "--file"])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let shown = run(&[]);
    assert_eq!(
        shown,
        "ok\nx ^[]0;owned^G ^[[2J <U+009B>31m <U+202E>gnp.exe\n"
    );
    assert!(!shown.chars().any(|c| c.is_control() && c != '\n'));
    let raw = run(&["--raw"]);
    assert_eq!(raw, format!("ok\n{planted}"));
    // -f escapes too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["log", "tail", "-n", "1", "-f", "--file"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("a line within 3 s");
    assert!(line.starts_with("x ^[]0;owned^G"), "{line:?}");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    reader.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
