//! Runs one parsed command against fw6d.

use std::time::{SystemTime, UNIX_EPOCH};

use fw6::{ErrorKind, LogfileMaximumSize, Mutation, PortKey};
use serde_json::json;

use super::args::{Command, FirewallAction, GlobalAction, LogAction, LogSet, PortAction};
use super::change::{self, Op, PairArgs, Report};
use super::exit::Failure;
use super::output::{self, Out};
use super::session::{Session, read_input};
use super::{show, target};

/// The JSON of a command about one pair on one connection, e.g. `{"connection": "lan0",
/// "port": 80, "protocol": "tcp", "open": true}`; `field` is `open` or `ignored`.
fn pair_json(conn: &str, key: PortKey, field: &str, value: bool) -> serde_json::Value {
    let mut v = json!({ "connection": conn, "port": key.port, "protocol": key.protocol });
    v[field] = json!(value);
    v
}

/// A `PORT/PROTO` argument that must stand for exactly one pair (a service name may).
pub fn single(s: &str) -> Result<PortKey, Failure> {
    let keys = change::pairs(s)?.keys;
    match keys.as_slice() {
        [key] => Ok(*key),
        _ => Err(fw6::Error::new(
            ErrorKind::InvalidArg,
            format!(
                "{s:?} stands for {}: this command takes one pair, e.g. {}",
                change::describe(&keys),
                keys[0]
            ),
        )
        .into()),
    }
}

/// `list` (the open pairs of `connection`, or the global ones) with each leased entry's lease,
/// from `Leases`: `fw6 port list` and `fw6 global list` show when each ends, and by whom.
async fn with_leases(
    session: &Session,
    connection: Option<fw6::IfName>,
    list: &[fw6::PortEntry],
) -> Result<Vec<fw6::PortEntry>, Failure> {
    let leases = session.manager().await?.leases().await?;
    let mut list = list.to_vec();
    for (on, leased) in leases {
        if on != connection {
            continue;
        }
        if let Some(entry) = list.iter_mut().find(|e| e.key() == leased.key()) {
            entry.lease = leased.lease;
        }
    }
    Ok(list)
}

/// The options of `--for DURATION` (none without it): the duration in whole seconds as a
/// lifetime, validated by the model (1 s to 30 days).
pub fn lease_for(duration: Option<&str>) -> Result<fw6::OpenOptions, Failure> {
    let Some(text) = duration else {
        return Ok(fw6::OpenOptions::default());
    };
    let parsed = humantime::parse_duration(text).map_err(|e| {
        fw6::Error::new(
            ErrorKind::InvalidArg,
            format!("--for {text:?}: {e}; give a duration such as 90s, 30m, 2h or 7days"),
        )
    })?;
    let seconds = i64::try_from(parsed.as_secs()).unwrap_or(i64::MAX);
    let lifetime = fw6::Lifetime::try_from(seconds).map_err(|e| {
        fw6::Error::new(
            ErrorKind::InvalidArg,
            format!("--for {text:?}: {}", e.message()),
        )
    })?;
    Ok(fw6::OpenOptions {
        lifetime: Some(lifetime),
        bind_to_caller: false,
    })
}

/// A `--since` argument: an RFC 3339 time, or an age counted back from now.
pub fn since_time(s: &str) -> Result<SystemTime, Failure> {
    if let Ok(time) = humantime::parse_rfc3339_weak(s) {
        return Ok(time);
    }
    match humantime::parse_duration(s) {
        Ok(age) => Ok(SystemTime::now().checked_sub(age).unwrap_or(UNIX_EPOCH)),
        Err(e) => Err(fw6::Error::new(
            ErrorKind::InvalidArg,
            format!(
                "--since {s:?}: {e}; give a time such as 2026-12-03T19:00:00Z or an age such \
                 as 2h or 7days"
            ),
        )
        .into()),
    }
}

/// Runs `command`; the result is printed, errors are returned for the caller to report.
pub async fn run(session: &Session, command: Command, out: Out) -> Result<(), Failure> {
    match command {
        Command::Connections => show::connections(session, out).await?,
        Command::Firewall { action } => {
            let (c, on) = match action {
                FirewallAction::Enable(c) => (c, true),
                FirewallAction::Disable(c) => (c, false),
            };
            let t = target::any(session, &c.at.conn, c.absent).await?;
            let connection = t.name.clone();
            let m = if on {
                Mutation::EnableFirewall { connection }
            } else {
                Mutation::DisableFirewall { connection }
            };
            let conn = c.at.conn;
            let report = Report {
                connection: Some(&conn),
                target: Some(&t),
                keys: &[],
                note: None,
                field: "firewalled",
                value: on,
            };
            change::apply(session, &[m], report, out, |_| {
                format!(
                    "{conn}: firewall {}",
                    if on { "enabled" } else { "disabled" }
                )
            })
            .await?;
        }
        Command::Port { action } => port(session, action, out).await?,
        Command::Global { action } => global(session, action, out).await?,
        Command::Explain(a) => super::explain::explain(session, &a, out).await?,
        Command::Log { action } => log(session, action, out).await?,
        Command::Batch { file, confirm } => {
            let within = confirm.as_deref().map(super::confirm::window).transpose()?;
            let text = read_input(&file)?;
            let mutations = fw6::file::parse_batch(&text)
                .map_err(|e| fw6::Error::from(e).context(file.display()))?;
            if let Some(within) = within.filter(|_| !mutations.is_empty()) {
                let lines: Vec<String> = mutations.iter().map(ToString::to_string).collect();
                let stdin = file == std::path::Path::new("-");
                return super::confirm::apply(session, &mutations, within, &lines, stdin, out)
                    .await;
            }
            let n = if mutations.is_empty() {
                0
            } else {
                session.manager().await?.apply(&mutations).await?
            };
            out.emit(
                &json!({ "operations": mutations.len(), "changes": n }),
                || {
                    format!(
                        "{} operation(s) applied atomically, {n} effective change(s)",
                        mutations.len()
                    )
                },
            );
        }
        Command::Export => {
            let e = fw6::file::fetch_export(session.manager().await?).await?;
            out.emit(&output::export_json(&e), || fw6::file::render_export(&e));
        }
        Command::Import { file, yes, confirm } => {
            let within = confirm.as_deref().map(super::confirm::window).transpose()?;
            super::import::import(session, &file, yes, within, out).await?;
        }
        Command::Confirm { token } => super::confirm::end(session, &token, true, out).await?,
        Command::Revert { token } => super::confirm::end(session, &token, false, out).await?,
        Command::Audit { since, limit } => {
            let since = since.as_deref().map_or(Ok(UNIX_EPOCH), since_time)?;
            let entries = session.manager().await?.audit(since, limit).await?;
            out.emit(&json!({ "entries": entries }), || output::audit(&entries));
        }
        Command::Status => {
            let s = session.manager().await?.status().await?;
            out.emit(&json!(s), || output::status(&s));
        }
        Command::Show(e) => show::show(session, e.expand, out).await?,
        Command::Generate { .. } | Command::Run(_) => {
            unreachable!("handled before connecting")
        }
    }
    Ok(())
}

/// `fw6 log show|set|tail`.
async fn log(session: &Session, action: LogAction, out: Out) -> Result<(), Failure> {
    match action {
        LogAction::Show => {
            let s = session.manager().await?.log_settings().await?;
            out.emit(&json!(s), || {
                let on = |b: bool| if b { "on" } else { "off" };
                format!(
                    "dropped packets: {}\nconnections: {}\npath: {}\nmax size: {} KiB",
                    on(s.log_dropped_packets),
                    on(s.log_connections),
                    s.logfile_path,
                    s.logfile_maximum_size.kib()
                )
            });
        }
        LogAction::Tail(t) => {
            let path = if let Some(path) = t.file {
                path
            } else {
                let settings = session.manager().await?.log_settings().await?;
                let path = std::path::PathBuf::from(&settings.logfile_path);
                if !path.exists() {
                    return Err(super::tail::no_log_yet(&settings).into());
                }
                path
            };
            let mode = super::tail::Mode {
                lines: t.lines,
                follow: t.follow,
                raw: t.raw,
            };
            super::tail::tail(&path, mode, out).await?;
        }
        LogAction::Set(set) => {
            let mutations = log_mutations(&set)?;
            let n = session.manager().await?.apply(&mutations).await?;
            out.emit(&json!({ "changes": n }), || {
                format!("{n} setting(s) changed")
            });
        }
    }
    Ok(())
}

/// The mutations of `fw6 log set`, validated locally so a bad size is refused before any call.
pub fn log_mutations(set: &LogSet) -> Result<Vec<Mutation>, Failure> {
    let mut m = Vec::new();
    if let Some(v) = set.dropped {
        m.push(Mutation::SetLogDroppedPackets {
            enabled: v.enabled(),
        });
    }
    if let Some(v) = set.connections {
        m.push(Mutation::SetLogConnections {
            enabled: v.enabled(),
        });
    }
    if let Some(p) = &set.path {
        m.push(Mutation::SetLogfilePath { path: p.clone() });
    }
    if let Some(kib) = set.max_size {
        m.push(Mutation::SetLogfileMaximumSize {
            kib: LogfileMaximumSize::try_from(kib)?,
        });
    }
    Ok(m)
}

async fn port(session: &Session, action: PortAction, out: Out) -> Result<(), Failure> {
    match action {
        PortAction::Open(a) => {
            let args = PairArgs {
                conn: Some(&a.at.at.conn),
                pair: &a.at.at.pair,
                name: &a.at.name,
                absent: a.at.absent,
                options: lease_for(a.lease.duration.as_deref())?,
            };
            change::pair_command(session, Op::OpenPort, args, out).await?;
        }
        PortAction::Close(a) => {
            let args = PairArgs {
                conn: Some(&a.conn),
                pair: &a.pair,
                name: "",
                absent: false,
                options: fw6::OpenOptions::default(),
            };
            change::pair_command(session, Op::ClosePort, args, out).await?;
        }
        PortAction::Check(a) => {
            let key = single(&a.pair)?;
            let open = session.connection(&a.conn).await?.is_port_open(key).await?;
            let conn = a.conn;
            out.emit(&pair_json(&conn, key, "open", open), || {
                format!(
                    "{conn}: {key} is {}open on this connection",
                    if open { "" } else { "not " }
                )
            });
        }
        PortAction::List(c) => {
            let Some(conn) = c.conn else {
                return show::every_connection(session, show::Which::Open, c.expand.expand, out)
                    .await;
            };
            let connection = session.connection(&conn).await?;
            let list = connection.open_ports().await?;
            let list = with_leases(
                session,
                Some(connection.interface().await?),
                list.as_slice(),
            )
            .await?;
            let list = list.as_slice();
            let json = output::OpenList {
                connection: &conn,
                open: list,
            };
            out.emit(&json, || {
                output::listing(list, &format!("{conn}: no open pairs"), c.expand.expand)
            });
        }
    }
    Ok(())
}

async fn global(session: &Session, action: GlobalAction, out: Out) -> Result<(), Failure> {
    match action {
        GlobalAction::Open {
            pair: p,
            name: n,
            lease,
        } => {
            let args = PairArgs {
                conn: None,
                pair: &p.pair,
                name: &n,
                absent: false,
                options: lease_for(lease.duration.as_deref())?,
            };
            change::pair_command(session, Op::OpenGlobal, args, out).await?;
        }
        GlobalAction::Close(p) => {
            let args = PairArgs {
                conn: None,
                pair: &p.pair,
                name: "",
                absent: false,
                options: fw6::OpenOptions::default(),
            };
            change::pair_command(session, Op::CloseGlobal, args, out).await?;
        }
        GlobalAction::Check(p) => {
            let key = single(&p.pair)?;
            let open = session.manager().await?.is_port_globally_open(key).await?;
            out.emit(
                &json!({ "port": key.port, "protocol": key.protocol, "open": open }),
                || format!("{key} is {}globally open", if open { "" } else { "not " }),
            );
        }
        GlobalAction::List(e) => {
            let list = session.manager().await?.globally_open_ports().await?;
            let list = with_leases(session, None, list.as_slice()).await?;
            let list = list.as_slice();
            out.emit(&output::GlobalList { global: list }, || {
                output::listing(list, "no global open pairs", e.expand)
            });
        }
        GlobalAction::Ignore(a) => {
            let args = PairArgs {
                conn: Some(&a.at.conn),
                pair: &a.at.pair,
                name: &a.name,
                absent: a.absent,
                options: fw6::OpenOptions::default(),
            };
            change::pair_command(session, Op::Ignore, args, out).await?;
        }
        GlobalAction::Observe(a) => {
            let args = PairArgs {
                conn: Some(&a.conn),
                pair: &a.pair,
                name: "",
                absent: false,
                options: fw6::OpenOptions::default(),
            };
            change::pair_command(session, Op::Observe, args, out).await?;
        }
        GlobalAction::Ignored(c) => {
            let Some(conn) = c.conn else {
                return show::every_connection(session, show::Which::Ignored, c.expand.expand, out)
                    .await;
            };
            let list = session
                .connection(&conn)
                .await?
                .ignored_global_ports()
                .await?;
            let list = list.as_slice();
            let json = output::IgnoredList {
                connection: &conn,
                ignored: list,
            };
            out.emit(&json, || {
                output::listing(
                    list,
                    &format!("{conn}: no ignored global pairs"),
                    c.expand.expand,
                )
            });
        }
    }
    Ok(())
}
