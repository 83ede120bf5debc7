//! Tests of the bus harness itself and of the shipped `data/` files: a private dbus-daemon, the
//! real polkitd on it judging our polkit actions, and the shipped system-bus policy.
//!
//! These need root (dbus-daemon config with EXTERNAL auth, polkitd, mount namespaces, running
//! callers as `nobody`) and panic without it; they never skip.

use std::path::Path;
use std::process::Command;

use fw6_model::wire::{BUS_NAME, MANAGER_PATH};
use fw6_testkit::bus::{
    BUS_POLICY_FILE, BusClient, NOBODY, POLICY_FILE, Policy, PrivateBus, run_as,
};

const PORTS: &str = "org.fw6.firewall1.ports";
const FIREWALL: &str = "org.fw6.firewall1.firewall";
const LOGGING: &str = "org.fw6.firewall1.logging";

/// Runs `cmd`, returning (success, stdout + stderr).
fn output(mut cmd: Command) -> (bool, String) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn private_bus_answers_root_and_nobody_and_is_gone_after_drop() {
    let bus = PrivateBus::start();
    let mut get_id = bus.dbus_send();
    get_id.args([
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetId",
    ]);
    let (ok, text) = output(get_id);
    assert!(ok && text.contains("string"), "GetId as root: {text}");

    let mut as_nobody = bus.dbus_send();
    as_nobody.args([
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixUser",
        "string:org.freedesktop.DBus",
    ]);
    let (ok, text) = output(NOBODY.command(as_nobody));
    assert!(
        ok,
        "an unprivileged client must be able to use the bus: {text}"
    );

    let client = BusClient::connect(&bus, NOBODY);
    let mut uid = bus.dbus_send();
    uid.args([
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixUser",
    ])
    .arg(format!("string:{}", client.unique_name()));
    let (ok, text) = output(uid);
    assert!(
        ok && text.contains("uint32 65534"),
        "the bus must see the client as nobody: {text}"
    );

    let dir = bus.dir().to_owned();
    let client_pid = client.pid();
    drop(client);
    drop(bus);
    assert!(
        !process_exists(client_pid),
        "client {client_pid} survived its drop"
    );
    assert!(!dir.exists(), "{} survived the bus", dir.display());
}

#[test]
fn run_as_drops_to_nobody_without_root_groups() {
    let mut id = Command::new("id");
    id.args(["-u", "-G"]);
    let out = run_as(NOBODY.uid, NOBODY.gid, Command::new("sh"))
        .args(["-c", "id -u; id -G"])
        .output()
        .expect("run id as nobody");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n65534\n");
}

#[test]
fn polkitd_refuses_our_actions_to_an_unprivileged_caller_without_an_agent() {
    let bus = PrivateBus::start_with_polkit();
    let polkit_pid = bus.polkit().pid();
    let caller = BusClient::connect(&bus, NOBODY);
    let details = [
        ("member", "OpenPort"),
        ("connection", "veth-a"),
        ("port", "80"),
        ("protocol", "6"),
        ("name", "web"),
    ];
    for action in [PORTS, FIREWALL, LOGGING] {
        let answer = bus
            .polkit()
            .check_authorization(caller.unique_name(), action, &details);
        // auth_admin: no, but an administrator's password would do (a challenge).
        assert!(
            !answer.is_authorized && answer.is_challenge,
            "{action} for nobody: {}",
            answer.reply
        );
    }
    drop(caller);
    drop(bus);
    assert!(
        !process_exists(polkit_pid),
        "polkitd {polkit_pid} survived the bus"
    );
}

#[test]
fn polkit_rules_grant_exactly_what_they_name_and_go_away_on_drop() {
    let bus = PrivateBus::start_with_polkit();
    let polkit = bus.polkit();
    let caller = BusClient::connect(&bus, NOBODY);
    let name = caller.unique_name();
    let details = [
        ("member", "OpenGlobalPort"),
        ("port", "27015"),
        ("protocol", "17"),
    ];
    assert!(
        !polkit
            .check_authorization(name, PORTS, &details)
            .is_authorized
    );

    let rule = polkit.grant_user(NOBODY.user, &[PORTS]);
    assert!(
        rule.path().to_string_lossy().contains("49-fw6-test-"),
        "{}",
        rule.path().display()
    );
    let answer = polkit.check_authorization(name, PORTS, &details);
    assert!(answer.is_authorized, "granted to nobody: {}", answer.reply);
    let other = polkit.check_authorization(name, FIREWALL, &[("member", "EnableFirewall")]);
    assert!(
        !other.is_authorized,
        "only ports was granted: {}",
        other.reply
    );

    let by_group = polkit.grant_group(NOBODY.group, &[LOGGING]);
    let answer = polkit.check_authorization(name, LOGGING, &[("member", "LogfilePath")]);
    assert!(answer.is_authorized, "granted to nogroup: {}", answer.reply);

    // Rules can scope by the details fw6d passes (docs/dbus-api.md, "Access control").
    let scoped = polkit.add_rule(
        "polkit.addRule(function(action, subject) {\n\
         if (action.id == \"org.fw6.firewall1.firewall\" && subject.user == \"nobody\" &&\n\
             action.lookup(\"connection\") == \"veth-a\") return polkit.Result.YES;\n});\n",
    );
    let on = |connection| {
        polkit
            .check_authorization(
                name,
                FIREWALL,
                &[("member", "DisableFirewall"), ("connection", connection)],
            )
            .is_authorized
    };
    assert!(
        on("veth-a") && !on("veth-b"),
        "the rule scopes by connection"
    );

    drop((rule, by_group, scoped));
    assert!(
        !polkit
            .check_authorization(name, PORTS, &details)
            .is_authorized
    );
    assert!(
        !polkit
            .check_authorization(name, LOGGING, &[("member", "LogfilePath")])
            .is_authorized
    );
    assert!(
        polkit.log().contains("Finished loading"),
        "{}",
        polkit.log()
    );
}

#[test]
fn polkitd_reads_our_action_file_with_the_intended_defaults() {
    let bus = PrivateBus::start_with_polkit();
    for action in [PORTS, FIREWALL, LOGGING] {
        let mut pkaction = Command::new("pkaction");
        pkaction
            .args(["--verbose", "--action-id", action])
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
        let (ok, text) = output(pkaction);
        assert!(ok, "pkaction {action}: {text}");
        for want in [
            "implicit any:      auth_admin\n",
            "implicit inactive: auth_admin\n",
            "implicit active:   auth_admin_keep\n",
        ] {
            assert!(text.contains(want), "{action}: missing {want:?} in\n{text}");
        }
        assert!(
            text.contains("IPv6 firewall"),
            "{action}: no description\n{text}"
        );
    }
}

#[test]
fn shipped_bus_policy_lets_only_root_own_the_name_and_everyone_call_it() {
    let bus = PrivateBus::builder()
        .policy(Policy::System)
        .polkit(true)
        .start();
    Probe::runtime().block_on(async {
        let owner = Probe::own(&bus).await;

        let mut request = bus.dbus_send();
        request.args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.RequestName",
            &format!("string:{BUS_NAME}"),
            "uint32:0",
        ]);
        let mut ping = bus.dbus_send();
        ping.args([
            "--print-reply",
            &format!("--dest={BUS_NAME}"),
            MANAGER_PATH,
            "org.fw6.Test.Probe.Hello",
        ]);
        // Proof that this bus is default-deny, not permissive: nobody may not own a name the
        // policy files do not mention.
        let mut stranger = bus.dbus_send();
        stranger.args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.RequestName",
            "string:org.fw6.Test.Stranger",
            "uint32:0",
        ]);
        // Blocking children on another thread: this runtime thread must keep serving `owner`.
        let ((own_ok, own), (ping_ok, pinged), (stranger_ok, strange)) =
            tokio::task::spawn_blocking(move || {
                (
                    output(NOBODY.command(request)),
                    output(NOBODY.command(ping)),
                    output(NOBODY.command(stranger)),
                )
            })
            .await
            .expect("dbus-send thread");
        assert!(
            !own_ok && own.contains("AccessDenied"),
            "nobody must not own org.fw6.Firewall1: {own}"
        );
        assert!(
            ping_ok && pinged.contains("fw6"),
            "nobody must be able to call org.fw6.Firewall1: {pinged}"
        );
        assert!(
            !stranger_ok && strange.contains("AccessDenied"),
            "the System policy must be default-deny: {strange}"
        );
        drop(owner);
    });
}

/// `Properties.Set` only at the manager's path, for everyone, root included: the bus refuses it
/// at any other path before the owner reads it (data/org.fw6.Firewall1.conf: zbus decodes a
/// `Set`'s value before fw6d can screen it on an object created a moment before). `Get` and a
/// `Set` at the manager reach the owner.
#[test]
fn shipped_bus_policy_lets_properties_set_reach_only_the_manager() {
    let bus = PrivateBus::builder().policy(Policy::System).start();
    Probe::runtime().block_on(async {
        let owner = Probe::own(&bus).await;
        let properties = |path: &str, member: &str, args: &[&str]| {
            let mut cmd = bus.dbus_send();
            cmd.args([
                "--print-reply",
                &format!("--dest={BUS_NAME}"),
                path,
                &format!("org.freedesktop.DBus.Properties.{member}"),
                "string:org.fw6.Test.Probe",
                "string:Nope",
            ])
            .args(args);
            cmd
        };
        let set_elsewhere = properties("/", "Set", &["variant:boolean:true"]);
        let root_set_elsewhere = properties("/org", "Set", &["variant:boolean:true"]);
        let set_at_manager = properties(MANAGER_PATH, "Set", &["variant:boolean:true"]);
        let get_elsewhere = properties("/", "Get", &[]);
        // Blocking children on another thread: this runtime thread must keep serving `owner`.
        let [
            set_elsewhere,
            root_set_elsewhere,
            set_at_manager,
            get_elsewhere,
        ] = tokio::task::spawn_blocking(move || {
            [
                output(NOBODY.command(set_elsewhere)),
                output(root_set_elsewhere),
                output(NOBODY.command(set_at_manager)),
                output(NOBODY.command(get_elsewhere)),
            ]
        })
        .await
        .expect("dbus-send thread");
        for (who, (ok, text)) in [("nobody", set_elsewhere), ("root", root_set_elsewhere)] {
            assert!(
                !ok && text.contains("AccessDenied"),
                "{who}'s Properties.Set away from the manager must be refused by the bus: {text}"
            );
        }
        for (what, (ok, text)) in [
            ("Set at the manager", set_at_manager),
            ("Get", get_elsewhere),
        ] {
            assert!(
                !ok && !text.contains("AccessDenied") && text.contains("Unknown"),
                "{what} must reach the owner (which has no such property): {text}"
            );
        }
        drop(owner);
    });
}

/// The stand-in for fw6d on the bus: one method, so a call has something to answer it.
struct Probe;

impl Probe {
    /// The runtime a test serves its probe on.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// Root's connection owning `org.fw6.Firewall1` on `bus`, serving a probe at the manager's
    /// path.
    async fn own(bus: &PrivateBus) -> zbus::Connection {
        zbus::connection::Builder::address(bus.address())
            .name(BUS_NAME)
            .serve_at(MANAGER_PATH, Probe)
            .build()
            .await
            .expect(
                "root must be allowed to own org.fw6.Firewall1 under data/org.fw6.Firewall1.conf",
            )
    }
}

#[zbus::interface(name = "org.fw6.Test.Probe")]
impl Probe {
    /// Answers calls that the bus policy let through.
    #[expect(clippy::unused_self, reason = "zbus interface methods take self")]
    fn hello(&self) -> &'static str {
        "fw6"
    }
}

#[test]
fn shipped_xml_files_are_valid() {
    let xmllint = |args: &[&str], file: &str| {
        let mut cmd = Command::new("xmllint");
        cmd.args(args).arg(file);
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install it with `apt-get install libxml2-utils`")
        });
        assert!(
            out.status.success(),
            "xmllint {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The DTD ships with polkitd; the bus policy has no local DTD, so it is checked for
    // well-formedness here and for meaning by dbus-daemon in the test above.
    xmllint(
        &[
            "--noout",
            "--dtdvalid",
            "/usr/share/polkit-1/policyconfig-1.dtd",
        ],
        POLICY_FILE,
    );
    xmllint(&["--noout"], BUS_POLICY_FILE);
}
