//! The lease semantics docs/dbus-api.md ("Leases") decides, one rule per test; the reference
//! model (tests/reference.rs) checks them against random sequences too.

use fw6_model::{
    Change, EntryName, ErrorKind, IfName, Lease, MAX_BOUND_PER_OWNER, Mutation, Owner, PortKey,
    State,
};

fn lan0() -> IfName {
    IfName::try_from("lan0").unwrap()
}

fn open(port: u32, name: &str, lease: Option<Lease>) -> Mutation {
    Mutation::OpenPort {
        connection: lan0(),
        key: PortKey::from_raw(port, 6).unwrap(),
        name: EntryName::try_from(name).unwrap(),
        lease,
    }
}

fn until(at: u64) -> Option<Lease> {
    Some(Lease {
        expires: Some(at),
        owner: None,
    })
}

fn bound(name: &str) -> Option<Lease> {
    Some(Lease {
        expires: None,
        owner: Some(Owner {
            bus: "bus".into(),
            name: name.into(),
            pid: 1,
            command: "c".into(),
        }),
    })
}

fn lease_of(state: &State, port: u32) -> Option<Lease> {
    state
        .lease(Some(&lan0()), PortKey::from_raw(port, 6).unwrap())
        .cloned()
}

#[test]
fn a_lease_on_a_pair_open_without_one_changes_nothing() {
    let mut s = State::default();
    s.apply(&open(80, "first", None)).unwrap();
    assert!(s.is_noop(&open(80, "second", until(5))));
    assert!(s.apply(&open(80, "second", until(5))).unwrap().is_empty());
    assert!(
        s.apply(&open(80, "second", bound(":1.1")))
            .unwrap()
            .is_empty()
    );
    assert_eq!(lease_of(&s, 80), None, "still permanent");
    assert_eq!(s.open_ports(&lan0()).as_slice()[0].name.as_str(), "first");
}

#[test]
fn a_plain_open_of_a_leased_pair_makes_it_permanent_keeping_the_first_name() {
    let mut s = State::default();
    s.apply(&open(80, "first", until(5))).unwrap();
    let changes = s.apply(&open(80, "second", None)).unwrap();
    assert!(matches!(
        changes.as_slice(),
        [Change::PortClosed { .. }, Change::PortOpened { entry, .. }]
            if entry.lease.is_none() && entry.name.as_str() == "first"
    ));
    assert_eq!(lease_of(&s, 80), None);
    assert!(s.expired(10).is_empty(), "a permanent pair never expires");
}

#[test]
fn opening_again_renews_and_close_ends_a_lease_at_once() {
    let mut s = State::default();
    s.apply(&open(80, "g", until(5))).unwrap();
    assert!(s.is_noop(&open(80, "g", until(5))), "the same lease again");
    s.apply(&open(80, "g", until(9))).unwrap();
    assert_eq!(lease_of(&s, 80), until(9));
    assert_eq!(s.next_expiry(), Some(9));
    assert!(s.expired(8).is_empty());
    let closed = s
        .apply(&Mutation::ClosePort {
            connection: lan0(),
            key: PortKey::from_raw(80, 6).unwrap(),
        })
        .unwrap();
    assert!(matches!(
        closed.as_slice(),
        [Change::PortClosed { entry, .. }] if entry.lease == until(9)
    ));
    assert_eq!((s.lease_count(), s.next_expiry()), (0, None));
}

#[test]
fn expiry_and_departure_close_exactly_their_openings() {
    let mut s = State::default();
    s.apply(&open(1, "", until(5))).unwrap();
    s.apply(&open(2, "", bound(":1.1"))).unwrap();
    s.apply(&open(3, "", bound(":1.2"))).unwrap();
    s.apply(&open(4, "", None)).unwrap();
    let expired = s.expired(5);
    assert_eq!(expired.len(), 1);
    let gone = s.owner_gone("bus", ":1.1");
    assert!(matches!(gone.as_slice(), [Change::PortClosed { entry, .. }] if entry.port.get() == 2));
    assert!(
        s.owner_gone("another-bus", ":1.2").is_empty(),
        "same name, other bus"
    );
    assert!(s.owns_openings("bus", ":1.2") && !s.owns_openings("bus", ":1.9"));
}

#[test]
fn one_bus_connection_holds_a_bounded_number_of_bound_openings() {
    let mut s = State::default();
    let batch: Vec<Mutation> = (1..=u32::try_from(MAX_BOUND_PER_OWNER).unwrap())
        .map(|p| open(p, "", bound(":1.1")))
        .collect();
    s.apply_batch(&batch).unwrap();
    let before = s.clone();
    let e = s.apply(&open(65000, "", bound(":1.1"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("already holds 4096 openings"), "{e}");
    assert_eq!(s, before, "nothing changed");
    // Renewing one it holds is not one more; another connection has its own bound.
    s.apply(&open(
        1,
        "",
        bound(":1.1").map(|l| Lease {
            expires: Some(9),
            ..l
        }),
    ))
    .unwrap();
    s.apply(&open(65000, "", bound(":1.2"))).unwrap();
}
