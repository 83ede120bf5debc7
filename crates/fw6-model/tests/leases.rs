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

fn until(at: u64) -> Lease {
    Lease {
        expires: Some(at),
        owner: None,
    }
}

fn bound(name: &str) -> Lease {
    Lease {
        expires: None,
        owner: Some(Owner {
            bus: "bus".into(),
            name: name.into(),
            pid: 1,
            command: "c".into(),
        }),
    }
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
    assert!(s.is_noop(&open(80, "second", Some(until(5)))));
    assert!(
        s.apply(&open(80, "second", Some(until(5))))
            .unwrap()
            .is_empty()
    );
    assert!(
        s.apply(&open(80, "second", Some(bound(":1.1"))))
            .unwrap()
            .is_empty()
    );
    assert_eq!(lease_of(&s, 80), None, "still permanent");
    assert_eq!(s.open_ports(&lan0()).as_slice()[0].name.as_str(), "first");
}

#[test]
fn a_plain_open_of_a_leased_pair_makes_it_permanent_keeping_the_first_name() {
    let mut s = State::default();
    s.apply(&open(80, "first", Some(until(5)))).unwrap();
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
    s.apply(&open(80, "g", Some(until(5)))).unwrap();
    assert!(
        s.is_noop(&open(80, "g", Some(until(5)))),
        "the same lease again"
    );
    s.apply(&open(80, "g", Some(until(9)))).unwrap();
    assert_eq!(lease_of(&s, 80), Some(until(9)));
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
        [Change::PortClosed { entry, .. }] if entry.lease == Some(until(9))
    ));
    assert_eq!((s.lease_count(), s.next_expiry()), (0, None));
}

#[test]
fn expiry_and_departure_close_exactly_their_openings() {
    let mut s = State::default();
    s.apply(&open(1, "", Some(until(5)))).unwrap();
    s.apply(&open(2, "", Some(bound(":1.1")))).unwrap();
    s.apply(&open(3, "", Some(bound(":1.2")))).unwrap();
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
        .map(|p| open(p, "", Some(bound(":1.1"))))
        .collect();
    s.apply_batch(&batch).unwrap();
    let before = s.clone();
    let e = s.apply(&open(65000, "", Some(bound(":1.1")))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("already holds 4096 openings"), "{e}");
    assert_eq!(s, before, "nothing changed");
    // Renewing one it holds is not one more; another connection has its own bound.
    s.apply(&open(
        1,
        "",
        Some(Lease {
            expires: Some(9),
            ..bound(":1.1")
        }),
    ))
    .unwrap();
    s.apply(&open(65000, "", Some(bound(":1.2")))).unwrap();
}

/// Review of issue 19, finding 4: a renewal never shortens or moves a lease, so a caller
/// allowed only short or bound openings cannot cut another's lease or take it over.
#[test]
fn a_renewal_never_shortens_a_lease_nor_moves_its_owner() {
    let mut s = State::default();
    s.apply(&open(80, "root", Some(until(2_592_000_000))))
        .unwrap();
    for shorter in [until(1_000), bound(":1.9")] {
        let renew = open(80, "", Some(shorter));
        assert!(s.is_noop(&renew));
        assert!(s.apply(&renew).unwrap().is_empty());
    }
    assert_eq!(lease_of(&s, 80), Some(until(2_592_000_000)), "root's stays");

    // A bound opening stays its first owner's; another's renewal only lengthens its expiry.
    s.apply(&open(81, "", Some(bound(":1.1")))).unwrap();
    assert!(
        s.apply(&open(81, "", Some(bound(":1.2"))))
            .unwrap()
            .is_empty()
    );
    assert!(
        s.apply(&open(81, "", Some(until(5)))).unwrap().is_empty(),
        "no expiry stays none: it lasts while its owner runs"
    );
    assert_eq!(lease_of(&s, 81), Some(bound(":1.1")));
    assert!(s.owner_gone("bus", ":1.2").is_empty());
    assert_eq!(s.owner_gone("bus", ":1.1").len(), 1);

    // Timed and bound: a later expiry extends it, the owner stays.
    let both = |at, name| Lease {
        expires: Some(at),
        ..bound(name)
    };
    s.apply(&open(82, "", Some(both(5, ":1.1")))).unwrap();
    let changes = s.apply(&open(82, "", Some(both(9, ":1.2")))).unwrap();
    assert!(matches!(
        changes.as_slice(),
        [Change::PortClosed { .. }, Change::PortOpened { entry, .. }]
            if entry.lease == Some(both(9, ":1.1"))
    ));
    assert!(
        s.apply(&open(82, "", Some(both(7, ":1.1"))))
            .unwrap()
            .is_empty()
    );
    assert_eq!(lease_of(&s, 82), Some(both(9, ":1.1")));
}
