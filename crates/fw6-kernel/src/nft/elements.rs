//! `NFT_MSG_NEWSETELEM` / `NFT_MSG_DELSETELEM`, encoded by hand. These are the only messages
//! whose count grows with the configuration (a 10,000-pair batch, a 100,000-pair start-up), and
//! they have one fixed shape. The crate's generic encoder recomputes every nested attribute's
//! length again at each level above it, which a profile of a large commit found to be a notable
//! share of its time (BENCHMARKS.md, "Figures behind design choices"). The test compares these
//! bytes with the crate's.
//!
//! Shape: `nlmsghdr`, `nfgenmsg`, `NFTA_SET_ELEM_LIST_TABLE`, `NFTA_SET_ELEM_LIST_SET`, optionally
//! `NFTA_SET_ELEM_LIST_SET_ID`, then `NFTA_SET_ELEM_LIST_ELEMENTS` { `NFTA_LIST_ELEM` {
//! `NFTA_SET_ELEM_KEY` { `NFTA_DATA_VALUE` key }, and for an expiring element (a lease)
//! `NFTA_SET_ELEM_TIMEOUT` (ms, big-endian u64) } … }.

use fw6_model::plan::{Element, SetName, TABLE, TABLE_FAMILY};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_REQUEST};

use super::sets;

/// `(NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM`.
const NEWSETELEM: u16 = 0x0a0c;
/// `(NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM`.
const DELSETELEM: u16 = 0x0a0e;
const NLA_F_NESTED: u16 = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
/// The bytes a timeout adds to an element: a header and a u64.
pub(crate) const TIMEOUT_LEN: usize = NLA_LEN + 8;
/// Attribute header.
const NLA_LEN: usize = 4;

/// The bytes one element adds to a message.
pub(crate) fn element_len(set: SetName) -> usize {
    3 * NLA_LEN + sets::key_len(set.key())
}

/// Appends one message adding (or deleting) `elements` of `set` with sequence number `seq`, and
/// returns each element's offset from the start of the message (extended acks point into it).
/// An element with a timeout (ms) is removed by the kernel that long after the commit.
pub(crate) fn encode<'a>(
    buf: &mut Vec<u8>,
    seq: u32,
    add: bool,
    set: SetName,
    set_id: Option<u32>,
    elements: &[(&'a Element, Option<u64>)],
) -> Vec<(u32, &'a Element)> {
    let start = buf.len();
    // No NLM_F_ACK: see `batch.rs`.
    let flags = NLM_F_REQUEST | if add { NLM_F_CREATE } else { 0 };
    // nlmsghdr: the length is patched at the end.
    buf.extend_from_slice(&0_u32.to_ne_bytes());
    buf.extend_from_slice(&(if add { NEWSETELEM } else { DELSETELEM }).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0_u32.to_ne_bytes());
    // nfgenmsg: family, version 0, resource id 0.
    buf.extend_from_slice(&[TABLE_FAMILY.nfproto(), 0, 0, 0]);
    string(buf, NFTA_SET_ELEM_LIST_TABLE, TABLE);
    string(buf, NFTA_SET_ELEM_LIST_SET, set.as_str());
    if let Some(id) = set_id {
        header(buf, NLA_LEN + 4, NFTA_SET_ELEM_LIST_SET_ID);
        buf.extend_from_slice(&id.to_be_bytes());
    }
    let each = element_len(set);
    let key_len = sets::key_len(set.key());
    let timed = elements.iter().filter(|(_, t)| t.is_some()).count();
    header(
        buf,
        NLA_LEN + each * elements.len() + TIMEOUT_LEN * timed,
        NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED,
    );
    let mut offsets = Vec::with_capacity(elements.len());
    for (element, timeout) in elements {
        let offset = u32::try_from(buf.len() - start).expect("messages are < 64 KiB");
        offsets.push((offset, *element));
        let extra = if timeout.is_some() { TIMEOUT_LEN } else { 0 };
        header(buf, each + extra, NFTA_LIST_ELEM | NLA_F_NESTED);
        header(buf, each - NLA_LEN, NFTA_SET_ELEM_KEY | NLA_F_NESTED);
        header(buf, NLA_LEN + key_len, NFTA_DATA_VALUE);
        sets::write_key(buf, element);
        if let Some(ms) = timeout {
            header(buf, TIMEOUT_LEN, NFTA_SET_ELEM_TIMEOUT);
            buf.extend_from_slice(&ms.to_be_bytes());
        }
    }
    let len = u32::try_from(buf.len() - start).expect("messages are < 64 KiB");
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    offsets
}

fn header(buf: &mut Vec<u8>, len: usize, kind: u16) {
    let len = u16::try_from(len).expect("attributes are < 64 KiB");
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
}

/// A NUL-terminated string attribute, padded to 4 bytes.
fn string(buf: &mut Vec<u8>, kind: u16, value: &str) {
    header(buf, NLA_LEN + value.len() + 1, kind);
    buf.extend_from_slice(value.as_bytes());
    let nul_and_padding = (value.len() + 1).next_multiple_of(4) - value.len();
    buf.resize(buf.len() + nul_and_padding, 0);
}

#[cfg(test)]
mod tests {
    use fw6_model::{IfName, PortKey};
    use netlink_packet_core::NetlinkMessage;
    use netlink_packet_netfilter::nftables::NfTablesMessage as Parsed;
    use netlink_packet_netfilter::nftables::{
        DataAttribute, ListAttribute, NfTablesMessage, SetElementAttribute, SetElementList,
        SetElementMessage,
    };
    use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

    use super::*;

    /// The same message through netlink-packet-netfilter's encoder.
    fn by_the_crate(seq: u32, add: bool, set: SetName, id: Option<u32>, e: &[Element]) -> Vec<u8> {
        let mut attributes = vec![
            SetElementList::Table(TABLE.to_owned()),
            SetElementList::Set(set.as_str().to_owned()),
        ];
        attributes.extend(id.map(SetElementList::SetId));
        attributes.push(SetElementList::Elements(
            e.iter()
                .map(|e| {
                    ListAttribute::Element(vec![SetElementAttribute::Key(DataAttribute::Value(
                        sets::key(e),
                    ))])
                })
                .collect(),
        ));
        let message = SetElementMessage { attributes };
        let message = if add {
            NfTablesMessage::NewSetElement(message)
        } else {
            NfTablesMessage::DeleteSetElement(message)
        };
        let header = NetfilterHeader::new(NetfilterProtoFamily::Inet, 0, 0);
        let mut message = NetlinkMessage::from(NetfilterMessage::new(header, message));
        message.header.flags = NLM_F_REQUEST | if add { NLM_F_CREATE } else { 0 };
        message.header.sequence_number = seq;
        message.finalize();
        let mut buf = vec![0; message.buffer_len()];
        message.serialize(&mut buf);
        buf
    }

    #[test]
    fn the_bytes_are_the_crates() {
        let lan0 = IfName::try_from("lan0").unwrap();
        let long = IfName::try_from("veth-abcdefghij").unwrap();
        let k = |p, proto| PortKey::from_raw(p, proto).unwrap();
        let cases: Vec<(SetName, Vec<Element>)> = vec![
            (
                SetName::Open,
                vec![Element::ConnectionPair(lan0.clone(), k(22, 6))],
            ),
            (
                SetName::Ignored,
                (1..=50)
                    .map(|p| Element::ConnectionPair(long.clone(), k(p, 17)))
                    .collect(),
            ),
            (
                SetName::GlobalOpen,
                vec![Element::Pair(k(546, 17)), Element::Pair(k(65535, 6))],
            ),
            (
                SetName::Unfirewalled,
                vec![Element::Connection(lan0), Element::Connection(long)],
            ),
        ];
        for (set, elements) in &cases {
            for add in [true, false] {
                for id in [None, Some(7)] {
                    let refs: Vec<(&Element, Option<u64>)> =
                        elements.iter().map(|e| (e, None)).collect();
                    let mut ours = vec![0xAA];
                    let offsets = encode(&mut ours, 42, add, *set, id, &refs);
                    assert_eq!(
                        ours[1..],
                        by_the_crate(42, add, *set, id, elements),
                        "{set:?} add={add} id={id:?}"
                    );
                    for ((offset, element), expected) in offsets.iter().zip(elements) {
                        assert_eq!(*element, expected);
                        let at = 1 + *offset as usize + 3 * NLA_LEN;
                        let key = sets::key(element);
                        assert_eq!(ours[at..at + key.len()], key);
                    }
                }
            }
        }
    }

    #[test]
    fn a_timeout_follows_the_key() {
        let k = PortKey::from_raw(8080, 6).unwrap();
        let pair = Element::Pair(k);
        let other = Element::Pair(PortKey::from_raw(22, 6).unwrap());
        let mut ours = Vec::new();
        encode(
            &mut ours,
            9,
            true,
            SetName::GlobalOpen,
            None,
            &[(&pair, Some(2_000)), (&other, None)],
        );
        // The crate parses what we wrote: the first element has its key and a 2 s timeout.
        let message = NetlinkMessage::<NetfilterMessage>::deserialize(&ours).unwrap();
        let netlink_packet_core::NetlinkPayload::InnerMessage(inner) = message.payload else {
            panic!("not an inner message")
        };
        let netlink_packet_netfilter::NetfilterMessageInner::NfTables(Parsed::NewSetElement(m)) =
            inner.inner
        else {
            panic!("not NEWSETELEM")
        };
        let text = format!("{:?}", m.attributes);
        assert!(text.contains("Timeout(2000)"), "{text}");
        assert_eq!(text.matches("Timeout").count(), 1, "{text}");
    }
}
