//! `LogfilePath` cannot be turned into a weapon (issue 14 item 2, docs/logging.md "Where the log
//! may live"): the real fw6d in a lab, attacks made over D-Bus as root (the caller polkit would
//! let change logging), each refused with InvalidArg and nothing created or changed. The
//! allowed directories are the lab's own (`log_directories`), never /var/log/fw6 or /etc.
//! Needs root.

mod common;

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Lab;

/// The lab's `logs` directory, and the lab directory itself (which holds the state directory,
/// so the store is inside an allowed directory and only the store rule protects it).
const CONFIG: &str = "log_directories = [\"@DIR@/logs\", \"@DIR@\"]\nlog_rate_per_second = 10000\n";

fn logfile_path(lab: &Lab) -> String {
    common::data(&lab.property("LogfilePath", None).unwrap())
        .as_str()
        .unwrap()
        .to_owned()
}

/// Everything in `dir`, recursively, with type, size and mtime: "nothing changed" is this
/// being equal before and after.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap().map(Result::unwrap) {
            let meta = entry.path().symlink_metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            let mtime = meta.modified().ok();
            out.push((
                entry.path(),
                format!("{:?} {} {mtime:?}", meta.file_type(), meta.len()),
            ));
        }
    }
    out.sort();
    out
}

/// The entries of `after` that are not in `before` as they were, and those of `before` gone
/// from `after`; the files the lab itself keeps writing (fw6d's and the bus's own output) aside.
fn changes(before: &[(PathBuf, String)], after: &[(PathBuf, String)], lab: &Lab) -> Vec<String> {
    let live = [
        lab.log_path().to_owned(),
        lab.bus.dir().join("dbus-daemon.log"),
    ];
    let kept = |(path, _): &&(PathBuf, String)| !live.contains(path);
    let added = after
        .iter()
        .filter(kept)
        .filter(|e| !before.contains(e))
        .map(|(p, m)| format!("now {}: {m}", p.display()));
    let gone = before
        .iter()
        .filter(kept)
        .filter(|e| !after.contains(e))
        .map(|(p, m)| format!("was {}: {m}", p.display()));
    added.chain(gone).collect()
}

#[test]
fn every_log_path_attack_is_refused_and_changes_nothing() {
    let lab = Lab::with(CONFIG, false);
    let dir = lab.bus.dir();
    let logs = dir.join("logs");
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&logs)
        .unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", logs.join("passwd")).unwrap();
    std::os::unix::fs::symlink("/etc", logs.join("etc")).unwrap();
    std::fs::create_dir(logs.join("dir")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(logs.join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    // Logging on, so a path that got through would be opened at once.
    lab.property("LogDroppedPackets", Some(&["b", "true"]))
        .unwrap();
    let before_path = logfile_path(&lab);
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let store = lab.state_dir.join("fw6.sqlite");
    let at = |name: &str| logs.join(name).to_str().unwrap().to_owned();
    let relative = format!("{}/../../etc/fw6-x.log", at("dir"));
    let attacks: Vec<(String, &str)> = vec![
        ("/etc/fw6-x.log".into(), "not inside an allowed directory"),
        (relative, "'..'"),
        (format!("{}//x.log", logs.display()), "'//'"),
        (at("passwd"), "symlink"),
        (format!("{}/fw6-x.log", at("etc")), "symlink"),
        (at("fifo"), "FIFO"),
        (at("dir"), "directory"),
        (at("dir/"), "ends with '/'"),
        (store.to_str().unwrap().into(), "state directory"),
        (format!("{}-wal", store.display()), "state directory"),
        (dir.join("bus").to_str().unwrap().into(), "socket"),
        ("firewall.log".into(), "absolute"),
        (format!("{}/a\nb.log", logs.display()), "control characters"),
    ];
    let before = snapshot(dir);
    for (path, rule) in &attacks {
        let err = lab
            .property("LogfilePath", Some(&["s", path]))
            .expect_err(path);
        assert!(
            err.contains("InvalidArgs") || err.contains("InvalidArg"),
            "{path:?}: {err}"
        );
        assert!(err.contains(rule), "{path:?} should break {rule:?}: {err}");
        assert!(
            err.contains(&format!(
                "inside {}, {} (log_directories",
                logs.display(),
                dir.display()
            )),
            "the error names the allowed directories: {err}"
        );
        // The same through Apply (the path `fw6 log set`, batches and import take).
        let err = lab
            .manager(
                "Apply",
                &["a(ssquss)", "1", "LogfilePath", "", "0", "0", "", path],
            )
            .expect_err(path);
        assert!(err.contains(rule), "Apply {path:?}: {err}");
    }
    assert_eq!(logfile_path(&lab), before_path);
    let changed = changes(&before, &snapshot(dir), &lab);
    assert!(
        changed.is_empty(),
        "nothing created or changed: {changed:#?}"
    );
    assert!(!Path::new("/etc/fw6-x.log").exists());
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd);
    assert!(
        std::fs::symlink_metadata(logs.join("passwd"))
            .unwrap()
            .is_symlink()
    );
    assert!(!lab.log().contains("panicked"), "{}", lab.log());

    // A legitimate path logs, and its rotation never replaces a `.old` fw6d did not write.
    let ok = logs.join("ok.log");
    let planted = logs.join("ok.log.old");
    std::fs::write(&planted, "not fw6d's\n").unwrap();
    lab.property("LogfilePath", Some(&["s", ok.to_str().unwrap()]))
        .unwrap();
    lab.property("LogfileMaximumSize", Some(&["u", "1"]))
        .unwrap();
    drop_until(&lab, "will not rotate onto");
    assert!(std::fs::read_to_string(&ok).unwrap().contains(" DROP UDP "));
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "not fw6d's\n");
    // Moved away, rotation resumes and the new `.old` is fw6d's own.
    std::fs::remove_file(&planted).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !planted.exists() {
        assert!(Instant::now() < deadline, "no rotation:\n{}", lab.log());
        send_drop(&lab);
    }
    assert!(
        std::fs::read_to_string(&planted)
            .unwrap()
            .starts_with("#Version: 1.0\n")
    );
}

/// One UDP packet from the lan peer to a closed port: dropped, and logged when that is on.
fn send_drop(lab: &Lab) {
    let lan = lab.topology.lan();
    let to = lan.host_sock(9001);
    let from = std::net::SocketAddrV6::new(lan.peer_addr(), 40001, 0, 0);
    lan.peer().run_in(|| {
        let s = std::net::UdpSocket::bind(from).unwrap();
        s.send_to(&[0; 200], to).unwrap();
    });
    std::thread::sleep(Duration::from_millis(20));
}

/// Sends drops until fw6d's own log says `what`.
fn drop_until(lab: &Lab, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.log().contains(what) {
        assert!(
            Instant::now() < deadline,
            "fw6d never said {what:?}:\n{}",
            lab.log()
        );
        send_drop(lab);
    }
}

#[test]
fn a_stored_path_the_configuration_no_longer_allows_is_never_opened() {
    let mut lab = Lab::with(CONFIG, false);
    let dir = lab.bus.dir().to_owned();
    let logs = dir.join("logs");
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&logs)
        .unwrap();
    let path = logs.join("a.log");
    lab.property("LogfilePath", Some(&["s", path.to_str().unwrap()]))
        .unwrap();
    lab.stop_daemon("TERM");
    std::fs::write(
        lab.config_path(),
        format!("log_directories = [\"{}/other\"]\n", dir.display()),
    )
    .unwrap();
    lab.start_daemon();
    lab.property("LogDroppedPackets", Some(&["b", "true"]))
        .unwrap();
    lab.wait_until(
        "the start-up error about the stored path",
        Duration::from_secs(5),
        || {
            lab.log()
                .contains("THE STORED LOG FILE PATH IS NOT ALLOWED")
        },
    );
    // Drops that would be logged until the writer says it was refused the file.
    drop_until(&lab, "cannot write the firewall log");
    assert!(
        lab.log().contains("not inside an allowed directory"),
        "{}",
        lab.log()
    );
    assert!(!path.exists(), "{} was opened", path.display());
    assert!(!dir.join("other").exists());
}

/// A `log_directories` entry that is relative, a symlink, or writable by others is a
/// configuration fw6d refuses to start with, naming the entry and the rule.
#[test]
fn unsafe_log_directories_refuse_the_configuration() {
    fw6_testkit::require_root("fw6d start-up checks of log_directories");
    let dir = fw6_testkit::temp_path("fw6d-logdirs");
    std::fs::DirBuilder::new().mode(0o755).create(&dir).unwrap();
    let open = dir.join("open");
    std::fs::DirBuilder::new()
        .mode(0o777)
        .create(&open)
        .unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(&open, dir.join("link")).unwrap();
    for (entry, rule) in [
        ("logs".to_owned(), "not an absolute path"),
        (format!("{}", open.display()), "writable by group or others"),
        (format!("{}/link", dir.display()), "is a symlink"),
        (format!("{}/../x", dir.display()), "'..'"),
    ] {
        let config = dir.join("fw6d.toml");
        std::fs::write(&config, format!("log_directories = [{entry:?}]\n")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fw6d"))
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(["--bus-address", "unix:path=/nonexistent/fw6-test-bus"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{entry}: {stderr}");
        assert!(
            stderr.contains("log_directories") && stderr.contains(rule),
            "{entry} should break {rule:?}: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
