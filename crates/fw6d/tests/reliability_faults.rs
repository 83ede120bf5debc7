//! Fail closed and faults (issue 8 §2, §3): a dead daemon leaves the kernel enforcing; a damaged
//! store is moved aside intact and the safe defaults apply, loudly; a read-only state directory
//! (every file immutable, `-shm` included), a full disk and a kernel that refuses a batch each
//! fail the call with Fail and the store's or kernel's words, change nothing, keep reads
//! working, and the daemon recovers once the fault is gone. Needs root.

mod common;
mod reliability;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{CONN_IFACE, Lab};
use fw6_testkit::{Family, Outcome};
use reliability::{Facts, Reply, figure};

const DROP: Duration = Duration::from_millis(400);

/// The daemon's answers, the store and the kernel, asserted to agree; returns them.
fn agreed(lab: &Lab, conn: &zbus::Connection, rt: &tokio::runtime::Runtime) -> Facts {
    let answers = rt
        .block_on(reliability::dbus_facts(conn))
        .expect("reads keep working");
    let (store, integrity) = reliability::store_facts(&lab.state_dir);
    assert_eq!(integrity, Ok(()));
    let kernel = reliability::kernel_facts(lab);
    assert_eq!(
        answers,
        store,
        "daemon vs store:\n{}",
        answers.diff(&store, true)
    );
    assert_eq!(
        kernel.keys,
        store.keys,
        "kernel vs store:\n{}",
        kernel.diff(&store, false)
    );
    answers
}

fn open_port(
    rt: &tokio::runtime::Runtime,
    conn: &zbus::Connection,
    path: &str,
    port: u16,
) -> Reply {
    Reply::of(&rt.block_on(reliability::call(
        conn,
        path,
        CONN_IFACE,
        "OpenPort",
        &(port, 6_u32, "fault"),
    )))
}

fn assert_fail(reply: &Reply, words: &[&str], log: &str) {
    match reply {
        Reply::Fw(kind, msg) if kind == "Fail" => {
            assert!(msg.contains("0x80004005"), "{msg}");
            assert!(
                words.iter().any(|w| msg.contains(w)),
                "the message should carry one of {words:?}: {msg}"
            );
        }
        other => panic!("expected Fail, got {other:?}\n{log}"),
    }
}

#[test]
fn a_dead_daemon_keeps_enforcing_and_a_damaged_store_falls_back_loudly() {
    fw6_testkit::require_root("reliability_faults");
    let mut lab = Lab::start();
    lab.connection("lan0", "OpenPort", &["qus", "8080", "6", "web"])
        .unwrap();
    let _web = lab.topology.host().tcp_listen(8080);
    let _other = lab.topology.host().tcp_listen(8081);
    lab.stop_daemon("KILL");
    // Dead for a while: the kernel keeps the table, so open stays open and closed stays
    // closed (several probes over ~2 s, not one lucky one).
    let mut probes = 0;
    for _ in 0..3 {
        for f in Family::ALL {
            let (lan, wan) = (lab.topology.lan(), lab.topology.wan());
            assert_eq!(lan.tcp_connect_in(f, 8080, DROP), Outcome::Connected, "{f}");
            assert_eq!(lan.tcp_connect_in(f, 8081, DROP), Outcome::TimedOut, "{f}");
            assert_eq!(wan.tcp_connect_in(f, 8080, DROP), Outcome::TimedOut, "{f}");
            probes += 3;
        }
    }
    assert!(
        lab.table().contains("\"lan0\" . tcp . 8080"),
        "{}",
        lab.table()
    );

    // A store with a valid header whose pages are garbage (a torn or corrupted disk): moved
    // aside byte for byte, the safe defaults apply, and the log says so loudly.
    let db = lab.state_dir.join("fw6.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    // Checkpointed or not, the first page is at least the header; smash everything after it.
    for (i, b) in bytes.iter_mut().enumerate().skip(100) {
        *b = u8::try_from(i % 251).unwrap();
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, &bytes).unwrap();
    lab.start_daemon();
    let moved: Vec<PathBuf> = std::fs::read_dir(&lab.state_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.to_string_lossy().contains(".corrupt-") && !p.to_string_lossy().ends_with("-wal")
        })
        .collect();
    assert_eq!(
        moved.len(),
        1,
        "the old file is kept: {moved:?}\n{}",
        lab.log()
    );
    assert_eq!(std::fs::read(&moved[0]).unwrap(), bytes, "kept intact");
    assert!(
        lab.log().contains("THE STORE WAS UNREADABLE"),
        "{}",
        lab.log()
    );
    let global = common::data(&lab.manager("EnumerateGloballyOpenPorts", &[]).unwrap());
    assert_eq!(
        global[0].as_array().unwrap().len(),
        2,
        "safe defaults: ssh, dhcpv6-client"
    );
    assert_eq!(
        lab.topology.lan().tcp_connect(8080, DROP),
        Outcome::TimedOut,
        "the defaults close what the lost store had opened"
    );
    figure("fail_closed.probes_while_dead", probes);
    figure("fail_closed.corrupt_store_recovered", 1);
}

/// `chattr` on each of `files`.
fn chattr(flag: &str, files: &[PathBuf]) {
    for f in files {
        let ok = Command::new("chattr")
            .args([flag])
            .arg(f)
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "chattr {flag} {} failed (needs root and a file system with attributes)",
            f.display()
        );
    }
}

/// Undoes `chattr +i` on drop, so a failing test leaves no immutable files behind.
struct Immutable(Vec<PathBuf>);

impl Drop for Immutable {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(f).status();
        }
    }
}

fn store_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.to_owned()];
    for suffix in ["", "-wal", "-shm"] {
        let f = dir.join(format!("fw6.sqlite{suffix}"));
        if f.exists() {
            files.push(f);
        }
    }
    files
}

#[test]
fn a_read_only_state_directory_fails_calls_and_recovers() {
    fw6_testkit::require_root("reliability_faults");
    let mut lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let mut faults = 0;
    // Twice: with the daemon's files already open, and after a restart with everything
    // already read-only (then the store cannot even be opened for writing).
    for attempt in 0..2 {
        let before = agreed(&lab, &conn, &rt);
        let files = store_files(&lab.state_dir);
        assert!(
            files.iter().any(|f| f.to_string_lossy().ends_with("-shm")),
            "{files:?}"
        );
        chattr("+i", &files);
        let guard = Immutable(files.clone());
        if attempt == 1 {
            lab.stop_daemon("TERM");
            lab.start_daemon();
        }
        for port in [6000, 6001, 6002] {
            let reply = open_port(&rt, &conn, &lan0, port);
            faults += 1;
            assert_fail(
                &reply,
                &["readonly", "read-only", "I/O error", "unable to open"],
                &lab.log(),
            );
            assert_eq!(
                reliability::kernel_facts(&lab).keys,
                before.keys,
                "kernel unchanged"
            );
            let answers = rt
                .block_on(reliability::dbus_facts(&conn))
                .expect("reads keep working");
            assert_eq!(answers, before, "nothing changed");
        }
        drop(guard);
        chattr("-i", &files);
        assert_eq!(
            open_port(&rt, &conn, &lan0, 6000),
            Reply::Ok,
            "attempt {attempt} recovers:\n{}",
            lab.log()
        );
        let after = agreed(&lab, &conn, &rt);
        assert!(after.has("O lan0 tcp/6000"));
        rt.block_on(reliability::call(
            &conn,
            &lan0,
            CONN_IFACE,
            "ClosePort",
            &(6000_u16, 6_u32),
        ))
        .unwrap();
    }
    figure("faults.read_only_calls_failed", faults);
}

#[test]
fn a_full_disk_fails_calls_and_recovers_when_space_returns() {
    fw6_testkit::require_root("reliability_faults");
    let mut lab = Lab::start();
    lab.stop_daemon("TERM");
    let tmpfs = reliability::Tmpfs::mount(lab.bus.dir().join("small"), "1m");
    lab.state_dir = tmpfs.dir.join("state");
    lab.start_daemon();
    let (rt, conn, lan0) = reliability::client(&lab);
    // Fill the file system to the last byte.
    let filler = tmpfs.dir.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0x55u8; 4096];
        let mut written = 0usize;
        while written < 2 << 20 {
            match f.write(&block) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n,
            }
        }
        let _ = f.sync_all();
    }
    // The WAL may still have room from earlier transactions, so calls can succeed for a while
    // (they are then durable); sooner or later one needs a new page and fails. Bounded.
    let mut failed = None;
    let mut succeeded_while_full = 0;
    for port in 10_000..12_000_u16 {
        let before = reliability::kernel_facts(&lab);
        match open_port(&rt, &conn, &lan0, port) {
            Reply::Ok => succeeded_while_full += 1,
            reply => {
                assert_fail(&reply, &["full", "disk"], &lab.log());
                assert_eq!(
                    reliability::kernel_facts(&lab).keys,
                    before.keys,
                    "kernel unchanged"
                );
                failed = Some(port);
                break;
            }
        }
    }
    let port = failed.expect("a full disk never failed a call");
    let answers = rt
        .block_on(reliability::dbus_facts(&conn))
        .expect("reads keep working");
    assert!(!answers.has(&format!("O lan0 tcp/{port}")));
    let mut failures = 1;
    for p in port + 1..port + 4 {
        if let reply @ Reply::Fw(..) = open_port(&rt, &conn, &lan0, p) {
            assert_fail(&reply, &["full", "disk"], &lab.log());
            failures += 1;
        }
    }
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        open_port(&rt, &conn, &lan0, port),
        Reply::Ok,
        "recovers:\n{}",
        lab.log()
    );
    let after = agreed(&lab, &conn, &rt);
    assert!(after.has(&format!("O lan0 tcp/{port}")));
    lab.stop_daemon("TERM");
    drop(tmpfs);
    figure("faults.disk_full_calls_failed", failures);
    figure(
        "faults.disk_full_calls_acked_from_wal_slack",
        succeeded_while_full,
    );
}

/// Another program deletes an element behind fw6d's back, and fw6d's next batch deletes it
/// too: the kernel refuses (ENOENT). To make the call reach the kernel before drift repair, the
/// store's write lock is held by another connection (an administrator's `sqlite3` shell does
/// that) while the call and then the outside change queue up: the writer waits in `BEGIN
/// IMMEDIATE` (busy timeout 5 s) with the call, and the repair queues behind it.
#[test]
fn a_refused_kernel_batch_fails_the_call_and_leaves_the_store_alone() {
    fw6_testkit::require_root("reliability_faults");
    let lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let rounds = 3;
    let mut refused = 0;
    for _ in 0..rounds {
        assert_eq!(open_port(&rt, &conn, &lan0, 7000), Reply::Ok);
        let before = agreed(&lab, &conn, &rt);
        let mut shell = rusqlite::Connection::open(lab.state_dir.join("fw6.sqlite")).unwrap();
        let lock = shell
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let pending = rt.spawn({
            let (conn, lan0) = (conn.clone(), lan0.clone());
            async move {
                Reply::of(
                    &reliability::call(&conn, &lan0, CONN_IFACE, "ClosePort", &(7000_u16, 6_u32))
                        .await,
                )
            }
        });
        // Long enough for the call to reach the writer, well inside the 5 s busy timeout.
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
        lab.nft(&[
            "delete",
            "element",
            "inet",
            "fw6",
            "open",
            "{ \"lan0\" . tcp . 7000 }",
        ]);
        std::thread::sleep(Duration::from_millis(100));
        drop(lock);
        let reply = rt.block_on(pending).unwrap();
        match &reply {
            Reply::Fw(kind, msg) if kind == "Fail" => {
                assert!(
                    msg.contains("kernel refused") && msg.contains("0x80004005"),
                    "{msg}"
                );
                refused += 1;
            }
            other => panic!("expected the kernel to refuse: {other:?}\n{}", lab.log()),
        }
        let (store, _) = reliability::store_facts(&lab.state_dir);
        assert_eq!(store, before, "store unchanged by a refused batch");
        let answers = rt.block_on(reliability::dbus_facts(&conn)).unwrap();
        assert_eq!(answers, before, "the daemon's answers unchanged");
        // Drift repair puts the element back: kernel, store and answers agree again.
        lab.wait_until(
            "the kernel to match the store",
            Duration::from_secs(2),
            || reliability::kernel_facts(&lab).keys == before.keys,
        );
        agreed(&lab, &conn, &rt);
        assert_eq!(
            Reply::of(&rt.block_on(reliability::call(
                &conn,
                &lan0,
                CONN_IFACE,
                "ClosePort",
                &(7000_u16, 6_u32)
            ))),
            Reply::Ok,
            "the next call works"
        );
    }
    figure("faults.kernel_refusals", refused);
}
