//! Views over every connection: `fw6 show` (the whole configuration and its health on one
//! screen), `fw6 connections` with each one's number of open pairs, and `fw6 port list` /
//! `fw6 global ignored` without a connection.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use fw6::{ConnectionInfo, PortEntry, Snapshot, Status, TableState};
use serde_json::{Value, json};

use super::exit::Failure;
use super::output::{self, Out};
use super::session::Session;

/// Which per-connection list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The connection's own open pairs.
    Open,
    /// The global pairs it ignores.
    Ignored,
}

impl Which {
    fn field(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Ignored => "ignored",
        }
    }
}

/// Every connection with its list.
async fn lists(
    session: &Session,
    which: Which,
) -> Result<Vec<(ConnectionInfo, Snapshot<PortEntry>)>, Failure> {
    let manager = session.manager().await?;
    let mut all = Vec::new();
    for info in manager.connections().await? {
        let c = manager.connection(&info.interface.to_string()).await?;
        let list = match which {
            Which::Open => c.open_ports().await?,
            Which::Ignored => c.ignored_global_ports().await?,
        };
        all.push((info, list));
    }
    Ok(all)
}

/// `fw6 connections`: `{"connections": [row…]}`, each row with `open_pairs`.
pub async fn connections(session: &Session, out: Out) -> Result<(), Failure> {
    let rows: Vec<(ConnectionInfo, usize)> = lists(session, Which::Open)
        .await?
        .into_iter()
        .map(|(info, open)| (info, open.as_slice().len()))
        .collect();
    let json: Vec<Value> = rows
        .iter()
        .map(|(info, open)| {
            let mut v = json!(info);
            v["open_pairs"] = json!(open);
            v
        })
        .collect();
    let families = session.manager().await?.status().await?.families;
    let mut doc = json!({ "connections": json });
    if let Some(families) = &families {
        doc["families"] = json!(families);
    }
    out.emit(&doc, || {
        output::connections_with_families(&rows, families.as_deref())
    });
    Ok(())
}

/// `fw6 port list` / `fw6 global ignored` without CONN: `{"connections": [{"connection": …,
/// "open"|"ignored": [entry…]}]}`, and for people one block per connection.
pub async fn every_connection(
    session: &Session,
    which: Which,
    expand: bool,
    out: Out,
) -> Result<(), Failure> {
    let all = lists(session, which).await?;
    let json: Vec<Value> = all
        .iter()
        .map(|(info, list)| {
            let mut v = json!({ "connection": info.interface });
            v[which.field()] = json!(list.as_slice());
            v
        })
        .collect();
    out.emit(&json!({ "connections": json }), || {
        let empty = match which {
            Which::Open => "no open pairs",
            Which::Ignored => "no ignored global pairs",
        };
        all.iter()
            .map(|(info, list)| {
                format!(
                    "{}:\n{}",
                    info.interface,
                    indent(&output::listing(list.as_slice(), empty, expand))
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A lease ending sooner than this many minutes is worth a warning in `fw6 show`.
const LEASE_WARNING_MINUTES: u64 = 10;
const LEASE_WARNING_MS: u64 = LEASE_WARNING_MINUTES * 60_000;

/// "lan0 8080/tcp (web) ends in 4 min" for every open pair among `open` (where it is open, the
/// pair) whose lease ends within [`LEASE_WARNING_MS`] of `now` (ms since the Unix epoch).
fn expiring<'a>(open: impl Iterator<Item = (&'a str, &'a PortEntry)>, now: u64) -> Vec<String> {
    open.filter_map(|(place, e)| {
        let at = e.lease.as_ref()?.expires?;
        let left = at.checked_sub(now)?;
        (left <= LEASE_WARNING_MS).then(|| {
            format!(
                "{place} {} ({}) ends in {} min",
                e.key(),
                e.name,
                left.div_ceil(60_000)
            )
        })
    })
    .collect()
}

/// What an administrator should look at; `expiring` names the leases about to end.
fn warnings(status: &Status, expiring: &[String]) -> Vec<String> {
    let mut w = Vec::new();
    if status.table != TableState::InSync {
        let state = json!(status.table);
        w.push(format!(
            "the kernel table is {state}, not in sync with fw6d's configuration: fw6d repairs \
             it; if this stays, see `journalctl -u fw6d`"
        ));
    }
    if status.log_lost > 0 {
        w.push(format!(
            "{} log events were lost since fw6d started (see docs/logging.md)",
            status.log_lost
        ));
    }
    let mut tables: Vec<String> = Vec::new();
    for c in status.other_chains.iter().filter(|c| c.may_drop()) {
        let table = format!("{} {}", c.family, c.table);
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    if !tables.is_empty() {
        w.push(format!(
            "other tables filter inbound packets too ({}): a port open in fw6 may still be \
             blocked there; `fw6 status` lists their chains",
            tables.join(", ")
        ));
    }
    if !expiring.is_empty() {
        w.push(format!(
            "leases ending within {LEASE_WARNING_MINUTES} minutes: {}; open the pair again \
             with a longer `--for` to keep it",
            expiring.join(", ")
        ));
    }
    w
}

/// `fw6 show`: everything on one screen, or with `--json` `{"status": {…as status…},
/// "logging": {…as log show…}, "global": [entry…], "connections": [{…as a connections row…,
/// "open": [entry…], "ignored": [entry…]}], "warnings": ["…"]}`.
pub async fn show(session: &Session, expand: bool, out: Out) -> Result<(), Failure> {
    let manager = session.manager().await?;
    let status = manager.status().await?;
    let logging = manager.log_settings().await?;
    let global = manager.globally_open_ports().await?;
    let mut conns = Vec::new();
    for info in manager.connections().await? {
        let c = manager.connection(&info.interface.to_string()).await?;
        let (open, ignored) = (c.open_ports().await?, c.ignored_global_ports().await?);
        conns.push((info, open, ignored));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let open =
        global
            .as_slice()
            .iter()
            .map(|e| ("global", e))
            .chain(conns.iter().flat_map(|(info, open, _)| {
                open.as_slice().iter().map(|e| (info.interface.as_str(), e))
            }));
    let warnings = warnings(&status, &expiring(open, now));
    let json = json!({
        "status": status,
        "logging": logging,
        "global": global.as_slice(),
        "connections": conns.iter().map(|(info, open, ignored)| {
            let mut v = json!(info);
            v["open"] = json!(open.as_slice());
            v["ignored"] = json!(ignored.as_slice());
            v
        }).collect::<Vec<_>>(),
        "warnings": warnings,
    });
    out.emit(&json, || {
        let on = |b: bool| if b { "on" } else { "off" };
        let table = json!(status.table);
        let mut s = format!(
            "fw6d {}: kernel table {} (generation {})\n\
             logging: dropped packets {}, connections {}, to {} (at most {} KiB)\n\n\
             global open pairs:\n{}\n",
            status.version,
            table.as_str().unwrap_or("?"),
            status.generation,
            on(logging.log_dropped_packets),
            on(logging.log_connections),
            logging.logfile_path,
            logging.logfile_maximum_size.kib(),
            indent(&output::listing(global.as_slice(), "none", expand)),
        );
        for (info, open, ignored) in &conns {
            let mut state = vec![if info.present {
                format!("present, index {}", info.index)
            } else {
                "not present".to_owned()
            }];
            state.push(if info.firewalled {
                "firewalled".to_owned()
            } else {
                "NOT firewalled: all inbound traffic passes".to_owned()
            });
            let _ = write!(
                s,
                "\n{} ({})\n  open:\n{}\n  ignored global pairs:\n{}\n",
                info.interface,
                state.join(", "),
                indent(&indent(&output::listing(open.as_slice(), "none", expand))),
                indent(&indent(&output::listing(
                    ignored.as_slice(),
                    "none",
                    expand
                ))),
            );
        }
        if !warnings.is_empty() {
            s.push_str("\nwarnings:\n");
            for w in &warnings {
                let _ = writeln!(s, "  - {w}");
            }
        }
        s
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use fw6::{EntryName, Lease, Port, PortEntry, PortKey, Protocol};

    use super::{LEASE_WARNING_MS, expiring};

    fn leased(port: u16, expires: Option<u64>) -> PortEntry {
        let key = PortKey::new(Port::try_from(port).unwrap(), Protocol::Tcp);
        let mut e = PortEntry::new(key, EntryName::try_from("web").unwrap());
        e.lease = Some(Lease {
            expires,
            owner: None,
        });
        e
    }

    /// Only timed leases ending within the window are named, rounded up to the minute.
    #[test]
    fn names_leases_about_to_end() {
        let now = 1_000_000_000;
        let soon = leased(8080, Some(now + 4 * 60_000 - 1));
        let later = leased(8081, Some(now + LEASE_WARNING_MS + 1));
        let bound = leased(8082, None);
        let plain = PortEntry::new(
            PortKey::new(Port::try_from(8083u16).unwrap(), Protocol::Tcp),
            EntryName::try_from("x").unwrap(),
        );
        let all = [
            ("lan0", &soon),
            ("lan0", &later),
            ("global", &bound),
            ("lan0", &plain),
        ];
        assert_eq!(
            expiring(all.into_iter(), now),
            ["lan0 8080/tcp (web) ends in 4 min"]
        );
    }
}
