//! From effective changes to kernel work: set-element adds and deletes, or a rebuild when the
//! chain itself changes (only the two logging switches do that).

use super::{Element, SetName};
use crate::Change;

/// One set-element operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ElementOp {
    /// Add `element` to `set`.
    Add(SetName, Element),
    /// Delete `element` from `set`.
    Delete(SetName, Element),
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
            Change::GlobalOpened { entry } => {
                ElementOp::Add(SetName::GlobalOpen, Element::Pair(entry.key()))
            }
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
            Change::PortOpened { connection, entry } => ElementOp::Add(
                SetName::Open,
                Element::ConnectionPair(connection.clone(), entry.key()),
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
