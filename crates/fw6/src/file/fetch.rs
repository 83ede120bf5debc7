//! Reads the daemon's whole configuration into an [`Export`], for `fw6 export` and as the
//! "current" side of `fw6 import`'s diff.
//!
//! It lives with the file formats, over the typed client, so the arrow points one way: the
//! formats use the client; the client ([`Manager`]) knows nothing of them.

use std::collections::{BTreeMap, HashSet};

use fw6_model::{IfName, PortEntry, PortKey, Snapshot};

use super::{ConnectionExport, Export, port_set};
use crate::{Error, Manager};

/// The whole configuration: logging, global pairs and every connection the daemon knows
/// (present or configured). Several reads, so a concurrent writer may be seen half-way;
/// `fw6 import` is still safe because its diff is applied atomically and re-checked by the
/// daemon's own semantics (re-open and close are idempotent).
///
/// Pairs open with a lease (a lifetime, or bound to a program: `fw6 run`) are left out: they
/// end on their own, and an export file has no way to say so, so an import elsewhere would
/// make them permanent. As the current side of an import, the same: the import leaves them to
/// end on their own, unless the file opens them (then they become permanent).
pub async fn fetch_export(manager: &Manager) -> Result<Export, Error> {
    let logging = manager.log_settings().await?.into();
    let leased: HashSet<(Option<IfName>, PortKey)> = manager
        .leases()
        .await?
        .into_iter()
        .map(|(connection, entry)| (connection, entry.key()))
        .collect();
    let permanent = |connection: Option<&IfName>, entries: Snapshot<PortEntry>| {
        port_set(
            entries
                .into_iter()
                .filter(|e| !leased.contains(&(connection.cloned(), e.key()))),
        )
    };
    let global = permanent(None, manager.globally_open_ports().await?);
    let mut connections = BTreeMap::new();
    for info in manager.connections().await? {
        let conn = manager.connection(&info.interface.to_string()).await?;
        let open = permanent(Some(&info.interface), conn.open_ports().await?);
        connections.insert(
            info.interface,
            ConnectionExport {
                firewalled: conn.is_firewalled().await?,
                open,
                ignored: port_set(conn.ignored_global_ports().await?),
            },
        );
    }
    Ok(Export {
        logging,
        global,
        connections,
    })
}

/// The whole configuration through a blocking manager (see [`fetch_export`]).
pub fn fetch_export_blocking(manager: &crate::blocking::Manager) -> Result<Export, Error> {
    manager.block_on(fetch_export(manager.inner()))
}
