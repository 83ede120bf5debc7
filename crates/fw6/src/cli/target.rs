//! Which connection a change is for. Changes that configure (open, ignore, firewall on/off)
//! accept an interface that is not present, such as `wg0` before the tunnel is up: fw6d's
//! `Apply` takes any valid interface name, while its per-connection members only know present
//! or configured ones, so the CLI sends every change as an `Apply`. A new name one or two edits
//! away from a present interface (`lan1` next to `lan0`) is far more likely a typo than a plan,
//! and is refused unless `--absent` says otherwise. Two edits count only for names of five
//! characters or more: among short names two edits is a different name (`wg0` and `wan0`).

use fw6::{ConnectionId, ErrorKind, IfName};

use super::exit::Failure;
use super::session::Session;

/// The connection of a change, by interface name.
#[derive(Debug, Clone)]
pub struct Target {
    /// The interface name, the key of the connection's configuration.
    pub name: IfName,
    /// Whether the interface exists now.
    pub present: bool,
}

impl Target {
    /// What to tell the user about an interface that is not present.
    pub fn note(&self) -> Option<String> {
        (!self.present).then(|| {
            format!(
                "{} is not present: the change applies when it appears",
                self.name
            )
        })
    }
}

/// A connection fw6d already knows (present or configured), by name or Id: for changes that
/// only undo something (close, observe), where a new name would configure nothing useful.
pub async fn known(session: &Session, conn: &str) -> Result<Target, Failure> {
    let c = session.connection(conn).await?;
    Ok(Target {
        name: c.interface().await?,
        present: c.present().await?,
    })
}

/// Any connection: a known one, or a new interface name unless it looks like a typo of a
/// present interface and `absent` was not given.
pub async fn any(session: &Session, conn: &str, absent: bool) -> Result<Target, Failure> {
    if conn.starts_with('{') || conn.parse::<ConnectionId>().is_ok() {
        return known(session, conn).await;
    }
    let name = IfName::try_from(conn)?;
    let rows = session.manager().await?.connections().await?;
    if let Some(row) = rows.iter().find(|r| r.interface == name) {
        return Ok(Target {
            name,
            present: row.present,
        });
    }
    if !absent
        && let Some((_, near)) = rows
            .iter()
            .filter(|r| r.present)
            .map(|r| (edits(conn, r.interface.as_str()), &r.interface))
            .filter(|(d, _)| *d >= 1 && *d <= typo_edits(conn))
            .min_by_key(|(d, _)| *d)
    {
        return Err(Failure::Api(fw6::Error::new(
            ErrorKind::InvalidArg,
            format!(
                "there is no interface \"{name}\": did you mean {near}? pass --absent to \
                 configure an interface that is not present"
            ),
        )));
    }
    Ok(Target {
        name,
        present: false,
    })
}

/// Edits between two names: insertions, deletions, substitutions and swaps of neighbours.
fn edits(a: &str, b: &str) -> usize {
    strsim::damerau_levenshtein(a, b)
}

/// The most edits from a present interface at which a new name is taken for a typo.
fn typo_edits(name: &str) -> usize {
    if name.chars().count() >= 5 { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_near_but_not_too_near_short_names() {
        let typo = |new: &str, present: &str| {
            let d = edits(new, present);
            d >= 1 && d <= typo_edits(new)
        };
        assert!(typo("lan1", "lan0"));
        assert!(typo("lna0", "lan0"), "a swap is one edit");
        assert!(typo("enp0s31f7", "enp0s31f6"));
        assert!(typo("enp0s3f6", "enp0s31f6"));
        assert!(typo("eht00", "eth0"));
        assert!(
            !typo("wg0", "wan0"),
            "two edits apart, but short: another name"
        );
        assert!(!typo("wg0", "eth0"));
        assert!(!typo("lan0", "lan0"));
    }
}
