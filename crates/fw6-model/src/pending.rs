//! Confirm-or-revert (docs/design.md §5 "Confirm-or-revert", docs/dbus-api.md
//! `ApplyConfirmable`): a change applied at once that fw6d takes back unless it is confirmed in
//! time. The daemon keeps the pending change's effective changes; what this module owns is the
//! pure part: how long a caller may ask for, what a token looks like, which mutations undo the
//! changes (the stored inverse batch) and which ones made them (what `Confirm` is authorized
//! against).

use std::fmt;
use std::num::NonZeroU32;

use crate::{Change, Error, Mutation};

/// The `ApplyConfirmable` option that sets the confirmation window, in seconds (`u`).
pub const CONFIRM_WITHIN: &str = "confirm_within";

/// The longest window a caller may ask for. A pending change refuses every other change from
/// the bus until it ends, so the window is bounded: an hour covers a slow reconnect over SSH
/// and keeps a forgotten change from holding the firewall longer than that.
pub const CONFIRM_WITHIN_MAX: u32 = 3600;

/// A validated confirmation window: 1 to [`CONFIRM_WITHIN_MAX`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfirmWithin(NonZeroU32);

impl ConfirmWithin {
    /// The window in seconds.
    pub const fn seconds(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u32> for ConfirmWithin {
    type Error = Error;

    fn try_from(seconds: u32) -> Result<Self, Error> {
        NonZeroU32::new(seconds)
            .filter(|s| s.get() <= CONFIRM_WITHIN_MAX)
            .map(Self)
            .ok_or_else(|| {
                Error::invalid_arg(format!(
                    "{CONFIRM_WITHIN} {seconds} is out of range: give 1-{CONFIRM_WITHIN_MAX} \
                     seconds; nothing was changed"
                ))
            })
    }
}

/// The token of a pending change: 32 lower-case hex digits (128 random bits), as `Confirm` and
/// `Revert` take it. It names the change, so a late `Confirm` can never keep a later one; it is
/// not a secret (`Status` shows it): confirming needs authorization for every item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// The digits a token has.
    pub const LEN: usize = 32;

    /// A token from 16 random bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digits = bytes
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
            .map(char::from)
            .collect();
        Self(digits)
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Token {
    type Error = Error;

    /// Any text that is not a token is refused naming it (shortened), so a typo reads as one.
    fn try_from(text: &str) -> Result<Self, Error> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            let shown: String = text.chars().take(40).collect();
            Err(Error::invalid_arg(format!(
                "{shown:?} is not a pending change's token (32 hex digits, as ApplyConfirmable \
                 returned it and `fw6 status` shows it); nothing was changed"
            )))
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The mutations that make `change` from the state before it (a logging change: one per
/// setting that differs).
pub fn making(change: &Change) -> Vec<Mutation> {
    let one = match change.clone() {
        Change::GlobalOpened { entry } => Mutation::OpenGlobalPort {
            key: entry.key(),
            name: entry.name,
            lease: entry.lease,
        },
        Change::GlobalClosed { entry } => Mutation::CloseGlobalPort { key: entry.key() },
        Change::FirewallEnabled { connection } => Mutation::EnableFirewall { connection },
        Change::FirewallDisabled { connection } => Mutation::DisableFirewall { connection },
        Change::PortOpened { connection, entry } => Mutation::OpenPort {
            connection,
            key: entry.key(),
            name: entry.name,
            lease: entry.lease,
        },
        Change::PortClosed { connection, entry } => Mutation::ClosePort {
            connection,
            key: entry.key(),
        },
        Change::GlobalIgnored { connection, entry } => Mutation::IgnoreGlobalPort {
            connection,
            key: entry.key(),
            name: entry.name,
        },
        Change::GlobalObserved { connection, entry } => Mutation::ObserveGlobalPort {
            connection,
            key: entry.key(),
        },
        Change::Logging { from, to } => {
            let mut out = Vec::new();
            if from.logfile_path != to.logfile_path {
                out.push(Mutation::SetLogfilePath {
                    path: to.logfile_path.clone(),
                });
            }
            if from.logfile_maximum_size != to.logfile_maximum_size {
                out.push(Mutation::SetLogfileMaximumSize {
                    kib: to.logfile_maximum_size,
                });
            }
            if from.log_dropped_packets != to.log_dropped_packets {
                out.push(Mutation::SetLogDroppedPackets {
                    enabled: to.log_dropped_packets,
                });
            }
            if from.log_connections != to.log_connections {
                out.push(Mutation::SetLogConnections {
                    enabled: to.log_connections,
                });
            }
            return out;
        }
    };
    vec![one]
}

/// The mutations that made `changes`, in order: what a pending change is authorized as (each
/// item exactly as if it were called alone, as `Apply` authorizes it).
pub fn forward(changes: &[Change]) -> Vec<Mutation> {
    changes.iter().flat_map(making).collect()
}

/// The inverse batch: the mutations that take `changes` back, last change first. Each is an
/// ordinary ICF member with its idempotent semantics, so a pair the daemon itself closed in the
/// meantime (a lease that ended) makes its undo a no-op rather than an error.
///
/// A closed opening that had a lease comes back only if its lease could still hold: not one
/// that has expired by `now` (ms since the Unix epoch), and never one bound to a bus
/// connection, whose owner may have left meanwhile and could then never close it.
pub fn undo(changes: &[Change], now: u64) -> Vec<Mutation> {
    changes
        .iter()
        .rev()
        .flat_map(|c| making(&c.inverse()))
        .filter(|m| {
            m.lease()
                .is_none_or(|lease| lease.owner.is_none() && !lease.expired(now))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntryName, IfName, LogfileMaximumSize, State};

    fn sample() -> State {
        let mut s = State::default();
        s.apply_batch(&[
            Mutation::OpenGlobalPort {
                key: "22/tcp".parse().unwrap(),
                name: EntryName::try_from("ssh").unwrap(),
                lease: None,
            },
            Mutation::OpenPort {
                connection: IfName::try_from("lan0").unwrap(),
                key: "80/tcp".parse().unwrap(),
                name: EntryName::try_from("web").unwrap(),
                lease: None,
            },
        ])
        .unwrap();
        s
    }

    #[test]
    fn the_undo_of_a_batch_restores_the_state_before_it() {
        let before = sample();
        let mut after = before.clone();
        let lan0 = IfName::try_from("lan0").unwrap();
        let changes = after
            .apply_batch(&[
                Mutation::CloseGlobalPort {
                    key: "22/tcp".parse().unwrap(),
                },
                Mutation::ClosePort {
                    connection: lan0.clone(),
                    key: "80/tcp".parse().unwrap(),
                },
                Mutation::OpenPort {
                    connection: lan0.clone(),
                    key: "80/tcp".parse().unwrap(),
                    name: EntryName::try_from("other name").unwrap(),
                    lease: None,
                },
                Mutation::DisableFirewall {
                    connection: lan0.clone(),
                },
                Mutation::IgnoreGlobalPort {
                    connection: IfName::try_from("wan0").unwrap(),
                    key: "546/udp".parse().unwrap(),
                    name: EntryName::try_from("dhcp").unwrap(),
                },
                Mutation::SetLogDroppedPackets { enabled: true },
                Mutation::SetLogfileMaximumSize {
                    kib: LogfileMaximumSize::try_from(100).unwrap(),
                },
            ])
            .unwrap();
        assert_ne!(after, before);
        let mut back = after.clone();
        back.apply_batch(&undo(&changes, 0)).unwrap();
        // wan0 keeps an (empty) configuration entry, as after any ignore and observe.
        for (name, conn) in before.connections() {
            assert_eq!(
                back.connections().find(|(n, _)| *n == name).unwrap().1,
                conn
            );
        }
        assert_eq!(back.globally_open_ports(), before.globally_open_ports());
        assert_eq!(back.logging(), before.logging());
        assert_eq!(
            back.ignored_global_ports(&IfName::try_from("wan0").unwrap())
                .count(),
            0
        );
        // The name the pair had before is back, not the one the change gave it.
        assert_eq!(back.open_ports(&lan0), before.open_ports(&lan0));
    }

    #[test]
    fn forward_replays_the_change_from_the_state_before() {
        let before = sample();
        let mut after = before.clone();
        let changes = after
            .apply_batch(&[
                Mutation::SetLogConnections { enabled: true },
                Mutation::CloseGlobalPort {
                    key: "22/tcp".parse().unwrap(),
                },
            ])
            .unwrap();
        let mut again = before;
        again.apply_batch(&forward(&changes)).unwrap();
        assert_eq!(again, after);
    }

    #[test]
    fn windows_and_tokens_are_checked() {
        assert!(ConfirmWithin::try_from(0).is_err());
        assert!(ConfirmWithin::try_from(CONFIRM_WITHIN_MAX + 1).is_err());
        assert_eq!(ConfirmWithin::try_from(60).unwrap().seconds(), 60);
        let e = ConfirmWithin::try_from(0).unwrap_err().to_string();
        assert!(
            e.contains("confirm_within 0") && e.contains("0x80070057"),
            "{e}"
        );
        let t = Token::from_bytes([0xab; 16]);
        assert_eq!(Token::try_from(t.as_str()).unwrap(), t);
        for bad in [
            "",
            "ABABABABABABABABABABABABABABABAB",
            "xyz",
            &"a".repeat(33),
        ] {
            assert!(Token::try_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_undo_never_brings_back_a_lease_that_cannot_hold() {
        use crate::{Lease, Owner};
        let lan0 = IfName::try_from("lan0").unwrap();
        let open = |port: &str, lease: Lease| Mutation::OpenPort {
            connection: lan0.clone(),
            key: port.parse().unwrap(),
            name: EntryName::try_from("leased").unwrap(),
            lease: Some(lease),
        };
        let timed = Lease {
            expires: Some(10_000),
            owner: None,
        };
        let bound = Lease {
            expires: None,
            owner: Some(Owner {
                bus: "bus".into(),
                name: ":1.7".into(),
                pid: 7,
                command: "game".into(),
            }),
        };
        let mut state = State::default();
        state
            .apply_batch(&[open("9000/tcp", timed.clone()), open("9001/tcp", bound)])
            .unwrap();
        let closes: Vec<Mutation> = ["9000/tcp", "9001/tcp"]
            .iter()
            .map(|p| Mutation::ClosePort {
                connection: lan0.clone(),
                key: p.parse().unwrap(),
            })
            .collect();
        let changes = state.apply_batch(&closes).unwrap();
        // Before its expiry the timed lease comes back, with its lease; the bound one never.
        let before_expiry = undo(&changes, 5_000);
        assert_eq!(before_expiry, [open("9000/tcp", timed)]);
        // After it, neither.
        assert!(undo(&changes, 10_000).is_empty());
    }
}
