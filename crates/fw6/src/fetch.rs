//! Reads the daemon's whole configuration into an [`Export`], for `fw6 export` and as the
//! "current" side of `fw6 import`'s diff.

use std::collections::BTreeMap;

use crate::file::{ConnectionExport, Export};
use crate::{Error, Manager};

impl Manager {
    /// The whole configuration: logging, global pairs and every connection the daemon knows
    /// (present or configured). Several reads, so a concurrent writer may be seen half-way;
    /// `fw6 import` is still safe because its diff is applied atomically and re-checked by the
    /// daemon's own semantics (re-open and close are idempotent).
    pub async fn export(&self) -> Result<Export, Error> {
        let logging = self.log_settings().await?.into();
        let global = crate::file::port_set(self.globally_open_ports().await?);
        let mut connections = BTreeMap::new();
        for info in self.connections().await? {
            let conn = self.connection(&info.interface.to_string()).await?;
            connections.insert(
                info.interface,
                ConnectionExport {
                    firewalled: conn.is_firewalled().await?,
                    open: crate::file::port_set(conn.open_ports().await?),
                    ignored: crate::file::port_set(conn.ignored_global_ports().await?),
                },
            );
        }
        Ok(Export {
            logging,
            global,
            connections,
        })
    }
}

impl crate::blocking::Manager {
    /// The whole configuration (see [`Manager::export`]).
    pub fn export(&self) -> Result<Export, Error> {
        self.block_on(self.inner().export())
    }
}
