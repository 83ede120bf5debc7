//! The table, its two chains and their rules as nf_tables messages, and the full-rebuild batch.

use fw6_model::plan::{
    CHAIN, ChainName, ICMPV6_CHAIN, LEGACY_TABLE_FAMILY, OUTPUT_CHAIN, SetName, TABLE, TablePlan,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Hook, HookNumber, InetHookNumber, NfTablesMessage, RuleAttribute,
    RuleMessage, TableAttribute, TableFlags, TableMessage,
};

use super::batch::{Batch, Label};
use super::expr::ACCEPT;
use super::{rules, sets};

/// The family of fw6's table ([`TABLE`]), as the `NFPROTO_*` byte of its messages: `ip6`.
pub(crate) const FAMILY: u8 = 10;

/// How fw6's table is kept from other programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protection {
    /// No table flags: any program with `CAP_NET_ADMIN` may change or delete the table (a
    /// `flush ruleset` does); the daemon notices and rebuilds it (drift repair).
    #[default]
    DriftRepair,
    /// `owner` + `persist` (Linux 6.9 and later): only the owning socket may change or delete
    /// the table, `flush ruleset` leaves it alone, and when the owner's socket closes (the
    /// daemon exits or dies) the table stays, orphaned and still enforcing, until a new owner
    /// adopts it by adding it with the same flags. `owner` alone would delete the table with
    /// its owner, opening the host (docs/design.md §3): never used without `persist`.
    OwnerPersist,
}

impl Protection {
    /// The table flags that carry it.
    pub(crate) fn flags(self) -> TableFlags {
        match self {
            Self::DriftRepair => TableFlags::empty(),
            Self::OwnerPersist => TableFlags::Owner | TableFlags::Persisent,
        }
    }
}

/// `NFT_MSG_NEWTABLE` attributes: the name and `flags`. Adding a table that exists is a no-op
/// only if `owner` and `persist` match the table's (or adopt an orphaned table): the kernel
/// refuses a change of either with `EOPNOTSUPP`.
fn table(flags: TableFlags) -> TableMessage {
    TableMessage {
        attributes: vec![
            TableAttribute::Name(TABLE.to_owned()),
            TableAttribute::Flags(flags),
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

/// The whole table in one batch: add the table (so the delete cannot fail; with the flags the
/// table is believed to have, `existing`), delete it with everything in it, add it again with
/// `wanted`'s flags and fill it (docs/design.md §3). The new ruleset replaces the old one atomically;
/// no packet ever sees a half-built table. With `legacy`, the same transaction deletes an earlier
/// release's `ip6 fw6` (which must exist, or the kernel refuses the batch): the host goes from
/// the old table to the new one with no instant without either and none with both.
pub(crate) fn rebuild<'a>(
    batch: &mut Batch<'a>,
    plan: &'a TablePlan,
    existing: Protection,
    wanted: Protection,
    legacy: bool,
) {
    if legacy {
        batch.push_in(
            LEGACY_TABLE_FAMILY,
            NfTablesMessage::DeleteTable(table_by_name()),
            Label::DeleteLegacyTable(LEGACY_TABLE_FAMILY),
        );
    }
    batch.push(
        NfTablesMessage::NewTable(table(existing.flags())),
        Label::AddTable,
    );
    batch.push(
        NfTablesMessage::DeleteTable(table_by_name()),
        Label::DeleteTable,
    );
    batch.push(
        NfTablesMessage::NewTable(table(wanted.flags())),
        Label::AddTable,
    );
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
        let planned = plan.sets.iter().filter(|s| s.name == set);
        let now = super::now_millis();
        let elements = planned
            .clone()
            .flat_map(|s| &s.elements)
            .map(|e| (e, None))
            .chain(
                planned
                    .flat_map(|s| &s.expiring)
                    .map(|(e, at)| (e, Some(super::timeout(*at, now)))),
            );
        batch.push_timed(true, set, Some(sets::set_id(set)), elements);
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

/// Deletes the table whether or not it exists: add it (a no-op if present with `existing`'s
/// flags), then delete it.
pub(crate) fn delete(batch: &mut Batch<'_>, existing: Protection) {
    batch.push(
        NfTablesMessage::NewTable(table(existing.flags())),
        Label::AddTable,
    );
    batch.push(
        NfTablesMessage::DeleteTable(table_by_name()),
        Label::DeleteTable,
    );
}
