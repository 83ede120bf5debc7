//! The single writer against the real store and a recording kernel double: validation before
//! anything, no-ops touch nothing, a kernel refusal leaves store and memory unchanged, logging
//! switches rebuild, readers see each commit. The real kernel path is covered by `daemon.rs`.

mod recording;

use std::path::PathBuf;

use fw6_model::plan::{ElementOp, Options, SetName};
use fw6_model::{EntryName, ErrorKind, IfName, Mutation, PortKey};
use fw6d::engine::{Engine, LogSwitch, LogSwitchError, Validated};
use fw6d::store::{Provenance, Store};
use fw6d::writer::{QUEUE_LIMIT, Writer};
use recording::Recording;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("fw6d-engine-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("fw6.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open_port(conn: &str, key: &str) -> Mutation {
    Mutation::OpenPort {
        connection: IfName::try_from(conn).unwrap(),
        key: key.parse::<PortKey>().unwrap(),
        name: EntryName::try_from("test").unwrap(),
        lease: None,
    }
}

fn engine(dir: &TempDir) -> (Engine, Recording) {
    let (store, state, _) = Store::open(&dir.db()).unwrap();
    let kernel = Recording::default();
    let engine = Engine::start(state, store, Box::new(kernel.clone()), Options::default()).unwrap();
    (engine, kernel)
}

#[test]
fn start_loads_the_whole_table_and_each_call_is_one_element_batch() {
    let dir = TempDir::new("batch");
    let (mut engine, kernel) = engine(&dir);
    assert_eq!(kernel.0.lock().unwrap().full.len(), 1);
    let reader = engine.subscribe();
    let changes = engine
        .submit(&[open_port("lan0", "80/tcp")], &Provenance::daemon())
        .unwrap();
    assert_eq!(changes.len(), 1);
    let rec = kernel.0.lock().unwrap();
    assert_eq!(rec.changes.len(), 1);
    assert!(matches!(
        &rec.changes[0][..],
        [ElementOp::Add(SetName::Open, _)]
    ));
    drop(rec);
    assert!(reader.borrow().is_port_open(
        &IfName::try_from("lan0").unwrap(),
        "80/tcp".parse().unwrap()
    ));
}

#[test]
fn a_no_op_touches_neither_store_nor_kernel() {
    let dir = TempDir::new("noop");
    let (mut engine, kernel) = engine(&dir);
    engine
        .submit(&[open_port("lan0", "80/tcp")], &Provenance::daemon())
        .unwrap();
    let changes = engine
        .submit(&[open_port("lan0", "80/tcp")], &Provenance::daemon())
        .unwrap();
    assert!(changes.is_empty());
    assert_eq!(kernel.0.lock().unwrap().changes.len(), 1);
}

#[test]
fn a_kernel_refusal_changes_nothing_and_keeps_the_kernels_words() {
    let dir = TempDir::new("refuse");
    let (mut engine, kernel) = engine(&dir);
    engine
        .submit(&[open_port("lan0", "80/tcp")], &Provenance::daemon())
        .unwrap();
    let before = engine.state().clone();
    kernel.0.lock().unwrap().fail_next =
        Some("add element to set open: No such file or directory (os error 2)".into());
    let err = engine
        .submit(
            &[open_port("lan0", "81/tcp"), open_port("wan0", "82/udp")],
            &Provenance::daemon(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fail);
    assert!(err.message().contains("No such file or directory"), "{err}");
    assert_eq!(engine.state(), &before);
    drop(engine);
    let (_, reloaded, _) = Store::open(&dir.db()).unwrap();
    assert_eq!(reloaded, before, "the store transaction was rolled back");
}

#[test]
fn a_lost_kernel_answer_rolls_back_and_rebuilds_the_table() {
    let dir = TempDir::new("lost");
    let (mut engine, kernel) = engine(&dir);
    let status = engine.kernel_status();
    let before = engine.state().clone();
    {
        let mut rec = kernel.0.lock().unwrap();
        rec.fail_next = Some("the kernel did not answer within 5 s".into());
        rec.unknown_next = true;
    }
    let err = engine
        .submit(&[open_port("lan0", "81/tcp")], &Provenance::daemon())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fail);
    assert!(err.message().contains("did not confirm"), "{err}");
    assert!(err.message().contains("retry"), "{err}");
    assert_eq!(engine.state(), &before);
    let rec = kernel.0.lock().unwrap();
    assert_eq!(rec.full.len(), 2, "start, then a rebuild from the state");
    assert!(rec.changes.is_empty());
    drop(rec);
    assert_eq!(status.borrow().repairs, 1);
    drop(engine);
    let (_, reloaded, _) = Store::open(&dir.db()).unwrap();
    assert_eq!(reloaded, before, "the store transaction was rolled back");
}

#[test]
fn the_kernel_status_is_published_after_each_commit() {
    let dir = TempDir::new("status");
    let (mut engine, _kernel) = engine(&dir);
    let status = engine.kernel_status();
    let first = status.borrow().generation;
    engine
        .submit(&[open_port("lan0", "80/tcp")], &Provenance::daemon())
        .unwrap();
    assert_eq!(status.borrow().generation, first + 1);
    assert_eq!(status.borrow().table.as_str(), "in-sync");
    // A later generation from the drift monitor is taken, an older one is not.
    let publisher = engine.kernel_status_publisher();
    publisher.send_modify(|s| assert!(s.observe(first + 10)));
    publisher.send_modify(|s| assert!(!s.observe(first + 5)));
    assert_eq!(status.borrow().generation, first + 10);
}

#[test]
fn invalid_input_is_refused_before_any_io() {
    let dir = TempDir::new("invalid");
    let (mut engine, kernel) = engine(&dir);
    let err = engine
        .submit(
            &[
                open_port("lan0", "80/tcp"),
                Mutation::SetLogfilePath {
                    path: "relative".into(),
                },
            ],
            &Provenance::daemon(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArg);
    assert!(
        err.message().starts_with("batch item 2 (LogfilePath)"),
        "{err}"
    );
    assert!(kernel.0.lock().unwrap().changes.is_empty());
    assert!(
        engine
            .state()
            .open_ports(&IfName::try_from("lan0").unwrap())
            .count()
            == 0
    );
}

#[test]
fn logging_switches_rebuild_the_table() {
    let dir = TempDir::new("rebuild");
    let (mut engine, kernel) = engine(&dir);
    engine
        .submit(
            &[Mutation::SetLogDroppedPackets { enabled: true }],
            &Provenance::daemon(),
        )
        .unwrap();
    let rec = kernel.0.lock().unwrap();
    assert_eq!(rec.full.len(), 2);
    assert!(
        rec.full[1]
            .rules
            .iter()
            .any(|r| matches!(r, fw6_model::plan::Rule::Log { .. }))
    );
}

#[test]
fn adopting_follows_the_default_and_persists() {
    let dir = TempDir::new("adopt");
    let (mut engine, _) = engine(&dir);
    let eth1 = IfName::try_from("eth1").unwrap();
    engine.adopt(&eth1, false, &Provenance::daemon());
    assert!(!engine.state().is_firewalled(&eth1));
    drop(engine);
    let (_, reloaded, _) = Store::open(&dir.db()).unwrap();
    assert!(!reloaded.is_firewalled(&eth1));
}

/// More changes than the engine writes serially, so store and kernel run on two threads.
fn many_opens(conn: &str, n: u32) -> Vec<Mutation> {
    (1..=n)
        .map(|p| open_port(conn, &format!("{p}/udp")))
        .collect()
}

#[test]
fn a_large_batch_refused_by_the_kernel_changes_nothing() {
    let dir = TempDir::new("refuse-large");
    let (mut engine, kernel) = engine(&dir);
    let before = engine.state().clone();
    kernel.0.lock().unwrap().fail_next =
        Some("add element to set open: Cannot allocate memory".into());
    let err = engine
        .submit(&many_opens("lan0", 1000), &Provenance::daemon())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fail);
    assert!(err.message().contains("Cannot allocate memory"), "{err}");
    assert_eq!(engine.state(), &before);
    // The same batch then goes through whole, store and kernel alike.
    let changes = engine
        .submit(&many_opens("lan0", 1000), &Provenance::daemon())
        .unwrap();
    assert_eq!(changes.len(), 1000);
    assert_eq!(kernel.0.lock().unwrap().changes.last().unwrap().len(), 1000);
    let after = engine.state().clone();
    drop(engine);
    let (_, reloaded, _) = Store::open(&dir.db()).unwrap();
    assert_eq!(reloaded, after);
}

#[test]
fn a_commit_the_monitor_did_not_watch_is_followed_by_a_rebuild() {
    let dir = TempDir::new("unwatched");
    let (mut engine, kernel) = engine(&dir);
    kernel.0.lock().unwrap().unwatched_next = true;
    engine
        .submit(&many_opens("lan0", 300), &Provenance::daemon())
        .unwrap();
    let rec = kernel.0.lock().unwrap();
    assert_eq!(rec.full.len(), 2, "start, then the rebuild");
    assert_eq!(engine.repairs(), 1);
    assert_eq!(
        rec.full[1]
            .sets
            .iter()
            .map(|s| s.elements.len())
            .sum::<usize>(),
        300,
        "the rebuild holds the committed state"
    );
}

#[test]
fn a_validation_made_before_another_commit_is_redone() {
    let dir = TempDir::new("stale");
    let (mut engine, _) = engine(&dir);
    let batch = [open_port("lan0", "80/tcp")];
    let stale = Validated::new(engine.subscribe().borrow().clone(), &batch).unwrap();
    assert_eq!(stale.changes().len(), 1);
    engine.submit(&batch, &Provenance::daemon()).unwrap();
    // Against the state it was made for, the batch would insert 80/tcp a second time (the
    // store would refuse the duplicate); against the current one it is a no-op.
    let changes = engine
        .submit_validated(&batch, stale, &Provenance::daemon())
        .unwrap();
    assert!(changes.is_empty(), "{changes:?}");
}

/// A call let in without confirmation because it was a no-op (docs/icf-api.md §6.4) is
/// refused, with nothing changed, when another commit made it a change before its own: the
/// no-op exemption cannot be raced into an unconfirmed change.
#[test]
fn a_noop_admitted_without_confirmation_is_refused_once_it_would_change() {
    let dir = TempDir::new("noop-race");
    let (mut engine, kernel) = engine(&dir);
    let open = [open_port("lan0", "80/tcp")];
    engine.submit(&open, &Provenance::daemon()).unwrap();
    // Authorized while 80/tcp was open: a no-op, so no dialog was shown.
    let admitted = Validated::new(engine.subscribe().borrow().clone(), &open)
        .unwrap()
        .admitted_as_noop();
    assert!(admitted.changes().is_empty());
    // Another caller closes it before the no-op is committed.
    let close = [Mutation::ClosePort {
        connection: IfName::try_from("lan0").unwrap(),
        key: "80/tcp".parse::<PortKey>().unwrap(),
    }];
    engine.submit(&close, &Provenance::daemon()).unwrap();
    let batches = kernel.0.lock().unwrap().changes.len();
    let err = engine
        .submit_validated(&open, admitted, &Provenance::daemon())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(err.to_string().contains("needs authentication"), "{err}");
    assert!(!engine.state().is_port_open(
        &IfName::try_from("lan0").unwrap(),
        "80/tcp".parse().unwrap()
    ));
    assert_eq!(
        kernel.0.lock().unwrap().changes.len(),
        batches,
        "the kernel was told"
    );
    // Still a no-op when it is committed: it passes.
    let again = Validated::new(engine.subscribe().borrow().clone(), &close)
        .unwrap()
        .admitted_as_noop();
    assert!(
        engine
            .submit_validated(&close, again, &Provenance::daemon())
            .unwrap()
            .is_empty()
    );
}

/// Waits up to 10 s for `cond`, letting the runtime's tasks run.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The turns a [`Switch`] took, and the refusal it gives the next turn on.
type Turns = (Vec<(bool, bool)>, Option<LogSwitchError>);

/// A log switch that records each turn and refuses when told to.
#[derive(Clone, Default)]
struct Switch(std::sync::Arc<std::sync::Mutex<Turns>>);

impl LogSwitch for Switch {
    fn turn(&mut self, packets: bool, connections: bool) -> Result<(), LogSwitchError> {
        let mut inner = self.0.lock().unwrap();
        if packets && let Some(refusal) = inner.1.take() {
            return Err(refusal);
        }
        inner.0.push((packets, connections));
        Ok(())
    }
}

#[test]
#[expect(
    clippy::await_holding_lock,
    reason = "the held lock is the hanging kernel: the writer thread waits on it, this task does not"
)]
fn a_full_writer_queue_refuses_at_once_and_drains_afterwards() {
    let dir = TempDir::new("queue");
    let (engine, kernel) = engine(&dir);
    let state = engine.subscribe();
    let writer = Writer::spawn(engine);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let submit = |port: usize| {
        let mutations = vec![open_port("lan0", &format!("{}/tcp", port + 1))];
        let validated = Validated::new(state.borrow().clone(), &mutations).unwrap();
        let writer = writer.clone();
        async move {
            writer
                .submit(mutations, validated, Provenance::daemon())
                .await
        }
    };
    rt.block_on(async {
        // A kernel that hangs: the writer takes the first call and waits on it.
        let held = kernel.0.lock().unwrap();
        // Sent, then given up on (the writer still commits it once the kernel answers).
        let first = tokio::time::timeout(std::time::Duration::from_millis(100), submit(0)).await;
        assert!(
            first.is_err(),
            "the kernel hangs, so the first call cannot finish"
        );
        until("the writer takes the first call", || writer.queued() == 0).await;
        let mut calls = Vec::new();
        for port in 1..=QUEUE_LIMIT {
            calls.push(tokio::spawn(submit(port)));
        }
        until("the queue fills", || writer.queued() == QUEUE_LIMIT).await;
        let err = submit(QUEUE_LIMIT + 1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Fail);
        assert_eq!(
            err.message(),
            format!("fw6d is busy: {QUEUE_LIMIT} changes are queued; retry")
        );
        drop(held);
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().len(), 1);
        }
    });
    assert_eq!(writer.queued(), 0);
}

#[test]
fn the_log_reader_follows_the_switches_and_a_refusal_changes_nothing() {
    let dir = TempDir::new("switch");
    let (mut engine, kernel) = engine(&dir);
    let switch = Switch::default();
    engine.set_log_switch(Box::new(switch.clone()));
    let turns = || switch.0.lock().unwrap().0.clone();
    assert_eq!(turns(), [], "logging is off: nothing bound at start");
    let daemon = Provenance::daemon();
    let dropped = |enabled| [Mutation::SetLogDroppedPackets { enabled }];
    let connections = |enabled| [Mutation::SetLogConnections { enabled }];

    // The reader refuses (the group is taken): the call fails, nothing is written anywhere.
    switch.0.lock().unwrap().1 = Some(LogSwitchError::GroupTaken {
        group: 6,
        source: std::io::Error::from_raw_os_error(16), // EBUSY
    });
    let err = engine.submit(&dropped(true), &daemon).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Fail);
    assert!(
        err.to_string().contains("NFLOG group 6 is already read"),
        "{err}"
    );
    assert!(!engine.state().logging().log_dropped_packets);
    assert_eq!(kernel.0.lock().unwrap().full.len(), 1, "no rebuild");
    assert_eq!(
        turns(),
        [(false, false)],
        "whatever started is stopped again"
    );

    // The kernel refuses after the reader started: the reader is stopped again.
    kernel.0.lock().unwrap().fail_next = Some("kernel says no".into());
    engine.submit(&dropped(true), &daemon).unwrap_err();
    assert_eq!(turns()[1..], [(true, false), (false, false)]);
    assert!(!engine.state().logging().log_dropped_packets);

    engine.submit(&dropped(true), &daemon).unwrap();
    engine.submit(&connections(true), &daemon).unwrap();
    engine.submit(&dropped(false), &daemon).unwrap();
    engine.submit(&connections(false), &daemon).unwrap();
    assert_eq!(
        turns()[3..],
        [
            (true, false),
            (true, false),
            (true, true),
            (true, true),
            // Drops off with connections on: NFLOG is still needed, no turn.
            (false, false)
        ]
    );
    drop(engine);
    let (_, reloaded, _) = Store::open(&dir.db()).unwrap();
    assert!(!reloaded.logging().log_connections);
}

/// Review of issue 19, finding 1: a clock jump that expires the last lease still rebuilds the
/// table, since the kernel (counting monotonic time) may still hold the element.
#[test]
fn a_clock_jump_that_expires_the_last_lease_rebuilds_the_table() {
    let dir = TempDir::new("jump-last");
    let (mut engine, kernel) = engine(&dir);
    let now = fw6d::service::now_millis();
    let open = Mutation::OpenPort {
        connection: IfName::try_from("lan0").unwrap(),
        key: "9000/tcp".parse::<PortKey>().unwrap(),
        name: EntryName::default(),
        lease: Some(fw6_model::Lease {
            expires: Some(now + 60_000),
            owner: None,
        }),
    };
    engine.submit(&[open], &Provenance::daemon()).unwrap();
    let rebuilds = kernel.0.lock().unwrap().full.len();
    let closed = engine.clock_jumped(now + 120_000).unwrap();
    assert_eq!(closed.len(), 1, "the jump expired the lease");
    assert_eq!(engine.state().lease_count(), 0);
    assert_eq!(
        kernel.0.lock().unwrap().full.len(),
        rebuilds + 1,
        "the kernel still held the element: the table must be rebuilt"
    );
}

/// lan0 9000/tcp open until `expires`.
fn open_leased(expires: u64) -> Mutation {
    Mutation::OpenPort {
        connection: IfName::try_from("lan0").unwrap(),
        key: "9000/tcp".parse::<PortKey>().unwrap(),
        name: EntryName::default(),
        lease: Some(fw6_model::Lease {
            expires: Some(expires),
            owner: None,
        }),
    }
}

fn close_leased() -> Mutation {
    Mutation::ClosePort {
        connection: IfName::try_from("lan0").unwrap(),
        key: "9000/tcp".parse::<PortKey>().unwrap(),
    }
}

/// Review of issue 19, finding 10: a lease the lease task has not closed yet (a busy writer)
/// is closed before the next commit through the writer, so a close of its pair is a no-op
/// instead of a delete of an element the kernel already dropped; the expiry is announced by
/// the next `expire`.
#[test]
fn an_expired_lease_is_closed_before_the_next_commit() {
    let dir = TempDir::new("expire-first");
    let (engine, kernel) = engine(&dir);
    let state = engine.subscribe();
    let writer = Writer::spawn(engine);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = fw6d::service::now_millis();
    runtime.block_on(async {
        let submit = |mutation: Mutation| {
            let base = state.borrow().clone();
            let validated = Validated::new(base, std::slice::from_ref(&mutation)).unwrap();
            writer.submit(vec![mutation], validated, Provenance::daemon())
        };
        submit(open_leased(now + 100)).await.unwrap();
        // Time passing, not a condition: the lease runs out while no lease task runs.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let closed = submit(close_leased()).await.unwrap();
        assert!(closed.is_empty(), "the lease had expired: {closed:?}");
        assert!(writer.unannounced_expiries());
        let deletes = kernel.0.lock().unwrap().changes.concat();
        assert!(
            !deletes.iter().any(|op| matches!(op, ElementOp::Delete(..))),
            "no delete of an expired element: {deletes:?}"
        );
        let announced = writer
            .end_leases(fw6d::writer::LeaseEnd::Expired, fw6d::service::now_millis())
            .await
            .unwrap();
        assert_eq!(announced.len(), 1, "{announced:?}");
        assert!(!writer.unannounced_expiries());
    });
}

/// Review of issue 19, finding 10: a close of a pair whose lease runs out as it is sent, which
/// the kernel refuses (its element is gone), waits for the expiry and succeeds.
#[test]
fn a_close_refused_as_its_lease_runs_out_succeeds_after_the_expiry() {
    let dir = TempDir::new("close-due");
    let (mut engine, kernel) = engine(&dir);
    let now = fw6d::service::now_millis();
    engine
        .submit(&[open_leased(now + 300)], &Provenance::daemon())
        .unwrap();
    kernel.0.lock().unwrap().fail_next = Some("No such file or directory".to_owned());
    let close = [close_leased()];
    let validated = engine.validate(&close).unwrap();
    let closed = engine
        .submit_validated(&close, validated, &Provenance::daemon())
        .unwrap();
    assert!(closed.is_empty(), "closed by its expiry: {closed:?}");
    assert!(fw6d::service::now_millis() >= now + 300);
    assert_eq!(engine.state().lease_count(), 0);
    assert_eq!(engine.expire(fw6d::service::now_millis()).unwrap().len(), 1);
}

/// Review of issue 19, finding 13: a wall clock stepped back would lengthen a lease by the
/// step; the jump brings its expiry back to the longest lifetime from now, kernel included.
#[test]
fn a_clock_stepped_back_leaves_no_lease_longer_than_the_longest_lifetime() {
    let dir = TempDir::new("jump-back");
    let (mut engine, kernel) = engine(&dir);
    let now = fw6d::service::now_millis();
    let longest = u64::from(fw6_model::MAX_LIFETIME_SECONDS) * 1000;
    engine
        .submit(&[open_leased(now + longest)], &Provenance::daemon())
        .unwrap();
    let rebuilds = kernel.0.lock().unwrap().full.len();
    let back = now - 10 * 24 * 3600 * 1000;
    let changes = engine.clock_jumped(back).unwrap();
    assert_eq!(changes.len(), 2, "closed and opened again: {changes:?}");
    let lease = engine
        .state()
        .lease(
            Some(&IfName::try_from("lan0").unwrap()),
            "9000/tcp".parse().unwrap(),
        )
        .cloned()
        .unwrap();
    assert_eq!(lease.expires, Some(back + longest));
    assert_eq!(kernel.0.lock().unwrap().full.len(), rebuilds + 1);
    assert!(
        engine.clamp_leases(back).unwrap().is_empty(),
        "nothing beyond it any more"
    );
}
