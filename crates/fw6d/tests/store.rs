//! The durable store against real `SQLite` files: what is committed comes back exactly, what is
//! not committed leaves no trace, the audit trail says who did what, damaged files are moved
//! aside intact, a call's cost does not grow with the stored entries, and `SQLite`'s own words
//! reach the caller.
//!
//! The read-only test needs root (it marks files immutable with `chattr +i`) and says so when it
//! cannot run.

use fw6_testkit::stats::median_duration;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fw6_model::{Change, EntryName, IfName, Mutation, PortKey, State};
use fw6d::store::{Opened, Provenance, SCHEMA_VERSION, Store, StoreError};
use proptest::prelude::*;

/// A directory under the system temp dir, unique per test and run, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "fw6d-store-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("fw6.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ifname(name: &str) -> IfName {
    IfName::try_from(name).unwrap()
}

fn key(port: u32, protocol: u32) -> PortKey {
    PortKey::from_raw(port, protocol).unwrap()
}

fn entry_name(name: &str) -> EntryName {
    EntryName::try_from(name).unwrap()
}

fn caller(uid: u32) -> Provenance {
    Provenance {
        uid,
        pid: Some(4000 + uid),
        executable: Some("/usr/bin/fw6".to_owned()),
        sender: Some(format!(":1.{uid}")),
    }
}

/// Applies `mutation` to `state` and records its effective changes in `store`, committed.
fn commit_one(store: &mut Store, state: &mut State, mutation: &Mutation, who: &Provenance) {
    let changes = state.apply(mutation).unwrap();
    let mut tx = store.transaction().unwrap();
    tx.record(mutation.member(), &changes, who).unwrap();
    tx.commit().unwrap();
}

fn reopen(path: &Path) -> (Store, State) {
    let (store, state, opened) = Store::open(path).unwrap();
    assert_eq!(opened, Opened::Existing);
    (store, state)
}

/// How many audit rows a change produces: one, or one per differing setting.
fn audit_rows(change: &Change) -> usize {
    match change {
        Change::Logging { from, to } => {
            usize::from(from.log_dropped_packets != to.log_dropped_packets)
                + usize::from(from.log_connections != to.log_connections)
                + usize::from(from.logfile_path != to.logfile_path)
                + usize::from(from.logfile_maximum_size != to.logfile_maximum_size)
        }
        _ => 1,
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let conn = prop::sample::select(vec!["eth0", "wlan0", "veth-a.1"]).prop_map(ifname);
    let key = (1_u32..=4, prop::bool::ANY).prop_map(|(p, tcp)| key(p, if tcp { 6 } else { 17 }));
    let name = prop::sample::select(vec!["", "ssh", "web", "dhcpv6 ünï"]).prop_map(entry_name);
    prop_oneof![
        (key.clone(), name.clone()).prop_map(|(key, name)| Mutation::OpenGlobalPort {
            key,
            name,
            lease: None
        }),
        key.clone()
            .prop_map(|key| Mutation::CloseGlobalPort { key }),
        conn.clone()
            .prop_map(|connection| Mutation::EnableFirewall { connection }),
        conn.clone()
            .prop_map(|connection| Mutation::DisableFirewall { connection }),
        (conn.clone(), key.clone(), name.clone()).prop_map(|(connection, key, name)| {
            Mutation::OpenPort {
                connection,
                key,
                name,
                lease: None,
            }
        }),
        (conn.clone(), key.clone())
            .prop_map(|(connection, key)| Mutation::ClosePort { connection, key }),
        (conn.clone(), key.clone(), name).prop_map(|(connection, key, name)| {
            Mutation::IgnoreGlobalPort {
                connection,
                key,
                name,
            }
        }),
        (conn, key).prop_map(|(connection, key)| Mutation::ObserveGlobalPort { connection, key }),
        // "relative.log" is refused by the model; the sequence simply skips it.
        prop::sample::select(vec![
            "/var/log/fw6/firewall.log",
            "/tmp/fw6.log",
            "relative.log"
        ])
        .prop_map(|path| Mutation::SetLogfilePath {
            path: path.to_owned()
        }),
        prop::sample::select(vec![1_u32, 4096, 32767]).prop_map(|kib| {
            Mutation::SetLogfileMaximumSize {
                kib: kib.try_into().unwrap(),
            }
        }),
        prop::bool::ANY.prop_map(|enabled| Mutation::SetLogDroppedPackets { enabled }),
        prop::bool::ANY.prop_map(|enabled| Mutation::SetLogConnections { enabled }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random batches, most committed and some dropped: after reopening, the loaded state is the
    /// committed in-memory state, the audit trail has exactly the committed rows, and `SQLite`'s
    /// integrity check passes.
    #[test]
    fn reopen_yields_the_committed_state(
        batches in prop::collection::vec(
            (prop::collection::vec(mutation(), 0..6), prop::bool::weighted(0.8)),
            1..25,
        )
    ) {
        let dir = TempDir::new("random");
        let (mut store, loaded, opened) = Store::open(&dir.db()).unwrap();
        prop_assert_eq!(opened, Opened::Fresh);
        prop_assert_eq!(&loaded, &State::default());
        let mut committed = State::default();
        let mut committed_rows = 0;
        for (uid, (batch, commit)) in (0_u32..).zip(batches) {
            let mut scratch = committed.clone();
            let mut rows = 0;
            let mut tx = store.transaction().unwrap();
            for mutation in &batch {
                let Ok(changes) = scratch.apply(mutation) else { continue };
                rows += changes.iter().map(audit_rows).sum::<usize>();
                tx.record(mutation.member(), &changes, &caller(uid)).unwrap();
            }
            if commit {
                tx.commit().unwrap();
                committed = scratch;
                committed_rows += rows;
            } else {
                drop(tx);
            }
        }
        drop(store);
        let (store, loaded) = reopen(&dir.db());
        prop_assert_eq!(&loaded, &committed);
        prop_assert_eq!(store.audit(usize::MAX).unwrap().len(), committed_rows);
        store.integrity_check().unwrap();
    }
}

/// A large batch is written many rows per statement: every pair of every run comes back, each
/// audit row names its pair in order, and the caller is recorded once for all of them.
#[test]
fn a_large_batch_of_mixed_runs_comes_back_whole_and_in_order() {
    let dir = TempDir::new("runs");
    let (mut store, mut state, _) = Store::open(&dir.db()).unwrap();
    let (eth0, wlan0) = (ifname("eth0"), ifname("wlan0"));
    let mut mutations = Vec::new();
    // Runs longer and shorter than a statement's rows, broken by other sets and connections.
    for port in 1..=150 {
        mutations.push(Mutation::OpenPort {
            connection: eth0.clone(),
            key: key(port, 6),
            name: entry_name("web"),
            lease: None,
        });
    }
    mutations.push(Mutation::OpenGlobalPort {
        key: key(22, 6),
        name: entry_name("ssh"),
        lease: None,
    });
    for port in 1..=70 {
        mutations.push(Mutation::OpenPort {
            connection: wlan0.clone(),
            key: key(port, 17),
            name: entry_name(""),
            lease: None,
        });
        mutations.push(Mutation::IgnoreGlobalPort {
            connection: wlan0.clone(),
            key: key(port, 6),
            name: entry_name("x"),
        });
    }
    let mut expected = Vec::new();
    let mut tx = store.transaction().unwrap();
    for mutation in &mutations {
        let changes = state.apply(mutation).unwrap();
        tx.record(mutation.member(), &changes, &caller(7)).unwrap();
        expected.extend(changes);
    }
    tx.commit().unwrap();
    drop(store);

    let (store, loaded) = reopen(&dir.db());
    assert_eq!(loaded, state);
    let mut audit = store.audit(usize::MAX).unwrap();
    audit.reverse();
    assert_eq!(audit.len(), expected.len());
    for (record, change) in audit.iter().zip(&expected) {
        let (connection, entry) = match change {
            Change::PortOpened { connection, entry }
            | Change::GlobalIgnored { connection, entry } => (Some(connection.as_str()), entry),
            Change::GlobalOpened { entry } => (None, entry),
            other => panic!("{other:?}"),
        };
        assert_eq!(record.connection.as_deref(), connection);
        assert_eq!(record.key, Some(entry.key()));
        assert_eq!(record.new.as_deref(), Some(entry.name.as_str()));
        assert_eq!(record.who, caller(7));
    }
}

#[test]
fn a_dropped_transaction_leaves_nothing() {
    let dir = TempDir::new("rollback");
    let (mut store, mut state, _) = Store::open(&dir.db()).unwrap();
    let eth0 = ifname("eth0");
    let open = Mutation::OpenPort {
        connection: eth0.clone(),
        key: key(80, 6),
        name: entry_name("web"),
        lease: None,
    };
    commit_one(&mut store, &mut state, &open, &caller(0));
    let before = state.clone();

    let mut tx = store.transaction().unwrap();
    for mutation in [
        Mutation::ClosePort {
            connection: eth0.clone(),
            key: key(80, 6),
        },
        Mutation::OpenGlobalPort {
            key: key(443, 6),
            name: entry_name("https"),
            lease: None,
        },
        Mutation::DisableFirewall {
            connection: ifname("wlan0"),
        },
        Mutation::SetLogConnections { enabled: true },
    ] {
        let changes = state.apply(&mutation).unwrap();
        tx.record(mutation.member(), &changes, &caller(1)).unwrap();
    }
    drop(tx);
    drop(store);

    let (store, loaded) = reopen(&dir.db());
    assert_eq!(loaded, before);
    let audit = store.audit(100).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].member, "OpenPort");
}

#[test]
fn audit_rows_say_who_did_what() {
    let dir = TempDir::new("audit");
    let (mut store, mut state, _) = Store::open(&dir.db()).unwrap();
    let eth0 = ifname("eth0");
    let alice = caller(1000);
    let bob = Provenance {
        uid: 0,
        pid: None,
        executable: None,
        sender: None,
    };
    let started = SystemTime::now();

    commit_one(
        &mut store,
        &mut state,
        &Mutation::OpenPort {
            connection: eth0.clone(),
            key: key(22, 6),
            name: entry_name("ssh"),
            lease: None,
        },
        &alice,
    );
    // Re-opening under another name is a no-op (first name wins): no change, no row.
    commit_one(
        &mut store,
        &mut state,
        &Mutation::OpenPort {
            connection: eth0.clone(),
            key: key(22, 6),
            name: entry_name("other"),
            lease: None,
        },
        &alice,
    );
    commit_one(
        &mut store,
        &mut state,
        &Mutation::ClosePort {
            connection: eth0.clone(),
            key: key(22, 6),
        },
        &bob,
    );
    commit_one(
        &mut store,
        &mut state,
        &Mutation::DisableFirewall {
            connection: eth0.clone(),
        },
        &alice,
    );
    commit_one(
        &mut store,
        &mut state,
        &Mutation::SetLogfileMaximumSize {
            kib: 100.try_into().unwrap(),
        },
        &bob,
    );

    let audit = store.audit(10).unwrap();
    let show = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let summary: Vec<String> = audit
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} -> {}",
                r.member,
                r.what,
                show(r.connection.as_deref()),
                show(r.key.map(|k| k.to_string()).as_deref()),
                show(r.old.as_deref()),
                show(r.new.as_deref()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "LogfileMaximumSize logfile_maximum_size - - 4096 -> 100",
            "DisableFirewall firewalled eth0 - true -> false",
            "ClosePort open_ports eth0 22/tcp ssh -> -",
            "OpenPort open_ports eth0 22/tcp - -> ssh",
        ]
    );
    assert_eq!(audit[3].who, alice);
    assert_eq!(audit[2].who, bob);
    assert_eq!(audit[1].who, alice);
    assert!(audit.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    for record in &audit {
        assert!(
            record.time >= started - Duration::from_secs(1),
            "{record:?}"
        );
        assert!(record.time <= SystemTime::now(), "{record:?}");
    }
    assert_eq!(store.audit(1).unwrap(), audit[..1]);
}

#[test]
fn a_change_the_store_does_not_hold_fails_and_changes_nothing() {
    let dir = TempDir::new("outofstep");
    let (mut store, mut state, _) = Store::open(&dir.db()).unwrap();
    commit_one(
        &mut store,
        &mut state,
        &Mutation::OpenGlobalPort {
            key: key(22, 6),
            name: entry_name("ssh"),
            lease: None,
        },
        &caller(0),
    );
    let mut tx = store.transaction().unwrap();
    let bogus = [
        Change::GlobalClosed {
            entry: fw6_model::PortEntry::new(key(22, 6), entry_name("ssh")),
        },
        Change::GlobalClosed {
            entry: fw6_model::PortEntry::new(key(53, 17), entry_name("dns")),
        },
    ];
    let err = tx
        .record("CloseGlobalPort", &bogus, &caller(0))
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfStep(_)), "{err:?}");
    assert!(err.to_string().contains("53/udp"), "{err}");
    // The caller drops the transaction after an error, which undoes the call's first removal.
    drop(tx);
    drop(store);
    let (_, loaded) = reopen(&dir.db());
    assert_eq!(loaded, state);
}

/// Checks that `moved_to` is `<db>.corrupt-<unix time within [before, now]>` with an optional
/// `.N` suffix.
fn assert_moved_aside_name(db: &Path, moved_to: &Path, before: u64) {
    assert_eq!(moved_to.parent(), db.parent());
    let name = moved_to.file_name().unwrap().to_str().unwrap();
    let secs = name
        .strip_prefix("fw6.db.corrupt-")
        .unwrap_or_else(|| panic!("{name}"));
    let secs: u64 = secs.split('.').next().unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((before..=now).contains(&secs), "{name}");
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_corrupt_file_is_moved_aside_intact() {
    let dir = TempDir::new("corrupt");
    let db = dir.db();
    let garbage: Vec<u8> = (0..8192_u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect();
    let wal_garbage = b"not a write-ahead log".to_vec();
    let before = unix_now();

    let mut moved = Vec::new();
    for round in 0..2 {
        fs::write(&db, &garbage).unwrap();
        fs::write(dir.0.join("fw6.db-wal"), &wal_garbage).unwrap();
        let (store, state, opened) = Store::open(&db).unwrap();
        let Opened::Recovered { moved_to, reason } = opened else {
            panic!("round {round}: {opened:?}")
        };
        assert!(reason.contains("not a database"), "{reason}");
        assert_moved_aside_name(&db, &moved_to, before);
        assert_eq!(fs::read(&moved_to).unwrap(), garbage);
        let mut wal = moved_to.clone().into_os_string();
        wal.push("-wal");
        assert_eq!(fs::read(wal).unwrap(), wal_garbage);
        assert_eq!(state, State::default());
        store.integrity_check().unwrap();
        drop(store);
        moved.push(moved_to);
    }
    // A second recovery within the same second must not overwrite the first.
    assert_ne!(moved[0], moved[1]);
    assert!(moved[0].exists() && moved[1].exists());
    let (_, state) = reopen(&db);
    assert_eq!(state, State::default());
}

#[test]
fn a_future_schema_version_is_moved_aside_intact() {
    let dir = TempDir::new("future");
    let db = dir.db();
    let (mut store, mut state, _) = Store::open(&db).unwrap();
    commit_one(
        &mut store,
        &mut state,
        &Mutation::OpenGlobalPort {
            key: key(22, 6),
            name: entry_name("ssh"),
            lease: None,
        },
        &caller(0),
    );
    drop(store);
    let newer = SCHEMA_VERSION + 98;
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    // The last connection closed checkpointed the WAL: the main file holds everything.
    let bytes = fs::read(&db).unwrap();
    let before = unix_now();

    let (_store, state, opened) = Store::open(&db).unwrap();
    let Opened::Recovered { moved_to, reason } = opened else {
        panic!("{opened:?}")
    };
    assert!(reason.contains(&newer.to_string()), "{reason}");
    assert_moved_aside_name(&db, &moved_to, before);
    assert_eq!(fs::read(&moved_to).unwrap(), bytes);
    assert_eq!(state, State::default());
}

#[test]
fn a_row_the_model_rejects_is_damage() {
    let dir = TempDir::new("badrow");
    let db = dir.db();
    drop(Store::open(&db).unwrap());
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "INSERT INTO calls (id, time, uid) VALUES (1, 0, 0); \
             INSERT INTO connections (name, firewalled, call) VALUES ('a/b', 0, 1);",
        )
        .unwrap();
    let (_store, state, opened) = Store::open(&db).unwrap();
    let Opened::Recovered { reason, .. } = opened else {
        panic!("{opened:?}")
    };
    assert!(reason.contains("connections"), "{reason}");
    assert!(reason.contains("not a valid interface name"), "{reason}");
    assert_eq!(state, State::default());
}

/// Opens one pair per commit on `connection`, from port `first`, and returns each commit's time.
fn time_commit(store: &mut Store, state: &mut State, connection: &IfName, port: u32) -> Duration {
    let mutation = Mutation::OpenPort {
        connection: connection.clone(),
        key: key(port, 6),
        name: entry_name("bench"),
        lease: None,
    };
    let changes = state.apply(&mutation).unwrap();
    let started = Instant::now();
    let mut tx = store.transaction().unwrap();
    tx.record(mutation.member(), &changes, &caller(0)).unwrap();
    tx.commit().unwrap();
    started.elapsed()
}

/// The per-call cost with 100,000 stored entries is about the cost with none (a sanity bound,
/// not a benchmark), and loading 100,000 entries is timed.
#[test]
fn cost_per_call_does_not_grow_with_stored_entries() {
    const ENTRIES: u32 = 100_000;
    const COMMITS: u32 = 200;
    let small_dir = TempDir::new("cost-empty");
    let big_dir = TempDir::new("cost-100k");
    let (mut small, mut small_state, _) = Store::open(&small_dir.db()).unwrap();
    let (mut big, mut big_state, _) = Store::open(&big_dir.db()).unwrap();

    let started = Instant::now();
    let mut changes = Vec::new();
    for i in 0..ENTRIES {
        let mutation = Mutation::OpenPort {
            connection: ifname(&format!("bulk{}", i / 50_000)),
            key: key(i % 50_000 + 1, 6),
            name: entry_name("bulk"),
            lease: None,
        };
        changes.extend(big_state.apply(&mutation).unwrap());
    }
    let mut tx = big.transaction().unwrap();
    tx.record("Apply", &changes, &caller(0)).unwrap();
    tx.commit().unwrap();
    println!(
        "stored {ENTRIES} entries in one transaction: {:?}",
        started.elapsed()
    );

    // Interleaved, so disk noise hits both sides alike.
    let bench = ifname("bench0");
    let (mut at_zero, mut at_big) = (Vec::new(), Vec::new());
    for port in 1..=COMMITS {
        at_zero.push(time_commit(&mut small, &mut small_state, &bench, port));
        at_big.push(time_commit(&mut big, &mut big_state, &bench, port));
    }
    // The first commit past the 100,000 audit rows prunes a tenth of them (audit_max_rows).
    let pruning = at_big.iter().max().copied().unwrap_or_default();
    println!("slowest commit with {ENTRIES} entries (the one that prunes): {pruning:?}");
    let (zero, full) = (median_duration(&at_zero), median_duration(&at_big));
    let ratio = full.as_secs_f64() / zero.as_secs_f64();
    println!(
        "median record+commit of one OpenPort: {zero:?} with 0 entries, {full:?} with {ENTRIES} \
         entries, ratio {ratio:.2}"
    );
    assert!(ratio < 3.0, "{zero:?} vs {full:?}");

    drop(big);
    let started = Instant::now();
    let (big, loaded) = reopen(&big_dir.db());
    let load = started.elapsed();
    println!("open + load of {} entries: {load:?}", ENTRIES + COMMITS);
    assert_eq!(loaded, big_state);
    big.integrity_check().unwrap();
}

/// Makes `paths` immutable for as long as it lives (`chattr +i`): root ignores permission bits,
/// so this is how a root test gets a database `SQLite` cannot write.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn new(paths: &[&Path]) -> Self {
        let mut guard = Self(Vec::new());
        for path in paths {
            let status = Command::new("chattr").arg("+i").arg(path).status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "this test needs root (CAP_LINUX_IMMUTABLE), chattr, and a file system with \
                 the immutable attribute for {}",
                path.display()
            );
            guard.0.push(path.to_path_buf());
        }
        guard
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

#[test]
fn a_read_only_database_fails_with_sqlites_words() {
    let dir = TempDir::new("readonly");
    let db = dir.db();
    let (mut store, mut state, _) = Store::open(&db).unwrap();
    commit_one(
        &mut store,
        &mut state,
        &Mutation::OpenGlobalPort {
            key: key(22, 6),
            name: entry_name("ssh"),
            lease: None,
        },
        &caller(0),
    );
    drop(store);
    let bytes = fs::read(&db).unwrap();

    // A read-only directory: SQLite cannot create the WAL index, so opening fails with its own
    // words, and the file (which is fine) is neither moved nor changed.
    {
        let _immutable = Immutable::new(&[&db, &dir.0]);
        let err = Store::open(&db).unwrap_err();
        eprintln!("read-only directory: {err}");
        assert!(
            err.to_string().contains("unable to open database file"),
            "{err}"
        );
        assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
    }
    assert_eq!(fs::read(&db).unwrap(), bytes);
    assert_eq!(
        fs::read_dir(&dir.0).unwrap().count(),
        1,
        "nothing moved aside"
    );

    // A read-only file: SQLite opens it read-only, reads work, the first write fails.
    let _immutable = Immutable::new(&[&db]);
    let (mut store, loaded, opened) = Store::open(&db).unwrap();
    assert_eq!(opened, Opened::Existing);
    assert_eq!(loaded, state);
    let changes = state
        .apply(&Mutation::CloseGlobalPort { key: key(22, 6) })
        .unwrap();
    let result = store.transaction().and_then(|mut tx| {
        tx.record("CloseGlobalPort", &changes, &caller(0))?;
        tx.commit()
    });
    let err = result.unwrap_err();
    eprintln!("read-only file: {err}");
    let message = err.to_string();
    assert!(message.contains("readonly database"), "{message}");
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
}

/// `audit_max_rows`: the commit that goes over prunes the oldest rows (to nine tenths of the
/// limit) in its own transaction; `calls` rows that nothing names any more go with them, while
/// the call that made a still-open pair stays.
#[test]
fn the_audit_trail_is_pruned_to_its_limit_and_unnamed_calls_go_with_it() {
    const LIMIT: u64 = 20;
    let dir = TempDir::new("prune");
    let (mut store, mut state, _) = Store::open(&dir.db()).unwrap();
    store.set_audit_max_rows(LIMIT);
    let (alice, bob) = (caller(1), caller(2));
    let lan0 = ifname("lan0");
    let kept = Mutation::OpenPort {
        connection: lan0.clone(),
        key: key(1000, 6),
        name: entry_name("alice"),
        lease: None,
    };
    commit_one(&mut store, &mut state, &kept, &alice);
    for i in 0..100 {
        let key = key(2000, 17);
        let m = if i % 2 == 0 {
            Mutation::OpenPort {
                connection: lan0.clone(),
                key,
                name: entry_name(&format!("bob{i}")),
                lease: None,
            }
        } else {
            Mutation::ClosePort {
                connection: lan0.clone(),
                key,
            }
        };
        commit_one(&mut store, &mut state, &m, &bob);
        let rows = store.audit(usize::MAX).unwrap();
        assert!(
            rows.len() as u64 <= LIMIT,
            "{} rows after commit {i}",
            rows.len()
        );
    }
    let rows = store.audit(usize::MAX).unwrap();
    assert!(rows.len() as u64 >= LIMIT - LIMIT / 10, "{}", rows.len());
    // The newest survive, in order: the last commit was the 100th, a ClosePort.
    assert_eq!(rows[0].member, "ClosePort");
    assert!(
        rows.windows(2).all(|w| w[0].id == w[1].id + 1),
        "contiguous"
    );
    assert!(rows.iter().all(|r| r.who == bob));
    drop(store);
    // Alice's pair still loads, with its call; calls nothing names are gone.
    let (_, loaded) = reopen(&dir.db());
    assert_eq!(loaded, state);
    let db = rusqlite::Connection::open(dir.db()).unwrap();
    let calls: i64 = db
        .query_row("SELECT count(*) FROM calls", [], |r| r.get(0))
        .unwrap();
    let alice_calls: i64 = db
        .query_row("SELECT count(*) FROM calls WHERE uid = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(alice_calls, 1, "the call that opened a kept pair stays");
    assert!(
        calls <= i64::try_from(LIMIT).unwrap() + 2,
        "{calls} calls left for {} audit rows",
        rows.len()
    );
}
