//! Authorization item by item, with the real polkitd: a rule scoped by connection and port holds
//! for every item of an `Apply` exactly as for the same items called alone; a no-op needs no
//! dialog but a refusal stays a refusal; a polkitd that does not answer fails the call after the
//! configured timeout without holding anyone else up. Needs root; fails loudly without it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Lab, MANAGER, MANAGER_IFACE};
use fw6_testkit::bus::NOBODY;

/// User nobody may open, close, ignore and observe ports above 27000 on lan0; every other fw6
/// action is refused outright (NO, not a challenge, so the answer does not depend on whether an
/// item happens to be a no-op).
const SCOPED_RULE: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.fw6.firewall1.") != 0 || subject.user != "nobody")
        return polkit.Result.NOT_HANDLED;
    if (action.id == "org.fw6.firewall1.ports" && action.lookup("connection") == "lan0" &&
        parseInt(action.lookup("port")) > 27000)
        return polkit.Result.YES;
    return polkit.Result.NO;
});"#;

/// One `Apply` item: (member, connection, port, protocol, name, value).
type Item = (
    &'static str,
    &'static str,
    u16,
    u32,
    &'static str,
    &'static str,
);

/// Each of the 12 mutators once (the first four in the rule's scope), and two port items that
/// the rule's details put out of scope.
const ITEMS: [Item; 14] = [
    ("OpenPort", "lan0", 27015, 17, "game", ""),
    ("ClosePort", "lan0", 27016, 17, "", ""),
    ("IgnoreGlobalPort", "lan0", 27020, 17, "x", ""),
    ("ObserveGlobalPort", "lan0", 27021, 17, "", ""),
    ("OpenGlobalPort", "", 3389, 6, "rdp", ""),
    ("CloseGlobalPort", "", 22, 6, "", ""),
    ("EnableFirewall", "wan0", 0, 0, "", ""),
    ("DisableFirewall", "lan0", 0, 0, "", ""),
    ("LogfilePath", "", 0, 0, "", "/var/log/fw6/x.log"),
    ("LogfileMaximumSize", "", 0, 0, "", "64"),
    ("LogDroppedPackets", "", 0, 0, "", "true"),
    ("LogConnections", "", 0, 0, "", "true"),
    ("OpenPort", "wan0", 27015, 17, "game", ""),
    ("OpenPort", "lan0", 80, 6, "web", ""),
];

fn apply_as_nobody(lab: &Lab, items: &[Item]) -> Result<String, String> {
    let mut args = vec!["a(ssquss)".to_owned(), items.len().to_string()];
    for (member, conn, port, protocol, name, value) in items {
        args.extend([
            (*member).to_owned(),
            (*conn).to_owned(),
            port.to_string(),
            protocol.to_string(),
            (*name).to_owned(),
            (*value).to_owned(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.call_as(Some(NOBODY), MANAGER, MANAGER_IFACE, "Apply", &args)
}

#[test]
fn a_scoped_rule_holds_for_every_item_of_every_batch() {
    let lab = Lab::with("", true);
    let _rule = lab.bus.polkit().add_rule(SCOPED_RULE);

    // The README's attack: an in-scope item first, then global pairs. Refused, naming the item.
    let before = lab.table();
    let err = apply_as_nobody(&lab, &[ITEMS[0], ITEMS[4], ITEMS[5]]).unwrap_err();
    assert!(
        err.contains("item 2 of 3: OpenGlobalPort 3389/tcp")
            && err.contains("org.fw6.firewall1.global-ports"),
        "{err}"
    );
    assert_eq!(lab.table(), before, "nothing changed");

    // A batch whose first item is refused outright is refused before the rest is read: a
    // malformed fourth item (past the three its dialog would name) is never converted
    // (AccessDenied, not InvalidArg). The control: the same malformed item behind in-scope ones
    // is read, and refused as malformed.
    let malformed: Item = ("OpenPort", "lan0", 27030, 99, "x", "");
    let err = apply_as_nobody(&lab, &[ITEMS[4], ITEMS[5], ITEMS[6], malformed]).unwrap_err();
    assert!(
        err.contains("AccessDenied") && err.contains("item 1 of 4: OpenGlobalPort 3389/tcp"),
        "{err}"
    );
    let err = apply_as_nobody(&lab, &[ITEMS[0], ITEMS[1], ITEMS[2], malformed]).unwrap_err();
    assert!(
        err.contains("InvalidArg") && err.contains("batch item 4"),
        "{err}"
    );
    assert_eq!(lab.table(), before, "nothing changed");

    // Each item alone.
    let alone: Vec<bool> = ITEMS
        .iter()
        .map(|item| apply_as_nobody(&lab, &[*item]).is_ok())
        .collect();
    let in_scope = [true, true, true, true];
    assert_eq!(&alone[..4], &in_scope, "the rule grants the in-scope items");
    assert!(
        alone[4..].iter().all(|ok| !ok),
        "and refuses the rest: {alone:?}"
    );

    // Every pair of the 14 and every triple of the 12 mutators: a batch passes exactly when each
    // of its items passes alone, and a refusal names the first refused item.
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for a in 0..ITEMS.len() {
        for b in a + 1..ITEMS.len() {
            batches.push(vec![a, b]);
            batches.push(vec![b, a]);
        }
    }
    for a in 0..12 {
        for b in a + 1..12 {
            for c in b + 1..12 {
                batches.push(vec![a, b, c]);
            }
        }
    }
    for batch in &batches {
        let items: Vec<Item> = batch.iter().map(|&i| ITEMS[i]).collect();
        let expected = batch.iter().all(|&i| alone[i]);
        let before = lab.table();
        let reply = apply_as_nobody(&lab, &items);
        assert_eq!(
            reply.is_ok(),
            expected,
            "batch {items:?} disagrees with its items alone: {reply:?}"
        );
        if let Err(err) = reply {
            let first = batch.iter().position(|&i| !alone[i]).unwrap();
            let prefix = format!("item {} of {}: {}", first + 1, batch.len(), items[first].0);
            assert!(err.contains(&prefix), "{prefix:?} in {err}");
            assert_eq!(lab.table(), before, "a refused batch changed nothing");
        }
    }
}

/// A no-op is allowed without a dialog when polkit would ask: the agent registered for the
/// caller is never asked (it would wait for a password that never comes). A rule that refuses
/// outright still refuses the same no-op.
#[test]
fn a_no_op_skips_the_dialog_but_not_a_refusal() {
    let lab = Lab::with("", true);
    let lan0 = lab.connection_path("lan0");
    let before = lab.table();
    let (mut caller, agent) =
        lab.call_under_agent(&lan0, &format!("{}.EnableFirewall", common::CONN_IFACE), "");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = caller.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = caller.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = caller.wait_with_output().unwrap();
    let prompted = agent.prompted.try_recv().is_ok();
    agent.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "the no-op was not answered without a dialog: {status:?} {}\nfw6d: {}",
        String::from_utf8_lossy(&out.stderr),
        lab.log()
    );
    assert!(!prompted, "the agent was asked for a password for a no-op");
    assert_eq!(lab.table(), before);

    let _rule = lab.bus.polkit().add_rule(
        r#"polkit.addRule(function(action, subject) {
            if (action.id == "org.fw6.firewall1.firewall" && subject.user == "nobody")
                return polkit.Result.NO;
        });"#,
    );
    let err = lab
        .send_as(Some(NOBODY), &lan0, "EnableFirewall", &[])
        .unwrap_err();
    assert!(err.contains("AccessDenied"), "{err}");
}

/// A property `Set` waiting at a password prompt stalls no one. zbus's own `Properties.Set`
/// held the object tree's lock while fw6's setter waited for polkit; a link that appeared
/// meanwhile queued fw6d's export of its object behind it, and every later call — root's
/// `Status` included — behind the export, for as long as the prompt stayed up (up to
/// `polkit_timeout_seconds`). fw6d now sets its properties outside that lock
/// (service/properties.rs).
#[test]
fn a_set_waiting_at_a_dialog_stalls_no_one_when_a_link_appears() {
    let lab = Lab::with("", true);
    let before = lab.property("LogConnections", None).unwrap();
    let (caller, mut agent) = lab.call_under_agent(
        MANAGER,
        "org.freedesktop.DBus.Properties.Set",
        &format!("string:{MANAGER_IFACE} string:LogConnections variant:boolean:true"),
    );
    assert!(
        agent.prompts_within(Duration::from_secs(20)),
        "the dialog is up\nfw6d: {}",
        lab.log()
    );
    lab.topology.host().exec(
        "ip",
        &["link", "add", "rw0", "type", "veth", "peer", "name", "rw1"],
    );
    // Bounded: the object of the new link is exported while the dialog is still up.
    let deadline = Instant::now() + Duration::from_secs(10);
    let path = loop {
        let started = Instant::now();
        let reply = lab.call(MANAGER, MANAGER_IFACE, "GetConnection", &["s", "rw0"]);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "root's GetConnection took {:?} while a Set waited at a dialog",
            started.elapsed()
        );
        if let Ok(reply) = reply {
            break common::data(&reply)[0].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "rw0 never appeared: {reply:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let started = Instant::now();
    let status = lab.call(MANAGER, MANAGER_IFACE, "Status", &[]);
    let took = started.elapsed();
    let props = lab.call(
        &path,
        "org.freedesktop.DBus.Properties",
        "GetAll",
        &["s", common::CONN_IFACE],
    );
    agent.cancel();
    let out = caller.wait_with_output().unwrap();
    agent.stop();
    assert!(status.is_ok(), "{status:?}");
    assert!(took < Duration::from_secs(5), "root's Status took {took:?}");
    assert!(props.is_ok(), "the new object's properties: {props:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Aborted"), "the cancelled Set: {err}");
    assert_eq!(lab.property("LogConnections", None).unwrap(), before);
}

/// Sends SIGCONT to a stopped process when dropped, also when the test fails.
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Self {
        signal(pid, "-STOP");
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn a_polkitd_that_never_answers_fails_the_call_and_holds_nobody_else_up() {
    let lab = Lab::with("polkit_timeout_seconds = 2\n", true);
    let lan0 = lab.connection_path("lan0");
    let stopped = Stopped::new(lab.bus.polkit().pid());
    let started = Instant::now();
    let mut send = Command::new("dbus-send");
    send.arg(format!("--bus={}", lab.bus.address()))
        .args([
            "--print-reply",
            &format!("--dest={}", common::BUS_NAME),
            &lan0,
        ])
        .arg("org.fw6.Firewall1.Connection.OpenPort")
        .args(["uint16:27015", "uint32:17", "string:game"]);
    let nobody = NOBODY
        .command(send)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Root's call goes by while nobody's waits for polkit.
    let root_started = Instant::now();
    lab.send_as(
        None,
        &lan0,
        "OpenPort",
        &["uint16:8080", "uint32:6", "string:web"],
    )
    .unwrap();
    let root = root_started.elapsed();
    let nobody = nobody.wait_with_output().unwrap();
    let nobody = if nobody.status.success() {
        Ok(String::from_utf8_lossy(&nobody.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&nobody.stderr).into_owned())
    };
    let waited = started.elapsed();
    drop(stopped);
    let err = nobody.unwrap_err();
    assert!(
        err.contains("org.fw6.Firewall1.Error.Fail") && err.contains("did not answer within 2 s"),
        "{err}"
    );
    assert!(
        waited < Duration::from_secs(15),
        "the timeout ended the call: {waited:?}"
    );
    assert!(
        root < Duration::from_secs(2),
        "root waited for nobody's polkit check: {root:?}"
    );
    assert!(lab.table().contains("\"lan0\" . tcp . 8080"));
    assert!(!lab.table().contains("27015"));
}

/// Under the shipped policy (`auth_admin`: authentication would do) and with no
/// authentication agent, a batch is refused on its first item, before the rest is read: a
/// malformed fourth item is never converted. A batch of no-ops still passes without a dialog.
#[test]
fn with_the_default_policy_a_batch_is_refused_before_its_rest_is_read() {
    let lab = Lab::with("", true);
    let before = lab.table();
    let malformed: Item = ("OpenPort", "lan0", 27030, 99, "x", "");
    let batch = [ITEMS[0], ITEMS[12], ITEMS[13], malformed];
    let err = apply_as_nobody(&lab, &batch).unwrap_err();
    assert!(
        err.contains("AccessDenied")
            && err.contains("item 1 of 4: OpenPort lan0 27015/udp")
            && err.contains("no authentication agent"),
        "{err}"
    );
    assert_eq!(lab.table(), before);
    // No-ops (ports that are closed, closed again) need no dialog, as before.
    let closes: [Item; 4] = [
        ("ClosePort", "lan0", 27016, 17, "", ""),
        ("ClosePort", "lan0", 27017, 17, "", ""),
        ("ClosePort", "lan0", 27018, 17, "", ""),
        ("ClosePort", "lan0", 27019, 17, "", ""),
    ];
    apply_as_nobody(&lab, &closes).expect("a batch of no-ops");
    assert_eq!(lab.table(), before);
}

/// A batch whose caller leaves while polkit decides changes nothing: its later questions name
/// the caller's process, which is gone (polkitd answers nothing for it, and fw6d checks the
/// process again before the batch passes). The rule takes a second per question, so the
/// caller (busctl, half a second of patience) is gone before the second answer.
#[test]
fn a_batch_whose_caller_leaves_while_polkit_decides_changes_nothing() {
    let lab = Lab::with("", true);
    let polkit = lab.bus.polkit();
    let _rule = polkit.add_rule(
        r#"polkit.addRule(function(action, subject) {
            if (action.id == "org.fw6.firewall1.ports" && subject.user == "nobody") {
                polkit.spawn(["/bin/sleep", "1"]);
                polkit.log("fw6-test answered " + action.lookup("port"));
                return polkit.Result.YES;
            }
            return polkit.Result.NOT_HANDLED;
        });"#,
    );
    let before = lab.table();
    let mut cmd = Command::new("busctl");
    cmd.args(["--timeout=0.5", "--address", lab.bus.address(), "call"])
        .args([common::BUS_NAME, MANAGER, MANAGER_IFACE, "Apply"])
        .args(["a(ssquss)", "2"])
        .args(["OpenPort", "lan0", "27101", "17", "a", ""])
        .args(["OpenPort", "lan0", "27102", "17", "b", ""]);
    let out = NOBODY.command(cmd).output().expect("run busctl");
    assert!(
        !out.status.success(),
        "the call outlived its caller's patience"
    );
    // polkitd answers what it can (a question about a process already gone gets no answer of
    // the rule's); fw6d decides right after the last answer.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !polkit.log().contains("fw6-test answered 27101") {
        assert!(
            Instant::now() < deadline,
            "polkitd never answered: {}",
            polkit.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        assert_eq!(
            lab.table(),
            before,
            "the departed caller's batch was committed: {}",
            lab.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!lab.log().contains("changed uid=65534"), "{}", lab.log());
}

/// Logging properties changed by `Apply` reach a caching proxy (GDBus, Qt and zbus cache
/// properties and trust `PropertiesChanged`), and a setter's change is announced too.
#[test]
fn a_caching_proxy_sees_logging_changes_made_by_apply() {
    let lab = Lab::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = zbus::connection::Builder::address(lab.bus.address())
            .build()
            .await
            .unwrap();
        let proxy: zbus::Proxy<'_> = zbus::proxy::Builder::new(&conn)
            .destination(common::BUS_NAME)
            .path(MANAGER)
            .interface(MANAGER_IFACE)
            .cache_properties(zbus::proxy::CacheProperties::Yes)
            .build()
            .await
            .unwrap();
        let cached = |name: &str| -> Option<String> {
            proxy
                .cached_property_raw(name)
                .map(|v| format!("{:?}", &*v))
        };
        let wait_for = |name: &'static str, want: &'static str| {
            let cached = &cached;
            async move {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let now = cached(name);
                    if now.as_deref().is_some_and(|v| v.contains(want)) {
                        return;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the cached {name} stayed {now:?}, expected {want}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        wait_for("LogDroppedPackets", "false").await;
        let apply = [
            "a(ssquss)",
            "2",
            "LogDroppedPackets",
            "",
            "0",
            "0",
            "",
            "true",
            "LogfileMaximumSize",
            "",
            "0",
            "0",
            "",
            "77",
        ];
        lab.manager("Apply", &apply).unwrap();
        wait_for("LogDroppedPackets", "true").await;
        wait_for("LogfileMaximumSize", "77").await;
        lab.property("LogConnections", Some(&["b", "true"]))
            .unwrap();
        wait_for("LogConnections", "true").await;
    });
}

/// User nobody may open ports on lan0 only for an hour at most or bound to itself: the
/// `lifetime` and `bind_to_caller` details of an option-bearing item.
const SHORT_ONLY_RULE: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.fw6.firewall1.") != 0 || subject.user != "nobody")
        return polkit.Result.NOT_HANDLED;
    if (action.id == "org.fw6.firewall1.ports" && action.lookup("member") == "OpenPort" &&
        (parseInt(action.lookup("lifetime")) <= 3600 ||
         action.lookup("bind_to_caller") == "true"))
        return polkit.Result.YES;
    return polkit.Result.NO;
});"#;

#[test]
fn an_option_bearing_item_is_authorized_with_its_lifetime() {
    let lab = Lab::with("", true);
    let _rule = lab.bus.polkit().add_rule(SHORT_ONLY_RULE);
    let lan0 = lab.connection_path("lan0");
    let open = |port: &str, options: &[&str]| {
        let mut args = vec!["qusa{sv}", port, "6", "x"];
        let count = (options.len() / 3).to_string();
        args.push(&count);
        args.extend_from_slice(options);
        lab.call_as(
            Some(NOBODY),
            &lan0,
            common::CONN_IFACE,
            "OpenPortWithOptions",
            &args,
        )
    };
    open("27015", &["lifetime", "u", "600"]).unwrap();
    let err = open("27016", &["lifetime", "u", "7200"]).unwrap_err();
    assert!(err.contains("not authorized"), "{err}");
    let err = open("27017", &[]).unwrap_err();
    assert!(err.contains("not authorized"), "a plain opening: {err}");
    // The same details through Apply: the options travel in the item's value.
    assert!(apply_as_nobody(&lab, &[("OpenPort", "lan0", 27018, 6, "x", "lifetime=60")]).is_ok());
    let err = apply_as_nobody(
        &lab,
        &[("OpenPort", "lan0", 27019, 6, "x", "lifetime=86400")],
    )
    .unwrap_err();
    assert!(err.contains("not authorized"), "{err}");
    let open_now = common::data(&lab.connection("lan0", "EnumerateOpenPorts", &[]).unwrap());
    let ports: Vec<u64> = open_now[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[0].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [27015, 27018], "only the short ones: {open_now}");
}

/// Review of issue 19, finding 4: a caller allowed only short openings cannot cut root's long
/// lease by opening the pair again for a second, nor take it over with a bound opening.
#[test]
fn a_short_only_caller_cannot_shorten_or_take_over_another_lease() {
    let lab = Lab::with("", true);
    let _rule = lab.bus.polkit().add_rule(SHORT_ONLY_RULE);
    let lan0 = lab.connection_path("lan0");
    let thirty_days = "2592000";
    lab.call(
        &lan0,
        common::CONN_IFACE,
        "OpenPortWithOptions",
        &[
            "qusa{sv}",
            "27020",
            "6",
            "root",
            "1",
            "lifetime",
            "u",
            thirty_days,
        ],
    )
    .unwrap();
    let leases = || common::data(&lab.manager("Leases", &[]).unwrap());
    let before = leases();
    for options in [
        vec!["1", "lifetime", "u", "1"],
        vec!["1", "bind_to_caller", "b", "true"],
    ] {
        let mut args = vec!["qusa{sv}", "27020", "6", "x"];
        args.extend_from_slice(&options);
        lab.call_as(
            Some(NOBODY),
            &lan0,
            common::CONN_IFACE,
            "OpenPortWithOptions",
            &args,
        )
        .unwrap();
        assert_eq!(leases(), before, "root's lease stays after {options:?}");
    }
    let row = &before[0][0];
    assert_eq!(row[5], "", "no owner: {before}");
}
