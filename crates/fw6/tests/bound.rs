//! Openings bound to their holder, through the library (docs/dbus-api.md, "Leases"): a guard
//! closes its pair when dropped, leaves alone a pair that was open without a limit before, and
//! works for global pairs and from the async and blocking clients. `fw6 run` (tests/cli_e2e.rs)
//! and fw6d's own tests cover a holder that is killed. Needs root (a lab: namespaces, a private
//! bus, the real fw6d).

use std::time::{Duration, Instant};

use fw6::{EntryName, ErrorKind, PortKey};

fn key(text: &str) -> PortKey {
    text.parse().expect("a pair")
}

fn name(text: &str) -> EntryName {
    EntryName::try_from(text).expect("a name")
}

fn lab() -> fw6_testkit::Lab {
    fw6_testkit::require_root("the bound-opening tests");
    fw6_testkit::Lab::builder().start()
}

#[test]
fn a_blocking_guard_closes_its_pair_and_only_its_own() {
    let lab = lab();
    let manager = fw6::blocking::Manager::connect_to(lab.bus.address()).expect("connect");
    let lan0 = manager.connection("lan0").expect("lan0");

    let guard = lan0
        .open_port_while_alive(key("9100/tcp"), &name("held"))
        .expect("open while alive");
    assert!(lan0.is_port_open(key("9100/tcp")).unwrap());
    drop(guard);
    // The blocking guard's drop waits until fw6d has closed it.
    assert!(!lan0.is_port_open(key("9100/tcp")).unwrap());

    // Open without a limit first: the bound opening changes nothing, and its end leaves the
    // pair open under its first name.
    lan0.open_port(key("9101/tcp"), &name("permanent"))
        .expect("open");
    let guard = lan0
        .open_port_while_alive(key("9101/tcp"), &name("held"))
        .expect("open while alive");
    guard.close().expect("close");
    let entries = lan0.open_ports().expect("open ports");
    let entry = entries
        .iter()
        .find(|e| e.key() == key("9101/tcp"))
        .expect("9101/tcp still open");
    assert_eq!(entry.name.as_str(), "permanent");

    let global = manager
        .open_global_port_while_alive(key("9102/udp"), &name("held"))
        .expect("global while alive");
    assert!(manager.is_port_globally_open(key("9102/udp")).unwrap());
    global.close().expect("close");
    assert!(!manager.is_port_globally_open(key("9102/udp")).unwrap());
}

#[test]
fn an_async_guard_dropped_closes_its_pair() {
    let lab = lab();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let manager = fw6::Manager::connect_to(lab.bus.address())
            .await
            .expect("connect");
        let lan0 = manager.connection("lan0").await.expect("lan0");
        let guard = lan0
            .open_port_while_alive(key("9103/tcp"), &name("held"))
            .await
            .expect("open while alive");
        assert!(lan0.is_port_open(key("9103/tcp")).await.unwrap());
        drop(guard);
        let started = Instant::now();
        while lan0.is_port_open(key("9103/tcp")).await.unwrap() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "9103/tcp still open 5 s after its guard was dropped:\n{}",
                lab.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // A manager on a connection the program made has no address for a binding of its own.
        let conn = zbus::connection::Builder::address(lab.bus.address())
            .build()
            .await
            .expect("bus");
        let given = fw6::Manager::on(conn).await.expect("manager");
        let err = given
            .open_global_port_while_alive(key("9104/tcp"), &name("held"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArg, "{err}");
        assert!(err.to_string().contains("Manager::connect"), "{err}");
    });
}
