//! The netlink messages (`struct nlmsghdr` and its body) of one datagram.

use super::align;

/// `struct nlmsghdr`.
pub(crate) const HEADER_LEN: usize = 16;

/// One message of a datagram, borrowed from the read buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    /// The message type (`nlmsg_type`).
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    /// The netlink port the message came from.
    pub(crate) port: u32,
    /// Everything after the header.
    pub(crate) body: &'a [u8],
}

/// The messages of `data`, in order. A length out of bounds is an `Err` and ends the walk;
/// fewer bytes than a header at the end are padding.
pub(crate) fn messages(mut data: &[u8]) -> impl Iterator<Item = Result<Message<'_>, String>> {
    std::iter::from_fn(move || {
        let header = data.get(..HEADER_LEN)?;
        let word = |at: usize| u32::from_ne_bytes(header[at..at + 4].try_into().expect("4 bytes"));
        let len = word(0) as usize;
        if len < HEADER_LEN || len > data.len() {
            let left = data.len();
            data = &[];
            return Some(Err(format!(
                "message length {len} out of bounds ({left} left)"
            )));
        }
        let message = Message {
            kind: u16::from_ne_bytes([header[4], header[5]]),
            flags: u16::from_ne_bytes([header[6], header[7]]),
            seq: word(8),
            port: word(12),
            body: &data[HEADER_LEN..len],
        };
        data = data.get(align(len)..).unwrap_or_default();
        Some(Ok(message))
    })
}

/// One message as the kernel writes it (no flags, port 9), padding included: for the
/// decoders' unit tests.
#[cfg(test)]
pub(crate) fn encode_message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(HEADER_LEN + body.len()).expect("a small message");
    let mut out = len.to_ne_bytes().to_vec();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&0u16.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&9u32.to_ne_bytes());
    out.extend_from_slice(body);
    out.resize(align(out.len()), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        encode_message(kind, seq, body)
    }

    #[test]
    fn a_datagram_splits_into_its_messages_until_a_bad_length() {
        let mut data = [message(3, 1, b"abcde"), message(2, 2, b"")].concat();
        let read: Vec<_> = messages(&data).map(Result::unwrap).collect();
        assert_eq!(read.len(), 2);
        assert_eq!((read[0].kind, read[0].seq, read[0].port), (3, 1, 9));
        assert_eq!(read[0].body, b"abcde");
        assert!(read[1].body.is_empty());
        data.extend_from_slice(&[0; 3]);
        assert_eq!(messages(&data).count(), 2, "a short tail is padding");
        let bad = [&1000u32.to_ne_bytes()[..], &[0; 12]].concat();
        let mut walk = messages(&bad);
        assert_eq!(
            walk.next().unwrap().unwrap_err(),
            "message length 1000 out of bounds (16 left)"
        );
        assert!(walk.next().is_none());
    }
}
