//! From rtnetlink link messages to [`Link`].

use netlink_packet_route::AddressFamily;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, LinkAttribute, LinkFlags, LinkMessage,
};

use super::Link;

/// The link a message describes, or `None` for messages that are not about a whole link:
/// per-family notifications (`AF_BRIDGE` port messages share the link group and message
/// types) and messages without a name.
pub(super) fn link(msg: &LinkMessage) -> Option<Link> {
    if msg.header.interface_family != AddressFamily::Unspec {
        return None;
    }
    let mut name = None;
    let mut alias = None;
    let mut ipv6 = false;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::IfAlias(a) if !a.is_empty() => alias = Some(a.clone()),
            LinkAttribute::AfSpecUnspec(families) => {
                for family in families {
                    if let AfSpecUnspec::Inet6(attrs) = family {
                        ipv6 = inet6_enabled(attrs);
                    }
                }
            }
            _ => {}
        }
    }
    Some(Link {
        index: msg.header.index,
        name: name?,
        alias,
        up: msg.header.flags.contains(LinkFlags::Up),
        ipv6,
        loopback: msg.header.flags.contains(LinkFlags::Loopback),
    })
}

/// Whether a link's `AF_INET6` block says IPv6 is on. The block exists only when the kernel
/// keeps IPv6 state for the link; its devconf array holds `disable_ipv6`.
fn inet6_enabled(attrs: &[AfSpecInet6]) -> bool {
    attrs
        .iter()
        .find_map(|a| match a {
            AfSpecInet6::DevConf(conf) => Some(conf.disable_ipv6 == 0),
            _ => None,
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::link::Inet6DevConf;

    use super::*;

    fn message(family: AddressFamily, attributes: Vec<LinkAttribute>) -> LinkMessage {
        let mut msg = LinkMessage::default();
        msg.header.interface_family = family;
        msg.header.index = 7;
        msg.header.flags = LinkFlags::Up;
        msg.attributes = attributes;
        msg
    }

    fn inet6(disable_ipv6: i32) -> LinkAttribute {
        let mut conf = Inet6DevConf::default();
        conf.disable_ipv6 = disable_ipv6;
        LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![AfSpecInet6::DevConf(conf)])])
    }

    #[test]
    fn reads_name_alias_flags_and_ipv6() {
        let msg = message(
            AddressFamily::Unspec,
            vec![
                LinkAttribute::IfName("lan0".into()),
                LinkAttribute::IfAlias("Office".into()),
                inet6(0),
            ],
        );
        assert_eq!(
            link(&msg),
            Some(Link {
                index: 7,
                name: "lan0".into(),
                alias: Some("Office".into()),
                up: true,
                ipv6: true,
                loopback: false,
            })
        );
    }

    #[test]
    fn disable_ipv6_or_no_inet6_block_means_no_ipv6() {
        let disabled = message(
            AddressFamily::Unspec,
            vec![LinkAttribute::IfName("a".into()), inet6(1)],
        );
        assert!(!link(&disabled).unwrap().ipv6);
        let absent = message(
            AddressFamily::Unspec,
            vec![LinkAttribute::IfName("a".into())],
        );
        assert!(!link(&absent).unwrap().ipv6);
    }

    #[test]
    fn empty_alias_is_none_and_bridge_messages_are_ignored() {
        let msg = message(
            AddressFamily::Unspec,
            vec![
                LinkAttribute::IfName("a".into()),
                LinkAttribute::IfAlias(String::new()),
            ],
        );
        assert_eq!(link(&msg).unwrap().alias, None);
        let bridge = message(
            AddressFamily::Bridge,
            vec![LinkAttribute::IfName("a".into())],
        );
        assert_eq!(link(&bridge), None);
    }
}
