//! The NFLOG reader against the real kernel: fw6's own log rules (`plan::full` with logging on,
//! applied with `Nft::apply_full`) in a host namespace, real packets from a peer namespace, and
//! a [`Reader`] bound in the host namespace (docs/design.md §5 "Logging" and §9.4).

use std::net::{SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use fw6_kernel::Nft;
use fw6_kernel::nflog::{Reader, ReaderOptions, Record};
use fw6_model::plan::{self, Options};
use fw6_model::{Mutation, State};
use fw6_testkit::packet::{self, TCP};
use fw6_testkit::{Topology, send_raw};

const GROUP: u16 = 6;
/// How long any expected record may take.
const PATIENCE: Duration = Duration::from_secs(5);

/// A topology whose host drops (and logs, at up to `per_second`) everything unsolicited.
fn lab(per_second: u32) -> Topology {
    let topo = Topology::new();
    let mut nft = {
        let _inside = topo.host().enter();
        Nft::new().expect("open nftables in the host namespace")
    };
    let mut state = State::default();
    state
        .apply(&Mutation::SetLogDroppedPackets { enabled: true })
        .unwrap();
    let options = Options {
        log_group: GROUP,
        log_per_second: per_second,
        ..Options::default()
    };
    nft.apply_full(&plan::full(&state, &options))
        .expect("load the table");
    // Neighbour discovery done before counting anything: echo requests pass (rate-limited).
    assert!(
        topo.lan().ping(Duration::from_secs(3)),
        "lan peer unreachable"
    );
    topo
}

fn bind(topo: &Topology, options: &ReaderOptions) -> Reader {
    topo.host()
        .run_in(|| Reader::bind(GROUP, options))
        .expect("bind the NFLOG group")
}

/// Sends `count` UDP datagrams of `size` bytes from the lan peer's port `sport` to `dport`.
fn send_udp(topo: &Topology, sport: u16, dport: u16, count: usize, size: usize) {
    let to = topo.lan().host_sock(dport);
    let from = SocketAddrV6::new(topo.lan().peer_addr(), sport, 0, 0);
    topo.lan().peer().run_in(|| {
        let socket = UdpSocket::bind(from).expect("bind the sender");
        for _ in 0..count {
            socket.send_to(&vec![0x55; size], to).expect("send");
        }
    });
}

/// Reads until `want` records satisfy `pick`, within [`PATIENCE`].
fn read_until(reader: &mut Reader, want: usize, pick: impl Fn(&Record) -> bool) -> Vec<Record> {
    let deadline = Instant::now() + PATIENCE;
    let mut all = Vec::new();
    while all.iter().filter(|r| pick(r)).count() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} records within {PATIENCE:?}: {all:#?}",
            all.iter().filter(|r| pick(r)).count()
        );
        reader.read(&mut all).expect("read");
    }
    all
}

fn ifindex(topo: &Topology, name: &str) -> u32 {
    let path = format!("/sys/class/net/{name}/ifindex");
    topo.host().exec("cat", &[&path]).trim().parse().unwrap()
}

#[test]
fn dropped_packets_arrive_with_their_headers_decoded() {
    let topo = lab(1000);
    let mut reader = bind(&topo, &ReaderOptions::default());
    let (peer, host) = (topo.lan().peer_addr(), topo.lan().host_addr());
    send_udp(&topo, 40001, 9999, 1, 300);
    let syn = packet::tcp_syn(peer, host, 40002, 8080, 1, &[]);
    send_raw(
        topo.lan().peer(),
        host,
        &[packet::ipv6(peer, host, TCP, &syn)],
    );

    let from_peer = |r: &Record| r.packet.is_some_and(|p| p.src == peer);
    let records = read_until(&mut reader, 2, from_peer);
    let lan0 = ifindex(&topo, "lan0");
    let udp = records
        .iter()
        .find(|r| r.packet.is_some_and(|p| p.protocol == 17))
        .expect("the UDP record");
    assert_eq!(udp.prefix, "fw6 DROP not-open");
    assert_eq!(udp.indev, Some(lan0));
    let p = udp.packet.unwrap();
    assert_eq!((p.src, p.dst), (peer.into(), host.into()));
    assert_eq!((p.src_port, p.dst_port), (Some(40001), Some(9999)));
    assert_eq!(
        p.size,
        40 + 8 + 300,
        "the size is the packet's, not the 128 bytes copied"
    );
    assert_eq!(p.tcp_flags, None);
    assert_eq!(udp.copied, 128, "the rule's snaplen");

    let tcp = records
        .iter()
        .find(|r| r.packet.is_some_and(|p| p.protocol == 6))
        .expect("the TCP record");
    let p = tcp.packet.unwrap();
    assert_eq!((p.src_port, p.dst_port), (Some(40002), Some(8080)));
    assert_eq!(p.tcp_flags.unwrap().to_string(), "S");
    assert_eq!(p.size, 40 + 24);
    assert_eq!(reader.lost(), 0);
}

#[test]
fn the_kernel_copies_no_more_than_the_snaplen() {
    // A reader asking for whole packets still gets at most the rule's 128 bytes: the rule's
    // `snaplen` caps the copy, so a flood of big packets costs the reader no more than small.
    let topo = lab(1000);
    let options = ReaderOptions {
        copy_range: 0xffff,
        ..ReaderOptions::default()
    };
    let mut reader = bind(&topo, &options);
    send_udp(&topo, 40003, 9999, 1, 1200);
    let peer = topo.lan().peer_addr();
    let records = read_until(&mut reader, 1, |r| r.packet.is_some_and(|p| p.src == peer));
    let record = records.iter().find(|r| r.packet.is_some()).unwrap();
    let p = record.packet.unwrap();
    assert_eq!((p.dst_port, p.size), (Some(9999), 40 + 8 + 1200));
    assert_eq!(record.copied, plan::LOG_SNAPLEN as usize);
}

#[test]
fn a_full_receive_buffer_is_counted_as_lost_from_sequence_gaps() {
    const SENT: usize = 3000;
    let topo = lab(1_000_000);
    let options = ReaderOptions {
        receive_buffer: 4096,
        ..ReaderOptions::default()
    };
    let mut reader = bind(&topo, &options);
    // Nobody reads while the burst arrives, so most batches find the buffer full.
    send_udp(&topo, 40004, 9999, SENT, 16);
    std::thread::sleep(Duration::from_millis(200));
    let peer = topo.lan().peer_addr();
    let is_burst = |r: &Record| {
        r.packet
            .is_some_and(|p| p.src == peer && p.dst_port == Some(9999))
    };
    let mut records = Vec::new();
    while reader.read(&mut records).expect("read") > 0 {}
    // One more packet after the burst: its sequence number reveals a loss at the burst's end.
    send_udp(&topo, 40004, 9998, 1, 16);
    let deadline = Instant::now() + PATIENCE;
    while !records
        .iter()
        .any(|r| r.packet.is_some_and(|p| p.dst_port == Some(9998)))
    {
        assert!(Instant::now() < deadline, "the marker packet never arrived");
        reader.read(&mut records).expect("read");
    }
    let burst = records.iter().filter(|r| is_burst(r)).count();
    let lost = usize::try_from(reader.lost()).unwrap();
    println!(
        "burst of {SENT}: {burst} read, {lost} lost, {} records in all",
        records.len()
    );
    assert!(lost > 0, "a 4 KiB buffer cannot hold {SENT} records");
    // Every burst packet was either read or counted; the few others (echo requests and the
    // like) may be among the lost.
    assert!(burst + lost >= SENT, "{burst} read + {lost} lost < {SENT}");
    assert!(
        records.len() + lost <= SENT + 1 + 20,
        "{lost} lost is more than was sent"
    );
}

#[test]
fn a_second_reader_of_the_same_group_is_refused() {
    let topo = lab(1000);
    let _first = bind(&topo, &ReaderOptions::default());
    let second = topo
        .host()
        .run_in(|| Reader::bind(GROUP, &ReaderOptions::default()));
    let err = second.expect_err("the group is taken");
    assert!(err.to_string().contains("bind the group"), "{err}");
}
