//! The text of the log: header, one line per packet, loss lines (docs/logging.md).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use fw6_kernel::conntrack::CtEvent;
use fw6_kernel::nflog::Record;
use fw6_model::plan::LogKind;

/// The `#Fields` directive's value: the columns of every packet line, space-separated.
pub const FIELDS: &str =
    "date time action protocol src-ip dst-ip src-port dst-port size tcpflags interface info";

/// The header written at the top of every new file.
pub fn header() -> String {
    format!(
        "#Version: 1.0\n#Software: fw6 {}\n#Time Format: UTC\n#Fields: {FIELDS}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The comment line reporting `count` events lost since the previous one.
pub fn lost(count: u64) -> String {
    format!("#Lost: {count} events\n")
}

/// The comment line reporting `count` events the kernel's rate limits kept from the log since
/// the previous one.
pub fn suppressed(count: u64) -> String {
    format!("#Lost: {count} events (rate limit)\n")
}

/// One packet's line. `kind` is the rule that logged it (action and reason); `read_at` stands in
/// for the time when the kernel did not stamp the packet; `interface` is the input interface's
/// name.
pub fn packet(kind: LogKind, record: &Record, read_at: SystemTime, interface: &str) -> String {
    let (date, time) = utc(record.timestamp.unwrap_or(read_at));
    let mut out = format!("{date} {time} {} ", kind.action());
    let dash = |v: Option<u16>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    match &record.packet {
        Some(p) => {
            let flags = p
                .tcp_flags
                .map_or_else(|| "-".to_owned(), |f| f.to_string());
            let _ = write!(
                out,
                "{} {} {} {} {} {} {flags}",
                protocol(p.protocol),
                p.src,
                p.dst,
                dash(p.src_port),
                dash(p.dst_port),
                p.size,
            );
        }
        None => out.push_str("- - - - - - -"),
    }
    let interface = if interface.is_empty() { "-" } else { interface };
    let _ = writeln!(out, " {interface} {}", kind.reason());
    out
}

/// The line for the end of a connection logged OPEN: its original direction's addresses and
/// ports; conntrack gives no size, flags or interface for it. `info` is `in` or `out`, the way
/// it was opened.
pub fn close(event: &CtEvent, inbound: bool, at: SystemTime) -> String {
    let (date, time) = utc(at);
    let dash = |v: Option<u16>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    format!(
        "{date} {time} CLOSE {} {} {} {} {} - - - {}\n",
        protocol(event.protocol),
        event.src,
        event.dst,
        dash(event.src_port),
        dash(event.dst_port),
        if inbound { "in" } else { "out" }
    )
}

/// The protocol column: the common names, other protocols by number.
fn protocol(number: u8) -> String {
    match number {
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "ICMPv6".into(),
        132 => "SCTP".into(),
        136 => "UDPLite".into(),
        n => n.to_string(),
    }
}

/// `YYYY-MM-DD` and `HH:MM:SS` in UTC.
fn utc(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let of_day = secs % 86_400;
    let (y, m, d) = fw6_model::civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fw6_kernel::nflog::{Packet, TcpFlags};

    use super::*;

    fn addr(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn dates_and_times_are_utc() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc(at(0)), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(
            utc(at(951_782_400)),
            ("2000-02-29".into(), "00:00:00".into())
        );
        assert_eq!(
            utc(at(1_767_225_599)),
            ("2025-12-31".into(), "23:59:59".into())
        );
    }

    #[test]
    fn a_packet_line_has_every_field_and_no_spaces_inside_one() {
        let record = Record {
            prefix: "fw6 DROP not-open".into(),
            indev: Some(3),
            outdev: None,
            timestamp: Some(UNIX_EPOCH + Duration::from_secs(1_767_225_599)),
            packet: Some(Packet {
                src: addr("fd00:1::2"),
                dst: addr("fd00:1::1"),
                protocol: 6,
                src_port: Some(40000),
                dst_port: Some(22),
                tcp_flags: Some(TcpFlags(0x02)),
                size: 80,
            }),
            copied: 80,
        };
        let line = packet(LogKind::DropNotOpen, &record, UNIX_EPOCH, "lan0");
        assert_eq!(
            line,
            "2025-12-31 23:59:59 DROP TCP fd00:1::2 fd00:1::1 40000 22 80 S lan0 not-open\n"
        );
        assert_eq!(
            line.split_whitespace().count(),
            FIELDS.split_whitespace().count()
        );
    }

    #[test]
    fn missing_values_are_dashes() {
        let record = Record {
            prefix: "fw6 OPEN global".into(),
            indev: None,
            outdev: None,
            timestamp: None,
            packet: Some(Packet {
                src: addr("fe80::1"),
                dst: addr("ff02::1"),
                protocol: 58,
                src_port: None,
                dst_port: None,
                tcp_flags: None,
                size: 64,
            }),
            copied: 64,
        };
        let line = packet(LogKind::OpenGlobal, &record, UNIX_EPOCH, "");
        assert_eq!(
            line,
            "1970-01-01 00:00:00 OPEN ICMPv6 fe80::1 ff02::1 - - 64 - - global\n"
        );
    }

    #[test]
    fn every_prefix_maps_back_to_its_kind_and_others_to_none() {
        for kind in LogKind::ALL {
            assert_eq!(LogKind::from_prefix(kind.prefix()), Some(kind));
            assert_eq!(
                kind.prefix(),
                format!("fw6 {} {}", kind.action(), kind.reason())
            );
        }
        assert_eq!(LogKind::from_prefix("fw6 DROP"), None);
        assert_eq!(LogKind::from_prefix("someone else"), None);
        assert!(header().ends_with(&format!("#Fields: {FIELDS}\n")));
        assert_eq!(lost(12), "#Lost: 12 events\n");
        assert_eq!(suppressed(7), "#Lost: 7 events (rate limit)\n");
    }

    #[test]
    fn a_close_line_has_every_field() {
        use fw6_kernel::conntrack::{CtEvent, CtEventKind};
        let event = CtEvent {
            kind: CtEventKind::Destroy,
            id: Some(1),
            labels: [0; 16],
            protocol: 17,
            src: addr("fd00:1::1"),
            dst: addr("fd00:1::2"),
            src_port: Some(5353),
            dst_port: Some(53),
        };
        let line = close(&event, false, UNIX_EPOCH);
        assert_eq!(
            line,
            "1970-01-01 00:00:00 CLOSE UDP fd00:1::1 fd00:1::2 5353 53 - - - out\n"
        );
        assert_eq!(
            line.split_whitespace().count(),
            FIELDS.split_whitespace().count()
        );
    }
}
