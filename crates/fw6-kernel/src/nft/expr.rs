//! nf_tables expressions, built exactly as nft 1.0.6 builds them (captured with
//! `nft --debug=netlink` and `strace -e sendmsg`), so that `nft list` prints our rules the way it
//! prints its own. The crate types the common expressions; `ct`, `exthdr`, `limit` and `log` go
//! through its generic variant with raw attributes.

use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, ExpressionAttribute, Expressions, Immediate, ListAttribute,
    Lookup, Meta, MetaKey, Operator, Payload, Register, Verdict, VerdictAttribute,
};

/// One expression of a rule, ready to go into `NFTA_RULE_EXPRESSIONS`.
pub(crate) type Expr = ListAttribute<ExpressionAttribute>;

/// `NF_DROP`.
pub(crate) const DROP: u32 = 0;
/// `NF_ACCEPT`.
pub(crate) const ACCEPT: u32 = 1;

/// Where a payload expression reads from (`enum nft_payload_bases`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub(crate) enum Base {
    /// `NFT_PAYLOAD_NETWORK_HEADER`: the IPv6 header.
    Network = 1,
    /// `NFT_PAYLOAD_TRANSPORT_HEADER`: after all extension headers.
    Transport = 2,
}

/// `meta load KEY => DREG`.
pub(crate) fn meta(key: MetaKey, dreg: Register) -> Expr {
    Expressions::Meta(vec![Meta::Key(key), Meta::DestinationRegister(dreg)]).into()
}

/// `cmp OP SREG DATA`; `data` has the loaded field's length, as nft trims it.
pub(crate) fn cmp(op: Operator, sreg: Register, data: &[u8]) -> Expr {
    Expressions::Cmp(vec![
        Cmp::SourceRegister(sreg),
        Cmp::Op(op),
        Cmp::Data(DataAttribute::Value(data.to_vec())),
    ])
    .into()
}

/// `payload load LEN @ BASE + OFFSET => DREG`.
pub(crate) fn payload(base: Base, offset: u32, len: u32, dreg: Register) -> Expr {
    Expressions::Payload(vec![
        Payload::DestinationRegister(dreg),
        Payload::Base(base as u32),
        Payload::Offset(offset),
        Payload::Len(len),
    ])
    .into()
}

/// `bitwise REG = (REG & MASK) ^ 0`, in place.
pub(crate) fn mask(reg: Register, mask: &[u8]) -> Expr {
    let len = u32::try_from(mask.len()).expect("a register holds at most 64 bytes");
    Expressions::Bitwise(vec![
        Bitwise::SourceRegister(reg),
        Bitwise::DestinationRegister(reg),
        Bitwise::Length(len),
        Bitwise::Mask(DataAttribute::Value(mask.to_vec())),
        Bitwise::Xor(DataAttribute::Value(vec![0; mask.len()])),
    ])
    .into()
}

/// `lookup SREG set NAME`. `set_id` names a set created in the same transaction.
pub(crate) fn lookup(set: &str, set_id: u32, sreg: Register) -> Expr {
    Expressions::Lookup(vec![
        Lookup::SourceRegister(sreg),
        Lookup::Set(set.to_owned()),
        Lookup::SetId(set_id),
    ])
    .into()
}

/// `immediate reg 0 VERDICT` for accept or drop.
pub(crate) fn verdict(code: u32) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(Register::Verdict),
        Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(
            Verdict::Other(code),
        )])),
    ])
    .into()
}

/// `immediate reg 0 jump -> CHAIN` (`NFT_JUMP` with `NFTA_VERDICT_CHAIN`): evaluate `chain`, then
/// come back to the next rule unless it gave a final verdict. The chain is named, not referred
/// to by id, as nft 1.0.6 does; the kernel finds a chain added earlier in the same transaction.
pub(crate) fn jump(chain: &str) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(Register::Verdict),
        Immediate::Data(DataAttribute::Verdict(vec![
            VerdictAttribute::Code(Verdict::Jump),
            VerdictAttribute::Chain(chain.to_owned()),
        ])),
    ])
    .into()
}

/// A raw expression: its name and flat attributes.
fn other(name: &str, attributes: Vec<DefaultNla>) -> Expr {
    Expressions::Other {
        expression_type: name.to_owned(),
        attributes,
    }
    .into()
}

fn u32_be(kind: u16, value: u32) -> DefaultNla {
    DefaultNla::new(kind, value.to_be_bytes().to_vec())
}

fn u64_be(kind: u16, value: u64) -> DefaultNla {
    DefaultNla::new(kind, value.to_be_bytes().to_vec())
}

/// `ct load state => DREG` (`NFTA_CT_DREG` = 1, `NFTA_CT_KEY` = 2, `NFT_CT_STATE` = 0).
pub(crate) fn ct_state(dreg: Register) -> Expr {
    other("ct", vec![u32_be(2, 0), u32_be(1, dreg.into())])
}

/// `immediate reg DREG DATA`: a constant into a data register.
pub(crate) fn immediate(dreg: Register, data: &[u8]) -> Expr {
    Expressions::Immediate(vec![
        Immediate::DestinationRegister(dreg),
        Immediate::Data(DataAttribute::Value(data.to_vec())),
    ])
    .into()
}

/// `ct set label with SREG` (`NFTA_CT_KEY` = 2 `NFT_CT_LABELS` = 13, `NFTA_CT_SREG` = 4): ORs
/// the register's 128 bits into the connection's labels.
pub(crate) fn ct_set_labels(sreg: Register) -> Expr {
    other("ct", vec![u32_be(2, 13), u32_be(4, sreg.into())])
}

/// `exthdr load ipv6 LEN @ TYPE + OFFSET => DREG`: a field of an IPv6 extension header; the
/// kernel finds the header by walking the chain (`NFT_EXTHDR_OP_IPV6`).
pub(crate) fn exthdr_ipv6(header: u8, offset: u32, len: u32, dreg: Register) -> Expr {
    other(
        "exthdr",
        vec![
            u32_be(1, dreg.into()),           // NFTA_EXTHDR_DREG
            DefaultNla::new(2, vec![header]), // NFTA_EXTHDR_TYPE
            u32_be(3, offset),                // NFTA_EXTHDR_OFFSET
            u32_be(4, len),                   // NFTA_EXTHDR_LEN
            u32_be(6, 0),                     // NFTA_EXTHDR_OP: ipv6
            u32_be(5, 0),                     // NFTA_EXTHDR_FLAGS
        ],
    )
}

/// `exthdr load ipv4 1b @ OPTION + 0 present => DREG`: 1 in the register if the IPv4 header
/// carries option `option`, else 0 (`NFT_EXTHDR_OP_IPV4`, `NFT_EXTHDR_F_PRESENT`).
pub(crate) fn exthdr_ipv4_present(option: u8, dreg: Register) -> Expr {
    other(
        "exthdr",
        vec![
            u32_be(1, dreg.into()),           // NFTA_EXTHDR_DREG
            DefaultNla::new(2, vec![option]), // NFTA_EXTHDR_TYPE
            u32_be(3, 0),                     // NFTA_EXTHDR_OFFSET
            u32_be(4, 1),                     // NFTA_EXTHDR_LEN
            u32_be(6, 2),                     // NFTA_EXTHDR_OP: ipv4
            u32_be(5, 1),                     // NFTA_EXTHDR_FLAGS: present
        ],
    )
}

/// `counter` starting from zero (`NFTA_COUNTER_BYTES` = 1, `NFTA_COUNTER_PACKETS` = 2, in the
/// order nft sends them).
pub(crate) fn counter() -> Expr {
    other("counter", vec![u64_be(1, 0), u64_be(2, 0)])
}

/// `limit rate N/second` in packets with nft's default burst of 5.
pub(crate) fn limit_per_second(rate: u32) -> Expr {
    other(
        "limit",
        vec![
            u64_be(1, u64::from(rate)), // NFTA_LIMIT_RATE
            u64_be(2, 1),               // NFTA_LIMIT_UNIT: seconds
            u32_be(3, 5),               // NFTA_LIMIT_BURST
            u32_be(4, 0),               // NFTA_LIMIT_TYPE: packets
            u32_be(5, 0),               // NFTA_LIMIT_FLAGS
        ],
    )
}

/// `log prefix PREFIX group GROUP snaplen SNAPLEN`: the packet goes to NFLOG group `group`, of
/// which only the first `snaplen` bytes are copied (`NF_LOG_F_COPY_LEN`).
pub(crate) fn log_group(prefix: &str, group: u16, snaplen: u32) -> Expr {
    let mut text = prefix.as_bytes().to_vec();
    text.push(0);
    other(
        "log",
        vec![
            DefaultNla::new(2, text),                         // NFTA_LOG_PREFIX
            DefaultNla::new(1, group.to_be_bytes().to_vec()), // NFTA_LOG_GROUP
            u32_be(3, snaplen),                               // NFTA_LOG_SNAPLEN
        ],
    )
}
