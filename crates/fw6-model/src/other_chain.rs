//! The other input filters of a host: base chains of tables that are not fw6's on the hooks an
//! inbound packet passes (prerouting, input, ingress). A packet is delivered only if every base
//! chain on its path accepts it, so a port fw6 opens may still be blocked by another table
//! (firewalld, ufw, Docker's iptables-nft rules, a hand-written `inet filter`), and no other
//! table can open a port fw6 closes. fw6 reads these chains (docs/install.md, "Next to other
//! firewalls") and never changes them; it does not evaluate their rules either, so what it says
//! about them is what *may* happen.

use serde::Serialize;

/// One base chain of another table, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherChain {
    /// The table's family as nft writes it: `ip`, `ip6`, `inet`, `netdev`.
    pub family: String,
    /// The table's name.
    pub table: String,
    /// The chain's name.
    pub chain: String,
    /// The chain type: `filter`, `nat`, `route`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The hook: `prerouting`, `input`, `ingress`.
    pub hook: String,
    /// The priority (lower runs first; fw6's input chain is at 0, `filter`).
    pub priority: i32,
    /// The policy: `accept` or `drop`.
    pub policy: String,
    /// Rules in the chain.
    pub rules: u32,
    /// The devices an `ingress` chain is bound to, comma-separated; empty for the other hooks.
    pub device: String,
}

impl OtherChain {
    /// Whether the chain could drop a packet: its policy is drop, or it has rules (any of which
    /// may drop, reject or redirect; fw6 does not evaluate them).
    pub fn may_drop(&self) -> bool {
        self.policy == "drop" || self.rules > 0
    }

    /// Whether the chain sees packets arriving on `interface` (a device-bound ingress chain
    /// sees only its device's).
    pub fn sees_interface(&self, interface: &str) -> bool {
        self.device.is_empty() || self.device.split(',').any(|d| d == interface)
    }

    /// The chain in a few words: `input, policy drop, 3 rules`.
    pub fn describe(&self) -> String {
        let rules = match self.rules {
            1 => "1 rule".to_owned(),
            n => format!("{n} rules"),
        };
        format!("{}, policy {}, {rules}", self.chain, self.policy)
    }
}

/// What `fw6 explain` adds for a packet arriving on `interface`: one sentence per other
/// table with a chain that could drop it, in the order the chains are listed.
pub fn may_block(chains: &[OtherChain], interface: &str) -> Vec<String> {
    let mut tables: Vec<(String, Vec<&OtherChain>)> = Vec::new();
    for chain in chains
        .iter()
        .filter(|c| c.sees_interface(interface) && c.may_drop())
    {
        let name = format!("{} {}", chain.family, chain.table);
        match tables.iter_mut().find(|(t, _)| *t == name) {
            Some((_, list)) => list.push(chain),
            None => tables.push((name, vec![chain])),
        }
    }
    tables
        .into_iter()
        .map(|(table, list)| {
            let chains: Vec<String> = list.iter().map(|c| c.describe()).collect();
            format!(
                "also filtered by table {table} (chain {}): this port may still be blocked there",
                chains.join("; chain ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(family: &str, table: &str, policy: &str, rules: u32) -> OtherChain {
        OtherChain {
            family: family.into(),
            table: table.into(),
            chain: "input".into(),
            kind: "filter".into(),
            hook: "input".into(),
            priority: 0,
            policy: policy.into(),
            rules,
            device: String::new(),
        }
    }

    #[test]
    fn only_chains_that_could_drop_a_packet_are_named() {
        let chains = [
            chain("inet", "filter", "drop", 0),
            chain("ip", "filter", "drop", 4),
            chain("ip6", "idle", "accept", 0),
            chain("inet", "firewalld", "accept", 12),
        ];
        assert_eq!(
            may_block(&chains, "eth0"),
            [
                "also filtered by table inet filter (chain input, policy drop, 0 rules): this port may still be blocked there",
                "also filtered by table ip filter (chain input, policy drop, 4 rules): this port may still be blocked there",
                "also filtered by table inet firewalld (chain input, policy accept, 12 rules): this port may still be blocked there",
            ]
        );
    }

    #[test]
    fn chains_of_one_table_share_a_sentence_and_ingress_is_per_device() {
        let mut pre = chain("inet", "fw", "accept", 1);
        pre.chain = "pre".into();
        let mut other_device = chain("netdev", "edge", "drop", 0);
        other_device.device = "eth1".into();
        let chains = [chain("inet", "fw", "drop", 0), pre, other_device];
        assert_eq!(
            may_block(&chains, "eth0"),
            [
                "also filtered by table inet fw (chain input, policy drop, 0 rules; chain pre, policy accept, 1 rule): this port may still be blocked there"
            ]
        );
        assert_eq!(may_block(&chains, "eth1").len(), 2);
    }
}
