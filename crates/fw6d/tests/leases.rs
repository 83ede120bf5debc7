//! Openings that end on their own (issue 19; docs/dbus-api.md, "Leases"): the options members,
//! `Leases`, bad options, and enforcement by the kernel's own element timeouts, with real
//! packets from peer namespaces, a real bus and the real fw6d. Needs root; fails loudly
//! without it.

mod common;

use common::{CONN_IFACE, Lab, MANAGER, data};

/// A reply's data as JSON.
fn json(reply: Result<String, String>) -> serde_json::Value {
    data(&reply.unwrap())
}

#[test]
fn options_members_open_with_a_lease_and_leases_lists_it() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    lab.call(
        &lan0,
        CONN_IFACE,
        "OpenPortWithOptions",
        &["qusa{sv}", "8080", "6", "web", "1", "lifetime", "u", "600"],
    )
    .unwrap();
    lab.call(
        MANAGER,
        common::MANAGER_IFACE,
        "OpenGlobalPortWithOptions",
        &["qusa{sv}", "443", "6", "tls", "0"],
    )
    .unwrap();
    // Listed like any other opening; the lease shows in `Leases` only.
    assert_eq!(
        json(lab.connection("lan0", "EnumerateOpenPorts", &[])),
        serde_json::json!([[[8080, 6, "web"]]])
    );
    let leases = json(lab.manager("Leases", &[]));
    let row = &leases[0][0];
    assert_eq!(leases[0].as_array().unwrap().len(), 1, "{leases}");
    assert_eq!(row[0], "lan0");
    assert_eq!((row[1].as_u64(), row[2].as_u64()), (Some(8080), Some(6)));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let expires = u128::from(row[4].as_u64().unwrap());
    assert!(
        expires > now + 590_000 && expires <= now + 600_000,
        "expiry {expires} is not 600 s after {now}"
    );
    assert_eq!(row[5], "", "not bound: no owner");
}

#[test]
fn bad_options_are_invalid_arg_naming_the_value_and_change_nothing() {
    let lab = Lab::start();
    let lan0 = lab.connection_path("lan0");
    let before = lab.table();
    // busctl's errors carry the message, which ends with the class and HRESULT.
    for (value, says) in [
        (["lifetime", "u", "0"], "lifetime 0 is zero"),
        (
            ["lifetime", "u", "2592001"],
            "lifetime 2592001 is above the maximum",
        ),
        (["lifetime", "i", "-5"], "lifetime -5 is negative"),
        (
            ["lifetime", "s", "2h"],
            "option lifetime must be an integer",
        ),
        (
            ["bind_to_caller", "u", "1"],
            "option bind_to_caller must be a boolean",
        ),
        (["ttl", "u", "5"], "unknown option \"ttl\""),
    ] {
        // `--`: busctl would take "-5" for an option.
        let mut args = vec!["--", "qusa{sv}", "8080", "6", "web", "1"];
        args.extend(value);
        let err = lab
            .call(&lan0, CONN_IFACE, "OpenPortWithOptions", &args)
            .unwrap_err();
        assert!(err.contains(says), "{says}: {err}");
        assert!(err.contains("(InvalidArg, 0x80070057)"), "{err}");
        let global = lab
            .call(
                MANAGER,
                common::MANAGER_IFACE,
                "OpenGlobalPortWithOptions",
                &args,
            )
            .unwrap_err();
        assert!(global.contains(says), "{says}: {global}");
    }
    // An Apply item carries the options as text in its value.
    let err = lab
        .manager(
            "Apply",
            &[
                "a(ssquss)",
                "1",
                "OpenPort",
                "lan0",
                "22",
                "6",
                "ssh",
                "lifetime=0",
            ],
        )
        .unwrap_err();
    assert!(
        err.contains("batch item 1 (OpenPort): lifetime 0 is zero"),
        "{err}"
    );
    assert_eq!(lab.table(), before, "nothing changed");
    assert_eq!(json(lab.manager("Leases", &[])), serde_json::json!([[]]));
}
