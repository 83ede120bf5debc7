//! Batches that cannot wedge the writer (issue 15 §4): one `Apply` of 100,000 open/close pairs
//! (200,000 items, `max_batch` raised to allow it) and one of 50,000 pairs (the default
//! `max_batch`, 100,000 items) each complete or fail cleanly within [`BOUND`], the kernel, the
//! store and the daemon agree afterwards, and the next `OpenPort` works. Before, 50,000 pairs
//! never returned and every later call hung: one ack per netlink message overflowed the
//! socket's receive buffer and the writer waited for a lost reply without a deadline.
//! Also: fw6d started without systemd (no `UMask=`) keeps its state private. Needs root.

mod common;
mod reliability;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use common::{CONN_IFACE, Lab, MANAGER, MANAGER_IFACE};
use reliability::{Reply, figure};

/// How long a pair batch may take, debug build on a loaded 2-core machine included (the bus
/// carries the call, fw6d validates, stores and commits it). A release build takes a fraction.
const BOUND: Duration = Duration::from_secs(120);

type Item = (String, String, u16, u32, String, String);

/// `pairs` distinct ports, each opened then closed: the worst shape for the kernel batch (each
/// element is added and deleted in the same transaction).
fn open_close_pairs(pairs: u32) -> Vec<Item> {
    let mut items = Vec::with_capacity(2 * pairs as usize);
    for i in 0..pairs {
        let connection = ["lan0", "wan0"][(i % 2) as usize].to_owned();
        let protocol = [6, 17][((i / 2) % 2) as usize];
        let port = u16::try_from(i / 4 + 1).expect("ports fit");
        items.push((
            "OpenPort".to_owned(),
            connection.clone(),
            port,
            protocol,
            "pair".to_owned(),
            String::new(),
        ));
        items.push((
            "ClosePort".to_owned(),
            connection,
            port,
            protocol,
            String::new(),
            String::new(),
        ));
    }
    items
}

/// Applies `pairs` open/close pairs as root and checks the outcome, the agreement of kernel,
/// store and daemon, and that the next call works.
fn pairs_apply_and_the_next_call_works(lab: &Lab, pairs: u32, figure_name: &str) {
    let rt = reliability::runtime();
    let conn = rt.block_on(async {
        zbus::connection::Builder::address(lab.bus.address())
            .method_timeout(BOUND)
            .build()
            .await
            .expect("connect to the lab bus")
    });
    let before = reliability::kernel_facts(lab);
    let items = open_close_pairs(pairs);
    let started = Instant::now();
    // `Status` while the batch is in flight: answered from the published status, never queued
    // behind the writer.
    let applied = std::cell::Cell::new(false);
    let (reply, status_times) = rt.block_on(async {
        let apply = async {
            let reply = reliability::call(&conn, MANAGER, MANAGER_IFACE, "Apply", &(items,)).await;
            applied.set(true);
            Reply::of(&reply)
        };
        let status = async {
            let mut times = Vec::new();
            while !applied.get() {
                let asked = Instant::now();
                let reply = reliability::call(&conn, MANAGER, MANAGER_IFACE, "Status", &()).await;
                assert_eq!(Reply::of(&reply), Reply::Ok);
                times.push(asked.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            times
        };
        tokio::join!(apply, status)
    });
    let took = started.elapsed();
    let statuses = status_times.len();
    let p50 = fw6_testkit::stats::percentile(&status_times, 50);
    let worst = fw6_testkit::stats::percentile(&status_times, 100);
    println!("Status during the batch: {statuses} calls, p50 {p50:?}, the slowest {worst:?}");
    // Before, each Status queued behind the batch in the writer.
    assert!(statuses >= 2, "Status was answered while the batch ran");
    figure(
        &format!("{figure_name}.status_during_p50"),
        format!("{:.1} ms", p50.as_secs_f64() * 1000.0),
    );
    println!("{pairs} open/close pairs in one Apply: {reply:?} in {took:?}");
    match &reply {
        Reply::Ok => {}
        Reply::Fw(kind, message) => {
            assert_eq!(kind, "Fail", "{message}");
            assert!(message.contains("retry"), "says what to do: {message}");
        }
        other => panic!("{pairs} pairs: no clean answer: {other:?}\n{}", lab.log()),
    }
    assert!(took < BOUND, "{pairs} pairs took {took:?}");
    figure(figure_name, format!("{} ms", took.as_millis()));

    // Every pair was closed again: whatever the outcome, nothing changed.
    assert_eq!(reliability::kernel_facts(lab).keys, before.keys);
    let (stored, integrity) = reliability::store_facts(&lab.state_dir);
    integrity.expect("store integrity");
    assert_eq!(stored.keys, before.keys, "the store agrees with the kernel");

    // The writer is free: the next call is answered at once and takes effect.
    let lan0 = rt.block_on(reliability::connection_path(&conn, "lan0"));
    let started = Instant::now();
    let next = Reply::of(&rt.block_on(reliability::call(
        &conn,
        &lan0,
        CONN_IFACE,
        "OpenPort",
        &(4242u16, 6u32, "after"),
    )));
    assert_eq!(next, Reply::Ok, "{}", lab.log());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(reliability::kernel_facts(lab).has("O lan0 tcp/4242"));
    let status = Reply::of(&rt.block_on(reliability::call(
        &conn,
        MANAGER,
        MANAGER_IFACE,
        "Status",
        &(),
    )));
    assert_eq!(status, Reply::Ok);
}

#[test]
fn a_100000_pair_apply_finishes_and_the_next_call_works() {
    fw6_testkit::require_root("reliability_batches");
    let lab = Lab::with("max_batch = 200000\n", false);
    pairs_apply_and_the_next_call_works(&lab, 100_000, "batches.pairs_100000_apply");
}

#[test]
fn a_max_batch_of_pairs_finishes_and_the_next_call_works() {
    fw6_testkit::require_root("reliability_batches");
    let lab = Lab::start();
    pairs_apply_and_the_next_call_works(&lab, 50_000, "batches.pairs_50000_apply");
}

/// Started from a shell (umask 022 here, no systemd `UMask=`), fw6d keeps its state directory
/// and every file of its store to root: the audit names who changed what.
#[test]
fn the_state_is_private_whatever_umask_started_fw6d() {
    fw6_testkit::require_root("reliability_batches");
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let mut lab = Lab::start();
    rustix::process::umask(old);
    // A change, so the WAL and its index exist too.
    lab.connection("lan0", "OpenPort", &["qus", "4243", "6", "umask"])
        .expect("OpenPort");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&lab.state_dir), 0o700, "the state directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&lab.state_dir).expect("read the state dir") {
        let path = entry.expect("a dir entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert!(files >= 2, "the database and its WAL: {files} files");
    figure("batches.state_files_private", files);

    // Modes an earlier start (or an administrator) left wider are tightened at the next start.
    lab.stop_daemon("TERM");
    let db = lab.state_dir.join("fw6.sqlite");
    let widen = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    widen(&lab.state_dir, 0o755);
    widen(&db, 0o644);
    lab.start_daemon();
    assert_eq!(
        mode(&lab.state_dir),
        0o700,
        "the state directory, tightened"
    );
    assert_eq!(mode(&db), 0o600, "the database, tightened");
}
