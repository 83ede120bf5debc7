//! The four sets of docs/design.md §3: their declarations and their element keys.
//!
//! A concatenated key puts each field in whole 32-bit words, as the kernel's registers hold
//! them: the interface name takes 16 bytes (NUL-padded), the protocol 1 byte padded to 4, the
//! port 2 bytes big-endian padded to 4. The key type is nft's concat id, each field's datatype
//! shifted by 6 bits per position (docs/design.md §9.2), which is what makes `nft list` print
//! `ifname . inet_proto . inet_service`.

use fw6_model::plan::{Element, SetKey, SetName, TABLE};
use netlink_packet_netfilter::nftables::{SetAttribute, SetFlags, SetMessage};

/// nft datatype ids (`enum datatypes` in nft's `datatype.h`).
const TYPE_INET_PROTOCOL: u32 = 12;
const TYPE_INET_SERVICE: u32 = 13;
const TYPE_IFNAME: u32 = 41;
/// Bits per field in a concat type id (`TYPE_BITS`).
const TYPE_BITS: u32 = 6;
/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;

/// Set userdata exactly as nft 1.0.6 writes it. nft reads it back to print the set: the key's
/// byte order (`NFTNL_UDATA_SET_KEYBYTEORDER`, host order for `ifname`) and, for a concatenation,
/// an empty `typeof` marker. Without it `nft list` would still work, but the table would differ
/// from the one `nft -f` loads.
const UDATA_IFNAME: &[u8] = &[0x00, 0x04, 0x01, 0x00, 0x00, 0x00];
const UDATA_CONCAT: &[u8] = &[
    0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x04, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00,
];

/// The transaction-local id of a set, used to refer to a set created in the same batch.
pub(crate) fn set_id(set: SetName) -> u32 {
    match set {
        SetName::Unfirewalled => 1,
        SetName::Open => 2,
        SetName::Ignored => 3,
        SetName::GlobalOpen => 4,
    }
}

/// nft's type id for a key.
pub(crate) fn key_type(key: SetKey) -> u32 {
    let concat = |fields: &[u32]| fields.iter().fold(0, |acc, t| (acc << TYPE_BITS) | t);
    match key {
        SetKey::Ifname => TYPE_IFNAME,
        SetKey::IfnameProtoPort => concat(&[TYPE_IFNAME, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE]),
        SetKey::ProtoPort => concat(&[TYPE_INET_PROTOCOL, TYPE_INET_SERVICE]),
    }
}

/// The key's length in bytes.
pub(crate) const fn key_len(key: SetKey) -> usize {
    match key {
        SetKey::Ifname => IFNAMSIZ,
        SetKey::IfnameProtoPort => IFNAMSIZ + 8,
        SetKey::ProtoPort => 8,
    }
}

/// `NFT_MSG_NEWSET` for `set`, empty.
pub(crate) fn declaration(set: SetName) -> SetMessage {
    let key = set.key();
    let udata = match key {
        SetKey::Ifname => UDATA_IFNAME,
        SetKey::IfnameProtoPort | SetKey::ProtoPort => UDATA_CONCAT,
    };
    SetMessage {
        attributes: vec![
            SetAttribute::Table(TABLE.to_owned()),
            SetAttribute::Name(set.as_str().to_owned()),
            SetAttribute::Flags(if set.has_timeouts() {
                SetFlags::Timeout
            } else {
                SetFlags::empty()
            }),
            SetAttribute::KeyType(key_type(key)),
            SetAttribute::KeyLen(u32::try_from(key_len(key)).expect("keys are short")),
            SetAttribute::Id(set_id(set)),
            SetAttribute::UserData(udata.to_vec()),
        ],
    }
}

/// The key bytes of `element`.
#[cfg(test)]
pub(crate) fn key(element: &Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(IFNAMSIZ + 8);
    write_key(&mut out, element);
    out
}

/// Appends the key bytes of `element` to `out`.
pub(crate) fn write_key(out: &mut Vec<u8>, element: &Element) {
    let name = |out: &mut Vec<u8>, name: &str| {
        let start = out.len();
        out.extend_from_slice(name.as_bytes());
        out.resize(start + IFNAMSIZ, 0);
    };
    let pair = |out: &mut Vec<u8>, key: &fw6_model::PortKey| {
        out.extend_from_slice(&[key.protocol.number(), 0, 0, 0]);
        out.extend_from_slice(&key.port.get().to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    };
    match element {
        Element::Connection(ifname) => name(out, ifname.as_str()),
        Element::ConnectionPair(ifname, k) => {
            name(out, ifname.as_str());
            pair(out, k);
        }
        Element::Pair(k) => pair(out, k),
    }
}

#[cfg(test)]
mod tests {
    use fw6_model::{IfName, PortKey};

    use super::*;

    #[test]
    fn concat_type_ids_match_nft() {
        assert_eq!(key_type(SetKey::IfnameProtoPort), 0x0002_930d);
        assert_eq!(key_type(SetKey::ProtoPort), 0x30d);
        assert_eq!(key_type(SetKey::Ifname), 0x29);
    }

    #[test]
    fn keys_pad_every_field_to_32_bits() {
        let lan0 = IfName::try_from("lan0").unwrap();
        let k: PortKey = "5353/udp".parse().unwrap();
        let bytes = key(&Element::ConnectionPair(lan0, k));
        let mut expected = b"lan0".to_vec();
        expected.resize(16, 0);
        expected.extend_from_slice(&[17, 0, 0, 0, 0x14, 0xe9, 0, 0]);
        assert_eq!(bytes, expected);
        for set in SetName::ALL {
            let element = match set.key() {
                SetKey::Ifname => Element::Connection(IfName::try_from("x").unwrap()),
                SetKey::ProtoPort => Element::Pair(k),
                SetKey::IfnameProtoPort => {
                    Element::ConnectionPair(IfName::try_from("x").unwrap(), k)
                }
            };
            assert_eq!(key(&element).len(), key_len(set.key()));
        }
    }
}
