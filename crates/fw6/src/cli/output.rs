//! Output: JSON built from the library's own serialisable types (schema in docs/cli.md), or
//! plain aligned columns for people.

use fw6::file::{Export, PortSet};
use fw6::{ConnectionInfo, PortEntry, Status};
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

/// `{"connection": …, "open": […]}`, the JSON of `fw6 port list`.
#[derive(Serialize)]
pub struct OpenList<'a> {
    /// The connection asked about.
    pub connection: &'a str,
    /// Its open pairs.
    pub open: &'a [PortEntry],
}

/// `{"connection": …, "ignored": […]}`, the JSON of `fw6 global ignored`.
#[derive(Serialize)]
pub struct IgnoredList<'a> {
    /// The connection asked about.
    pub connection: &'a str,
    /// The global pairs it ignores.
    pub ignored: &'a [PortEntry],
}

/// `{"global": […]}`, the JSON of `fw6 global list`.
#[derive(Serialize)]
pub struct GlobalList<'a> {
    /// The global open pairs.
    pub global: &'a [PortEntry],
}

/// Where a command's result goes: one JSON document, or text.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json` was given.
    pub json: bool,
}

impl Out {
    /// Prints `value` with `--json`, else the text made by `human`. JSON is streamed into a
    /// buffered stdout, never built as a `Value` tree first: a list can hold 100,000 entries.
    pub fn emit<T: Serialize + ?Sized>(self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            // A closed pipe (`fw6 --json … | head`) is not an error worth reporting.
            let _ = serde_json::to_writer(&mut stdout, value)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(stdout))
                .and_then(|()| stdout.flush());
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
    }
}

/// Left-aligned columns separated by two spaces, with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let pad = w.saturating_sub(cell.chars().count()) + 2;
                s.push_str(cell);
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A yes/no cell.
fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Families as people read them: `IPv6 and IPv4`, `IPv6 only (IPv4 is not filtered)`.
pub fn families_text(families: &[String]) -> String {
    let has = |f: &str| families.iter().any(|x| x == f);
    match (has("ipv6"), has("ipv4")) {
        (true, true) => "IPv6 and IPv4".to_owned(),
        (true, false) => "IPv6 only (IPv4 is not filtered)".to_owned(),
        _ => families.join(", "),
    }
}

/// `fw6 connections`: each row with its number of open pairs, and what a firewalled one
/// filters (`families`, from `Status`; absent from a daemon before dual stack).
pub fn connections_with_families(
    list: &[(ConnectionInfo, usize)],
    families: Option<&[String]>,
) -> String {
    let mut out = connections(list);
    if let Some(families) = families {
        out.push_str("\nfirewalled connections filter ");
        out.push_str(&families_text(families));
    }
    out
}

/// `fw6 connections`: each row with its number of open pairs.
pub fn connections(list: &[(ConnectionInfo, usize)]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|(c, open)| {
            vec![
                c.interface.to_string(),
                c.name.clone(),
                if c.present {
                    c.index.to_string()
                } else {
                    "-".into()
                },
                yes_no(c.present),
                yes_no(c.firewalled),
                open.to_string(),
                c.id.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "INTERFACE",
            "NAME",
            "INDEX",
            "PRESENT",
            "FIREWALLED",
            "OPEN",
            "ID",
        ],
        &rows,
    )
}

/// A listing for people: runs of consecutive ports with the same protocol and name folded
/// into ranges (`27015-27030/udp`), or each pair with `expand`; `empty` when there are none.
pub fn listing(list: &[PortEntry], empty: &str, expand: bool) -> String {
    // Leased pairs end each on their own, so they are listed one by one, never folded.
    if expand || list.is_empty() || list.iter().any(|e| e.lease.is_some()) {
        return entries(list, empty);
    }
    let rows: Vec<Vec<String>> = fw6::range::fold(list)
        .iter()
        .map(|r| vec![r.to_string(), r.name.to_string()])
        .collect();
    table(&["PORT/PROTO", "NAME"], &rows)
}

/// A list of pairs, or `empty` when there are none.
pub fn entries(list: &[PortEntry], empty: &str) -> String {
    if list.is_empty() {
        return empty.to_owned();
    }
    if list.iter().any(|e| e.lease.is_some()) {
        let now = SystemTime::now();
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|e| {
                let ends = e
                    .lease
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |l| ends(l, now));
                vec![e.key().to_string(), e.name.to_string(), ends]
            })
            .collect();
        return table(&["PORT/PROTO", "NAME", "ENDS"], &rows);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| vec![e.key().to_string(), e.name.to_string()])
        .collect();
    table(&["PORT/PROTO", "NAME"], &rows)
}

/// When a leased pair ends, for people: `in 1h 59m (2026-12-04 14:05:00 UTC)`,
/// `when PID 4242 (game-server) exits`, or both.
pub fn ends(lease: &fw6::Lease, now: SystemTime) -> String {
    let mut parts = Vec::new();
    if let Some(at) = lease.expires {
        let at_time = UNIX_EPOCH + Duration::from_millis(at);
        let left = at_time.duration_since(now).unwrap_or_default();
        let left = Duration::from_secs(left.as_secs());
        parts.push(format!(
            "in {} ({})",
            humantime::format_duration(left),
            fw6::utc(at)
        ));
    }
    if let Some(owner) = &lease.owner {
        let who = if owner.command.is_empty() {
            owner.name.clone()
        } else {
            owner.command.clone()
        };
        parts.push(format!("when PID {} ({who}) exits", owner.pid));
    }
    parts.join(" or ")
}

/// `fw6 audit` for people: one line per change, oldest first.
pub fn audit(list: &[fw6::AuditEntry]) -> String {
    if list.is_empty() {
        return "no audit entries".to_owned();
    }
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            let mut target = e.connection.clone().unwrap_or_default();
            if let (Some(port), Some(proto)) = (e.port, e.protocol) {
                let proto = fw6::Protocol::try_from(proto)
                    .map_or_else(|_| proto.to_string(), |p| p.to_string());
                if !target.is_empty() {
                    target.push(' ');
                }
                target = format!("{target}{port}/{proto}");
            }
            vec![
                humantime::format_rfc3339_seconds(e.time).to_string(),
                e.uid.to_string(),
                or_dash(e.pid.map(|p| p.to_string())),
                or_dash(e.program.clone()),
                or_dash(e.bus_name.clone()),
                e.member.clone(),
                e.what.clone(),
                if target.is_empty() {
                    "-".into()
                } else {
                    target
                },
                format!(
                    "{} -> {}",
                    or_dash(e.old.as_ref().map(|v| format!("{v:?}"))),
                    or_dash(e.new.as_ref().map(|v| format!("{v:?}")))
                ),
            ]
        })
        .collect();
    table(
        &[
            "TIME", "UID", "PID", "PROGRAM", "BUS", "MEMBER", "WHAT", "TARGET", "CHANGE",
        ],
        &rows,
    )
}

/// `fw6 status` for people.
pub fn status(s: &Status) -> String {
    let table_state = serde_json::to_value(&s.table)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut out = format!(
        "fw6d {}: reachable\nkernel table: {table_state} (generation {}, {} drift repairs)\n\
         connections: {}\nglobal open pairs: {}\nopen pairs on connections: {}\n\
         ignored global pairs: {}\nlog events lost: {}",
        s.version,
        s.generation,
        s.repairs,
        s.connections,
        s.global_open,
        s.open,
        s.ignored,
        s.log_lost
    );
    if let Some(n) = s.log_suppressed {
        out.push_str("\nlog events over the rate limit: ");
        out.push_str(&n.to_string());
    }
    if let Some(families) = &s.families {
        out.push_str("\nfiltered families: ");
        out.push_str(&families_text(families));
    }
    if let Some(p) = &s.table_protection {
        out.push_str("\ntable protection: ");
        out.push_str(match p.as_str() {
            "owner+persist" => "owner+persist (only fw6d may change the table; it outlives fw6d)",
            "drift-repair" => {
                "drift repair (fw6d rebuilds the table when another program changes it)"
            }
            other => other,
        });
    }
    out.push_str("\n\n");
    out.push_str(&other_chains(&s.other_chains));
    if let Some(e) = &s.other_chains_error {
        out.push_str("\n(fw6d's last read of the other tables failed, this is the one before: ");
        out.push_str(e);
        out.push(')');
    }
    out
}

/// The other tables' base chains on the inbound hooks, for `fw6 status`.
pub fn other_chains(chains: &[fw6::OtherChain]) -> String {
    if chains.is_empty() {
        return "other input filters: none (no other table has a base chain on the \
                prerouting, input or ingress hook)"
            .to_owned();
    }
    let rows: Vec<Vec<String>> = chains
        .iter()
        .map(|c| {
            vec![
                format!("{} {}", c.family, c.table),
                c.chain.clone(),
                c.kind.clone(),
                if c.device.is_empty() {
                    c.hook.clone()
                } else {
                    format!("{} ({})", c.hook, c.device)
                },
                c.priority.to_string(),
                c.policy.clone(),
                c.rules.to_string(),
            ]
        })
        .collect();
    format!(
        "other input filters (fw6 reads them, never changes them; a packet must pass every \
         one, so a port open in fw6 may still be blocked there):\n{}",
        table(
            &[
                "TABLE", "CHAIN", "TYPE", "HOOK", "PRIORITY", "POLICY", "RULES"
            ],
            &rows
        )
    )
}

fn set_json(set: &PortSet) -> Value {
    Value::Array(
        set.iter()
            .map(|(k, n)| json!({"port": k.port, "protocol": k.protocol, "name": n}))
            .collect(),
    )
}

/// `fw6 export --json`: the same content as the TOML, as JSON.
pub fn export_json(e: &Export) -> Value {
    let l = &e.logging;
    let connections: serde_json::Map<String, Value> = e
        .connections
        .iter()
        .map(|(name, c)| {
            (
                name.to_string(),
                json!({
                    "firewalled": c.firewalled,
                    "open": set_json(&c.open),
                    "ignored": set_json(&c.ignored),
                }),
            )
        })
        .collect();
    json!({
        "logging": {
            "log_dropped_packets": l.log_dropped_packets,
            "log_connections": l.log_connections,
            "logfile_path": l.logfile_path,
            "logfile_maximum_size": l.logfile_maximum_size.map(fw6::LogfileMaximumSize::kib),
        },
        "global": set_json(&e.global),
        "connections": connections,
    })
}

#[cfg(test)]
mod tests {
    use fw6::{EntryName, IfName, LogSettings};

    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "LONG HEADER", "C"],
            &[vec!["xxxx".into(), "y".into(), "z".into()]],
        );
        assert_eq!(t, "A     LONG HEADER  C\nxxxx  y            z");
    }

    #[test]
    fn entries_json_and_text() {
        let e = PortEntry::new(
            "22/tcp".parse().unwrap(),
            EntryName::try_from("ssh").unwrap(),
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"port":22,"protocol":"tcp","name":"ssh"}"#
        );
        assert_eq!(entries(&[e], "none"), "PORT/PROTO  NAME\n22/tcp      ssh");
        assert_eq!(entries(&[], "none"), "none");
        let run: Vec<PortEntry> = (10..=12)
            .map(|p| PortEntry::new(format!("{p}/udp").parse().unwrap(), EntryName::default()))
            .collect();
        assert_eq!(listing(&run, "none", false), "PORT/PROTO  NAME\n10-12/udp");
        assert_eq!(listing(&run, "none", true).lines().count(), 4);
    }

    #[test]
    fn export_json_shape() {
        let mut e = Export {
            logging: LogSettings::default().into(),
            ..Export::default()
        };
        e.global.insert(
            "22/tcp".parse().unwrap(),
            EntryName::try_from("ssh").unwrap(),
        );
        e.connections.insert(
            IfName::try_from("lan0").unwrap(),
            fw6::file::ConnectionExport::default(),
        );
        assert_eq!(
            export_json(&e),
            json!({
                "logging": {
                    "log_dropped_packets": false,
                    "log_connections": false,
                    "logfile_path": "/var/log/fw6/firewall.log",
                    "logfile_maximum_size": 4096,
                },
                "global": [{"port": 22, "protocol": "tcp", "name": "ssh"}],
                "connections": {"lan0": {"firewalled": true, "open": [], "ignored": []}},
            })
        );
    }
}
