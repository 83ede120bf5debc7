//! Netlink attributes (`struct nlattr` and its value), as netlink-packet-core reads them.

use netlink_packet_core::{NLA_ALIGNTO, NLA_HEADER_SIZE, NlasIterator};

/// Netlink messages and attributes are 4-byte aligned.
pub(crate) const fn align(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

/// The attributes of `data` as `(type without the nested/byte-order flags, value)`, in order.
/// A malformed attribute (a length shorter than its header or past the end) ends the walk:
/// nothing after it can be trusted to start where it claims.
pub(crate) fn attributes(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> + Clone {
    NlasIterator::new(data).map_while(Result::ok).map(|nla| {
        let (kind, len) = (nla.kind(), usize::from(nla.length()));
        (kind, &nla.into_inner()[NLA_HEADER_SIZE..len])
    })
}

/// One attribute as the kernel writes it, padding included: for the decoders' unit tests.
#[cfg(test)]
pub(crate) fn encode_attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(NLA_HEADER_SIZE + value.len())
        .expect("a small attribute")
        .to_ne_bytes()
        .to_vec();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align(out.len()), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        encode_attribute(kind, value)
    }

    #[test]
    fn attributes_are_walked_flags_dropped_and_a_bad_length_ends_the_walk() {
        let mut data = [attribute(1, b"abc"), attribute(2 | 0x8000, &[7; 8])].concat();
        let walked: Vec<_> = attributes(&data).collect();
        assert_eq!(walked, [(1, &b"abc"[..]), (2, &[7; 8][..])]);
        data.extend_from_slice(&[200, 0, 3, 0]); // claims 200 bytes
        data.extend(attribute(4, b"x"));
        assert_eq!(attributes(&data).count(), 2);
        assert_eq!(
            attributes(&[1, 0, 1, 0]).count(),
            0,
            "shorter than its header"
        );
        assert_eq!(align(5), 8);
        assert_eq!(align(8), 8);
    }
}
