//! A transaction: BEGIN, the messages, END, serialized into one buffer so it reaches the kernel
//! in one datagram and commits or aborts as a whole. Only END and the last message before it ask
//! for an ack: the kernel reports an error for every refused message whether asked or not, and
//! an ack per message would queue one reply per message, which a batch of tens of thousands of
//! messages overflows the receive buffer with (the replies are dropped, and with them the ones
//! the writer waits for). Kernels before 6.10 ignore `NLM_F_ACK` on END (and `NLM_F_ECHO` on
//! BEGIN: they take the echo flag for the generation from the first message after it), so on
//! them the ack of the last message, sent after the commit, is the only reply an accepted batch
//! gets. BEGIN asks for the generation the commit produces (`NLM_F_ECHO`), which newer kernels
//! send. Every message carries its own sequence number; the label kept for it turns a refusal
//! back into the operation (and, for element lists, the element) that caused it.

use fw6_model::plan::{ChainName, Element, Rule, SetName, TABLE_FAMILY, TableFamily};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO, NLM_F_REQUEST, NetlinkMessage,
};
use netlink_packet_netfilter::nftables::NfTablesMessage;
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};

use super::elements;

/// `NFNL_SUBSYS_NFTABLES`: BEGIN and END name the subsystem the batch is for.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// At most this many elements per message (docs/design.md §9.2: a list over 64 KiB is refused).
pub(crate) const MAX_ELEMENTS: usize = 1000;
/// And at most this many bytes of elements per message, whatever their size.
const MAX_ELEMENT_BYTES: usize = 48 * 1024;

/// What a message of the batch does, to name it in an error.
#[derive(Debug)]
pub(crate) enum Label<'a> {
    Begin,
    End,
    AddTable,
    DeleteTable,
    /// The delete of an earlier release's table (docs/ruleset.md, "Upgrade").
    DeleteLegacyTable(TableFamily),
    AddChain(ChainName),
    AddSet(SetName),
    /// A rule of a chain, numbered from 1 in chain order.
    AddRule(ChainName, usize, &'a Rule),
    /// An element list, with each element's offset in the message.
    Elements {
        add: bool,
        set: SetName,
        elements: Vec<(u32, &'a Element)>,
    },
}

impl Label<'_> {
    /// The operation in words. `offset` (from the kernel's extended ack) picks the element.
    pub(crate) fn describe(&self, offset: Option<u32>) -> String {
        match self {
            Self::Begin => "begin the transaction".to_owned(),
            Self::End => "commit the transaction".to_owned(),
            Self::AddTable => format!("add table {}", TABLE_FAMILY.table()),
            Self::DeleteTable => format!("delete table {}", TABLE_FAMILY.table()),
            Self::DeleteLegacyTable(family) => {
                format!("delete table {} (an earlier release's)", family.table())
            }
            Self::AddChain(chain) => format!("add chain {}", chain.as_str()),
            Self::AddSet(set) => format!("add set {}", set.as_str()),
            Self::AddRule(chain, n, rule) => {
                format!("add rule {n} of chain {} ({rule})", chain.as_str())
            }
            Self::Elements { add, set, elements } => {
                let (verb, prep) = if *add {
                    ("add", "to")
                } else {
                    ("delete", "from")
                };
                let set = set.as_str();
                let culprit = offset.and_then(|offset| {
                    elements
                        .iter()
                        .take_while(|(start, _)| *start <= offset)
                        .last()
                        .filter(|_| elements.first().is_some_and(|(s, _)| *s <= offset))
                });
                match (culprit, elements.as_slice()) {
                    (Some((_, e)), _) | (None, [(_, e)]) => {
                        format!("{verb} element {e} {prep} set {set}")
                    }
                    (None, many) => format!(
                        "{verb} {} elements {prep} set {set} (the first is {})",
                        many.len(),
                        many.first().map_or(String::new(), |(_, e)| e.to_string())
                    ),
                }
            }
        }
    }
}

/// A batch being built.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    buf: Vec<u8>,
    labels: Vec<(u32, Label<'a>)>,
    next_seq: u32,
    /// Where the last message appended starts in `buf`.
    last: usize,
}

impl<'a> Batch<'a> {
    /// A batch whose BEGIN takes sequence number `first_seq`. BEGIN carries `NLM_F_ECHO` so the
    /// kernel sends this socket the generation the commit produces.
    pub(crate) fn new(first_seq: u32) -> Self {
        let mut batch = Self {
            buf: Vec::new(),
            labels: Vec::new(),
            next_seq: first_seq,
            last: 0,
        };
        batch.push_control(ControlMessage::BatchBegin, NLM_F_ECHO, Label::Begin);
        batch
    }

    fn push_control(&mut self, message: ControlMessage, flags: u16, label: Label<'a>) {
        let header = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES);
        self.push_raw(NetfilterMessage::new(header, message), flags, label);
    }

    /// Appends an nf_tables message for our table's family ([`TABLE_FAMILY`]).
    pub(crate) fn push(&mut self, message: NfTablesMessage, label: Label<'a>) {
        self.push_in(TABLE_FAMILY, message, label);
    }

    /// Appends an nf_tables message for `family`.
    pub(crate) fn push_in(
        &mut self,
        family: TableFamily,
        message: NfTablesMessage,
        label: Label<'a>,
    ) {
        let flags = match message {
            NfTablesMessage::NewRule(_) => NLM_F_CREATE | NLM_F_APPEND,
            NfTablesMessage::NewChain(_)
            | NfTablesMessage::NewSet(_)
            | NfTablesMessage::NewSetElement(_) => NLM_F_CREATE,
            _ => 0,
        };
        let header = NetfilterHeader::new(proto_family(family), 0, 0);
        self.push_raw(NetfilterMessage::new(header, message), flags, label);
    }

    fn push_raw(&mut self, message: NetfilterMessage, flags: u16, label: Label<'a>) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let mut message = NetlinkMessage::from(message);
        message.header.flags = NLM_F_REQUEST | flags;
        message.header.sequence_number = seq;
        message.finalize();
        let start = self.buf.len();
        self.last = start;
        self.buf.resize(start + message.buffer_len(), 0);
        message.serialize(&mut self.buf[start..]);
        self.labels.push((seq, label));
    }

    /// Appends element adds or deletes for `set`, split into messages the kernel accepts, each
    /// element with its timeout (ms) if it has one. `set_id` refers to a set created earlier in
    /// the same batch.
    pub(crate) fn push_timed(
        &mut self,
        add: bool,
        set: SetName,
        set_id: Option<u32>,
        elements: impl IntoIterator<Item = (&'a Element, Option<u64>)>,
    ) {
        let widest = elements::element_len(set) + elements::TIMEOUT_LEN;
        let per_message = MAX_ELEMENTS.min(MAX_ELEMENT_BYTES / widest);
        let mut chunk = Vec::with_capacity(per_message);
        let mut elements = elements.into_iter().peekable();
        while elements.peek().is_some() {
            chunk.clear();
            chunk.extend(elements.by_ref().take(per_message));
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            self.last = self.buf.len();
            let offsets = elements::encode(&mut self.buf, seq, add, set, set_id, &chunk);
            let label = Label::Elements {
                add,
                set,
                elements: offsets,
            };
            self.labels.push((seq, label));
        }
    }

    /// Appends END and returns the wire bytes with the labels by sequence number.
    pub(crate) fn finish(mut self) -> Sealed<'a> {
        if self.labels.len() > 1 {
            // The last message asks for an ack too (see the module's doc): `nlmsg_flags`
            // follows the length and the type in its header.
            let flags = &mut self.buf[self.last + 6..self.last + 8];
            let patched = u16::from_ne_bytes([flags[0], flags[1]]) | NLM_F_ACK;
            flags.copy_from_slice(&patched.to_ne_bytes());
        }
        self.push_control(ControlMessage::BatchEnd, NLM_F_ACK, Label::End);
        Sealed {
            buf: self.buf,
            labels: self.labels,
        }
    }
}

/// The netlink family of a table family.
pub(crate) fn proto_family(family: TableFamily) -> NetfilterProtoFamily {
    NetfilterProtoFamily::from(family.nfproto())
}

/// A finished batch.
#[derive(Debug)]
pub(crate) struct Sealed<'a> {
    pub(crate) buf: Vec<u8>,
    pub(crate) labels: Vec<(u32, Label<'a>)>,
}

impl Sealed<'_> {
    /// The label of the message with sequence number `seq`.
    pub(crate) fn label(&self, seq: u32) -> Option<&Label<'_>> {
        let first = self.labels.first()?.0;
        let index = usize::try_from(seq.wrapping_sub(first)).ok()?;
        self.labels.get(index).map(|(_, label)| label)
    }
}

#[cfg(test)]
mod tests {
    use fw6_model::{IfName, PortKey};

    use super::*;

    /// `nlmsg_flags` of each message of `sealed`, in order.
    fn flags(sealed: &Sealed<'_>) -> Vec<u16> {
        let mut at = 0;
        let mut all = Vec::new();
        while at < sealed.buf.len() {
            let len = u32::from_ne_bytes(sealed.buf[at..at + 4].try_into().unwrap()) as usize;
            all.push(u16::from_ne_bytes([sealed.buf[at + 6], sealed.buf[at + 7]]));
            at += len.next_multiple_of(4);
        }
        all
    }

    #[test]
    fn the_last_message_and_end_ask_for_an_ack_and_no_other() {
        let elements: Vec<Element> = (1..=1500u32)
            .map(|p| {
                Element::ConnectionPair(
                    IfName::try_from("lan0").unwrap(),
                    PortKey::from_raw(p, 6).unwrap(),
                )
            })
            .collect();
        let mut batch = Batch::new(1);
        batch.push_timed(
            true,
            SetName::Open,
            None,
            elements.iter().map(|e| (e, None)),
        );
        let flags = flags(&batch.finish());
        // BEGIN, 2 element messages, END: kernels before 6.10 ack only the last element list.
        let acked: Vec<bool> = flags.iter().map(|f| f & NLM_F_ACK != 0).collect();
        assert_eq!(acked, [false, false, true, true]);
        assert!(flags.iter().all(|f| f & NLM_F_REQUEST != 0));
        assert_eq!(
            flags[2] & NLM_F_CREATE,
            NLM_F_CREATE,
            "the patch keeps the other flags"
        );
    }

    #[test]
    fn element_offsets_point_at_each_element_attribute() {
        let elements: Vec<Element> = (1..=2500u32)
            .map(|p| {
                Element::ConnectionPair(
                    IfName::try_from("lan0").unwrap(),
                    PortKey::from_raw(p, 6).unwrap(),
                )
            })
            .collect();
        let mut batch = Batch::new(100);
        batch.push_timed(
            true,
            SetName::Open,
            Some(2),
            elements.iter().map(|e| (e, None)),
        );
        let sealed = batch.finish();
        // BEGIN, 3 element messages (1000 + 1000 + 500), END.
        assert_eq!(sealed.labels.len(), 5);
        let mut at = 0;
        for (seq, label) in &sealed.labels {
            let len = u32::from_ne_bytes(sealed.buf[at..at + 4].try_into().unwrap()) as usize;
            let seq_on_wire = u32::from_ne_bytes(sealed.buf[at + 8..at + 12].try_into().unwrap());
            assert_eq!(seq_on_wire, *seq);
            if let Label::Elements { elements, .. } = label {
                assert!(elements.len() <= MAX_ELEMENTS);
                for (offset, element) in elements {
                    let o = at + *offset as usize;
                    let kind = u16::from_ne_bytes([sealed.buf[o + 2], sealed.buf[o + 3]]);
                    assert_eq!(kind & 0x7fff, 1, "an NFTA_LIST_ELEM at {offset}");
                    // The key bytes follow two nested headers and the NFTA_DATA_VALUE header.
                    let key = &sealed.buf[o + 12..o + 12 + 24];
                    assert_eq!(key, super::super::sets::key(element).as_slice());
                }
            }
            at += len;
        }
        assert_eq!(at, sealed.buf.len());
        let label = sealed.label(102).unwrap();
        let Label::Elements { elements, .. } = label else {
            panic!("{label:?}")
        };
        let offset_of_5th = elements[4].0;
        assert_eq!(
            label.describe(Some(offset_of_5th + 8)),
            "add element \"lan0\" . tcp . 1005 to set open"
        );
    }
}
