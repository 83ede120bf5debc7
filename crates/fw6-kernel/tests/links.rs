//! Link dump and link events against the real kernel, each test in its own network namespace
//! (fw6-testkit's `NetNs`): what docs/design.md §5 "Links" and §9.3 promise.

use std::fmt::Write as _;
use std::time::Duration;

use fw6_kernel::link::{Link, LinkEvent, LinkWatcher, dump_links};
use fw6_testkit::NetNs;

/// How long any single expected event may take.
const PATIENCE: Duration = Duration::from_secs(5);

fn by_name<'a>(links: &'a [Link], name: &str) -> &'a Link {
    links
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no link {name} in {links:#?}"))
}

/// Reads events until one satisfies `want`, failing after [`PATIENCE`] or 100 events.
async fn wait_for(
    watcher: &mut LinkWatcher,
    what: &str,
    want: impl Fn(&LinkEvent) -> bool,
) -> LinkEvent {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let event = tokio::time::timeout_at(deadline, watcher.next())
            .await
            .unwrap_or_else(|_| panic!("no event {what} within {PATIENCE:?}; saw {seen:#?}"))
            .expect("link watcher failed");
        if want(&event) {
            return event;
        }
        seen.push(event);
    }
    panic!("no event {what} among {seen:#?}");
}

#[test]
fn dump_sees_loopback_and_a_veth_pair() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip(&["link", "set", "v0", "alias", "Office LAN"]);
    let links = ns.block_on(dump_links()).expect("dump links");
    assert_eq!(links.len(), 3, "{links:#?}");
    assert!(links.is_sorted_by_key(|l| l.index));
    let lo = by_name(&links, "lo");
    assert!(lo.loopback && lo.up && lo.ipv6, "{lo:?}");
    let v0 = by_name(&links, "v0");
    assert!(!v0.loopback && !v0.up && v0.ipv6, "{v0:?}");
    assert_eq!(v0.alias.as_deref(), Some("Office LAN"));
    assert_eq!(by_name(&links, "v1").alias, None);
}

#[test]
fn disable_ipv6_is_reflected_in_the_dump() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.set_sysctl("ipv6/conf/v0/disable_ipv6", "1");
    let links = ns.block_on(dump_links()).expect("dump links");
    assert!(!by_name(&links, "v0").ipv6);
    assert!(by_name(&links, "v1").ipv6);
}

#[test]
fn watcher_reports_add_up_rename_alias_and_delete() {
    let ns = NetNs::new();
    ns.block_on(async {
        let (mut watcher, initial) = LinkWatcher::new().await.expect("watch links");
        assert_eq!(initial.len(), 1, "only lo: {initial:#?}");

        ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
        let LinkEvent::Added(v0) = wait_for(&mut watcher, "v0 added", |e| {
            matches!(e, LinkEvent::Added(l) if l.name == "v0")
        })
        .await
        else {
            unreachable!()
        };
        assert!(!v0.up && v0.ipv6);

        ns.ip(&["link", "set", "v0", "up"]);
        wait_for(&mut watcher, "v0 up", |e| {
            matches!(e, LinkEvent::Changed(l) if l.index == v0.index && l.up)
        })
        .await;

        ns.ip(&["link", "set", "v0", "alias", "uplink"]);
        wait_for(&mut watcher, "v0 alias", |e| {
            matches!(e, LinkEvent::Changed(l) if l.index == v0.index && l.alias.as_deref() == Some("uplink"))
        })
        .await;

        // A rename needs the link down; the kernel sends no separate rename message, the
        // watcher compares names per index.
        ns.ip(&["link", "set", "v0", "down"]);
        ns.ip(&["link", "set", "v0", "name", "wan7"]);
        wait_for(&mut watcher, "rename to wan7", |e| {
            matches!(e, LinkEvent::Changed(l) if l.index == v0.index && l.name == "wan7")
        })
        .await;

        ns.ip(&["link", "del", "wan7"]);
        let removed = wait_for(&mut watcher, "wan7 removed", |e| {
            matches!(e, LinkEvent::Removed { index, .. } if *index == v0.index)
        })
        .await;
        assert_eq!(
            removed,
            LinkEvent::Removed {
                index: v0.index,
                name: "wan7".into()
            }
        );
    });
}

#[test]
fn watcher_reports_disable_ipv6_both_ways_on_an_up_link() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip(&["link", "set", "v1", "up"]);
    ns.ip(&["link", "set", "v0", "up"]);
    ns.block_on(async {
        let (mut watcher, initial) = LinkWatcher::new().await.expect("watch links");
        let v0 = by_name(&initial, "v0").clone();
        assert!(v0.ipv6);

        ns.set_sysctl("ipv6/conf/v0/disable_ipv6", "1");
        wait_for(
            &mut watcher,
            "v0 IPv6 off",
            |e| matches!(e, LinkEvent::Changed(l) if l.index == v0.index && !l.ipv6),
        )
        .await;

        ns.set_sysctl("ipv6/conf/v0/disable_ipv6", "0");
        wait_for(
            &mut watcher,
            "v0 IPv6 on",
            |e| matches!(e, LinkEvent::Changed(l) if l.index == v0.index && l.ipv6),
        )
        .await;
    });
}

#[test]
fn an_overflowing_event_queue_triggers_a_full_resync() {
    let ns = NetNs::new();
    ns.block_on(async {
        // The smallest buffer the kernel allows: a burst of link events cannot fit.
        let (mut watcher, _) = LinkWatcher::with_receive_buffer(1)
            .await
            .expect("watch links");
        burst(&ns, "burst");

        let LinkEvent::Resynced(links) = wait_for(&mut watcher, "resync", |e| {
            matches!(e, LinkEvent::Resynced(_))
        })
        .await
        else {
            unreachable!()
        };
        assert_eq!(links.len(), 41, "lo and 20 veth pairs: {links:#?}");
        by_name(&links, "burst19b");
    });
}

/// Creates 20 veth pairs `{prefix}{i}a`/`{prefix}{i}b` in one `ip -batch`, while nobody reads
/// the watcher's event socket.
fn burst(ns: &NetNs, prefix: &str) {
    let mut batch = String::new();
    for i in 0..20 {
        writeln!(
            batch,
            "link add {prefix}{i}a type veth peer name {prefix}{i}b"
        )
        .unwrap();
    }
    let mut ip = std::process::Command::new("ip");
    ip.args(["-n", ns.name(), "-batch", "-"])
        .stdin(std::process::Stdio::piped());
    let mut child = ip.spawn().expect("run ip -batch");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), batch.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_resync_interrupted_by_cancellation_is_finished_by_the_next_call() {
    let ns = NetNs::new();
    ns.block_on(async {
        let (mut watcher, _) = LinkWatcher::with_receive_buffer(1)
            .await
            .expect("watch links");
        burst(&ns, "one");
        wait_for(&mut watcher, "first resync", |e| {
            matches!(e, LinkEvent::Resynced(_))
        })
        .await;
        // A second overrun right after: its resync waits out the rate limit, and every call
        // below is cancelled after 2 ms, typically inside that wait. The overrun must not be
        // forgotten with the cancelled call.
        burst(&ns, "two");
        let mut resynced = None;
        for _ in 0..2000 {
            if let Ok(event) = tokio::time::timeout(Duration::from_millis(2), watcher.next()).await
                && let LinkEvent::Resynced(links) = event.expect("link watcher failed")
            {
                resynced = Some(links);
                break;
            }
        }
        let links = resynced.expect("the second overrun was never resynced");
        assert_eq!(links.len(), 81, "lo and 40 veth pairs");
    });
}
