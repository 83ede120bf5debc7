//! Port ranges: `27015-27030/udp` is one pair per port to the daemon (the ICF model has no
//! ranges), opened or closed in one atomic `Apply`, and folded back into a range when listed.

use std::fmt;

use fw6_model::{EntryName, Error, Port, PortEntry, PortKey, Protocol};

/// The most ports one range may span. A range is sent as one `Apply` of one item per port:
/// the bound keeps one command's batch, its polkit check and its kernel batch small, and catches
/// a slip such as `1-65535`; more is possible with several commands or a batch file.
pub const MAX_SPAN: u32 = 1024;

/// `FIRST-LAST`, both inclusive, at most [`MAX_SPAN`] ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: Port,
    last: Port,
}

impl PortRange {
    /// A validated range.
    pub fn new(first: Port, last: Port) -> Result<Self, Error> {
        if last < first {
            return Err(Error::invalid_arg(format!(
                "the range {first}-{last} is reversed: write {last}-{first}"
            )));
        }
        let span = u32::from(last.get()) - u32::from(first.get()) + 1;
        if span > MAX_SPAN {
            return Err(Error::invalid_arg(format!(
                "the range {first}-{last} spans {span} ports: at most {MAX_SPAN} in one command; \
                 split it, or use `fw6 batch` for more"
            )));
        }
        Ok(Self { first, last })
    }

    /// Parses `FIRST-LAST`; `None` when `s` is not two numbers joined by `-` (a service name
    /// such as `http-alt` is not a range).
    pub fn parse(s: &str) -> Option<Result<Self, Error>> {
        let (a, b) = s.split_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return None;
        }
        let port = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| Error::invalid_arg(format!("port {t} is out of range: use 1-65535")))
                .and_then(Port::try_from)
        };
        Some(port(a).and_then(|a| port(b).and_then(|b| Self::new(a, b))))
    }

    /// The ports, in order.
    pub fn ports(self) -> impl Iterator<Item = Port> {
        (self.first.get()..=self.last.get())
            .map(|p| Port::try_from(p).expect("within a valid range"))
    }
}

/// A run of consecutive ports with the same protocol and name: one line of a folded listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The first port.
    pub first: Port,
    /// The last port (equal to `first` for a single pair).
    pub last: Port,
    /// The protocol of every pair of the run.
    pub protocol: Protocol,
    /// The name of every pair of the run.
    pub name: EntryName,
}

impl Run {
    /// How many pairs the run stands for.
    pub fn len(&self) -> u32 {
        u32::from(self.last.get()) - u32::from(self.first.get()) + 1
    }

    /// Always false: a run holds at least one pair.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// `27015-27030/udp`, or `22/tcp` for a run of one.
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", PortKey::new(self.first, self.protocol))
        } else {
            write!(f, "{}-{}/{}", self.first, self.last, self.protocol)
        }
    }
}

/// Folds entries (in any order) into runs of consecutive ports with the same protocol and
/// name, ordered by (first port, protocol) like the entries themselves.
pub fn fold(entries: &[PortEntry]) -> Vec<Run> {
    let mut sorted: Vec<&PortEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| (e.protocol, e.port));
    let mut runs: Vec<Run> = Vec::new();
    for e in sorted {
        if let Some(run) = runs.last_mut()
            && run.protocol == e.protocol
            && run.name == e.name
            && u32::from(run.last.get()) + 1 == u32::from(e.port.get())
        {
            run.last = e.port;
            continue;
        }
        runs.push(Run {
            first: e.port,
            last: e.port,
            protocol: e.protocol,
            name: e.name.clone(),
        });
    }
    runs.sort_by_key(|r| (r.first, r.protocol));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(s: &str, name: &str) -> PortEntry {
        PortEntry::new(s.parse().unwrap(), EntryName::try_from(name).unwrap())
    }

    #[test]
    fn ranges_parse_and_are_bounded() {
        let r = PortRange::parse("27015-27030").unwrap().unwrap();
        assert_eq!(r.ports().count(), 16);
        assert!(PortRange::parse("http-alt").is_none());
        assert!(PortRange::parse("80").is_none());
        assert!(
            PortRange::parse("1000-2023").unwrap().is_ok(),
            "1,024 ports"
        );
        let e = PortRange::parse("1000-2024").unwrap().unwrap_err();
        assert!(e.message().contains("1025 ports"), "{e}");
        assert!(e.message().contains("1024"), "{e}");
        let e = PortRange::parse("30-20").unwrap().unwrap_err();
        assert!(e.message().contains("20-30"), "{e}");
        assert!(PortRange::parse("0-5").unwrap().is_err());
        assert!(PortRange::parse("65535-99999999999").unwrap().is_err());
    }

    #[test]
    fn fold_joins_runs_of_one_protocol_and_name() {
        let mut list = vec![entry("22/tcp", "ssh")];
        for p in 27015..=27030 {
            list.push(entry(&format!("{p}/udp"), "game"));
            list.push(entry(&format!("{p}/tcp"), "game"));
        }
        list.push(entry("27031/udp", "other"));
        list.push(entry("27033/udp", "game"));
        let runs: Vec<String> = fold(&list)
            .iter()
            .map(|r| format!("{r} {}", r.name))
            .collect();
        assert_eq!(
            runs,
            [
                "22/tcp ssh",
                "27015-27030/tcp game",
                "27015-27030/udp game",
                "27031/udp other",
                "27033/udp game"
            ]
        );
        assert_eq!(fold(&list)[1].len(), 16);
        assert!(fold(&[]).is_empty());
    }
}
