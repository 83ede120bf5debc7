//! Hostile callers, continued (issue 8 §6): an unprivileged uid with a real polkitd cannot change
//! anything through `Apply` with any of the twelve members (`tests/access.rs` covers the direct
//! members and properties), and oversized requests get a clear limit error from fw6d or the bus,
//! with the daemon still up and nothing changed. Needs root.

mod common;
mod reliability;

use std::collections::HashMap;

use common::{Lab, MANAGER, MANAGER_IFACE};
use fw6_testkit::bus::NOBODY;
use reliability::{Reply, figure};

const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

#[test]
fn an_unprivileged_caller_cannot_apply_any_member() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::with("", true);
    lab.set_up_changes_to_refuse();
    let before = lab.table();
    let settings_before = lab.property("LogfilePath", None).unwrap();
    let items: [[&str; 6]; 12] = [
        ["OpenGlobalPort", "", "80", "6", "x", ""],
        ["CloseGlobalPort", "", "22", "6", "", ""],
        ["EnableFirewall", "wan0", "0", "0", "", ""],
        ["DisableFirewall", "lan0", "0", "0", "", ""],
        ["OpenPort", "lan0", "80", "6", "x", ""],
        ["ClosePort", "lan0", "8080", "6", "", ""],
        ["IgnoreGlobalPort", "lan0", "22", "6", "x", ""],
        ["ObserveGlobalPort", "lan0", "546", "17", "", ""],
        ["LogfilePath", "", "0", "0", "", "/var/log/fw6/evil.log"],
        ["LogfileMaximumSize", "", "0", "0", "", "64"],
        ["LogDroppedPackets", "", "0", "0", "", "true"],
        ["LogConnections", "", "0", "0", "", "true"],
    ];
    for item in &items {
        let mut args = vec!["a(ssquss)", "1"];
        args.extend(item);
        let err = lab
            .call_as(Some(NOBODY), MANAGER, MANAGER_IFACE, "Apply", &args)
            .unwrap_err();
        assert!(
            err.contains("not authorized") || err.contains("AccessDenied"),
            "Apply {}: {err}",
            item[0]
        );
    }
    // All twelve in one batch, too.
    let mut args = vec!["a(ssquss)", "12"];
    for item in &items {
        args.extend(item);
    }
    let err = lab
        .call_as(Some(NOBODY), MANAGER, MANAGER_IFACE, "Apply", &args)
        .unwrap_err();
    assert!(err.contains("not authorized"), "{err}");
    assert_eq!(lab.table(), before, "nothing changed in the kernel");
    assert_eq!(lab.property("LogfilePath", None).unwrap(), settings_before);
    figure("callers.unprivileged_apply_members_denied", items.len() + 1);
}

#[test]
fn oversized_requests_get_a_clear_limit_error() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let before = reliability::kernel_facts(&lab);
    let call = |path: &str, iface: &str, member: &str, body: &(u16, u32, &str)| {
        Reply::of(&rt.block_on(reliability::call(&conn, path, iface, member, body)))
    };

    // A 1 MiB entry name: fw6d's own limit.
    let huge = "x".repeat(1 << 20);
    let reply = call(
        &lan0,
        common::CONN_IFACE,
        "OpenPort",
        &(80, 6, huge.as_str()),
    );
    match &reply {
        Reply::Fw(kind, msg) => {
            assert_eq!(kind, "InvalidArg", "{msg}");
            assert!(
                msg.contains("255"),
                "names the limit: {}",
                &msg[..msg.len().min(300)]
            );
        }
        other => panic!("1 MiB name: {other:?}"),
    }

    // A batch one item over max_batch (100,000): fw6d's limit, before validation.
    let items: Vec<(String, String, u16, u32, String, String)> = (0..100_001u32)
        .map(|i| {
            (
                "OpenPort".to_owned(),
                "lan0".to_owned(),
                u16::try_from(i % 65_535 + 1).unwrap(),
                6,
                String::new(),
                String::new(),
            )
        })
        .collect();
    let reply = Reply::of(&rt.block_on(reliability::call(
        &conn,
        MANAGER,
        MANAGER_IFACE,
        "Apply",
        &(items,),
    )));
    match &reply {
        Reply::Fw(kind, msg) => {
            assert_eq!(kind, "InvalidArg");
            assert!(msg.contains("at most 100000"), "{msg}");
        }
        other => panic!("100,001 items: {other:?}"),
    }

    // A message beyond what the bus carries (dbus-daemon's max_message_size; 100 MiB is under
    // the protocol's 128 MiB, so the client library sends it): dbus-daemon disconnects the
    // sender, its documented behaviour; fw6d never sees it and stays up. (200 MiB is refused
    // by zbus itself before sending: "excess data".)
    let enormous = "y".repeat(100 << 20);
    let reply = call(
        &lan0,
        common::CONN_IFACE,
        "OpenPort",
        &(80, 6, enormous.as_str()),
    );
    drop(enormous);
    println!("100 MiB message: {reply:?}");
    assert!(
        !matches!(reply, Reply::Ok),
        "a 100 MiB message cannot succeed"
    );
    // Whatever the bus did to our connection, a fresh one still reaches a live daemon.
    let fresh = rt.block_on(reliability::connect(lab.bus.address()));
    let answers = rt
        .block_on(reliability::dbus_facts(&fresh))
        .expect("fw6d is up");
    assert_eq!(answers.keys, before.keys, "nothing changed");
    assert_eq!(reliability::kernel_facts(&lab).keys, before.keys);
    figure("callers.oversized_requests_refused", 3);
}

/// A caller's options are read without building what it sent: an 8 MiB `ay` as an option's
/// value (zbus's `Variant` would build a 64-byte value per byte, half a GiB) is walked over and
/// refused as the wrong type, and fw6d's peak memory grows by little more than the message.
#[test]
fn a_callers_options_cost_fw6d_no_more_than_their_message() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let before = reliability::kernel_facts(&lab);
    let pid = lab.pid().expect("fw6d runs");
    let peak = || fw6_testkit::Memory::of(pid).expect("fw6d's memory").hwm_kib;
    let peak_before = peak();
    let big = || zbus::Variant::from(vec![7_u8; 8 << 20]);
    let lifetime: HashMap<&str, zbus::Variant<'_>> = HashMap::from([("lifetime", big())]);
    let within: HashMap<&str, zbus::Variant<'_>> = HashMap::from([("confirm_within", big())]);
    let replies = [
        Reply::of(&rt.block_on(reliability::call(
            &conn,
            &lan0,
            common::CONN_IFACE,
            "OpenPortWithOptions",
            &(80_u16, 6_u32, "web", &lifetime),
        ))),
        Reply::of(&rt.block_on(reliability::call(
            &conn,
            MANAGER,
            MANAGER_IFACE,
            "ApplyConfirmable",
            &(
                vec![("OpenPort", "lan0", 80_u16, 6_u32, "web", "")],
                &within,
            ),
        ))),
    ];
    for reply in &replies {
        match reply {
            Reply::Fw(kind, msg) => {
                assert_eq!(kind, "InvalidArg", "{msg}");
                assert!(
                    msg.contains("type \"ay\"") || msg.contains("not a ay"),
                    "names the type sent: {msg}"
                );
            }
            other => panic!("an 8 MiB ay as an option: {other:?}"),
        }
    }
    let grown = peak().saturating_sub(peak_before);
    println!("fw6d's peak memory grew by {grown} KiB for two 8 MiB options");
    assert!(
        grown < 64 * 1024,
        "fw6d's peak memory grew by {grown} KiB reading two 8 MiB options"
    );
    assert_eq!(reliability::kernel_facts(&lab).keys, before.keys);
}

/// zbus adds its `Properties` to every node of fw6d's tree, and its `Set` would decode the value
/// as a `Variant`, 64 bytes per byte of an `ay`, before looking at the interface, the property or
/// the caller. fw6d screens every node's `Set` (service/properties.rs): an 8 MiB `ay` sent to each
/// node — the root, the nodes on the way, the manager, a connection — is refused naming its type,
/// fw6d's peak memory grows by little more than the message, and a basic value still sets.
#[test]
fn a_properties_set_costs_fw6d_no_more_than_its_message_on_every_node() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let mut nodes: Vec<String> = ["/".to_owned()]
        .into_iter()
        .chain(
            lan0.match_indices('/')
                .skip(1)
                .map(|(i, _)| lan0[..i].to_owned()),
        )
        .chain([lan0.clone()])
        .collect();
    nodes.push(MANAGER.to_owned());
    nodes.dedup();
    let settings_before = lab.property("LogConnections", None).unwrap();
    let pid = lab.pid().expect("fw6d runs");
    let peak = || fw6_testkit::Memory::of(pid).expect("fw6d's memory").hwm_kib;
    let peak_before = peak();
    let big = zbus::Variant::from(vec![7_u8; 8 << 20]);
    for node in &nodes {
        let sent = (MANAGER_IFACE, "LogConnections", &big);
        match Reply::of(&rt.block_on(reliability::call(&conn, node, PROPERTIES, "Set", &sent))) {
            Reply::Fw(kind, msg) => {
                assert_eq!(kind, "InvalidArg", "{node}: {msg}");
                assert!(
                    msg.contains("type \"ay\""),
                    "{node}: names the type sent: {msg}"
                );
                assert!(
                    msg.contains("0x80070057"),
                    "{node}: carries the HRESULT: {msg}"
                );
            }
            other => panic!("Properties.Set of an 8 MiB ay at {node}: {other:?}"),
        }
    }
    let grown = peak().saturating_sub(peak_before);
    println!(
        "fw6d's peak memory grew by {grown} KiB for {} 8 MiB Properties.Set calls",
        nodes.len()
    );
    assert!(
        grown < 64 * 1024,
        "fw6d's peak memory grew by {grown} KiB reading 8 MiB Properties.Set values"
    );
    assert_eq!(
        lab.property("LogConnections", None).unwrap(),
        settings_before
    );
}

/// Behind the screen, properties still read and set as zbus served them: `Get` anywhere, a basic
/// value sets a manager property (fw6d serves that `Set` itself, outside zbus's tree lock), the
/// wrong basic type and an unknown property keep zbus's errors, and each `Set` sends one
/// `PropertiesChanged`, for the property set.
#[test]
fn behind_the_screen_properties_read_and_set_as_before() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let (rt, conn, lan0) = reliability::client(&lab);
    let settings_before = lab.property("LogConnections", None).unwrap();
    let flipped = common::data(&settings_before) != serde_json::json!(true);
    let set = (
        MANAGER_IFACE,
        "LogConnections",
        zbus::Variant::Bool(flipped),
    );
    assert_eq!(
        Reply::of(&rt.block_on(reliability::call(&conn, MANAGER, PROPERTIES, "Set", &set))),
        Reply::Ok
    );
    assert_eq!(
        common::data(&lab.property("LogConnections", None).unwrap()),
        serde_json::json!(flipped),
        "the basic value was set"
    );
    let get = (common::CONN_IFACE, "IsFirewalled");
    assert_eq!(
        Reply::of(&rt.block_on(reliability::call(&conn, &lan0, PROPERTIES, "Get", &get))),
        Reply::Ok
    );
    // fw6d serves the manager's `Set` itself: zbus's errors for a basic value of the wrong type
    // and for an unknown property are kept.
    for (property, value, error) in [
        ("LogConnections", zbus::Variant::from("yes"), "InvalidArgs"),
        (
            "NoSuchProperty",
            zbus::Variant::Bool(true),
            "UnknownProperty",
        ),
    ] {
        let wrong = (MANAGER_IFACE, property, value);
        match Reply::of(&rt.block_on(reliability::call(&conn, MANAGER, PROPERTIES, "Set", &wrong)))
        {
            Reply::Bus(name, _) => assert_eq!(name, format!("org.freedesktop.DBus.Error.{error}")),
            other => panic!("Set {property}: {other:?}"),
        }
    }
    // One `PropertiesChanged` per `Set`, naming the property set: fw6d's signals come in order,
    // so once the second `Set`'s signal is here, every signal of the first is too.
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(PROPERTIES)
        .member("PropertiesChanged")
        .path(MANAGER)
        .build()
        .expect("a match rule");
    let mut signals = rt
        .block_on(zbus::MessageStream::for_match_rule(rule, &conn, None))
        .unwrap();
    let dropped = common::data(&lab.property("LogDroppedPackets", None).unwrap());
    for (property, value) in [
        ("LogConnections", !flipped),
        ("LogDroppedPackets", dropped != serde_json::json!(true)),
    ] {
        let set = (MANAGER_IFACE, property, zbus::Variant::Bool(value));
        let reply = rt.block_on(reliability::call(&conn, MANAGER, PROPERTIES, "Set", &set));
        assert_eq!(Reply::of(&reply), Reply::Ok, "Set {property}");
    }
    let mut seen: Vec<String> = Vec::new();
    rt.block_on(async {
        use futures_util::StreamExt as _;
        while !seen.iter().any(|p| p == "LogDroppedPackets") {
            let next = tokio::time::timeout(std::time::Duration::from_secs(10), signals.next());
            let msg = next
                .await
                .expect("a PropertiesChanged within 10 s")
                .unwrap()
                .unwrap();
            let (_, changed, _): (String, HashMap<String, zbus::OwnedVariant>, Vec<String>) =
                msg.body().deserialize().unwrap();
            seen.extend(changed.into_keys());
        }
    });
    assert_eq!(
        seen,
        ["LogConnections", "LogDroppedPackets"],
        "one signal per Set"
    );
}

/// Property setters and calls that export new connection objects, many at once: every call is
/// answered. zbus's `Properties.Set` holds the object tree's lock while the setter runs; a
/// setter that looked the manager up in the tree again waited behind the writer that another
/// call had queued to export its new object, which waited for the setter: fw6d hung for good
/// (found by the fuzzer, 64 calls in flight, once fw6d ran on two threads).
#[test]
fn setters_racing_new_connection_objects_are_all_answered() {
    use std::time::Duration;
    const ROUNDS: usize = 40;
    const SETTERS: usize = 8;
    const EXPORTERS: usize = 24;

    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let bound = Duration::from_secs(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let conns: Vec<zbus::Connection> = (0..4)
        .map(|_| {
            runtime
                .block_on(zbus::connection::Builder::address(lab.bus.address()).build())
                .unwrap()
        })
        .collect();
    let outcome = runtime.block_on(async {
        for round in 0..ROUNDS {
            let mut calls = tokio::task::JoinSet::new();
            for k in 0..SETTERS + EXPORTERS {
                let conn = conns[k % conns.len()].clone();
                calls.spawn(async move {
                    let (what, reply) = if k < SETTERS {
                        let property = ["LogConnections", "LogDroppedPackets"][k % 2];
                        let on = (round + k / 2) % 2 == 0;
                        let body = (MANAGER_IFACE, property, zbus::Variant::from(on));
                        let call = conn.call_method(
                            Some(common::BUS_NAME),
                            MANAGER,
                            Some("org.freedesktop.DBus.Properties"),
                            "Set",
                            &body,
                        );
                        (
                            format!("Set {property} {on}"),
                            tokio::time::timeout(bound, call).await,
                        )
                    } else {
                        // An absent interface: fw6d keeps its configuration and exports its
                        // object.
                        let name = format!("race{round}x{k}");
                        let items = (vec![(
                            "OpenPort",
                            name.as_str(),
                            8080_u16,
                            6_u32,
                            "race",
                            "",
                        )],);
                        let call = conn.call_method(
                            Some(common::BUS_NAME),
                            MANAGER,
                            Some(MANAGER_IFACE),
                            "Apply",
                            &items,
                        );
                        (
                            format!("Apply OpenPort {name}"),
                            tokio::time::timeout(bound, call).await,
                        )
                    };
                    match reply {
                        Err(_) => Err(format!("{what}: no reply in {bound:?}")),
                        Ok(Err(e)) => Err(format!("{what}: {e}")),
                        Ok(Ok(_)) => Ok(()),
                    }
                });
            }
            while let Some(done) = calls.join_next().await {
                done.map_err(|e| e.to_string())??;
            }
        }
        Ok::<(), String>(())
    });
    if let Err(e) = outcome {
        panic!("{e}\n{}", lab.log());
    }
    // And fw6d still answers.
    lab.manager("Status", &[]).unwrap();
}

/// A root client's first burst: 64 calls sent at once on a new bus connection all succeed. fw6d
/// bounds the calls in flight of a caller it does not know yet (16), and root is not bounded,
/// but whether the caller is root is only known once the bus has answered; the burst's calls
/// wait for that one answer instead of being refused as busy.
#[test]
fn a_root_clients_first_burst_is_not_refused() {
    const BURST: u16 = 64;
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for round in 0..5_u16 {
        let conn = runtime
            .block_on(zbus::connection::Builder::address(lab.bus.address()).build())
            .unwrap();
        let failures = runtime.block_on(async {
            let mut calls = tokio::task::JoinSet::new();
            for i in 0..BURST {
                let conn = conn.clone();
                calls.spawn(async move {
                    let body = (20_000 + round * BURST + i, 6_u32, "burst");
                    conn.call_method(
                        Some(common::BUS_NAME),
                        MANAGER,
                        Some(MANAGER_IFACE),
                        "OpenGlobalPort",
                        &body,
                    )
                    .await
                    .err()
                    .map(|e| e.to_string())
                });
            }
            let mut failures = Vec::new();
            while let Some(done) = calls.join_next().await {
                failures.extend(done.unwrap());
            }
            failures
        });
        assert!(
            failures.is_empty(),
            "round {round}: {} of {BURST} calls failed, e.g. {}",
            failures.len(),
            failures[0]
        );
    }
}

/// Opens `conns` bus connections and sends `n` `OpenGlobalPort` calls on each at once (below
/// the bus daemon's bound on a connection's pending replies), reads every reply, and prints
/// `{"ok": n, "busy": n, "other": ["error name: message"…], "unanswered": n}`. Run as the
/// attacker.
const BURST_PY: &str = r#"
import json, sys, time
from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import open_dbus_connection

address, conns, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
manager = DBusAddress("/org/fw6/Firewall1", "org.fw6.Firewall1", "org.fw6.Firewall1.Manager")
started = time.monotonic()
sent = []
for c in range(conns):
    conn = open_dbus_connection(bus=address)
    serials = set()
    for i in range(n):
        serial = next(conn.outgoing_serial)
        body = (20000 + c * n + i, 6, "burst")
        conn.send(new_method_call(manager, "OpenGlobalPort", "qus", body), serial)
        serials.add(serial)
    sent.append((conn, serials))
ok, busy, other, unanswered = 0, 0, [], 0
for conn, serials in sent:
    while serials:
        try:
            reply = conn.receive(timeout=max(0.1, 60 - (time.monotonic() - started)))
        except TimeoutError:
            break
        serial = reply.header.fields.get(5)  # REPLY_SERIAL
        if serial not in serials:
            continue
        serials.discard(serial)
        text = str(reply.body[0]) if reply.body else ""
        if reply.header.message_type == MessageType.method_return:
            ok += 1
        elif "fw6d is busy" in text:
            busy += 1
        else:
            other.append(str(reply.header.fields.get(4)) + ": " + text)
    unanswered += len(serials)
print(json.dumps({"ok": ok, "busy": busy, "other": other, "unanswered": unanswered}))
"#;

/// The waiting places of a root client's first burst (256, of all callers together) are a pool
/// an attacker can try to drain: nobody's first bursts on five new connections, 100 small calls
/// each, at once. Every call is answered (none hangs); at most the connections' in-flight bounds
/// plus the waiting places get past admission (and polkit refuses those), the rest are refused
/// as busy at once; nothing changes, and root is served right after.
#[test]
fn an_unknown_callers_bursts_past_the_waiting_places_are_refused_busy() {
    const CONNS: usize = 5;
    const PER_CONN: usize = 100;
    const IN_FLIGHT: usize = 16;
    const WAITING: usize = 256;
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::with("", true);
    lab.set_up_changes_to_refuse();
    let before = lab.table();
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", BURST_PY, lab.bus.address()])
        .arg(CONNS.to_string())
        .arg(PER_CONN.to_string());
    let out = NOBODY
        .command(cmd)
        .output()
        .expect("run python3 (python3-jeepney)");
    assert!(
        out.status.success(),
        "the burst script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the burst script's JSON");
    assert_eq!(result["unanswered"], 0, "calls never answered: {result}");
    assert_eq!(result["ok"], 0, "nobody changed something: {result}");
    let busy = usize::try_from(result["busy"].as_u64().unwrap_or(0)).unwrap_or(0);
    let total = CONNS * PER_CONN;
    assert!(
        busy >= total - CONNS * IN_FLIGHT - WAITING,
        "only {busy} of {total} were refused as busy: {result}"
    );
    let others = result["other"].as_array().cloned().unwrap_or_default();
    assert_eq!(busy + others.len(), total, "{result}");
    assert!(
        others.iter().all(|m| m
            .as_str()
            .is_some_and(|m| m.contains("not authorized") || m.contains("AccessDenied"))),
        "a refusal that is neither busy nor not authorized: {result}"
    );
    assert_eq!(lab.table(), before, "nothing changed in the kernel");
    lab.call(
        MANAGER,
        MANAGER_IFACE,
        "OpenGlobalPort",
        &["qus", "8443", "6", "root after the burst"],
    )
    .expect("root is served after the burst");
    figure("callers.unknown_bursts_refused_busy", busy);
}

/// A departure forged by another caller closes nothing and deafens nothing. fw6d learns that a
/// caller left from the bus daemon's `NameOwnerChanged`, and any client may send a signal of
/// that name to fw6d directly: zbus drops it because its sender is not `org.freedesktop.DBus`
/// (checked here, so a zbus upgrade that loosened it would fail). Forged first: the bound
/// opening's owner "left", and the bus's own name "changed owner" to the forger. Then a real
/// departure (a canary's, handled in order after the forgeries) closes only the canary's
/// opening, and the victim's real departure still closes its own.
#[test]
fn a_forged_departure_closes_nothing() {
    fw6_testkit::require_root("reliability_callers");
    let lab = Lab::start();
    let rt = reliability::runtime();
    let connect = || rt.block_on(reliability::connect(lab.bus.address()));
    let open_bound = |conn: &zbus::Connection, port: u16| {
        let options = HashMap::from([("bind_to_caller", zbus::Variant::Bool(true))]);
        let reply = rt.block_on(reliability::call(
            conn,
            MANAGER,
            MANAGER_IFACE,
            "OpenGlobalPortWithOptions",
            &(port, 6_u32, "bound", options),
        ));
        assert_eq!(Reply::of(&reply), Reply::Ok, "open {port} bound");
    };
    let open = |port: u16| {
        lab.manager("Leases", &[])
            .unwrap()
            .contains(&port.to_string())
    };
    let closes_within = |port: u16| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while open(port) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        true
    };
    let (victim, canary, forger) = (connect(), connect(), connect());
    open_bound(&victim, 8443);
    open_bound(&canary, 8444);
    let victim_name = victim.unique_name().unwrap().to_string();
    let forger_name = forger.unique_name().unwrap().to_string();
    for (name, old, new) in [
        (victim_name.as_str(), victim_name.as_str(), ""),
        ("org.freedesktop.DBus", "", forger_name.as_str()),
        (victim_name.as_str(), victim_name.as_str(), ""),
    ] {
        rt.block_on(forger.emit_signal(
            Some(common::BUS_NAME),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameOwnerChanged",
            &(name, old, new),
        ))
        .expect("the bus passes a unicast signal on");
    }
    rt.block_on(canary.close()).expect("the canary leaves");
    assert!(
        closes_within(8444),
        "the canary's real departure closes its opening"
    );
    assert!(open(8443), "a forged departure closed the victim's opening");
    rt.block_on(victim.close()).expect("the victim leaves");
    assert!(
        closes_within(8443),
        "the victim's real departure closes its opening"
    );
}
