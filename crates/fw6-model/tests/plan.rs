//! Golden tests of the nftables plan (docs/design.md §3) and of the change → element mapping.

use fw6_model::fixtures::{ifname, key, name, sample};
use fw6_model::plan::{self, EchoRequest, Element, ElementOp, Options, Rule, SetName, Update};
use fw6_model::{LogfileMaximumSize, Mutation, State};

fn check_golden(file: &str, actual: &str) {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("FW6_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with FW6_BLESS=1 to create it)"));
    assert_eq!(
        actual, expected,
        "{path} differs; FW6_BLESS=1 rewrites it after review"
    );
}

#[test]
fn full_plan_renders_the_design_ruleset() {
    let text = plan::render(&plan::full(&sample(), &Options::default()));
    check_golden("full.nft", &text);
}

#[test]
fn logging_switches_add_rate_limited_log_rules() {
    let mut state = sample();
    state
        .apply_batch(&[
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: true },
        ])
        .unwrap();
    let options = Options {
        echo_request: EchoRequest::Drop,
        ..Options::default()
    };
    check_golden("logging.nft", &plan::render(&plan::full(&state, &options)));
}

#[test]
fn echo_requests_are_accepted_after_the_sets_and_before_the_drop_log() {
    let mut state = State::default();
    state
        .apply_batch(&[
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: true },
        ])
        .unwrap();
    let plan = plan::full(&state, &Options::default());
    let tail: Vec<String> = plan.rules[plan.rules.len() - 6..]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        tail,
        [
            "meta l4proto . th dport @global_open accept",
            "icmpv6 type echo-request limit rate 10/second accept",
            "icmp type echo-request limit rate 10/second accept",
            "meta l4proto igmp ip daddr 224.0.0.0/4 ip ttl 1 accept",
            "counter packets 0 bytes 0 limit rate 100/second counter packets 0 bytes 0 log prefix \
             \"fw6 DROP not-open\" group 6 snaplen 128",
            "drop",
        ]
    );
}

#[test]
fn empty_state_has_empty_sets_and_the_whole_chain() {
    let plan = plan::full(&State::default(), &Options::default());
    assert_eq!(plan.element_count(), 0);
    let text = plan::render(&plan);
    assert!(text.contains("rt type 0 drop"));
    assert!(text.contains("\t\tdrop\n\t}\n\n\tchain input_icmpv6 {\n"));
    assert!(text.ends_with("icmpv6 type parameter-problem accept\n\t}\n}\n"));
}

#[test]
fn icmpv6_rules_sit_behind_one_jump() {
    let plan = plan::full(&State::default(), &Options::default());
    // TCP and UDP pass loopback, established and one `meta l4proto` comparison, not 13 rules.
    assert_eq!(
        &plan.rules[..4],
        &[
            Rule::AcceptLoopback,
            Rule::AcceptEstablished,
            Rule::JumpIcmpv6,
            Rule::AcceptUnfirewalled
        ]
    );
    assert_eq!(plan.icmpv6_rules.len(), 13);
    assert!(plan.icmpv6_rules.iter().all(|r| matches!(
        r,
        Rule::AcceptNeighbourDiscovery(_)
            | Rule::AcceptMulticastListener(_)
            | Rule::AcceptIcmpv6Error(_)
    )));
    // Echo requests stay in the input chain, after the unfirewalled, invalid and routing header
    // checks and after every set rule (which match only TCP and UDP), right before the drop.
    let at = |wanted: fn(&Rule) -> bool| plan.rules.iter().position(wanted).unwrap();
    let echo = at(|r| matches!(r, Rule::AcceptEchoRequest { .. }));
    assert!(echo > at(|r| matches!(r, Rule::DropRoutingHeader0)));
    assert!(echo > at(|r| matches!(r, Rule::AcceptGlobalOpen)));
    assert_eq!(echo + 4, plan.rules.len());
    assert_eq!(
        Rule::JumpIcmpv6.to_string(),
        "meta l4proto ipv6-icmp jump input_icmpv6"
    );
}

#[test]
fn ipv6_only_accepts_ipv4_first_and_has_no_ipv4_rules() {
    let mut state = State::default();
    state
        .apply_batch(&[
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: true },
        ])
        .unwrap();
    let options = Options {
        ipv4: false,
        ..Options::default()
    };
    let plan = plan::full(&state, &options);
    assert_eq!(plan.rules[0], Rule::AcceptIpv4);
    assert_eq!(plan.output_rules[0], Rule::AcceptIpv4);
    assert!(!plan.rules.iter().any(|r| matches!(
        r,
        Rule::AcceptIgmp | Rule::AcceptIcmpEchoRequest { .. } | Rule::DropSourceRoute(_)
    )));
    check_golden("ipv6-only.nft", &plan::render(&plan));
    // Both families: no early accept, and the IPv4 rules are there.
    let both = plan::full(&state, &Options::default());
    assert!(!both.rules.contains(&Rule::AcceptIpv4));
    assert!(both.rules.contains(&Rule::AcceptIgmp));
}

#[test]
fn changes_map_to_single_element_operations() {
    let mut state = sample();
    let lan0 = ifname("lan0");
    let changes = state
        .apply_batch(&[
            Mutation::OpenPort {
                connection: lan0.clone(),
                key: key("443/tcp"),
                name: name(""),
                lease: None,
            },
            Mutation::ClosePort {
                connection: lan0.clone(),
                key: key("80/tcp"),
            },
            Mutation::CloseGlobalPort {
                key: key("546/udp"),
            },
            Mutation::EnableFirewall {
                connection: ifname("lab0"),
            },
            Mutation::ObserveGlobalPort {
                connection: ifname("wan0"),
                key: key("22/tcp"),
            },
            Mutation::SetLogfileMaximumSize {
                kib: LogfileMaximumSize::try_from(10).unwrap(),
            },
        ])
        .unwrap();
    assert_eq!(
        plan::update(&changes),
        Update::Elements(vec![
            ElementOp::Add(
                SetName::Open,
                Element::ConnectionPair(lan0.clone(), key("443/tcp"))
            ),
            ElementOp::Delete(SetName::Open, Element::ConnectionPair(lan0, key("80/tcp"))),
            ElementOp::Delete(SetName::GlobalOpen, Element::Pair(key("546/udp"))),
            ElementOp::Delete(SetName::Unfirewalled, Element::Connection(ifname("lab0"))),
            ElementOp::Delete(
                SetName::Ignored,
                Element::ConnectionPair(ifname("wan0"), key("22/tcp"))
            ),
        ])
    );
    let changes = state
        .apply(&Mutation::SetLogDroppedPackets { enabled: true })
        .unwrap();
    assert_eq!(plan::update(&changes), Update::Rebuild);
}
