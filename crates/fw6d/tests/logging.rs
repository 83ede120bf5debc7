//! The firewall log end to end (issue 6, docs/logging.md): the real fw6d in a lab, logging
//! settings set over D-Bus, real packets from the peer namespaces, the file read back. Needs
//! root.

mod common;

use fw6_testkit::stats::median_duration;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddrV6, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{BUS_NAME, CONN_IFACE, Lab, data};
use fw6_kernel::nflog::{Reader, ReaderOptions};
use fw6_testkit::{Family, Outcome, packet, packet4, send_raw};

const FIELDS: &str =
    "date time action protocol src-ip dst-ip src-port dst-port size tcpflags interface info";
/// How long a logged packet may take to reach the file.
const PATIENCE: Duration = Duration::from_secs(5);
/// How long to wait before concluding that something was not logged.
const QUIET: Duration = Duration::from_millis(800);

/// The lab's fw6d.toml lines: `extra`, and the lab's `log` directory as the only one the log
/// may be written to (docs/logging.md "Where the log may live").
fn config(extra: &str) -> String {
    format!("log_directories = [\"@DIR@/log\"]\n{extra}")
}

/// Points LogfilePath into the lab's directory and returns the path.
fn log_to(lab: &Lab, name: &str) -> PathBuf {
    let path = lab.bus.dir().join("log").join(name);
    lab.property("LogfilePath", Some(&["s", path.to_str().unwrap()]))
        .expect("set LogfilePath");
    path
}

fn switch(lab: &Lab, property: &str, on: bool) {
    lab.property(property, Some(&["b", if on { "true" } else { "false" }]))
        .unwrap_or_else(|e| panic!("set {property}: {e}"));
}

/// The packet lines of `path` (and of `path.old` first, with `old`), split into fields.
fn records(path: &Path, old: bool) -> Vec<HashMap<&'static str, String>> {
    let mut files = Vec::new();
    if old {
        files.push(PathBuf::from(format!("{}.old", path.display())));
    }
    files.push(path.to_owned());
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let values: Vec<&str> = line.split(' ').collect();
            assert_eq!(
                values.len(),
                12,
                "a line with a wrong field count: {line:?}"
            );
            out.push(
                FIELDS
                    .split(' ')
                    .zip(values)
                    .map(|(k, v)| (k, v.to_owned()))
                    .collect(),
            );
        }
    }
    out
}

fn wait_for_record(
    lab: &Lab,
    path: &Path,
    what: &str,
    pick: impl Fn(&HashMap<&str, String>) -> bool,
) -> HashMap<&'static str, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(r) = records(path, false).into_iter().find(|r| pick(r)) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no log line for {what} in {}:\n{}\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default(),
            lab.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn udp(lab: &Lab, conn: &str, sport: u16, dport: u16, size: usize) {
    let c = lab.topology.connection(conn);
    let from = SocketAddrV6::new(c.peer_addr(), sport, 0, 0);
    let to = c.host_sock(dport);
    c.peer().run_in(|| {
        let socket = UdpSocket::bind(from).unwrap();
        socket.send_to(&vec![7; size], to).unwrap();
    });
}

fn port_is(r: &HashMap<&str, String>, field: &str, port: u16) -> bool {
    r[field] == port.to_string()
}

#[test]
fn drops_and_new_connections_are_logged_only_when_switched_on() {
    let lab = Lab::with(&config("log_rate_per_second = 10000\n"), false);
    let path = log_to(&lab, "firewall.log");
    let lan = lab.topology.lan();
    let wan = lab.topology.wan();

    // Both switches off (the default): nothing is logged, no file appears.
    udp(&lab, "lan0", 40001, 9001, 10);
    std::thread::sleep(QUIET);
    assert!(
        !path.exists(),
        "logging is off, yet {} exists",
        path.display()
    );

    switch(&lab, "LogDroppedPackets", true);
    udp(&lab, "lan0", 40002, 9002, 100);
    let r = wait_for_record(&lab, &path, "UDP to 9002", |r| port_is(r, "dst-port", 9002));
    assert_eq!(r["action"], "DROP");
    assert_eq!(r["protocol"], "UDP");
    assert_eq!(r["src-ip"], lan.peer_addr().to_string());
    assert_eq!(r["dst-ip"], lan.host_addr().to_string());
    assert_eq!(r["src-port"], "40002");
    assert_eq!(r["size"], (40 + 8 + 100).to_string());
    assert_eq!(r["tcpflags"], "-");
    assert_eq!(
        (r["interface"].as_str(), r["info"].as_str()),
        ("lan0", "not-open")
    );
    assert_eq!(
        wan.tcp_connect(9003, Duration::from_millis(300)),
        Outcome::TimedOut
    );
    let r = wait_for_record(&lab, &path, "TCP to 9003", |r| port_is(r, "dst-port", 9003));
    assert_eq!(
        (r["action"].as_str(), r["protocol"].as_str()),
        ("DROP", "TCP")
    );
    assert_eq!(
        (r["tcpflags"].as_str(), r["interface"].as_str()),
        ("S", "wan0")
    );
    assert_eq!(r["src-ip"], wan.peer_addr().to_string());

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("#Version: 1.0\n#Software: fw6 "), "{text}");
    assert!(
        text.contains(&format!("#Time Format: UTC\n#Fields: {FIELDS}\n")),
        "{text}"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    // An accepted new connection is logged only with LogConnections on.
    lab.connection("lan0", "OpenPort", &["qus", "8080", "6", "web"])
        .unwrap();
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_secs(2)),
        Outcome::Refused
    );
    std::thread::sleep(QUIET);
    assert!(
        !records(&path, false)
            .iter()
            .any(|r| port_is(r, "dst-port", 8080)),
        "LogConnections is off"
    );
    switch(&lab, "LogConnections", true);
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_secs(2)),
        Outcome::Refused
    );
    let open = |r: &HashMap<&str, String>| port_is(r, "dst-port", 8080) && r["action"] == "OPEN";
    let r = wait_for_record(&lab, &path, "OPEN 8080", open);
    let fields = ["tcpflags", "interface", "info"].map(|f| r[f].as_str());
    assert_eq!(fields, ["S", "lan0", "open"]);

    // Drops off: a dropped packet is no longer logged.
    switch(&lab, "LogDroppedPackets", false);
    udp(&lab, "lan0", 40004, 9004, 10);
    std::thread::sleep(QUIET);
    assert!(
        !records(&path, false)
            .iter()
            .any(|r| port_is(r, "dst-port", 9004))
    );

    // A new path is used from the next line on; SIGHUP reopens a file moved away.
    switch(&lab, "LogDroppedPackets", true);
    let moved = log_to(&lab, "moved.log");
    udp(&lab, "lan0", 40005, 9005, 10);
    wait_for_record(&lab, &moved, "UDP to 9005", |r| {
        port_is(r, "dst-port", 9005)
    });
    let rotated = moved.with_extension("log.1");
    std::fs::rename(&moved, &rotated).unwrap();
    kill_hup(&lab);
    std::thread::sleep(Duration::from_millis(500));
    udp(&lab, "lan0", 40006, 9006, 10);
    wait_for_record(&lab, &moved, "UDP to 9006", |r| {
        port_is(r, "dst-port", 9006)
    });
    assert!(
        !records(&rotated, false)
            .iter()
            .any(|r| port_is(r, "dst-port", 9006)),
        "after SIGHUP the moved file is left alone"
    );
    assert!(lab.log().contains("SIGHUP"), "{}", lab.log());
}

/// SIGHUP to fw6d, found by its bus name.
fn kill_hup(lab: &Lab) {
    let out = std::process::Command::new("busctl")
        .args(["--json=short", "--address", lab.bus.address(), "call"])
        .args([
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
        ])
        .args(["GetConnectionUnixProcessID", "s", BUS_NAME])
        .output()
        .unwrap();
    let pid = data(&String::from_utf8_lossy(&out.stdout))[0]
        .as_u64()
        .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn rotation_at_the_limit_splits_and_loses_no_line() {
    const SENT: u16 = 18;
    let lab = Lab::with(&config("log_rate_per_second = 100000\n"), false);
    let path = log_to(&lab, "rotate.log");
    lab.property("LogfileMaximumSize", Some(&["u", "1"]))
        .unwrap();
    switch(&lab, "LogDroppedPackets", true);
    for i in 0..SENT {
        udp(&lab, "lan0", 41000 + i, 9999, 20);
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + PATIENCE;
    let ours = |r: &HashMap<&str, String>| port_is(r, "dst-port", 9999);
    while records(&path, true).iter().filter(|r| ours(r)).count() < usize::from(SENT) {
        assert!(Instant::now() < deadline, "lines missing:\n{}", lab.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let old = PathBuf::from(format!("{}.old", path.display()));
    for file in [&old, &path] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.len() <= 1024,
            "{} holds {} bytes",
            file.display(),
            text.len()
        );
        assert!(text.starts_with("#Version: 1.0\n"), "{text}");
        assert!(
            text.ends_with('\n'),
            "a split line at the end of {}",
            file.display()
        );
    }
    let sports: Vec<String> = records(&path, true)
        .iter()
        .filter(|r| ours(r))
        .map(|r| r["src-port"].clone())
        .collect();
    let expected: Vec<String> = (0..SENT).map(|i| (41000 + i).to_string()).collect();
    assert_eq!(
        sports, expected,
        "every line once, in order, across the rotation"
    );
    let status = data(&lab.manager("Status", &[]).unwrap());
    assert_eq!(status[0]["log_lost"]["data"], 0, "{status}");
}

/// Latencies of `IsPortOpen` and `OpenPort` calls over one bus connection, `first_port` on.
async fn call_latencies(
    conn: &zbus::Connection,
    path: &str,
    first_port: u16,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut checks, mut opens) = (Vec::new(), Vec::new());
    for i in 0..250_u16 {
        let start = Instant::now();
        if i % 5 == 4 {
            let port = first_port + i / 5;
            conn.call_method(
                Some(BUS_NAME),
                path,
                Some(CONN_IFACE),
                "OpenPort",
                &(port, 17_u32, "flood"),
            )
            .await
            .expect("OpenPort");
            opens.push(start.elapsed());
        } else {
            let reply = conn
                .call_method(
                    Some(BUS_NAME),
                    path,
                    Some(CONN_IFACE),
                    "IsPortOpen",
                    &(22_u16, 6_u32),
                )
                .await
                .expect("IsPortOpen");
            let _: bool = reply.body().deserialize().unwrap();
            checks.push(start.elapsed());
        }
    }
    (checks, opens)
}

/// Floods closed ports with UDP datagrams (all dropped) from `socket` to `host` for as long as
/// the calls of [`call_latencies`] take, at least [`FLOOD`] datagrams and at most
/// [`FLOOD_MAX`]: the calls' latencies, the number sent, and the flood's time.
fn flood_with_calls(
    runtime: &tokio::runtime::Runtime,
    conn: &zbus::Connection,
    object: &str,
    socket: &UdpSocket,
    host: std::net::Ipv6Addr,
    first_port: u16,
) -> (Vec<Duration>, Vec<Duration>, u32, Duration) {
    let calls_done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let flood = s.spawn(|| {
            let start = Instant::now();
            let mut sent = 0;
            while sent < FLOOD_MAX
                && (sent < FLOOD || !calls_done.load(std::sync::atomic::Ordering::Relaxed))
            {
                // Closed ports 30000-39999, all dropped (and logged when the switch is on).
                let port = 30_000 + u16::try_from(sent % 10_000).unwrap();
                socket
                    .send_to(&[0; 16], SocketAddrV6::new(host, port, 0, 0))
                    .unwrap();
                sent += 1;
            }
            (sent, start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        let (checks, opens) = runtime.block_on(call_latencies(conn, object, first_port));
        calls_done.store(true, std::sync::atomic::Ordering::Relaxed);
        let (sent, took) = flood.join().unwrap();
        assert!(
            sent < FLOOD_MAX,
            "the calls must run during the flood: {sent} datagrams in {took:?}"
        );
        (checks, opens, sent, took)
    })
}

/// The least and most datagrams of a flood.
const FLOOD: u32 = 200_000;
const FLOOD_MAX: u32 = 2_000_000;

#[test]
fn a_flood_leaves_the_api_responsive_and_reports_lost_events() {
    let lab = Lab::with(
        &config("log_rate_per_second = 1000000\nlog_queue = 64\n"),
        false,
    );
    let path = log_to(&lab, "flood.log");
    let object = lab.connection_path("lan0");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = runtime
        .block_on(zbus::connection::Builder::address(lab.bus.address()).build())
        .unwrap();
    let (idle_checks, idle_opens) = runtime.block_on(call_latencies(&conn, &object, 20_000));

    let lan = lab.topology.lan();
    // Opened inside the peer namespace; sending from another thread stays in it.
    let from = SocketAddrV6::new(lan.peer_addr(), 42000, 0, 0);
    let socket = lan.peer().run_in(|| UdpSocket::bind(from).unwrap());
    let host = lan.host_addr();
    // The same flood with logging off first: the cost of logging, and the reference for the
    // latency bounds below, which a shared machine's load moves as much as a flood does.
    let (off_checks, off_opens, off_sent, off_took) =
        flood_with_calls(&runtime, &conn, &object, &socket, host, 22_000);
    let (off_check, off_open) = (median_duration(&off_checks), median_duration(&off_opens));
    println!(
        "logging off: flood of {off_sent} UDP packets in {off_took:?}; IsPortOpen median \
         {off_check:?}, OpenPort median {off_open:?}"
    );
    switch(&lab, "LogDroppedPackets", true);
    // Logging a flood must not stall the API: the medians stay within five times the slower of
    // idle and the same flood unlogged, plus 20 ms. The bound catches a log path that blocks the
    // service; what logging costs is a figure (printed, docs/logging.md), not a test, because
    // the other load of a shared machine moves medians as much as a flood does. A round that
    // misses the bound is run once more, and the better round counts.
    let (idle_check, idle_open) = (median_duration(&idle_checks), median_duration(&idle_opens));
    let slack = Duration::from_millis(20);
    let (check_bound, open_bound) = (
        idle_check.max(off_check) * 5 + slack,
        idle_open.max(off_open) * 5 + slack,
    );
    let mut rounds: u16 = 0;
    let (flood_check, flood_open) = loop {
        rounds += 1;
        let first_port = 22_000 + 1_000 * rounds;
        let (checks, opens, sent, took) =
            flood_with_calls(&runtime, &conn, &object, &socket, host, first_port);
        let (check, open) = (median_duration(&checks), median_duration(&opens));
        println!(
            "logging on: flood of {sent} UDP packets in {took:?}, 250 calls during it\n\
             IsPortOpen median: idle {idle_check:?}, flood {check:?}\n\
             OpenPort median:   idle {idle_open:?}, flood {open:?}"
        );
        if (check < check_bound && open < open_bound) || rounds == 2 {
            break (check, open);
        }
    };
    assert!(
        flood_check < check_bound,
        "IsPortOpen: idle {idle_check:?}, unlogged flood {off_check:?} → {flood_check:?}"
    );
    assert!(
        flood_open < open_bound,
        "OpenPort: idle {idle_open:?}, unlogged flood {off_open:?} → {flood_open:?}"
    );

    // No state lost: every opened pair is there (50 per round of calls).
    let open = data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap());
    assert_eq!(
        open[0].as_array().unwrap().len(),
        100 + 50 * usize::from(rounds),
        "{open}"
    );
    // The loss is counted in Status and written into the log.
    let status = data(&lab.manager("Status", &[]).unwrap());
    let lost = status[0]["log_lost"]["data"].as_u64().unwrap();
    let logged = records(&path, true).len();
    println!("log_lost = {lost}, lines in the log (with .old) = {logged}");
    assert!(
        lost > 0,
        "a 64-event queue cannot absorb {FLOOD} events: {status}"
    );
    lab.wait_until("a #Lost line", PATIENCE, || {
        std::fs::read_to_string(&path).is_ok_and(|t| {
            t.lines()
                .any(|l| l.starts_with("#Lost: ") && l.ends_with(" events"))
        })
    });
}

/// A TCP segment with SYN and FIN both set, which conntrack refuses to track (`ct state
/// invalid`): `tcp_syn`'s segment with the flags byte changed and the checksum redone.
fn syn_fin(src: std::net::Ipv6Addr, dst: std::net::Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut t = packet::tcp_syn(src, dst, sport, dport, 1, &[]);
    t[13] = 0x03;
    t[16..18].copy_from_slice(&[0, 0]);
    let sum = packet::checksum(src, dst, packet::TCP, &t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    packet::ipv6(src, dst, packet::TCP, &t)
}

#[test]
fn every_drop_class_and_open_is_logged_with_its_reason() {
    let lab = Lab::with(&config("log_rate_per_second = 10000\n"), false);
    let path = log_to(&lab, "reasons.log");
    let (lan, wan) = (lab.topology.lan(), lab.topology.wan());
    lab.manager("OpenGlobalPort", &["qus", "443", "6", "https"])
        .unwrap();
    lab.connection("lan0", "IgnoreGlobalPort", &["qus", "443", "6", "inside"])
        .unwrap();
    lab.connection("lan0", "OpenPort", &["qus", "8080", "6", "web"])
        .unwrap();
    switch(&lab, "LogDroppedPackets", true);
    switch(&lab, "LogConnections", true);
    let (src, dst) = (lan.peer_addr(), lan.host_addr());

    // not-open: nothing opens 9100.
    udp(&lab, "lan0", 43000, 9100, 10);
    // ignored: 443 is open globally but ignored on lan0.
    assert_eq!(
        lan.tcp_connect(443, Duration::from_millis(300)),
        Outcome::TimedOut
    );
    // rh0: a SYN to the open port 8080 behind a type 0 routing header.
    let syn = packet::tcp_syn(src, dst, 43001, 8080, 1, &[]);
    let rh0 = packet::ipv6(
        src,
        dst,
        packet::ROUTING,
        &packet::routing_type0(packet::TCP, dst, &syn),
    );
    // invalid: SYN+FIN to the open port 8080.
    send_raw(lan.peer(), dst, &[rh0, syn_fin(src, dst, 43002, 8080)]);
    // OPEN global (wan0 does not ignore 443) and OPEN open (8080 on lan0); no listener, so
    // the host answers with a reset, after the SYN was accepted and logged.
    assert_eq!(
        wan.tcp_connect(443, Duration::from_secs(2)),
        Outcome::Refused
    );

    let find = |what: &str, action: &str, port: u16, info: &str| {
        let r = wait_for_record(&lab, &path, what, |r| {
            port_is(r, "dst-port", port) && r["info"] == info
        });
        assert_eq!(r["action"], action, "{what}: {r:?}");
        r
    };
    let r = find("not-open", "DROP", 9100, "not-open");
    assert_eq!(r["protocol"], "UDP");
    let r = find("ignored", "DROP", 443, "ignored");
    assert_eq!(
        (r["interface"].as_str(), r["tcpflags"].as_str()),
        ("lan0", "S")
    );
    let r = find("rh0", "DROP", 8080, "rh0");
    assert_eq!(
        (r["src-port"].as_str(), r["protocol"].as_str()),
        ("43001", "TCP")
    );
    let r = find("invalid", "DROP", 8080, "invalid");
    assert_eq!(
        (r["src-port"].as_str(), r["tcpflags"].as_str()),
        ("43002", "FS")
    );
    let r = find("OPEN global", "OPEN", 443, "global");
    assert_eq!(r["interface"], "wan0");
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_secs(2)),
        Outcome::Refused
    );
    find("OPEN open", "OPEN", 8080, "open");
    // Each packet was logged once, by its own rule.
    let records = records(&path, false);
    for (port, info) in [(9100, "not-open"), (443, "ignored"), (443, "global")] {
        let n = records
            .iter()
            .filter(|r| port_is(r, "dst-port", port) && r["info"] == info)
            .count();
        assert_eq!(n, 1, "{info} logged {n} times");
    }
}

#[test]
fn ipv4_packets_are_logged_with_their_addresses_and_reasons() {
    let lab = Lab::with(&config("log_rate_per_second = 10000\n"), false);
    let path = log_to(&lab, "ipv4.log");
    lab.connection("lan0", "OpenPort", &["qus", "8080", "6", "web"])
        .unwrap();
    switch(&lab, "LogDroppedPackets", true);
    switch(&lab, "LogConnections", true);
    // The host accepts source routes, so the rule (not Linux's own default) drops them.
    lab.topology
        .host()
        .set_sysctl("ipv4/conf/all/accept_source_route", "1");
    lab.topology
        .host()
        .set_sysctl("ipv4/conf/lan0/accept_source_route", "1");
    let lan = lab.topology.lan();
    let (peer, host) = (lan.peer_ip(Family::V4), lan.host_ip(Family::V4));
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (peer, host) else {
        unreachable!("IPv4 addresses")
    };

    // not-open, OPEN open (no listener: a reset after the accepted SYN), lsrr, ssrr.
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 9100, Duration::from_millis(300)),
        Outcome::TimedOut
    );
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 8080, Duration::from_secs(2)),
        Outcome::Refused
    );
    let routed = |kind: u8, sport: u16| {
        let route = packet4::source_route(kind, dst, 4);
        packet4::ipv4(
            src,
            dst,
            packet::TCP,
            &route,
            None,
            &packet4::syn(src, dst, sport, 8080),
        )
    };
    send_raw(
        lan.peer(),
        dst,
        &[routed(packet4::LSRR, 43100), routed(packet4::SSRR, 43101)],
    );

    for (what, action, port, info) in [
        ("not-open", "DROP", 9100, "not-open"),
        ("OPEN open", "OPEN", 8080, "open"),
        ("lsrr", "DROP", 8080, "lsrr"),
        ("ssrr", "DROP", 8080, "ssrr"),
    ] {
        let r = wait_for_record(&lab, &path, what, |r| {
            port_is(r, "dst-port", port) && r["info"] == info
        });
        assert_eq!(r["action"], action, "{what}: {r:?}");
        assert_eq!(
            (
                r["src-ip"].as_str(),
                r["dst-ip"].as_str(),
                r["protocol"].as_str()
            ),
            (peer.to_string().as_str(), host.to_string().as_str(), "TCP"),
            "{what}: {r:?}"
        );
        assert_eq!(r["interface"], "lan0", "{what}: {r:?}");
    }
}

/// The NFLOG groups bound in the host namespace (`/proc/net/netfilter/nfnetlink_log`: the group
/// number is the first column; the file is absent until the module is loaded).
fn bound_groups(lab: &Lab) -> Vec<u16> {
    let out = lab
        .topology
        .host()
        .command("cat")
        .arg("/proc/net/netfilter/nfnetlink_log")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn the_nflog_group_is_bound_only_while_logging_is_on_and_a_taken_group_fails_the_switch() {
    const GROUP: u16 = 6;
    let lab = Lab::start();
    assert!(!bound_groups(&lab).contains(&GROUP), "logging is off");
    for property in ["LogDroppedPackets", "LogConnections"] {
        switch(&lab, property, true);
        lab.wait_until("the group bound", PATIENCE, || {
            bound_groups(&lab).contains(&GROUP)
        });
        switch(&lab, property, false);
        lab.wait_until("the group released", PATIENCE, || {
            !bound_groups(&lab).contains(&GROUP)
        });
    }
    // Off and on again at once: the old socket is closed before the group is bound anew.
    switch(&lab, "LogDroppedPackets", true);
    switch(&lab, "LogDroppedPackets", false);
    switch(&lab, "LogDroppedPackets", true);
    assert!(bound_groups(&lab).contains(&GROUP));
    switch(&lab, "LogDroppedPackets", false);
    lab.wait_until("the group released", PATIENCE, || {
        !bound_groups(&lab).contains(&GROUP)
    });

    // Another program reads the group: switching logging on fails, saying so, and changes
    // nothing (property, table, store).
    let foreign = lab
        .topology
        .host()
        .run_in(|| Reader::bind(GROUP, &ReaderOptions::default()))
        .expect("bind the group as another program");
    let table = lab.table();
    let err = lab
        .property("LogDroppedPackets", Some(&["b", "true"]))
        .unwrap_err();
    assert!(
        err.contains("NFLOG group 6 is already read by another program")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        data(&lab.property("LogDroppedPackets", None).unwrap()),
        serde_json::json!(false)
    );
    assert_eq!(lab.table(), table, "the ruleset changed");
    assert!(!lab.table().contains("log prefix"));
    drop(foreign);
    lab.wait_until("the foreign reader gone", PATIENCE, || {
        !bound_groups(&lab).contains(&GROUP)
    });
    switch(&lab, "LogDroppedPackets", true);
    assert!(bound_groups(&lab).contains(&GROUP));
    assert!(lab.table().contains("log prefix \"fw6 DROP not-open\""));
}

#[test]
fn events_over_the_rate_limit_are_counted_and_written() {
    const SENT: u16 = 300;
    let lab = Lab::with(&config("log_rate_per_second = 10\n"), false);
    let path = log_to(&lab, "limited.log");
    switch(&lab, "LogDroppedPackets", true);
    let lan = lab.topology.lan();
    let from = SocketAddrV6::new(lan.peer_addr(), 44000, 0, 0);
    let socket = lan.peer().run_in(|| UdpSocket::bind(from).unwrap());
    let started = Instant::now();
    for i in 0..SENT {
        socket.send_to(&[0; 8], lan.host_sock(50_000 + i)).unwrap();
    }
    let took = started.elapsed();
    // A burst of 5, then 10 a second: at most this many can have been logged.
    let most_logged = 5 + 10 * (took.as_secs() + 1);
    let most_logged = u16::try_from(most_logged).unwrap();
    let suppressed = |text: &str| -> u64 {
        text.lines()
            .filter_map(|l| {
                l.strip_prefix("#Lost: ")?
                    .strip_suffix(" events (rate limit)")
            })
            .map(|n| n.parse::<u64>().unwrap())
            .sum()
    };
    // Every dropped packet is either logged or counted (a stray packet the host drops too
    // would add one to each side of the sum, hence at least).
    lab.wait_until(
        "#Lost lines for the rate limit",
        Duration::from_secs(10),
        || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let logged = records(&path, false).len();
            suppressed(&text) + logged as u64 >= u64::from(SENT)
        },
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(suppressed(&text) >= u64::from(SENT - most_logged), "{text}");
    // The kernel counters of the rule: every packet before the limit, few after it.
    let listing = lab.table();
    let rule = listing
        .lines()
        .find(|l| l.contains("fw6 DROP not-open"))
        .unwrap_or_else(|| panic!("no drop log rule in\n{listing}"));
    let counts: Vec<u64> = rule
        .split("counter packets ")
        .skip(1)
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        counts[0] >= u64::from(SENT) && counts[0] - counts[1] >= u64::from(SENT - most_logged),
        "{rule}"
    );
    // Status reports them too.
    let status = data(&lab.manager("Status", &[]).unwrap());
    assert!(
        status[0]["log_suppressed"]["data"]
            .as_u64()
            .is_some_and(|n| n >= u64::from(SENT - most_logged)),
        "{status}"
    );
}

/// Deletes the host namespace's conntrack entries to `dport`, as their timeout would: the
/// kernel reports each one's end as it does after a close (`conntrack -D`).
fn forget_connections(lab: &Lab, dport: u16) {
    let out = lab
        .topology
        .host()
        .command("conntrack")
        .args([
            "-D",
            "-f",
            "ipv6",
            "-p",
            "tcp",
            "--dport",
            &dport.to_string(),
        ])
        .output()
        .expect("run conntrack (Debian package conntrack)");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn connections_out_and_in_are_logged_when_opened_and_closed() {
    let lab = Lab::with(&config("log_rate_per_second = 10000\n"), false);
    let path = log_to(&lab, "connections.log");
    let lan = lab.topology.lan();
    lab.connection("lan0", "OpenPort", &["qus", "8080", "6", "web"])
        .unwrap();
    switch(&lab, "LogConnections", true);
    let action_to = |action: &'static str, port: u16| {
        move |r: &HashMap<&str, String>| r["action"] == action && port_is(r, "dst-port", port)
    };

    // The host's own connection out of lan0.
    let _peer_web = lan.peer().tcp_listen(8081);
    let to = SocketAddrV6::new(lan.peer_addr(), 8081, 0, 0);
    let sport = lab.topology.host().run_in(|| {
        let stream = TcpStream::connect_timeout(&to.into(), Duration::from_secs(2)).unwrap();
        stream.local_addr().unwrap().port()
    });
    let r = wait_for_record(&lab, &path, "OPEN out", action_to("OPEN", 8081));
    assert_eq!(
        (
            r["info"].as_str(),
            r["interface"].as_str(),
            r["tcpflags"].as_str()
        ),
        ("out", "lan0", "S")
    );
    assert_eq!(r["src-ip"], lan.host_addr().to_string());
    assert_eq!(r["src-port"], sport.to_string());
    assert!(
        !records(&path, false).iter().any(|r| r["action"] == "CLOSE"),
        "closed before its end"
    );
    forget_connections(&lab, 8081);
    let r = wait_for_record(&lab, &path, "CLOSE out", action_to("CLOSE", 8081));
    assert_eq!((r["info"].as_str(), r["protocol"].as_str()), ("out", "TCP"));
    assert_eq!(r["src-port"], sport.to_string());
    assert_eq!(r["dst-ip"], lan.peer_addr().to_string());

    // A connection in through the open port.
    let _web = lab.topology.host().tcp_listen(8080);
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_secs(2)),
        Outcome::Connected
    );
    let r = wait_for_record(&lab, &path, "OPEN in", action_to("OPEN", 8080));
    assert_eq!(
        (r["info"].as_str(), r["interface"].as_str()),
        ("open", "lan0")
    );
    forget_connections(&lab, 8080);
    let r = wait_for_record(&lab, &path, "CLOSE in", action_to("CLOSE", 8080));
    assert_eq!(r["info"], "in");
    assert_eq!(r["src-ip"], lan.peer_addr().to_string());

    // Switched off: the conntrack subscription and the output chain go.
    switch(&lab, "LogConnections", false);
    assert!(!lab.table().contains("chain output"), "{}", lab.table());
}
