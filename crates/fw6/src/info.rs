//! Plain data the client returns besides the model's own types: a connection's row, an
//! explanation of a verdict, and the daemon's status. All serialise to the JSON the CLI prints
//! (docs/cli.md), so the library and `fw6 --json` describe things the same way.

use std::collections::HashMap;

use fw6_model::{ConnectionId, Decision, IfName, OtherChain, Reason};
use serde::Serialize;
use zbus::OwnedVariant;

use crate::Error;
use crate::wire::{self, WireConnection};

/// One row of `EnumerateConnections`: a connection as the manager sees it at the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    /// The braced upper-case GUID (a UUIDv5 of the interface name).
    pub id: ConnectionId,
    /// The interface alias if set, else the interface name.
    pub name: String,
    /// The kernel interface name: the key of the connection's configuration.
    pub interface: IfName,
    /// The interface index; 0 for a configured connection whose interface is absent.
    pub index: u32,
    /// Whether unsolicited inbound traffic is filtered.
    pub firewalled: bool,
    /// Whether the interface exists now.
    pub present: bool,
    /// The connection's D-Bus object path.
    pub path: String,
}

impl ConnectionInfo {
    /// A row from the wire.
    pub(crate) fn from_wire(raw: WireConnection) -> Result<Self, Error> {
        let (id, name, interface, index, firewalled, present, path) = raw;
        Ok(Self {
            id: wire::connection_id(&id)?,
            name,
            interface: wire::if_name(interface)?,
            index,
            firewalled,
            present,
            path: path.as_str().to_owned(),
        })
    }
}

/// The answer of `Explain`: whether an unsolicited inbound packet to a pair on a connection
/// passes, and why (docs/icf-api.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Whether the packet passes.
    pub allowed: bool,
    /// The rule that decided, as a stable token (`globally-open`, …).
    #[serde(serialize_with = "serialize_reason")]
    pub reason: Reason,
    /// The daemon's sentence for a human.
    pub sentence: String,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
fn serialize_reason<S: serde::Serializer>(reason: &Reason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(reason.as_str())
}

impl Explanation {
    /// From the `(bss)` reply.
    pub(crate) fn from_wire(raw: (bool, String, String)) -> Result<Self, Error> {
        let (decision, sentence) = wire::explanation(raw)?;
        Ok(Self {
            allowed: decision.allowed,
            reason: decision.reason,
            sentence,
        })
    }

    /// The verdict as the model's type.
    pub fn decision(&self) -> Decision {
        Decision::new(self.reason)
    }
}

/// Whether the kernel's table matches the daemon's intent (the `table` status entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableState {
    /// The table is as the daemon last wrote it.
    InSync,
    /// Someone else changed the ruleset; the daemon repairs drift.
    Changed,
    /// The table is missing from the kernel.
    Missing,
    /// A state this client does not know (a newer daemon).
    #[serde(untagged)]
    Other(String),
}

impl TableState {
    fn parse(s: &str) -> Self {
        match s {
            "in-sync" => Self::InSync,
            "changed" => Self::Changed,
            "missing" => Self::Missing,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The daemon's `Status()`: is it in sync with the kernel, and how much is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The fw6d version.
    pub version: String,
    /// The ruleset generation after the daemon's last commit.
    pub generation: u32,
    /// Whether the kernel table matches.
    pub table: TableState,
    /// Drift repairs since the daemon started.
    pub repairs: u32,
    /// Known connections (present or configured).
    pub connections: u32,
    /// Globally open pairs.
    pub global_open: u32,
    /// Pairs open on connections, summed.
    pub open: u32,
    /// Ignored global pairs, summed.
    pub ignored: u32,
    /// Firewall log events lost since the daemon started (queue full, kernel buffer full, or
    /// the file unwritable); see docs/logging.md.
    pub log_lost: u64,
    /// Firewall log events the kernel's rate limits held back since the daemon started
    /// (`log_suppressed`); `None` from a daemon that does not report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_suppressed: Option<u64>,
    /// How the kernel table is kept from other programs (`table_protection`: `owner+persist`
    /// or `drift-repair`); `None` from a daemon that does not report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_protection: Option<String>,
    /// The base chains of other tables on the inbound hooks (`other_chains`): a packet fw6
    /// lets in must pass them too. fw6 reads them and never changes them. Empty from a daemon
    /// that does not report them.
    pub other_chains: Vec<OtherChain>,
    /// Why fw6d's last read of the other tables failed (`other_chains_error`); the chains are
    /// then those of the read before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_chains_error: Option<String>,
    /// The IP families the kernel table filters (`families`: `["ipv6", "ipv4"]` or
    /// `["ipv6"]`); `None` from a daemon before dual stack, which filtered IPv6 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<String>>,
    /// The change waiting for `Confirm` (`pending`), if any: while it waits, fw6d refuses
    /// every other change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::PendingChange>,
}

impl Status {
    /// Whether IPv4 is filtered: `"ipv4"` among the families (false for a daemon that does not
    /// report them: it predates dual stack).
    pub fn filters_ipv4(&self) -> bool {
        self.families
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "ipv4"))
    }

    /// From the `a{sv}` reply. Every documented key is required; unknown keys are ignored so a
    /// newer daemon can add some.
    pub(crate) fn from_wire(raw: &HashMap<String, OwnedVariant>) -> Result<Self, Error> {
        let get = |key: &str| {
            raw.get(key)
                .ok_or_else(|| Error::protocol(format!("Status() lacks {key:?}")))
        };
        let num = |key: &str| {
            get(key).and_then(|v| {
                u32::try_from(v).map_err(|e| Error::protocol(format!("Status() {key:?}: {e}")))
            })
        };
        let text = |key: &str| {
            get(key).and_then(|v| {
                <&str>::try_from(v)
                    .map(str::to_owned)
                    .map_err(|e| Error::protocol(format!("Status() {key:?}: {e}")))
            })
        };
        Ok(Self {
            version: text("version")?,
            generation: num("generation")?,
            table: TableState::parse(&text("table")?),
            repairs: num("repairs")?,
            connections: num("connections")?,
            global_open: num("global_open")?,
            open: num("open")?,
            ignored: num("ignored")?,
            log_lost: get("log_lost").and_then(|v| {
                u64::try_from(v).map_err(|e| Error::protocol(format!("Status() \"log_lost\": {e}")))
            })?,
            log_suppressed: raw
                .get("log_suppressed")
                .map(|v| {
                    u64::try_from(v)
                        .map_err(|e| Error::protocol(format!("Status() \"log_suppressed\": {e}")))
                })
                .transpose()?,
            table_protection: raw
                .get("table_protection")
                .map(|v| {
                    <&str>::try_from(v)
                        .map(str::to_owned)
                        .map_err(|e| Error::protocol(format!("Status() \"table_protection\": {e}")))
                })
                .transpose()?,
            other_chains: raw
                .get(wire::STATUS_OTHER_CHAINS)
                .map(|v| {
                    <Vec<wire::WireOtherChain>>::try_from(v.try_clone()?)
                        .map(|list| list.into_iter().map(wire::other_chain).collect())
                        .map_err(|e| Error::protocol(format!("Status() \"other_chains\": {e}")))
                })
                .transpose()?
                .unwrap_or_default(),
            other_chains_error: raw
                .get("other_chains_error")
                .map(|v| {
                    <&str>::try_from(v).map(str::to_owned).map_err(|e| {
                        Error::protocol(format!("Status() \"other_chains_error\": {e}"))
                    })
                })
                .transpose()?,
            families: raw
                .get("families")
                .map(|v| {
                    v.try_clone()
                        .map_err(|e| e.to_string())
                        .and_then(|v| Vec::<String>::try_from(v).map_err(|e| e.to_string()))
                        .map_err(|e| Error::protocol(format!("Status() \"families\": {e}")))
                })
                .transpose()?,
            pending: raw
                .get(wire::STATUS_PENDING)
                .map(|v| {
                    v.try_clone()
                        .map_err(|e| e.to_string())
                        .and_then(|v| wire::WirePending::try_from(v).map_err(|e| e.to_string()))
                        .map(crate::PendingChange::from_wire)
                        .map_err(|e| Error::protocol(format!("Status() \"pending\": {e}")))
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use zbus::Variant;

    use super::*;

    fn variant<'a>(v: impl Into<Variant<'a>>) -> OwnedVariant {
        OwnedVariant::try_from(&v.into()).unwrap()
    }

    #[test]
    fn status_parses_and_requires_every_key() {
        let mut raw = HashMap::new();
        raw.insert("version".to_owned(), variant("0.1.0"));
        raw.insert("table".to_owned(), variant("in-sync"));
        for key in [
            "generation",
            "repairs",
            "connections",
            "global_open",
            "open",
            "ignored",
        ] {
            raw.insert(key.to_owned(), variant(7_u32));
        }
        raw.insert("log_lost".to_owned(), variant(3_u64));
        raw.insert("future".to_owned(), variant(true));
        let status = Status::from_wire(&raw).unwrap();
        assert_eq!(status.table, TableState::InSync);
        assert_eq!(status.generation, 7);
        assert_eq!(status.log_lost, 3);
        assert_eq!(status.log_suppressed, None);
        assert_eq!(status.families, None);
        assert!(!status.filters_ipv4());
        raw.insert("families".to_owned(), variant(vec!["ipv6", "ipv4"]));
        let dual = Status::from_wire(&raw).unwrap();
        assert_eq!(
            dual.families.as_deref(),
            Some(&["ipv6".to_owned(), "ipv4".to_owned()][..])
        );
        assert!(dual.filters_ipv4());
        raw.remove("families");
        raw.insert("log_suppressed".to_owned(), variant(9_u64));
        assert_eq!(Status::from_wire(&raw).unwrap().log_suppressed, Some(9));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["table"], "in-sync");
        raw.insert("table".to_owned(), variant("weird"));
        assert_eq!(
            Status::from_wire(&raw).unwrap().table,
            TableState::Other("weird".into())
        );
        raw.insert("repairs".to_owned(), variant("not a number"));
        assert!(Status::from_wire(&raw).is_err());
        raw.remove("repairs");
        assert!(
            Status::from_wire(&raw)
                .unwrap_err()
                .message()
                .contains("repairs")
        );
    }

    #[test]
    fn explanation_json_uses_the_token() {
        let e = Explanation::from_wire((false, "not-open".into(), "closed".into())).unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"allowed":false,"reason":"not-open","sentence":"closed"}"#
        );
    }
}
