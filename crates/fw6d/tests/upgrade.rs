//! Upgrade in place (docs/ruleset.md, "Upgrade"): fw6d of this release starts on a host whose
//! kernel holds the `ip6 fw6` table an earlier release left (its rendering of the golden
//! sample, `fw6-kernel/tests/fixtures/ip6-fw6-previous.nft`), while a peer keeps trying a
//! closed port that has a listener. The old table goes and `inet fw6` comes in one transaction,
//! so no attempt ever connects: there is no instant without a table. Needs root.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::Lab;
use fw6_testkit::{Family, Outcome};

const PREVIOUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fw6-kernel/tests/fixtures/ip6-fw6-previous.nft"
);

/// Connects to `[addr]:port` again and again (50 ms each) until stdin closes or 60 s pass,
/// then prints `attempts reached`: how many tried, and how many reached the host's TCP
/// (connected or refused). Python, so it runs as its own process in the peer namespace while
/// the test restarts the daemon.
const FLOOD: &str = r#"
import select, socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
attempts = reached = 0
print("started", flush=True)
start = time.monotonic()
while time.monotonic() - start < 60:
    if select.select([sys.stdin], [], [], 0)[0]:
        break
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(0.05)
    try:
        s.connect((addr, port))
        reached += 1
    except ConnectionRefusedError:
        reached += 1
    except (socket.timeout, TimeoutError):
        pass
    finally:
        s.close()
    attempts += 1
print(attempts, reached, flush=True)
"#;

#[test]
fn an_earlier_release_table_is_replaced_with_no_gap() {
    let mut lab = Lab::start();
    lab.stop_daemon("TERM");
    lab.nft(&["delete", "table", "inet", "fw6"]);
    lab.nft(&["-f", PREVIOUS]);
    assert!(lab.table().is_empty());
    let _closed = lab.topology.host().tcp_listen(8081);
    // The old table filtered IPv6 only: IPv4 reached the listener.
    let lan = lab.topology.lan();
    assert_eq!(
        lan.tcp_connect_in(Family::V4, 8081, Duration::from_secs(3)),
        Outcome::Connected
    );

    let host = lan.host_ip(Family::V6).to_string();
    let mut flood = lan
        .peer()
        .command("python3")
        .args(["-c", FLOOD, &host, "8081"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the probe");
    let mut lines = BufReader::new(flood.stdout.take().expect("piped")).lines();
    assert_eq!(
        lines.next().and_then(Result::ok).as_deref(),
        Some("started")
    );
    std::thread::sleep(Duration::from_millis(200));
    lab.start_daemon();
    lab.wait_until("the old table to go", Duration::from_secs(10), || {
        !lab.nft(&["list", "tables"]).contains("ip6 fw6")
    });
    std::thread::sleep(Duration::from_millis(200));
    // Closing stdin stops the probe.
    drop(flood.stdin.take());
    let summary = lines
        .next()
        .and_then(Result::ok)
        .expect("the probe's summary");
    let _ = flood.wait();
    let counts: Vec<u64> = summary
        .split_whitespace()
        .map(|n| n.parse().expect("a count"))
        .collect();
    let [attempts, reached] = counts[..] else {
        panic!("bad summary {summary:?}")
    };
    eprintln!("FIGURE upgrade.probe_attempts = {attempts}");
    assert_eq!(
        reached, 0,
        "{attempts} attempts, {reached} reached the closed port"
    );
    assert!(attempts >= 5, "only {attempts} attempts spanned the switch");

    assert_eq!(lab.nft(&["list", "tables"]), "table inet fw6\n");
    assert!(
        lab.log().contains("ip6 fw6"),
        "the log says what was replaced\n{}",
        lab.log()
    );
    // Now IPv4 is filtered too.
    for f in Family::ALL {
        assert_eq!(
            lab.topology
                .lan()
                .tcp_connect_in(f, 8081, Duration::from_millis(400)),
            Outcome::TimedOut,
            "{f}"
        );
    }
}
