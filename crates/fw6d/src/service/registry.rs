//! Which connections exist: present interfaces (from the link watcher) and configured ones whose
//! interface is absent. Maps ids and names to interface names and to D-Bus object paths.

use std::collections::BTreeMap;

use fw6_model::{ConnectionId, Error, IfName, State};
use zbus::OwnedObjectPath;

/// A present interface that counts as an IPv6 connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    /// Kernel interface index.
    pub index: u32,
    /// Interface alias, if set.
    pub alias: Option<String>,
}

/// One row of `EnumerateConnections`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    /// The interface name.
    pub interface: IfName,
    /// Index, 0 when absent.
    pub index: u32,
    /// Display name: alias or interface name.
    pub name: String,
    /// Whether the interface exists now.
    pub present: bool,
}

/// Present interfaces by name.
#[derive(Debug, Default)]
pub struct Registry {
    present: BTreeMap<IfName, Present>,
}

impl Registry {
    /// Records that `name` is present (or changed); true if it is new.
    pub fn insert(&mut self, name: IfName, present: Present) -> bool {
        self.present.insert(name, present).is_none()
    }

    /// Records that `name` went away; true if it was present.
    pub fn remove(&mut self, name: &IfName) -> bool {
        self.present.remove(name).is_some()
    }

    /// Removes every interface whose index is `index` (renames arrive as a new name on the
    /// same index); returns the names removed.
    pub fn remove_index(&mut self, index: u32) -> Vec<IfName> {
        let gone: Vec<IfName> = self
            .present
            .iter()
            .filter(|(_, p)| p.index == index)
            .map(|(n, _)| n.clone())
            .collect();
        for name in &gone {
            self.present.remove(name);
        }
        gone
    }

    /// Whether `name` is present.
    pub fn is_present(&self, name: &IfName) -> bool {
        self.present.contains_key(name)
    }

    /// Every connection: present ones by index, then configured absent ones by name.
    pub fn rows(&self, state: &State) -> Vec<ConnectionRow> {
        let mut rows: Vec<ConnectionRow> = self
            .present
            .iter()
            .map(|(name, p)| ConnectionRow {
                interface: name.clone(),
                index: p.index,
                name: p.alias.clone().unwrap_or_else(|| name.to_string()),
                present: true,
            })
            .collect();
        rows.sort_by_key(|r| r.index);
        rows.extend(
            state
                .connections()
                .filter(|(name, _)| !self.present.contains_key(*name))
                .map(|(name, _)| ConnectionRow {
                    interface: name.clone(),
                    index: 0,
                    name: name.to_string(),
                    present: false,
                }),
        );
        rows
    }

    /// The display name of a connection.
    pub fn display_name(&self, name: &IfName) -> String {
        self.present
            .get(name)
            .and_then(|p| p.alias.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// `GetConnection`: an id (any case, braces optional) or an interface name of a present
    /// or configured connection.
    pub fn find(&self, state: &State, id_or_name: &str) -> Result<IfName, Error> {
        let known = self.rows(state);
        if looks_like_id(id_or_name) {
            let id = id_or_name.parse::<ConnectionId>()?;
            return known
                .into_iter()
                .find(|r| ConnectionId::for_interface(&r.interface) == id)
                .map(|r| r.interface)
                .ok_or_else(|| {
                    Error::invalid_arg(format!(
                        "no connection has the id {id}: list them with `fw6 connections`"
                    ))
                });
        }
        let name = IfName::try_from(id_or_name)?;
        if known.iter().any(|r| r.interface == name) {
            Ok(name)
        } else {
            Err(Error::invalid_arg(format!(
                "there is no IPv6 connection \"{name}\": list them with `fw6 connections`, or \
                 configure an absent interface with `fw6 batch`"
            )))
        }
    }

    /// For members that accept any interface (configure before it exists): an id must be
    /// known, a name only valid.
    pub fn resolve_any(&self, state: &State, id_or_name: &str) -> Result<IfName, Error> {
        if looks_like_id(id_or_name) {
            self.find(state, id_or_name)
        } else {
            IfName::try_from(id_or_name)
        }
    }
}

/// Braces or the four hyphens of a GUID: an id (possibly malformed), never an interface name.
fn looks_like_id(s: &str) -> bool {
    s.starts_with('{') || (s.len() >= 32 && s.matches('-').count() == 4)
}

/// The object path of a connection (`fw6_model::wire::connection_path`).
pub fn connection_path(name: &IfName) -> OwnedObjectPath {
    OwnedObjectPath::try_from(fw6_model::wire::connection_path(name))
        .expect("escaped names are valid object paths")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IfName {
        IfName::try_from(s).unwrap()
    }

    #[test]
    fn paths_are_object_paths() {
        assert_eq!(
            connection_path(&n("veth-a.b_c")).as_str(),
            "/org/fw6/Firewall1/connection/veth_2da_2eb_5fc"
        );
    }

    #[test]
    fn finds_by_id_or_name_and_orders_rows() {
        let mut reg = Registry::default();
        reg.insert(
            n("wan0"),
            Present {
                index: 7,
                alias: Some("Uplink".into()),
            },
        );
        reg.insert(
            n("lan0"),
            Present {
                index: 3,
                alias: None,
            },
        );
        let mut state = State::default();
        state
            .apply(&fw6_model::Mutation::DisableFirewall {
                connection: n("gone0"),
            })
            .unwrap();
        let rows = reg.rows(&state);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["lan0", "Uplink", "gone0"]);
        let id = ConnectionId::for_interface(&n("wan0"))
            .to_string()
            .to_lowercase();
        assert_eq!(reg.find(&state, &id).unwrap(), n("wan0"));
        assert_eq!(reg.find(&state, "gone0").unwrap(), n("gone0"));
        assert!(reg.find(&state, "nope0").is_err());
        assert_eq!(reg.resolve_any(&state, "nope0").unwrap(), n("nope0"));
        assert!(
            reg.find(&state, &ConnectionId::for_interface(&n("x")).to_string())
                .is_err()
        );
    }
}
