//! The table, its two chains and their rules as nf_tables messages, and the full-rebuild batch.

use fw6_model::plan::{CHAIN, ChainName, ICMPV6_CHAIN, OUTPUT_CHAIN, SetName, TABLE, TablePlan};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook, HookNumber, InetHookNumber, NfTablesMessage, RuleAttribute,
    RuleMessage, TableAttribute, TableFlags, TableMessage,
};

use super::batch::{Batch, Label};
use super::expr::ACCEPT;
use super::{rules, sets};

/// `NFT_MSG_NEWTABLE` / `NFT_MSG_DELTABLE` attributes: the name (and no flags: in particular not
/// `owner`, which would delete the table when the daemon dies, docs/design.md §3).
fn table() -> TableMessage {
    TableMessage {
        attributes: vec![
            TableAttribute::Name(TABLE.to_owned()),
            TableAttribute::Flags(TableFlags::empty()),
        ],
    }
}

/// A table lookup or delete by name.
pub(crate) fn table_by_name() -> TableMessage {
    TableMessage {
        attributes: vec![TableAttribute::Name(TABLE.to_owned())],
    }
}

/// `type filter hook HOOK priority filter; policy accept;`
fn base_chain(name: &str, hook: InetHookNumber) -> ChainMessage {
    ChainMessage {
        attributes: vec![
            ChainAttribute::Table(TABLE.to_owned()),
            ChainAttribute::Name(name.to_owned()),
            ChainAttribute::Type("filter".to_owned()),
            ChainAttribute::Policy(ACCEPT),
            ChainAttribute::Hook(vec![
                Hook::Number(HookNumber::Inet(hook)),
                Hook::Priority(0),
            ]),
        ],
    }
}

/// A regular chain (no hook, no policy): entered only by a jump.
fn regular_chain(name: &str) -> ChainMessage {
    ChainMessage {
        attributes: vec![
            ChainAttribute::Table(TABLE.to_owned()),
            ChainAttribute::Name(name.to_owned()),
        ],
    }
}

/// The whole table in one batch: add the table (so the delete cannot fail), delete it with
/// everything in it, add it again and fill it (docs/design.md §3). The new ruleset replaces the old
/// one atomically; no packet ever sees a half-built table.
pub(crate) fn rebuild<'a>(batch: &mut Batch<'a>, plan: &'a TablePlan) {
    batch.push(NfTablesMessage::NewTable(table()), Label::AddTable);
    batch.push(
        NfTablesMessage::DeleteTable(table_by_name()),
        Label::DeleteTable,
    );
    batch.push(NfTablesMessage::NewTable(table()), Label::AddTable);
    // Every chain before any rule, so the jump finds its target (nft orders them the same).
    for (chain, _) in plan.chains() {
        let message = match chain {
            ChainName::Input => base_chain(CHAIN, InetHookNumber::LocalIn),
            ChainName::Icmpv6 => regular_chain(ICMPV6_CHAIN),
            ChainName::Output => base_chain(OUTPUT_CHAIN, InetHookNumber::LocalOut),
        };
        batch.push(NfTablesMessage::NewChain(message), Label::AddChain(chain));
    }
    for set in SetName::ALL {
        batch.push(
            NfTablesMessage::NewSet(sets::declaration(set)),
            Label::AddSet(set),
        );
        let elements = plan
            .sets
            .iter()
            .filter(|s| s.name == set)
            .flat_map(|s| &s.elements);
        batch.push_elements(true, set, Some(sets::set_id(set)), elements);
    }
    for (chain, chain_rules) in plan.chains() {
        for (index, rule) in chain_rules.iter().enumerate() {
            let message = RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(TABLE.to_owned()),
                    RuleAttribute::Chain(chain.as_str().to_owned()),
                    RuleAttribute::Expressions(rules::expressions(rule)),
                ],
            };
            batch.push(
                NfTablesMessage::NewRule(message),
                Label::AddRule(chain, index + 1, rule),
            );
        }
    }
}

/// Deletes the table whether or not it exists: add it (a no-op if present), then delete it.
pub(crate) fn delete(batch: &mut Batch<'_>) {
    batch.push(NfTablesMessage::NewTable(table()), Label::AddTable);
    batch.push(
        NfTablesMessage::DeleteTable(table_by_name()),
        Label::DeleteTable,
    );
}
