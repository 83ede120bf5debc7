//! Read-only requests: the ruleset generation, whether our table exists, and a diagnostic dump.
//! fw6 never reads the ruleset to decide what to write (docs/design.md §3): these only detect drift
//! and describe the kernel's state to an administrator.

use std::fmt::Write as _;

use fw6_model::plan::{ChainName, LEGACY_TABLE_FAMILY, SetName, TABLE, TABLE_FAMILY, TableFamily};
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, ParseableParametrized as _,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, GenAttribute, GenMessage, NfTablesMessage, RuleAttribute,
    RuleMessage, SetAttribute, SetElementList, SetElementMessage, SetMessage,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};

use super::batch::proto_family;
use super::socket::Reply;
use super::{ENOENT, Error, Nft, table};
use crate::netlink::attributes;

/// How fw6's table stands in the kernel: what [`Nft::verify`] finds, and what fw6d's `Status`
/// reports (after a repair, the engine's view of the same three cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    /// Our table exists and no commit happened since ours (for `Status`: every outside change
    /// seen so far was repaired).
    InSync,
    /// Our table exists but the ruleset changed since our last commit (by anyone, in any
    /// table), or a repair failed: check and repair.
    Changed,
    /// Our table is gone.
    Missing,
}

impl TableState {
    /// The token `Status` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in-sync",
            Self::Changed => "changed",
            Self::Missing => "missing",
        }
    }
}

impl Nft {
    /// The current ruleset generation (`NFT_MSG_GETGEN`). Every commit by anyone bumps it.
    pub fn generation(&mut self) -> Result<u32, Error> {
        let what = "read the ruleset generation";
        let message = NfTablesMessage::GetGen(GenMessage { attributes: vec![] });
        let replies = self.request(message, NetfilterProtoFamily::Unspec, false, what)?;
        replies
            .iter()
            .find_map(parse_generation)
            .ok_or_else(|| Error::protocol(what, "no generation in the reply"))
    }

    /// Whether our table exists and the generation is the one our last commit produced.
    pub fn verify(&mut self) -> Result<TableState, Error> {
        let found = self.generation()?;
        if !self.table_exists()? {
            return Ok(TableState::Missing);
        }
        if self.last_generation == Some(found) {
            Ok(TableState::InSync)
        } else {
            Ok(TableState::Changed)
        }
    }

    /// Whether our table (`inet fw6`) exists.
    pub fn table_exists(&mut self) -> Result<bool, Error> {
        self.family_table_exists(TABLE_FAMILY)
    }

    /// Whether the table of an earlier release (`ip6 fw6`) exists: fw6d replaces it with
    /// ours in its first rebuild, so it exists only before that or if someone made it again.
    pub fn legacy_table_exists(&mut self) -> Result<bool, Error> {
        self.family_table_exists(LEGACY_TABLE_FAMILY)
    }

    fn family_table_exists(&mut self, family: TableFamily) -> Result<bool, Error> {
        let message = NfTablesMessage::GetTable(table::table_by_name());
        let what = format!("look up table {}", family.table());
        match self.request(message, proto_family(family), false, &what) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The table as the kernel holds it: each set with its key type and element count, and
    /// each chain with its rule count. For diagnostics only.
    pub fn dump(&mut self) -> Result<String, Error> {
        let generation = self.generation()?;
        if !self.table_exists()? {
            return Ok(format!(
                "table {}: absent (generation {generation})\n",
                TABLE_FAMILY.table()
            ));
        }
        let mut out = format!("table {} (generation {generation})\n", TABLE_FAMILY.table());
        let sets = self.dump_objects(
            &NfTablesMessage::GetSet(SetMessage {
                attributes: vec![SetAttribute::Table(TABLE.to_owned())],
            }),
            "list our sets",
        )?;
        for set in &sets {
            let NfTablesMessage::NewSet(set) = set else {
                continue;
            };
            let name = set.attributes.iter().find_map(|a| match a {
                SetAttribute::Name(n) => Some(n.clone()),
                _ => None,
            });
            let key_type = set.attributes.iter().find_map(|a| match a {
                SetAttribute::KeyType(t) => Some(*t),
                _ => None,
            });
            let name = name.unwrap_or_default();
            let count = self.count_elements(&name)?;
            let known = SetName::ALL.iter().any(|s| s.as_str() == name);
            let _ = writeln!(
                out,
                "\tset {name}: key type {:#x}, {count} elements{}",
                key_type.unwrap_or(0),
                if known { "" } else { " (not fw6's)" }
            );
        }
        let chains = self.dump_objects(
            &NfTablesMessage::GetChain(ChainMessage {
                attributes: vec![ChainAttribute::Table(TABLE.to_owned())],
            }),
            "list our chains",
        )?;
        for chain in &chains {
            let NfTablesMessage::NewChain(chain) = chain else {
                continue;
            };
            let name = chain.attributes.iter().find_map(|a| match a {
                ChainAttribute::Name(n) => Some(n.clone()),
                _ => None,
            });
            let name = name.unwrap_or_default();
            let rules = self.dump_objects(
                &NfTablesMessage::GetRule(RuleMessage {
                    attributes: vec![
                        RuleAttribute::Table(TABLE.to_owned()),
                        RuleAttribute::Chain(name.clone()),
                    ],
                }),
                "list our rules",
            )?;
            let known = ChainName::ALL.iter().any(|c| c.as_str() == name);
            let marker = if known { "" } else { " (not fw6's)" };
            let _ = writeln!(out, "\tchain {name}: {} rules{marker}", rules.len());
        }
        Ok(out)
    }

    /// What the rate limits of the log rules held back since our table was last loaded: the
    /// sum, over the input chain's rules with two counters (the log rules: one before the
    /// limit, one after it), of the first count minus the second. The counters restart at 0
    /// whenever the table is replaced.
    pub fn log_suppressed(&mut self) -> Result<u64, Error> {
        let message = NfTablesMessage::GetRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table(TABLE.to_owned()),
                RuleAttribute::Chain(ChainName::Input.as_str().to_owned()),
            ],
        });
        let rules = self.dump_raw(&message, "read the log rules' counters")?;
        Ok(rules
            .iter()
            .map(|r| match rule_counters(r).as_slice() {
                [offered, logged, ..] => offered.saturating_sub(*logged),
                _ => 0,
            })
            .sum())
    }

    fn count_elements(&mut self, set: &str) -> Result<usize, Error> {
        let message = NfTablesMessage::GetSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(TABLE.to_owned()),
                SetElementList::Set(set.to_owned()),
            ],
        });
        let parts = self.dump_raw(&message, "list set elements")?;
        Ok(parts.iter().map(count_listed_elements).sum())
    }

    /// A dump request, parsed.
    fn dump_objects(
        &mut self,
        message: &NfTablesMessage,
        what: &str,
    ) -> Result<Vec<NfTablesMessage>, Error> {
        self.dump_raw(message, what)?
            .iter()
            .map(|r| parse(r).map_err(|e| Error::protocol(what, e)))
            .collect()
    }

    /// A dump request's object messages, retried if the ruleset changed while it ran
    /// (`NLM_F_DUMP_INTR`).
    fn dump_raw(&mut self, message: &NfTablesMessage, what: &str) -> Result<Vec<Reply>, Error> {
        self.dump_raw_in(proto_family(TABLE_FAMILY), message, what)
    }

    /// [`Nft::dump_raw`] in another family (`Unspec`: every family).
    pub(crate) fn dump_raw_in(
        &mut self,
        family: NetfilterProtoFamily,
        message: &NfTablesMessage,
        what: &str,
    ) -> Result<Vec<Reply>, Error> {
        for _ in 0..3 {
            let replies = self.request(message.clone(), family, true, what)?;
            if replies.iter().any(|r| r.flags & NLM_F_DUMP_INTR != 0) {
                continue;
            }
            return Ok(replies.into_iter().filter(|r| !r.is_done()).collect());
        }
        Err(Error::protocol(
            what,
            "the ruleset kept changing during the dump",
        ))
    }

    /// Sends one request and reads its replies: up to `NLMSG_DONE` for a dump, else the one
    /// reply. A kernel error becomes [`Error::Kernel`] naming `what`.
    fn request(
        &mut self,
        message: NfTablesMessage,
        family: NetfilterProtoFamily,
        dump: bool,
        what: &str,
    ) -> Result<Vec<Reply>, Error> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut message = NetlinkMessage::from(NetfilterMessage::new(
            NetfilterHeader::new(family, 0, 0),
            message,
        ));
        message.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        message.header.sequence_number = seq;
        message.finalize();
        let mut buf = vec![0; message.buffer_len()];
        message.serialize(&mut buf);
        self.socket.send(&buf, what)?;
        let replies = self.socket.recv_until(what, |r| {
            r.seq == seq && (r.ack().is_some() || r.is_done() || !dump)
        })?;
        let replies: Vec<Reply> = replies.into_iter().filter(|r| r.seq == seq).collect();
        if let Some(ack) = replies.iter().find_map(Reply::ack).filter(|a| a.errno != 0) {
            return Err(Error::kernel(what.to_owned(), ack.errno, ack.message));
        }
        Ok(replies)
    }
}

/// The number of elements in an `NFT_MSG_NEWSETELEM` dump part, counted on the raw attributes:
/// the crate's parser formats the whole buffer for every element it reads, which makes a large
/// set quadratic to parse.
fn count_listed_elements(reply: &Reply) -> usize {
    /// `NFTA_SET_ELEM_LIST_ELEMENTS`.
    const ELEMENTS: u16 = 3;
    let body = reply.payload.get(4..).unwrap_or_default();
    attributes(body)
        .filter(|(kind, _)| *kind == ELEMENTS)
        .map(|(_, list)| attributes(list).count())
        .sum()
}

/// The packet counts of a `NFT_MSG_NEWRULE` dump part's `counter` expressions, in rule order,
/// read from the raw attributes like [`count_listed_elements`].
fn rule_counters(reply: &Reply) -> Vec<u64> {
    /// `NFTA_RULE_EXPRESSIONS`.
    const EXPRESSIONS: u16 = 4;
    /// `NFTA_EXPR_NAME`, `NFTA_EXPR_DATA`.
    const NAME: u16 = 1;
    const DATA: u16 = 2;
    /// `NFTA_COUNTER_PACKETS`.
    const PACKETS: u16 = 2;
    let body = reply.payload.get(4..).unwrap_or_default();
    attributes(body)
        .filter(|(kind, _)| *kind == EXPRESSIONS)
        .flat_map(|(_, list)| attributes(list))
        .filter_map(|(_, expression)| {
            let mut fields = attributes(expression);
            let is_counter = fields
                .clone()
                .any(|(kind, name)| kind == NAME && name == b"counter\0");
            let data = fields.find(|(kind, _)| *kind == DATA)?.1;
            is_counter.then(|| {
                attributes(data)
                    .find(|(kind, _)| *kind == PACKETS)
                    .and_then(|(_, v)| <[u8; 8]>::try_from(v).ok())
                    .map_or(0, u64::from_be_bytes)
            })
        })
        .collect()
}

/// An nf_tables message from a reply.
fn parse(reply: &Reply) -> Result<NfTablesMessage, String> {
    let message = NetfilterMessage::parse_with_param(reply.payload.as_slice(), reply.message_type)
        .map_err(|e| e.to_string())?;
    match message.inner {
        NetfilterMessageInner::NfTables(m) => Ok(m),
        other => Err(format!("not an nf_tables message: {other:?}")),
    }
}

/// The generation id of a `NFT_MSG_NEWGEN` reply.
pub(crate) fn parse_generation(reply: &Reply) -> Option<u32> {
    match parse(reply).ok()? {
        NfTablesMessage::NewGen(GenMessage { attributes }) => {
            attributes.into_iter().find_map(|a| match a {
                GenAttribute::Id(id) => Some(id),
                _ => None,
            })
        }
        _ => None,
    }
}
