//! From effective changes to kernel work: set-element adds and deletes, or a rebuild when the
//! chain itself changes (only the two logging switches do that).

use super::{Element, SetName};
use crate::{Change, Lease};

/// The add of an opening: with an expiry if its lease has one. An opening bound only to its
/// owner is an ordinary element: fw6d deletes it when the owner leaves.
fn add(set: SetName, element: Element, lease: Option<&Lease>) -> ElementOp {
    match lease.and_then(|l| l.expires) {
        Some(at) => ElementOp::AddExpiring(set, element, at),
        None => ElementOp::Add(set, element),
    }
}

/// One set-element operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ElementOp {
    /// Add `element` to `set`.
    Add(SetName, Element),
    /// Delete `element` from `set`.
    Delete(SetName, Element),
    /// Add `element` to `set` until the wall-clock time given (ms since the Unix epoch): the
    /// kernel removes it then by itself (an element timeout, docs/design.md §3), whether or not
    /// fw6d runs. The kernel side turns the expiry into a timeout when it sends the batch.
    AddExpiring(SetName, Element, u64),
}

impl ElementOp {
    /// The set and element the operation is about.
    pub const fn target(&self) -> (SetName, &Element) {
        match self {
            Self::Add(set, e) | Self::Delete(set, e) | Self::AddExpiring(set, e, _) => (*set, e),
        }
    }

    /// Whether the operation adds.
    pub const fn adds(&self) -> bool {
        !matches!(self, Self::Delete(..))
    }
}

/// The kernel work for a list of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Set-element operations in order, one transaction. Empty means nothing to send.
    Elements(Vec<ElementOp>),
    /// The chain changed: rebuild the table from the new state in one transaction.
    Rebuild,
}

/// The kernel work for `changes`, which must be effective changes (as `State::apply` returns),
/// so every add is of an absent element and every delete of a present one.
pub fn update(changes: &[Change]) -> Update {
    let mut ops = Vec::with_capacity(changes.len());
    for change in changes {
        let op = match change {
            Change::GlobalOpened { entry } => add(
                SetName::GlobalOpen,
                Element::Pair(entry.key()),
                entry.lease.as_ref(),
            ),
            Change::GlobalClosed { entry } => {
                ElementOp::Delete(SetName::GlobalOpen, Element::Pair(entry.key()))
            }
            Change::FirewallEnabled { connection } => ElementOp::Delete(
                SetName::Unfirewalled,
                Element::Connection(connection.clone()),
            ),
            Change::FirewallDisabled { connection } => ElementOp::Add(
                SetName::Unfirewalled,
                Element::Connection(connection.clone()),
            ),
            Change::PortOpened { connection, entry } => add(
                SetName::Open,
                Element::ConnectionPair(connection.clone(), entry.key()),
                entry.lease.as_ref(),
            ),
            Change::PortClosed { connection, entry } => ElementOp::Delete(
                SetName::Open,
                Element::ConnectionPair(connection.clone(), entry.key()),
            ),
            Change::GlobalIgnored { connection, entry } => ElementOp::Add(
                SetName::Ignored,
                Element::ConnectionPair(connection.clone(), entry.key()),
            ),
            Change::GlobalObserved { connection, entry } => ElementOp::Delete(
                SetName::Ignored,
                Element::ConnectionPair(connection.clone(), entry.key()),
            ),
            Change::Logging { from, to } => {
                if from.log_connections != to.log_connections
                    || from.log_dropped_packets != to.log_dropped_packets
                {
                    return Update::Rebuild;
                }
                continue;
            }
        };
        ops.push(op);
    }
    Update::Elements(ops)
}
