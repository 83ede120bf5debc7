//! nftables over raw netlink.
