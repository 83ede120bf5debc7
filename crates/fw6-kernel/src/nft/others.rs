//! The other tables' base chains on the inbound hooks, read (never changed): what else filters a
//! packet fw6 lets in (fw6_model::OtherChain). One chain dump of every family, then one rule
//! dump per chain found, to count its rules.

use fw6_model::OtherChain;
use fw6_model::plan::{TABLE, TABLE_FAMILY};
use netlink_packet_netfilter::NetfilterProtoFamily;
use netlink_packet_netfilter::nftables::{
    ChainMessage, NfTablesMessage, RuleAttribute, RuleMessage,
};

use super::socket::Reply;
use super::{Error, Nft};
use crate::netlink::attributes as raw_attributes;

/// `NFPROTO_*` numbers of the families whose base chains an inbound packet may pass.
const INET: u8 = 1;
const IPV4: u8 = 2;
const NETDEV: u8 = 5;
const IPV6: u8 = 10;
/// `NFTA_CHAIN_*`.
const CHAIN_TABLE: u16 = 1;
const CHAIN_NAME: u16 = 3;
const CHAIN_HOOK: u16 = 4;
const CHAIN_POLICY: u16 = 5;
const CHAIN_TYPE: u16 = 7;
/// `NFTA_HOOK_*`.
const HOOK_NUMBER: u16 = 1;
const HOOK_PRIORITY: u16 = 2;
const HOOK_DEVICE: u16 = 3;
const HOOK_DEVICES: u16 = 4;
/// `NF_DROP`; a policy is `NF_DROP` or `NF_ACCEPT`.
const NF_DROP: u32 = 0;

impl Nft {
    /// Every base chain of a table other than fw6's on the hooks an inbound packet passes:
    /// prerouting and input of families `ip`, `ip6` and `inet`, and ingress of `inet` and
    /// `netdev`, in the kernel's order (by family, table, chain). Read-only.
    pub fn other_chains(&mut self) -> Result<Vec<OtherChain>, Error> {
        let what = "list the other tables' chains";
        let replies = self.dump_raw_in(
            NetfilterProtoFamily::Unspec,
            &NfTablesMessage::GetChain(ChainMessage { attributes: vec![] }),
            what,
        )?;
        let mut chains: Vec<(u8, OtherChain)> = replies.iter().filter_map(base_chain).collect();
        chains.retain(|(family, c)| !(*family == TABLE_FAMILY.nfproto() && c.table == TABLE));
        for (family, chain) in &mut chains {
            let rules = self.dump_raw_in(
                NetfilterProtoFamily::from(*family),
                &NfTablesMessage::GetRule(RuleMessage {
                    attributes: vec![
                        RuleAttribute::Table(chain.table.clone()),
                        RuleAttribute::Chain(chain.chain.clone()),
                    ],
                }),
                "count the rules of another table's chain",
            )?;
            chain.rules = u32::try_from(rules.len()).unwrap_or(u32::MAX);
        }
        Ok(chains.into_iter().map(|(_, c)| c).collect())
    }
}

/// A `NFT_MSG_NEWCHAIN` dump part as an [`OtherChain`] (rules not yet counted), if it is a base
/// chain on an inbound hook.
fn base_chain(reply: &Reply) -> Option<(u8, OtherChain)> {
    let family = *reply.payload.first()?;
    let text = |v: &[u8]| {
        String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or_default()).into_owned()
    };
    let number = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
    let (mut table, mut name, mut kind) = (String::new(), String::new(), String::new());
    let (mut hook, mut priority, mut policy, mut device) = (None, 0, None, String::new());
    for (attribute, value) in raw_attributes(reply.payload.get(4..)?) {
        match attribute {
            CHAIN_TABLE => table = text(value),
            CHAIN_NAME => name = text(value),
            CHAIN_TYPE => kind = text(value),
            CHAIN_POLICY => policy = number(value),
            CHAIN_HOOK => {
                for (field, value) in raw_attributes(value) {
                    match field {
                        HOOK_NUMBER => hook = number(value),
                        HOOK_PRIORITY => {
                            priority = number(value).map_or(0, u32::cast_signed);
                        }
                        HOOK_DEVICE => device = text(value),
                        HOOK_DEVICES => {
                            let names: Vec<String> =
                                raw_attributes(value).map(|(_, v)| text(v)).collect();
                            device = names.join(",");
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let hook = match (family, hook?) {
        (IPV4 | IPV6 | INET, 0) => "prerouting",
        (IPV4 | IPV6 | INET, 1) => "input",
        (INET, 5) | (NETDEV, 0) => "ingress",
        _ => return None,
    };
    let family_name = match family {
        INET => "inet",
        IPV4 => "ip",
        IPV6 => "ip6",
        _ => "netdev",
    };
    Some((
        family,
        OtherChain {
            family: family_name.to_owned(),
            table,
            chain: name,
            kind,
            hook: hook.to_owned(),
            priority,
            policy: if policy? == NF_DROP { "drop" } else { "accept" }.to_owned(),
            rules: 0,
            device,
        },
    ))
}
