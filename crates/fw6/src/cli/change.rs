//! The commands that change pairs or switches: every one is sent as a single atomic `Apply`,
//! whether it stands for one pair, a range, or a service's two protocols, so a command takes
//! effect whole or not at all (and an absent interface can be configured, see `target`).

use fw6::range::fold;
use fw6::services::Services;
use fw6::spec::{self, Bare, Pairs};
use fw6::{EntryName, IfName, Mutation, PortEntry, PortKey};
use serde_json::{Value, json};

use super::exit::Failure;
use super::output::Out;
use super::session::Session;
use super::target::{self, Target};

/// A command that changes pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `fw6 port open`.
    OpenPort,
    /// `fw6 port close`.
    ClosePort,
    /// `fw6 global open`.
    OpenGlobal,
    /// `fw6 global close`.
    CloseGlobal,
    /// `fw6 global ignore`.
    Ignore,
    /// `fw6 global observe`.
    Observe,
}

impl Op {
    /// The mutation for one pair; `conn` is set for the connection ops.
    fn mutation(self, conn: Option<&IfName>, key: PortKey, name: &EntryName) -> Mutation {
        let connection = || conn.cloned().expect("a connection op has a connection");
        let name = name.clone();
        match self {
            Self::OpenPort => Mutation::OpenPort {
                connection: connection(),
                key,
                name,
                lease: None,
            },
            Self::ClosePort => Mutation::ClosePort {
                connection: connection(),
                key,
            },
            Self::OpenGlobal => Mutation::OpenGlobalPort {
                key,
                name,
                lease: None,
            },
            Self::CloseGlobal => Mutation::CloseGlobalPort { key },
            Self::Ignore => Mutation::IgnoreGlobalPort {
                connection: connection(),
                key,
                name,
            },
            Self::Observe => Mutation::ObserveGlobalPort {
                connection: connection(),
                key,
            },
        }
    }

    /// The answer's field and value.
    fn answer(self) -> (&'static str, bool) {
        match self {
            Self::OpenPort | Self::OpenGlobal => ("open", true),
            Self::ClosePort | Self::CloseGlobal => ("open", false),
            Self::Ignore => ("ignored", true),
            Self::Observe => ("ignored", false),
        }
    }

    /// The sentence for people about `what` on `conn`.
    fn sentence(self, conn: &str, what: &str) -> String {
        match self {
            Self::OpenPort => format!("{conn}: {what} open"),
            Self::ClosePort => format!("{conn}: {what} closed"),
            Self::OpenGlobal => format!("{what} globally open"),
            Self::CloseGlobal => format!("{what} globally closed"),
            Self::Ignore => format!("{conn}: global {what} ignored"),
            Self::Observe => format!("{conn}: global {what} observed"),
        }
    }
}

/// The arguments of a pair command.
#[derive(Debug, Clone, Copy)]
pub struct PairArgs<'a> {
    /// CONN as typed (connection ops only).
    pub conn: Option<&'a str>,
    /// PORT/PROTO as typed.
    pub pair: &'a str,
    /// `--name` (empty when not given, and for closing ops).
    pub name: &'a str,
    /// `--absent`.
    pub absent: bool,
    /// `--for` (openings only): how long the opening lasts.
    pub options: fw6::OpenOptions,
}

/// Runs a pair command: arguments validated first, then the connection resolved (a new one
/// only for opening ops), then one `Apply` for every pair the argument stands for.
pub async fn pair_command(
    session: &Session,
    op: Op,
    args: PairArgs<'_>,
    out: Out,
) -> Result<(), Failure> {
    let p = pairs(args.pair)?;
    let name = entry_name(args.name, &p)?;
    let target = match (args.conn, op) {
        (None, _) => None,
        (Some(conn), Op::OpenPort | Op::Ignore) => {
            Some(target::any(session, conn, args.absent).await?)
        }
        (Some(conn), _) => Some(target::known(session, conn).await?),
    };
    let conn_name = target.as_ref().map(|t| &t.name);
    let mutations: Vec<Mutation> = p
        .keys
        .iter()
        .map(|key| op.mutation(conn_name, *key, &name))
        .collect();
    let (field, value) = op.answer();
    let report = Report {
        connection: args.conn,
        target: target.as_ref(),
        keys: &p.keys,
        note: p.note.clone(),
        field,
        value,
    };
    let conn = args.conn.unwrap_or("");
    let lifetime = args.options.lifetime;
    apply_with(session, &mutations, args.options, report, out, |what| {
        let sentence = op.sentence(conn, what);
        match lifetime {
            Some(l) => format!(
                "{sentence} for {}",
                humantime::format_duration(std::time::Duration::from_secs(u64::from(l.seconds())))
            ),
            None => sentence,
        }
    })
    .await
}

/// The pairs of a change's argument (a bare port is refused: a change says its protocol).
pub fn pairs(arg: &str) -> Result<Pairs, Failure> {
    Ok(spec::resolve(arg, &Services::system(), Bare::Refused)?)
}

/// The pairs of a question's argument (a bare port stands for tcp and udp).
pub fn question_pairs(arg: &str) -> Result<Pairs, Failure> {
    Ok(spec::resolve(
        arg,
        &Services::system(),
        Bare::BothProtocols,
    )?)
}

/// The entry name: `--name`, else the service name typed, else empty.
pub fn entry_name(given: &str, pairs: &Pairs) -> Result<EntryName, Failure> {
    let name = match (given, &pairs.service) {
        ("", Some(service)) => service.as_str(),
        _ => given,
    };
    Ok(EntryName::try_from(name)?)
}

/// `27015-27030/udp`, `53/tcp, 53/udp`: the pairs as the user would write them.
pub fn describe(keys: &[PortKey]) -> String {
    let unnamed = EntryName::default();
    let entries: Vec<PortEntry> = keys
        .iter()
        .map(|k| PortEntry::new(*k, unnamed.clone()))
        .collect();
    let runs: Vec<String> = fold(&entries).iter().map(ToString::to_string).collect();
    let text = runs.join(", ");
    if keys.len() > 1 && runs.len() == 1 {
        format!("{text} ({} pairs)", keys.len())
    } else {
        text
    }
}

/// What one change command did, for its report.
pub struct Report<'a> {
    /// The connection as typed, for connection changes.
    pub connection: Option<&'a str>,
    /// The connection resolved, for connection changes.
    pub target: Option<&'a Target>,
    /// The pairs changed (none for a firewall switch).
    pub keys: &'a [PortKey],
    /// A note from resolving the pairs (a service's two protocols).
    pub note: Option<String>,
    /// The answer's field and value: `open`/`ignored`/`firewalled`, true or false.
    pub field: &'static str,
    /// The field's value.
    pub value: bool,
}

/// Sends `mutations` as one `Apply` and prints the report: the JSON keeps the single-pair
/// fields (`connection`, `port`, `protocol`, the field) and adds `count`, `changes`, `present`,
/// `ranges` and `notes`; the text is `text(pairs described)` after the notes.
pub async fn apply(
    session: &Session,
    mutations: &[Mutation],
    report: Report<'_>,
    out: Out,
    text: impl FnOnce(&str) -> String,
) -> Result<(), Failure> {
    apply_with(
        session,
        mutations,
        fw6::OpenOptions::default(),
        report,
        out,
        text,
    )
    .await
}

/// [`apply`] with `options` on every opening of the batch (`--for`).
pub async fn apply_with(
    session: &Session,
    mutations: &[Mutation],
    options: fw6::OpenOptions,
    report: Report<'_>,
    out: Out,
    text: impl FnOnce(&str) -> String,
) -> Result<(), Failure> {
    let manager = session.manager().await?;
    let changes = if options.is_plain() {
        manager.apply(mutations).await?
    } else {
        manager.apply_with_options(mutations, options).await?
    };
    let notes: Vec<String> = report
        .note
        .into_iter()
        .chain(report.target.and_then(Target::note))
        .collect();
    let mut v = json!({});
    if let Some(conn) = report.connection {
        v["connection"] = json!(conn);
    }
    if let Some(first) = report.keys.first() {
        v["port"] = json!(first.port);
        v["protocol"] = json!(first.protocol);
        v["count"] = json!(report.keys.len());
    }
    v[report.field] = json!(report.value);
    v["changes"] = json!(changes);
    if let Some(t) = report.target {
        v["present"] = json!(t.present);
    }
    if report.keys.len() > 1 {
        v["ranges"] = ranges_json(report.keys);
    }
    if !notes.is_empty() {
        v["notes"] = json!(notes);
    }
    let described = describe(report.keys);
    out.emit(&v, || {
        let mut lines = notes.clone();
        lines.push(text(&described));
        lines.join("\n")
    });
    Ok(())
}

/// `[{"port": first, "last_port": last, "protocol": p}]`: the pairs folded into runs.
pub fn ranges_json(keys: &[PortKey]) -> Value {
    let unnamed = EntryName::default();
    let entries: Vec<PortEntry> = keys
        .iter()
        .map(|k| PortEntry::new(*k, unnamed.clone()))
        .collect();
    Value::Array(
        fold(&entries)
            .iter()
            .map(|r| json!({"port": r.first, "last_port": r.last, "protocol": r.protocol}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<PortKey> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn descriptions_fold_ranges() {
        assert_eq!(describe(&keys(&["22/tcp"])), "22/tcp");
        assert_eq!(describe(&keys(&["53/tcp", "53/udp"])), "53/tcp, 53/udp");
        assert_eq!(
            describe(&keys(&["10/udp", "11/udp", "12/udp"])),
            "10-12/udp (3 pairs)"
        );
        assert_eq!(
            ranges_json(&keys(&["10/udp", "11/udp"])),
            json!([{"port": 10, "last_port": 11, "protocol": "udp"}])
        );
    }
}
