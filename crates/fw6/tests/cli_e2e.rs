//! The `fw6` CLI and library end to end: the real `fw6d` in a network namespace with `lan0` and
//! `wan0`, on a private dbus-daemon, driven by the real `fw6` binary. Needs root (it fails
//! loudly otherwise) and the `fw6d` binary built in the same target directory (`cargo build -p
//! fw6d`, which `cargo test --workspace` does).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fw6_testkit::Outcome;
use fw6_testkit::bus::PrivateBus;
use serde_json::{Value, json};

/// fw6d in fw6-testkit's lab, driven by the real `fw6` binary.
struct Lab(fw6_testkit::Lab);

impl std::ops::Deref for Lab {
    type Target = fw6_testkit::Lab;

    fn deref(&self) -> &fw6_testkit::Lab {
        &self.0
    }
}

impl Lab {
    fn start() -> Self {
        Self::with("")
    }

    /// A lab whose fw6d.toml has `extra` lines too.
    fn with(extra: &str) -> Self {
        // The log may only be written inside the lab (docs/logging.md).
        Self(
            fw6_testkit::Lab::builder()
                .config(&format!("log_directories = [\"@DIR@/logs\"]\n{extra}"))
                .start(),
        )
    }

    /// Runs `fw6 ARGS` against this lab's bus.
    fn fw6(&self, args: &[&str]) -> Output {
        self.fw6_stdin(args, None)
    }

    fn fw6_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_fw6"))
            .args(["--bus", self.bus.address()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run fw6");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("fw6 output")
    }

    /// `fw6 --json ARGS`, expecting success; the parsed document.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.fw6(&all);
        assert!(
            out.status.success(),
            "fw6 {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout).expect("one JSON document")
    }

    /// `fw6 ARGS` for people, expecting success; its output.
    fn text(&self, args: &[&str]) -> String {
        let out = self.fw6(args);
        assert!(out.status.success(), "fw6 {args:?} failed: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// `fw6 --json ARGS`, expecting failure with `code`; the error object.
    fn json_error(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.fw6(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "fw6 {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
        let e = v["error"].clone();
        for key in ["class", "hresult", "message"] {
            assert!(e[key].is_string(), "{key} in {v}");
        }
        e
    }

    fn export(&self) -> String {
        let out = self.fw6(&["export"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8 export")
    }
}

fn entry_keys(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|e| {
            format!(
                "{}/{} {}",
                e["port"],
                e["protocol"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn read_commands_have_their_schema() {
    let lab = Lab::start();

    let conns = lab.json(&["connections"]);
    let names: Vec<&str> = conns["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["interface"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lan0") && names.contains(&"wan0"),
        "{conns}"
    );
    for c in conns["connections"].as_array().unwrap() {
        for key in ["id", "name", "interface", "path"] {
            assert!(c[key].is_string(), "{key}: {c}");
        }
        for key in ["firewalled", "present"] {
            assert!(c[key].is_boolean(), "{key}: {c}");
        }
        assert!(c["index"].is_u64(), "{c}");
        assert!(c["open_pairs"].is_u64(), "{c}");
    }

    assert_eq!(conns["families"], json!(["ipv6", "ipv4"]), "{conns}");

    let status = lab.json(&["status"]);
    assert_eq!(status["table"], "in-sync", "{status}");
    assert_eq!(status["families"], json!(["ipv6", "ipv4"]), "{status}");
    for key in [
        "generation",
        "repairs",
        "connections",
        "global_open",
        "open",
        "ignored",
    ] {
        assert!(status[key].is_u64(), "{key}: {status}");
    }
}

#[test]
fn every_mutator_with_json() {
    let lab = Lab::start();

    // Global pairs: the seeded defaults, then one of ours.
    assert_eq!(
        entry_keys(&lab.json(&["global", "list"])["global"]),
        ["22/tcp ssh", "546/udp dhcpv6-client"]
    );
    let v = lab.json(&["global", "open", "53/udp", "--name", "dns"]);
    assert_eq!(
        (v["port"].as_u64(), v["open"].as_bool()),
        (Some(53), Some(true))
    );
    assert_eq!(lab.json(&["global", "check", "53/udp"])["open"], true);
    lab.json(&["global", "close", "53/udp"]);
    assert_eq!(lab.json(&["global", "check", "53/udp"])["open"], false);

    // Per-connection pairs, and the kernel enforcing them.
    lab.json(&["port", "open", "lan0", "8080/tcp", "--name", "web"]);
    audit_names_the_open_port(&lab);
    assert_eq!(
        lab.json(&["port", "check", "lan0", "8080/tcp"])["open"],
        true
    );
    assert_eq!(
        entry_keys(&lab.json(&["port", "list", "lan0"])["open"]),
        ["8080/tcp web"]
    );
    let explain = lab.json(&["explain", "lan0", "8080/tcp"]);
    assert_eq!(explain["allowed"], true);
    assert_eq!(explain["reason"], "open-on-connection");
    assert!(explain["sentence"].is_string());
    assert_eq!(
        explain["families"],
        json!({ "ipv6": true, "ipv4": true }),
        "{explain}"
    );
    let _listener = lab
        .topology
        .host()
        .run_in(|| std::net::TcpListener::bind("[::]:8080").expect("listen on 8080"));
    let lan = lab.topology.lan();
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_secs(2)),
        Outcome::Connected
    );
    lab.json(&["port", "close", "lan0", "8080/tcp"]);
    assert_eq!(
        lan.tcp_connect(8080, Duration::from_millis(700)),
        Outcome::TimedOut
    );
    assert_eq!(
        lab.json(&["explain", "lan0", "8080/tcp"])["reason"],
        "not-open"
    );

    // Ignored globals.
    lab.json(&["global", "ignore", "wan0", "22/tcp", "--name", "no ssh"]);
    assert_eq!(
        entry_keys(&lab.json(&["global", "ignored", "wan0"])["ignored"]),
        ["22/tcp no ssh"]
    );
    assert_eq!(
        lab.json(&["explain", "wan0", "22/tcp"])["reason"],
        "global-ignored"
    );
    lab.json(&["global", "observe", "wan0", "22/tcp"]);
    assert_eq!(
        lab.json(&["explain", "wan0", "22/tcp"])["reason"],
        "globally-open"
    );

    // Firewall switch.
    assert_eq!(
        lab.json(&["firewall", "disable", "wan0"])["firewalled"],
        false
    );
    assert_eq!(
        lab.json(&["explain", "wan0", "9/tcp"])["reason"],
        "not-firewalled"
    );
    lab.json(&["firewall", "enable", "wan0"]);

    // Logging.
    let logfile = format!("{}/logs/fw6-e2e.log", lab.bus.dir().display());
    let set = lab.json(&[
        "log",
        "set",
        "--dropped",
        "on",
        "--max-size",
        "1024",
        "--path",
        &logfile,
    ]);
    assert_eq!(set["changes"], 3);
    let log = lab.json(&["log", "show"]);
    assert_eq!(log["log_dropped_packets"], true);
    assert_eq!(log["log_connections"], false);
    assert_eq!(log["logfile_maximum_size"], 1024);
    assert_eq!(log["logfile_path"], logfile.as_str());

    // Human output works too.
    let out = lab.fw6(&["connections"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("INTERFACE"));
}

#[test]
fn bad_input_is_refused_with_the_right_class_and_changes_nothing() {
    let lab = Lab::start();
    let before = lab.export();
    for (args, want) in [
        (vec!["port", "open", "lan0", "0/tcp"], "1-65535"),
        (vec!["port", "open", "lan0", "70000/tcp"], "1-65535"),
        (vec!["port", "open", "lan0", "80/icmp"], "tcp or udp"),
        (vec!["port", "open", "lan0", "80/"], "tcp or udp"),
        (vec!["port", "open", "lan1", "80/tcp"], "did you mean lan0?"),
        (vec!["port", "close", "nope0", "80/tcp"], "nope0"),
        (
            vec!["port", "open", "lan0", "80/tcp", "--name", "a\u{7}b"],
            "control character",
        ),
        (vec!["log", "set", "--max-size", "0"], "1-32767"),
        (vec!["log", "set", "--path", "relative.log"], "absolute"),
    ] {
        let e = lab.json_error(&args, 3);
        assert_eq!(e["class"], "InvalidArg", "{args:?}");
        assert_eq!(e["hresult"], "0x80070057");
        assert!(
            e["message"].as_str().unwrap().contains(want),
            "{args:?}: {e}"
        );
    }
    // A malformed batch file names its line; a file with one bad op changes nothing.
    let dir = lab.bus.dir();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"0/tcp\"\n",
    )
    .unwrap();
    let e = lab.json_error(&["batch", bad.to_str().unwrap()], 3);
    assert!(e["message"].as_str().unwrap().contains("line 4"), "{e}");
    std::fs::write(&bad, "[logging]\nlog_connections = 3\n").unwrap();
    let e = lab.json_error(&["import", bad.to_str().unwrap(), "--yes"], 3);
    assert!(e["message"].as_str().unwrap().contains("line 2"), "{e}");
    // Usage errors are exit 2.
    assert_eq!(lab.json_error(&["port", "frob"], 2)["class"], "Usage");
    assert_eq!(lab.export(), before, "nothing changed");
}

#[test]
fn batch_is_all_or_nothing() {
    let lab = Lab::start();
    let dir = lab.bus.dir();
    let before = lab.export();
    // The second op is refused by the daemon (not by the parser): nothing of the first stays.
    let file = dir.join("ops.toml");
    std::fs::write(
        &file,
        "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"9000/udp\"\nname = \"g\"\n\
         [[op]]\nmember = \"LogfilePath\"\nvalue = \"relative\"\n",
    )
    .unwrap();
    let e = lab.json_error(&["batch", file.to_str().unwrap()], 3);
    assert!(e["message"].as_str().unwrap().contains("item 2"), "{e}");
    assert_eq!(lab.export(), before);
    // A good batch from stdin applies every op, for a present and an absent connection.
    let ops = "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"9000/udp\"\nname = \"g\"\n\
               [[op]]\nmember = \"OpenPort\"\nconnection = \"dmz0\"\nport = \"9001/udp\"\n\
               [[op]]\nmember = \"DisableFirewall\"\nconnection = \"wan0\"\n";
    let out = lab.fw6_stdin(&["--json", "batch", "-"], Some(ops));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["operations"].as_u64(), v["changes"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        lab.json(&["port", "check", "dmz0", "9001/udp"])["open"],
        true
    );
}

#[test]
fn export_import_round_trip_is_the_identity() {
    let lab = Lab::start();
    lab.json(&["port", "open", "lan0", "8080/tcp", "--name", "web \"x\""]);
    lab.json(&["global", "ignore", "wan0", "22/tcp"]);
    let exported = lab.export();
    let file = lab.bus.dir().join("export.toml");
    std::fs::write(&file, &exported).unwrap();
    let v = lab.json(&["import", file.to_str().unwrap(), "--yes"]);
    assert_eq!(v["changes"], 0, "{v}");
    assert_eq!(lab.export(), exported);

    // Change things, then import the old file back: the old state returns, atomically.
    lab.json(&["port", "close", "lan0", "8080/tcp"]);
    lab.json(&["global", "open", "5000/tcp"]);
    lab.json(&["firewall", "disable", "lan0"]);
    // Without a terminal and without --yes, import refuses (exit 2) and changes nothing.
    let changed = lab.export();
    assert_eq!(
        lab.json_error(&["import", file.to_str().unwrap()], 2)["class"],
        "Usage"
    );
    assert_eq!(lab.export(), changed);
    let v = lab.json(&["import", file.to_str().unwrap(), "--yes"]);
    assert_eq!(v["changes"], 3, "{v}");
    assert_eq!(v["diff"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(lab.export(), exported);
}

#[test]
fn unreachable_daemon_is_exit_7_with_a_hint() {
    let bus = PrivateBus::start(); // a bus without fw6d on it
    let out = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["--json", "--bus", bus.address(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["class"], "Unexpected");
    assert_eq!(v["error"]["hresult"], "0x8000FFFF");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("systemctl start fw6d"),
        "{v}"
    );
}

#[test]
fn library_blocking_client_and_change_signals() {
    let lab = Lab::start();
    let manager = fw6::blocking::Manager::connect_to(lab.bus.address()).unwrap();
    let mut changes = manager.changes().unwrap();
    let lan = manager.connection("lan0").unwrap();
    let key: fw6::PortKey = "27015/udp".parse().unwrap();
    let name = fw6::EntryName::try_from("game").unwrap();
    lan.open_port(key, &name).unwrap();
    assert!(lan.is_port_open(key).unwrap());
    assert_eq!(lan.interface().unwrap().as_str(), "lan0");
    let Some(Ok(fw6::Event::Changed(c))) = changes.next() else {
        panic!("no Changed signal")
    };
    assert_eq!(c.change, fw6::ChangeKind::PortOpened);
    assert_eq!(c.key, Some(key));
    assert_eq!(c.name, "game");

    // A batch through the builder is one Apply.
    let wan = fw6::IfName::try_from("wan0").unwrap();
    let n = manager
        .batch()
        .close_port(&fw6::IfName::try_from("lan0").unwrap(), key)
        .disable_firewall(&wan)
        .apply()
        .unwrap();
    assert_eq!(n, 2);
    assert!(!manager.connection("wan0").unwrap().is_firewalled().unwrap());

    // Errors keep their class.
    let err = manager.connection("nope0").unwrap_err();
    assert_eq!(err.kind(), fw6::ErrorKind::InvalidArg);
    let err = manager.set_logfile_path("relative").unwrap_err();
    assert_eq!(err.kind(), fw6::ErrorKind::InvalidArg, "{err}");
}

/// `fw6 audit --json` right after `fw6 port open lan0 8080/tcp --name web` as root: the entry
/// names who did it (root, through fw6, on its bus name) and what.
fn audit_names_the_open_port(lab: &Lab) {
    let audit = lab.json(&["audit", "--since", "1h", "--limit", "1"]);
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    let e = &entries[0];
    assert_eq!(
        (e["member"].as_str(), e["what"].as_str()),
        (Some("OpenPort"), Some("open_ports")),
        "{e}"
    );
    assert_eq!(
        (e["uid"].as_u64(), e["connection"].as_str()),
        (Some(0), Some("lan0"))
    );
    assert_eq!(
        (e["port"].as_u64(), e["protocol"].as_u64()),
        (Some(8080), Some(6))
    );
    assert_eq!(
        (e["old"].as_str(), e["new"].as_str()),
        (None, Some("web")),
        "{e}"
    );
    assert!(
        e["program"].as_str().is_some_and(|p| p.ends_with("/fw6")),
        "{e}"
    );
    assert!(e["pid"].as_u64().is_some_and(|p| p > 0), "{e}");
    assert!(
        e["bus_name"].as_str().is_some_and(|n| n.starts_with(':')),
        "{e}"
    );
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    let all = lab.json(&["audit"]);
    assert!(
        all["entries"].as_array().unwrap().len() >= 4,
        "seeds, global open/close, OpenPort: {all}"
    );
    assert!(
        lab.json(&["audit", "--since", "2999-01-01T00:00:00Z"])["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The command line an administrator expects (issue 21): service names, ranges in one `Apply`,
/// absent interfaces, the refusals that change nothing, the overview and the lists over every
/// connection. One lab for all of it, to keep CI time down.
#[test]
fn service_names_ranges_absent_interfaces_and_the_overview() {
    let lab = Lab::start();
    refusals_change_nothing(&lab);
    service_names(&lab);
    ranges_are_one_apply(&lab);
    absent_interfaces_and_lists(&lab);
    overview_and_small_things(&lab);
}

fn refusals_change_nothing(lab: &Lab) {
    // Refusals: each InvalidArg with a message that says what to do, and nothing changes.
    let before = lab.export();
    for (args, want) in [
        (
            vec!["port", "open", "lan1", "80/tcp"],
            "did you mean lan0? pass --absent",
        ),
        (
            vec!["firewall", "disable", "wan1"],
            "did you mean wan0? pass --absent",
        ),
        (
            vec!["global", "ignore", "lan00", "22/tcp"],
            "did you mean lan0? pass --absent",
        ),
        (
            vec!["port", "open", "lan0", "1000-2024/udp"],
            "at most 1024",
        ),
        (vec!["port", "close", "lan0", "30-20/tcp"], "write 20-30"),
        (vec!["port", "open", "lan0", "htp/tcp"], "did you mean http"),
        (vec!["global", "open", "nosuchservice"], "known service"),
        (vec!["port", "open", "lan0", "443"], "443/tcp or 443/udp"),
        (vec!["port", "check", "lan0", "domain"], "takes one pair"),
    ] {
        let e = lab.json_error(&args, 3);
        assert_eq!(e["class"], "InvalidArg", "{args:?}");
        assert!(
            e["message"].as_str().unwrap().contains(want),
            "{args:?}: {e}"
        );
    }
    assert_eq!(lab.export(), before, "refusals change nothing");
}

fn service_names(lab: &Lab) {
    // Service names: the name becomes the entry's name unless --name is given; a name with
    // both protocols opens both and says so.
    let v = lab.json(&["port", "open", "lan0", "http/tcp"]);
    assert_eq!(
        (v["port"].as_u64(), v["count"].as_u64()),
        (Some(80), Some(1))
    );
    lab.json(&["port", "open", "lan0", "ssh", "--name", "mine"]);
    let v = lab.json(&["port", "open", "lan0", "domain"]);
    assert_eq!(v["count"], 2, "{v}");
    assert!(v["notes"][0].as_str().unwrap().contains("both"), "{v}");
    assert_eq!(
        entry_keys(&lab.json(&["port", "list", "lan0"])["open"]),
        [
            "22/tcp mine",
            "53/tcp domain",
            "53/udp domain",
            "80/tcp http"
        ]
    );
    lab.json(&["port", "close", "lan0", "domain"]);
}

fn ranges_are_one_apply(lab: &Lab) {
    let generation = || lab.json(&["status"])["generation"].as_u64().unwrap();
    // A range is one Apply: one kernel commit, however many pairs; at the maximum too.
    let g = generation();
    let v = lab.json(&["port", "open", "lan0", "9000-9010/tcp", "--name", "range"]);
    assert_eq!(
        (v["count"].as_u64(), v["changes"].as_u64()),
        (Some(11), Some(11))
    );
    assert_eq!(
        v["ranges"],
        serde_json::json!([{"port": 9000, "last_port": 9010, "protocol": "tcp"}])
    );
    assert_eq!(generation(), g + 1, "one commit for the range");
    let g = generation();
    let v = lab.json(&["port", "open", "lan0", "40000-41023/udp", "--name", "big"]);
    assert_eq!(v["changes"], 1024);
    assert_eq!(generation(), g + 1, "one commit for 1,024 pairs");
    // The kernel enforces a port inside the range.
    let _listener = lab
        .topology
        .host()
        .run_in(|| std::net::TcpListener::bind("[::]:9005").expect("listen on 9005"));
    assert_eq!(
        lab.topology.lan().tcp_connect(9005, Duration::from_secs(2)),
        Outcome::Connected
    );
    // Listings fold runs back into ranges; --expand and JSON show each pair.
    let text = lab.fw6(&["port", "list", "lan0"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("9000-9010/tcp    range"), "{text}");
    assert!(text.contains("40000-41023/udp  big"), "{text}");
    let expanded = lab.fw6(&["port", "list", "lan0", "--expand"]);
    assert_eq!(
        String::from_utf8_lossy(&expanded.stdout).lines().count(),
        1 + 2 + 11 + 1024
    );
    assert_eq!(
        lab.json(&["port", "list", "lan0"])["open"]
            .as_array()
            .unwrap()
            .len(),
        2 + 11 + 1024
    );
    let v = lab.json(&["port", "close", "lan0", "40000-41023/udp"]);
    assert_eq!(v["changes"], 1024);
}

fn absent_interfaces_and_lists(lab: &Lab) {
    // Absent interfaces: stored, and said so; a known absent one is no longer a typo.
    let v = lab.json(&["port", "open", "wg0", "51820/udp"]);
    assert_eq!(v["present"], false, "{v}");
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("wg0 is not present: the change applies when it appears"),
        "{v}"
    );
    lab.json(&["global", "ignore", "wg0", "ssh"]);
    lab.json(&["firewall", "disable", "lan1", "--absent"]);
    lab.json(&["firewall", "enable", "lan1"]);
    let conns = lab.json(&["connections"]);
    let wg0 = conns["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["interface"] == "wg0")
        .expect("wg0 listed");
    assert_eq!(
        (wg0["present"].as_bool(), wg0["open_pairs"].as_u64()),
        (Some(false), Some(1))
    );
    let text = String::from_utf8_lossy(&lab.fw6(&["connections"]).stdout).into_owned();
    assert!(text.lines().next().unwrap().contains("OPEN"), "{text}");
}

fn overview_and_small_things(lab: &Lab) {
    // Explain a bare port: both protocols; a service name: its one pair, the documented doc.
    let v = lab.json(&["explain", "lan0", "443"]);
    let protocols: Vec<&str> = v["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["tcp", "udp"], "{v}");
    let v = lab.json(&["explain", "lan0", "http"]);
    assert_eq!(
        (v["port"].as_u64(), v["allowed"].as_bool()),
        (Some(80), Some(true))
    );

    // Lists over every connection.
    let v = lab.json(&["port", "list"]);
    let all = v["connections"].as_array().unwrap();
    assert!(
        all.iter()
            .any(|c| c["connection"] == "wg0" && entry_keys(&c["open"]) == ["51820/udp "]),
        "{v}"
    );
    assert!(all.iter().any(|c| c["connection"] == "lan0"), "{v}");
    let v = lab.json(&["global", "ignored"]);
    assert!(
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["connection"] == "wg0" && entry_keys(&c["ignored"]) == ["22/tcp ssh"]),
        "{v}"
    );

    // The overview, as JSON and for people.
    let v = lab.json(&["show"]);
    for key in ["status", "logging", "global", "connections", "warnings"] {
        assert!(!v[key].is_null(), "{key}: {v}");
    }
    assert_eq!(v["status"]["table"], "in-sync");
    assert_eq!(v["logging"]["log_dropped_packets"], false);
    let wg0 = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["interface"] == "wg0")
        .unwrap();
    assert_eq!(entry_keys(&wg0["ignored"]), ["22/tcp ssh"]);
    let text = String::from_utf8_lossy(&lab.fw6(&["show"]).stdout).into_owned();
    for want in [
        "kernel table in-sync",
        "logging: dropped packets off",
        "wg0 (not present, firewalled)",
        "9000-9010/tcp",
        "546/udp",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }

    // `fw6 log tail` with logging off says so, as a state (Fail), not a bad argument.
    let e = lab.json_error(&["log", "tail"], 6);
    assert_eq!(e["class"], "Fail");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("fw6 log set --dropped on"),
        "{e}"
    );

    // FW6_BUS_ADDRESS is read when connecting: it works, and usage lines do not show --bus.
    let env_run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fw6"))
            .env("FW6_BUS_ADDRESS", lab.bus.address())
            .args(args)
            .output()
            .expect("run fw6")
    };
    assert!(env_run(&["status"]).status.success());
    let usage = env_run(&["port", "check", "lan0"]);
    assert_eq!(usage.status.code(), Some(2));
    let usage = String::from_utf8_lossy(&usage.stderr);
    assert!(usage.contains("Usage: fw6 port check <CONN>"), "{usage}");
    assert!(!usage.contains("--bus"), "{usage}");
}

/// Another table with a drop policy on the input hook: `fw6 status` lists it, `fw6 explain`
/// warns that an open port may still be blocked there (only for a pair fw6 lets in), and
/// `fw6 show` warns too; each in text and JSON. The packets are `fw6d/tests/coexist.rs`'.
#[test]
fn other_tables_are_listed_and_explain_warns() {
    let lab = Lab::start();
    let status = lab.json(&["status"]);
    assert_eq!(status["other_chains"], json!([]), "{status}");
    let host = lab.topology.host();
    host.exec("nft", &["add table inet filter"]);
    host.exec(
        "nft",
        &["add chain inet filter input { type filter hook input priority 10; policy drop; }"],
    );
    host.exec("nft", &["add rule inet filter input tcp dport 22 accept"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let status = lab.json(&["status"]);
        if status["other_chains"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fw6 status does not list inet filter: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status["other_chains"],
        json!([{"family": "inet", "table": "filter", "chain": "input",
            "type": "filter", "hook": "input", "priority": 10, "policy": "drop", "rules": 1,
            "device": ""}])
    );
    let text = String::from_utf8_lossy(&lab.fw6(&["status"]).stdout).into_owned();
    assert!(
        text.contains("inet filter  input  filter  input  10        drop    1"),
        "{text}"
    );

    lab.json(&["global", "open", "8080/tcp", "--name", "web"]);
    let explained = lab.json(&["explain", "lan0", "8080/tcp"]);
    assert_eq!(explained["allowed"], true, "{explained}");
    let warning = "also filtered by table inet filter (chain input, policy drop, 1 rule): this \
                   port may still be blocked there";
    assert_eq!(explained["warnings"], json!([warning]));
    assert_eq!(explained["also_filtered_by"][0]["table"], "filter");
    let text =
        String::from_utf8_lossy(&lab.fw6(&["explain", "lan0", "8080/tcp"]).stdout).into_owned();
    assert!(text.contains(warning), "{text}");
    // fw6 drops it anyway: nothing to add.
    let closed = lab.json(&["explain", "lan0", "8081/tcp"]);
    assert_eq!(closed["warnings"], json!([]), "{closed}");

    let show = lab.json(&["show"]);
    let warnings = show["warnings"].to_string();
    assert!(
        warnings.contains("other tables filter inbound packets too (inet filter)"),
        "{show}"
    );
}

#[test]
fn ipv6_only_families_show_in_status_connections_and_explain() {
    let lab = Lab::with("families = [\"ipv6\"]\n");
    assert_eq!(lab.json(&["status"])["families"], json!(["ipv6"]));
    assert_eq!(lab.json(&["connections"])["families"], json!(["ipv6"]));
    let explain = lab.json(&["explain", "lan0", "8080/tcp"]);
    assert_eq!(explain["allowed"], false, "{explain}");
    assert_eq!(
        explain["families"],
        json!({ "ipv6": false, "ipv4": true }),
        "{explain}"
    );
    let text = lab.text(&["explain", "lan0", "8080/tcp"]);
    assert!(text.contains("IPv4 is not filtered"), "{text}");
    assert!(
        lab.text(&["status"])
            .contains("filtered families: IPv6 only")
    );
}

/// `fw6 ARGS` started with its standard input open and nothing written to it (a user who does
/// not answer): waits for it (bounded) and returns its output.
fn fw6_unanswered(lab: &Lab, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fw6"))
        .args(["--bus", lab.bus.address()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fw6");
    let stdin = child.stdin.take();
    let started = Instant::now();
    while child.try_wait().expect("wait for fw6").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("fw6 {args:?} still waits after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    child.wait_with_output().expect("fw6 output")
}

#[test]
fn import_and_batch_with_confirm_revert_unless_yes() {
    let lab = Lab::start();
    let _web = lab.topology.host().tcp_listen(8080);
    let lan = |port| {
        lab.topology
            .lan()
            .tcp_connect(port, Duration::from_millis(700))
    };
    // The target configuration: 8080/tcp open on lan0, the ssh seed closed.
    lab.json(&["port", "open", "lan0", "8080/tcp", "--name", "web"]);
    lab.json(&["global", "close", "22/tcp"]);
    let target = lab.export();
    let file = lab.bus.dir().join("new.toml");
    std::fs::write(&file, &target).unwrap();
    let file = file.to_str().unwrap();
    lab.json(&["port", "close", "lan0", "8080/tcp"]);
    lab.json(&["global", "open", "22/tcp", "--name", "ssh"]);
    let before = lab.export();
    assert_eq!(lan(8080), Outcome::TimedOut);

    // No answer (a lost SSH session): applied, then back by itself at the deadline.
    let out = fw6_unanswered(
        &lab,
        &["import", file, "--confirm", "2s"],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "not kept: {stderr}");
    assert!(
        stderr.contains("applied 2 change(s)") && stderr.contains("Type yes"),
        "{stderr}"
    );
    assert!(stderr.contains("no answer within 2 s"), "{stderr}");
    assert_eq!(lab.export(), before, "the previous configuration is back");
    assert_eq!(lan(8080), Outcome::TimedOut, "packets agree");

    // Anything but yes: reverted at once.
    let out = lab.fw6_stdin(&["import", file, "--confirm", "60s"], Some("no\n"));
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(lab.export(), before);
    // End of input: nobody can answer, reverted at once.
    let out = lab.fw6_stdin(&["import", file, "--confirm", "60s"], None);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(lab.export(), before);

    // yes: kept, also past the deadline.
    let out = lab.fw6_stdin(&["import", file, "--confirm", "2s"], Some("yes\n"));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("confirmed"));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.export(), target, "kept");
    assert_eq!(lan(8080), Outcome::Connected, "packets agree");

    // Scripts: --json prints the token and deadline at once; `fw6 confirm` / `fw6 revert`.
    std::fs::write(lab.bus.dir().join("old.toml"), &before).unwrap();
    let old = lab.bus.dir().join("old.toml");
    let old = old.to_str().unwrap();
    let v = lab.json(&["import", old, "--confirm", "1h"]);
    let token = v["pending"]["token"].as_str().unwrap().to_owned();
    assert!(v["pending"]["deadline"].is_string(), "{v}");
    assert_eq!(v["changes"], 2, "{v}");
    let status = lab.json(&["status"]);
    assert_eq!(status["pending"]["token"], token.as_str(), "{status}");
    // While it waits, other changes are refused (Fail, exit 6) and change nothing.
    let e = lab.json_error(&["port", "open", "lan0", "9000/tcp"], 6);
    assert!(e["message"].as_str().unwrap().contains(&token), "{e}");
    lab.json(&["revert", &token]);
    assert_eq!(lab.export(), target, "the revert took the import back");
    let e = lab.json_error(&["confirm", &token], 3);
    assert_eq!(e["hresult"], "0x80070057", "{e}");

    // batch --confirm, confirmed by a script.
    let batch = lab.bus.dir().join("batch.toml");
    std::fs::write(
        &batch,
        "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\nport = \"9000/tcp\"\nname = \"x\"\n",
    )
    .unwrap();
    let v = lab.json(&["batch", batch.to_str().unwrap(), "--confirm", "60s"]);
    lab.json(&["confirm", v["pending"]["token"].as_str().unwrap()]);
    let open = lab.json(&["port", "list", "lan0"]);
    assert!(open.to_string().contains("9000"), "{open}");

    // Bad windows: refused before anything is sent, or by fw6d naming the value.
    for (window, code) in [("0s", 3), ("2h", 3), ("1.5s", 3), ("soon", 3)] {
        let e = lab.json_error(&["import", old, "--confirm", window], code);
        assert_eq!(e["class"], "InvalidArg", "{window}: {e}");
    }
    assert!(lab.json(&["status"]).get("pending").is_none());
}

impl Lab {
    /// `fw6 run ARGS` started in the background against this lab's bus.
    fn spawn_run(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_fw6"))
            .args(["--bus", self.bus.address(), "run"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run fw6 run")
    }

    /// Waits (at most 10 s) until `pair` on lan0 is open (`true`) or not.
    fn wait_open(&self, pair: &str, open: bool) -> Duration {
        let started = Instant::now();
        loop {
            let e = self.json(&["explain", "lan0", pair]);
            if (e["reason"] != "not-open") == open {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{pair} is not {} after 10 s: {e}\n{}",
                if open { "open" } else { "closed" },
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits for `child` at most 20 s.
fn wait_child(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("fw6 run did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// `fw6 run --open 9000/tcp --on lan0 -- COMMAND`: the peer gets in while the command runs and
/// not after; the command's exit status is fw6's; the pair is gone from the listing.
#[test]
fn run_holds_pairs_open_while_the_command_runs() {
    let lab = Lab::start();
    let _listener = lab
        .topology
        .host()
        .run_in(|| std::net::TcpListener::bind("[::]:9000").expect("listen on 9000"));
    let lan = lab.topology.lan();
    let marker = lab.bus.dir().join("run-go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 7",
        marker.display()
    );
    let child = lab.spawn_run(&[
        "--open",
        "9000/tcp",
        "--on",
        "lan0",
        "--name",
        "while it runs",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    lab.wait_open("9000/tcp", true);
    assert_eq!(
        lan.tcp_connect(9000, Duration::from_secs(2)),
        Outcome::Connected
    );
    let listed = lab.json(&["port", "list", "lan0"]);
    assert!(listed.to_string().contains("while it runs"), "{listed}");
    std::fs::write(&marker, "").expect("the marker");
    let out = wait_child(child);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the command's status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Closed by the time fw6 run returns.
    assert_eq!(
        lab.json(&["explain", "lan0", "9000/tcp"])["reason"],
        "not-open"
    );
    assert_eq!(
        lan.tcp_connect(9000, Duration::from_millis(700)),
        Outcome::TimedOut
    );
    // A command that cannot start leaves nothing open.
    let out = lab.fw6(&["run", "--open", "9001/tcp", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        lab.json(&["explain", "lan0", "9001/tcp"])["reason"],
        "not-open"
    );
}

/// Ctrl-C to `fw6 run` reaches the command, and the pair closes; `fw6 run` killed with SIGKILL
/// cannot close anything itself, and fw6d closes the pair when its bus connection goes.
#[test]
fn run_closes_on_sigint_and_when_killed() {
    use rustix::process::{Pid, Signal, kill_process};
    let lab = Lab::start();
    let child = lab.spawn_run(&["--open", "9002/tcp", "--", "sleep", "30"]);
    lab.wait_open("9002/tcp", true);
    let pid = Pid::from_raw(child.id().cast_signed()).expect("pid");
    kill_process(pid, Signal::INT).expect("SIGINT");
    let out = wait_child(child);
    // sleep ended by the forwarded SIGINT: 128 + 2.
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert_eq!(
        lab.json(&["explain", "lan0", "9002/tcp"])["reason"],
        "not-open"
    );

    let pidfile = lab.bus.dir().join("run-child.pid");
    let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
    let mut child = lab.spawn_run(&["--open", "9003/tcp", "--", "sh", "-c", &script]);
    lab.wait_open("9003/tcp", true);
    child.kill().expect("SIGKILL to fw6 run");
    let _ = child.wait();
    let closed_after = lab.wait_open("9003/tcp", false);
    // The orphaned command is ours to end.
    if let Some(pid) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .and_then(Pid::from_raw)
    {
        let _ = kill_process(pid, Signal::KILL);
    }
    assert!(
        closed_after < Duration::from_secs(2),
        "closed {closed_after:?} after fw6 run was killed"
    );
}

#[test]
fn openings_for_a_while_are_listed_with_their_end() {
    let lab = Lab::start();
    let opened = lab.text(&[
        "port", "open", "lan0", "8080/tcp", "--name", "web", "--for", "2h",
    ]);
    assert_eq!(opened.trim(), "lan0: 8080/tcp open for 2h");
    lab.text(&["global", "open", "443/tcp", "--for", "30m"]);
    lab.text(&["port", "open", "lan0", "22/tcp"]);
    let listed = lab.text(&["port", "list", "lan0"]);
    assert!(listed.contains("ENDS"), "{listed}");
    let web = listed.lines().find(|l| l.contains("8080/tcp")).unwrap();
    assert!(
        web.contains("in 1h 59m") && web.contains("UTC)"),
        "{listed}"
    );
    let ssh = listed.lines().find(|l| l.contains("22/tcp")).unwrap();
    assert!(
        ssh.trim_end().ends_with('-'),
        "a plain opening never ends: {listed}"
    );
    let v = lab.json(&["port", "list", "lan0"]);
    let leased: Vec<&Value> = v["open"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("lease").is_some())
        .collect();
    assert_eq!(leased.len(), 1, "{v}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let expires = u128::from(leased[0]["lease"]["expires"].as_u64().unwrap());
    assert!(
        expires > now + 7_100_000 && expires <= now + 7_200_000,
        "{v}"
    );
    let global = lab.json(&["global", "list"]);
    let tls = global["global"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["port"] == 443)
        .unwrap();
    assert!(tls["lease"]["expires"].is_u64(), "{global}");
    // Export leaves leased pairs out: an import elsewhere would make them permanent.
    let exported = lab.export();
    assert!(
        exported.contains("22/tcp")
            && !exported.contains("8080/tcp")
            && !exported.contains("443/tcp"),
        "{exported}"
    );
    // A plain open of a leased pair makes it permanent.
    lab.text(&["port", "open", "lan0", "8080/tcp"]);
    assert!(!lab.text(&["port", "list", "lan0"]).contains("ENDS"));
    // Bad durations are refused, naming the value, and change nothing.
    for (duration, says) in [
        ("0s", "lifetime 0 is zero"),
        ("31days", "is above the maximum of 2592000 seconds"),
        ("soon", "--for \"soon\""),
    ] {
        let e = lab.json_error(&["port", "open", "lan0", "9/tcp", "--for", duration], 3);
        assert_eq!(e["class"], "InvalidArg", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains(says),
            "{duration}: {e}"
        );
    }
    assert!(!lab.text(&["port", "list", "lan0"]).contains("9/tcp"));
}
