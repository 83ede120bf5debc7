//! Recovery: drift repaired when another program changes our table, a store that cannot
//! write fails the call without touching the kernel, a corrupt store is moved aside. Needs root.

mod common;

use std::time::Duration;

use common::{Lab, data};
use fw6_testkit::{Family, Outcome};

const PASS: Duration = Duration::from_secs(3);
const DROP: Duration = Duration::from_millis(400);

#[test]
fn drift_is_repaired() {
    let lab = Lab::start();
    lab.connection("lan0", "OpenPort", &["qus", "7000", "6", "x"])
        .unwrap();
    // A large batch is committed with the monitor not listening; it must be back afterwards.
    let mut batch = vec!["a(ssquss)".to_owned(), "200".to_owned()];
    for port in 8000..8200 {
        batch.extend(["OpenPort", "lan0", &port.to_string(), "6", "bulk", ""].map(str::to_owned));
    }
    let batch: Vec<&str> = batch.iter().map(String::as_str).collect();
    lab.manager("Apply", &batch).unwrap();
    let good = lab.table();
    let second = Duration::from_secs(1);
    lab.nft(&["delete", "table", "inet", "fw6"]);
    lab.wait_until("the deleted table to come back", second, || {
        lab.table() == good
    });
    // The rebuilt table filters both families again.
    let (_open, _closed) = (
        lab.topology.host().tcp_listen(7000),
        lab.topology.host().tcp_listen(7001),
    );
    for f in Family::ALL {
        let lan = lab.topology.lan();
        assert_eq!(lan.tcp_connect_in(f, 7000, PASS), Outcome::Connected, "{f}");
        assert_eq!(lan.tcp_connect_in(f, 7001, DROP), Outcome::TimedOut, "{f}");
    }
    lab.nft(&["flush", "table", "inet", "fw6"]);
    lab.wait_until("the flushed table to be refilled", second, || {
        lab.table() == good
    });
    lab.nft(&[
        "add",
        "element",
        "inet",
        "fw6",
        "global_open",
        "{ tcp . 9999 }",
    ]);
    lab.wait_until("the stray element to go", second, || lab.table() == good);
    assert!(lab.log().contains("rebuilt the fw6 table"), "{}", lab.log());

    // Repairs do not feed on themselves, and other tables are none of our business.
    let repairs = || data(&lab.manager("Status", &[]).unwrap())[0]["repairs"]["data"].clone();
    let settled = repairs();
    assert_eq!(
        settled,
        3,
        "three outside changes, three repairs\n{}",
        lab.log()
    );
    lab.nft(&["add", "table", "inet", "someone_else"]);
    lab.nft(&[
        "add",
        "set",
        "inet",
        "someone_else",
        "s",
        "{ type ipv6_addr; }",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        repairs(),
        settled,
        "no rebuild loop, no rebuild for other tables"
    );
    let status = data(&lab.manager("Status", &[]).unwrap());
    assert_eq!(status[0]["table"]["data"], "in-sync");
}

#[test]
fn a_store_that_cannot_write_fails_the_call_and_leaves_the_kernel_alone() {
    let lab = Lab::start();
    let before = lab.table();
    // Not the -shm index: SQLite maps it, and an unwritable mapping is not a failure mode a
    // real disk has.
    let files: Vec<String> = ["", "-wal"]
        .iter()
        .map(|s| format!("{}{s}", lab.state_dir.join("fw6.sqlite").display()))
        .filter(|f| std::path::Path::new(f).exists())
        .collect();
    let chattr = |flag: &str| {
        for f in &files {
            let ok = std::process::Command::new("chattr")
                .args([flag, f])
                .status()
                .unwrap()
                .success();
            assert!(
                ok,
                "chattr {flag} {f} failed: this test needs root on a file system with attributes"
            );
        }
    };
    let lan0 = lab.connection_path("lan0");
    chattr("+i");
    let err = lab.send_as(
        None,
        &lan0,
        "OpenPort",
        &["uint16:6000", "uint32:6", "string:x"],
    );
    chattr("-i");
    let err = err.unwrap_err();
    assert!(
        err.contains("org.fw6.Firewall1.Error.Fail") && err.contains("0x80004005"),
        "{err}\n{}",
        lab.log()
    );
    assert!(
        err.contains("readonly") || err.contains("I/O error"),
        "SQLite's words: {err}"
    );
    assert_eq!(lab.table(), before, "the kernel is unchanged");
    assert_eq!(
        data(
            &lab.connection("lan0", "IsPortOpen", &["qu", "6000", "6"])
                .unwrap()
        )[0],
        false
    );
    lab.connection("lan0", "OpenPort", &["qus", "6000", "6", "x"])
        .unwrap();
    assert!(
        lab.table().contains("\"lan0\" . tcp . 6000"),
        "recovers once the store can write"
    );
}

#[test]
fn a_corrupt_store_is_moved_aside_and_defaults_apply() {
    let mut lab = Lab::start();
    lab.stop_daemon("TERM");
    let db = lab.state_dir.join("fw6.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, b"this is not a database, it is garbage").unwrap();
    lab.start_daemon();
    let moved: Vec<_> = std::fs::read_dir(&lab.state_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1, "the old file is kept");
    assert_eq!(
        std::fs::read(moved[0].path()).unwrap(),
        b"this is not a database, it is garbage"
    );
    assert!(
        lab.log().contains("THE STORE WAS UNREADABLE"),
        "{}",
        lab.log()
    );
    let global = data(&lab.manager("EnumerateGloballyOpenPorts", &[]).unwrap());
    assert_eq!(global[0].as_array().unwrap().len(), 2, "safe defaults");
}
