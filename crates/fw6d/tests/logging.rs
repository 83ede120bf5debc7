//! The firewall log end to end (issue 6, docs/logging.md): the real fw6d in a lab, logging
//! settings set over D-Bus, real packets from the peer namespaces, the file read back. Needs
//! root.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddrV6, UdpSocket};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{BUS_NAME, CONN_IFACE, Lab, data};
use fw6_testkit::Outcome;

const FIELDS: &str =
    "date time action protocol src-ip dst-ip src-port dst-port size tcpflags interface";
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
                11,
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
    assert_eq!(r["interface"], "lan0");
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
    let r = wait_for_record(&lab, &path, "OPEN 8080", |r| port_is(r, "dst-port", 8080));
    assert_eq!(
        (
            r["action"].as_str(),
            r["tcpflags"].as_str(),
            r["interface"].as_str()
        ),
        ("OPEN", "S", "lan0")
    );

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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn a_flood_leaves_the_api_responsive_and_reports_lost_events() {
    const FLOOD: u32 = 200_000;
    let lab = Lab::with(
        &config("log_rate_per_second = 1000000\nlog_queue = 64\n"),
        false,
    );
    let path = log_to(&lab, "flood.log");
    switch(&lab, "LogDroppedPackets", true);
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
    let (flood_checks, flood_opens, flood_took, calls_took) = std::thread::scope(|s| {
        let flood = s.spawn(|| {
            let start = Instant::now();
            for i in 0..FLOOD {
                // Closed ports 30000-39999, all dropped and logged.
                let port = 30_000 + u16::try_from(i % 10_000).unwrap();
                socket
                    .send_to(&[0; 16], SocketAddrV6::new(host, port, 0, 0))
                    .unwrap();
            }
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        let (checks, opens) = runtime.block_on(call_latencies(&conn, &object, 21_000));
        let calls_took = start.elapsed();
        (checks, opens, flood.join().unwrap(), calls_took)
    });
    let (idle_check, flood_check) = (median(idle_checks), median(flood_checks));
    let (idle_open, flood_open) = (median(idle_opens), median(flood_opens));
    println!(
        "flood of {FLOOD} UDP packets in {flood_took:?}; 250 calls took {calls_took:?} during it\n\
         IsPortOpen median: idle {idle_check:?}, flood {flood_check:?}\n\
         OpenPort median:   idle {idle_open:?}, flood {flood_open:?}"
    );
    assert!(
        flood_took <= Duration::from_secs(5),
        "the flood took {flood_took:?}"
    );
    assert!(
        calls_took < flood_took,
        "the calls must run during the flood"
    );
    assert!(
        flood_check < idle_check * 2,
        "IsPortOpen: {idle_check:?} → {flood_check:?}"
    );
    assert!(
        flood_open < idle_open * 2,
        "OpenPort: {idle_open:?} → {flood_open:?}"
    );

    // No state lost: all 100 opened pairs are there.
    let open = data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap());
    assert_eq!(open[0].as_array().unwrap().len(), 100, "{open}");
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
