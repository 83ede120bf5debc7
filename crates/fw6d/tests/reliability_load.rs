//! Load (issue 8 §4): 32 concurrent clients × 500 mixed operations (40 % writes through six
//! mutators, 60 % reads through seven queries) on disjoint port ranges, so each client knows
//! exactly what its own keys must be. No error is expected; every read of a client's own key
//! sees its last acknowledged write; at the end the daemon's answers, the store and the kernel
//! equal the union of the clients' expectations. Prints p50/p99 per member. Needs root.
//! `FW6_RELIABILITY_LONG=1`: 64 clients × 2,000 operations.

mod common;
mod reliability;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{CONN_IFACE, Lab, MANAGER, MANAGER_IFACE};
use fw6_testkit::stats::Rng;
use reliability::{Reply, figure};

const PORTS: u16 = 16;

struct Outcome {
    facts: BTreeMap<String, bool>,
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
}

#[expect(
    clippy::too_many_lines,
    reason = "one table of operations: each arm sends a member and checks its answer"
)]
fn client(address: &str, client: u16, ops: usize, seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut out = Outcome {
        facts: BTreeMap::new(),
        latencies: BTreeMap::new(),
        errors: Vec::new(),
    };
    reliability::runtime().block_on(async {
        let conn = reliability::connect(address).await;
        let mut paths = BTreeMap::new();
        for ifname in ["lan0", "wan0"] {
            paths.insert(ifname, reliability::connection_path(&conn, ifname).await);
        }
        for _ in 0..ops {
            let port = 40_000 + client * 50 + u16::try_from(rng.below(u64::from(PORTS))).unwrap();
            let (protocol, p) = if rng.one_in(2) {
                (6_u32, "tcp")
            } else {
                (17, "udp")
            };
            let ifname = if rng.one_in(2) { "lan0" } else { "wan0" };
            let path = paths[ifname].as_str();
            let name = format!("load{client}");
            let own = |prefix: &str| format!("{prefix} {p}/{port}");
            let started = Instant::now();
            // (member, result, the fact it writes or reads, the value written / expected)
            let (member, result, check): (&'static str, _, Option<(String, bool, bool)>) = match rng
                .below(20)
            {
                0..=2 => {
                    let r = reliability::call(
                        &conn,
                        path,
                        CONN_IFACE,
                        "OpenPort",
                        &(port, protocol, name.as_str()),
                    )
                    .await;
                    (
                        "OpenPort",
                        r,
                        Some((own(&format!("O {ifname}")), true, true)),
                    )
                }
                3..=4 => {
                    let r =
                        reliability::call(&conn, path, CONN_IFACE, "ClosePort", &(port, protocol))
                            .await;
                    (
                        "ClosePort",
                        r,
                        Some((own(&format!("O {ifname}")), false, true)),
                    )
                }
                5 => {
                    let r = reliability::call(
                        &conn,
                        MANAGER,
                        MANAGER_IFACE,
                        "OpenGlobalPort",
                        &(port, protocol, name.as_str()),
                    )
                    .await;
                    ("OpenGlobalPort", r, Some((own("G"), true, true)))
                }
                6 => {
                    let r = reliability::call(
                        &conn,
                        MANAGER,
                        MANAGER_IFACE,
                        "CloseGlobalPort",
                        &(port, protocol),
                    )
                    .await;
                    ("CloseGlobalPort", r, Some((own("G"), false, true)))
                }
                7 => {
                    let r = reliability::call(
                        &conn,
                        path,
                        CONN_IFACE,
                        "IgnoreGlobalPort",
                        &(port, protocol, name.as_str()),
                    )
                    .await;
                    (
                        "IgnoreGlobalPort",
                        r,
                        Some((own(&format!("I {ifname}")), true, true)),
                    )
                }
                8 => {
                    let r = reliability::call(
                        &conn,
                        path,
                        CONN_IFACE,
                        "ObserveGlobalPort",
                        &(port, protocol),
                    )
                    .await;
                    (
                        "ObserveGlobalPort",
                        r,
                        Some((own(&format!("I {ifname}")), false, true)),
                    )
                }
                9..=11 => {
                    let r =
                        reliability::call(&conn, path, CONN_IFACE, "IsPortOpen", &(port, protocol))
                            .await;
                    let fact = own(&format!("O {ifname}"));
                    let want = out.facts.get(&fact).copied().unwrap_or(false);
                    ("IsPortOpen", r, Some((fact, want, false)))
                }
                12 => {
                    let r = reliability::call(
                        &conn,
                        MANAGER,
                        MANAGER_IFACE,
                        "IsPortGloballyOpen",
                        &(port, protocol),
                    )
                    .await;
                    let fact = own("G");
                    let want = out.facts.get(&fact).copied().unwrap_or(false);
                    ("IsPortGloballyOpen", r, Some((fact, want, false)))
                }
                13 => {
                    let r = reliability::call(
                        &conn,
                        path,
                        CONN_IFACE,
                        "IsGlobalPortIgnored",
                        &(port, protocol),
                    )
                    .await;
                    let fact = own(&format!("I {ifname}"));
                    let want = out.facts.get(&fact).copied().unwrap_or(false);
                    ("IsGlobalPortIgnored", r, Some((fact, want, false)))
                }
                14..=15 => {
                    let r =
                        reliability::call(&conn, path, CONN_IFACE, "EnumerateOpenPorts", &()).await;
                    ("EnumerateOpenPorts", r, None)
                }
                16 => {
                    let r = reliability::call(
                        &conn,
                        MANAGER,
                        MANAGER_IFACE,
                        "EnumerateGloballyOpenPorts",
                        &(),
                    )
                    .await;
                    ("EnumerateGloballyOpenPorts", r, None)
                }
                17..=18 => {
                    let r = reliability::call(
                        &conn,
                        MANAGER,
                        MANAGER_IFACE,
                        "Explain",
                        &(ifname, port, protocol),
                    )
                    .await;
                    ("Explain", r, None)
                }
                _ => {
                    let r = reliability::call(&conn, MANAGER, MANAGER_IFACE, "Status", &()).await;
                    ("Status", r, None)
                }
            };
            out.latencies
                .entry(member)
                .or_default()
                .push(started.elapsed());
            let reply = match result {
                Ok(reply) => reply,
                Err(e) => {
                    out.errors
                        .push(format!("{member}: {:?}", Reply::of::<()>(&Err(e))));
                    continue;
                }
            };
            match check {
                Some((fact, value, true)) => {
                    out.facts.insert(fact, value);
                }
                Some((fact, want, false)) => {
                    let got: bool = reply.body().deserialize().unwrap();
                    if got != want {
                        out.errors.push(format!(
                            "{member} {fact}: read {got}, last write said {want}"
                        ));
                    }
                }
                None => {}
            }
        }
    });
    out
}

#[test]
fn many_concurrent_clients_get_answers_and_a_consistent_final_state() {
    fw6_testkit::require_root("reliability_load");
    let (clients, ops) = if reliability::long() {
        (64_u16, 2000)
    } else {
        (32, 500)
    };
    let mut rng = Rng::seeded("load");
    let lab = Lab::start();
    let baseline = reliability::kernel_facts(&lab);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (address, seed) = (lab.bus.address().to_owned(), rng.next_u64());
            std::thread::spawn(move || client(&address, c, ops, seed))
        })
        .collect();
    let mut expected: BTreeSet<String> = baseline.keys.clone();
    let mut latencies: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut errors = Vec::new();
    for t in threads {
        let out = t.join().expect("a client panicked");
        expected.extend(out.facts.into_iter().filter(|(_, v)| *v).map(|(k, _)| k));
        for (member, mut samples) in out.latencies {
            latencies.entry(member).or_default().append(&mut samples);
        }
        errors.extend(out.errors);
    }
    let elapsed = started.elapsed();
    let total: usize = latencies.values().map(Vec::len).sum();
    figure("load.clients", clients);
    figure("load.operations", total);
    figure("load.seconds", format!("{:.1}", elapsed.as_secs_f64()));
    figure(
        "load.ops_per_second",
        format!(
            "{:.0}",
            f64::from(u32::try_from(total).unwrap()) / elapsed.as_secs_f64()
        ),
    );
    figure("load.errors", errors.len());
    for (member, samples) in &mut latencies {
        let n = samples.len();
        let p50 = fw6_testkit::stats::percentile(samples, 50);
        let p99 = fw6_testkit::stats::percentile(samples, 99);
        println!("FIGURE load.{member} = n {n}, p50 {p50:.2?}, p99 {p99:.2?}");
    }
    assert!(
        errors.is_empty(),
        "{} errors: {:#?}",
        errors.len(),
        &errors[..errors.len().min(20)]
    );

    let rt = reliability::runtime();
    let answers = rt.block_on(async {
        let conn = reliability::connect(lab.bus.address()).await;
        reliability::dbus_facts(&conn).await.unwrap()
    });
    let (store, integrity) = reliability::store_facts(&lab.state_dir);
    assert_eq!(integrity, Ok(()));
    let kernel = reliability::kernel_facts(&lab);
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
    let model = reliability::Facts {
        keys: expected,
        names: BTreeMap::new(),
    };
    assert_eq!(
        store.keys,
        model.keys,
        "store vs the clients' expectations:\n{}",
        store.diff(&model, false)
    );
    figure("load.final_facts", store.keys.len());
}
