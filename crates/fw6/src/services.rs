//! Service names (`ssh`, `http`, `domain`, `dhcpv6-client`) for the pairs an administrator
//! types: read from `/etc/services` (parsed here, so no libc NSS module is loaded into a root
//! tool) plus a small built-in table for common names that file lacks or that a minimal system
//! does not ship.

use std::collections::BTreeMap;
use std::path::Path;

use fw6_model::{Port, PortKey, Protocol};

/// The system's service table.
pub const SERVICES_FILE: &str = "/etc/services";

/// Names the built-in table adds when the file lacks them: (name, port, protocols).
const BUILTIN: &[(&str, u16, &[Protocol])] = {
    use Protocol::{Tcp, Udp};
    &[
        ("ssh", 22, &[Tcp]),
        ("smtp", 25, &[Tcp]),
        ("domain", 53, &[Tcp, Udp]),
        ("dns", 53, &[Tcp, Udp]),
        ("http", 80, &[Tcp]),
        ("www", 80, &[Tcp]),
        ("ntp", 123, &[Udp]),
        ("imaps", 993, &[Tcp]),
        ("https", 443, &[Tcp, Udp]),
        ("dhcpv6-client", 546, &[Udp]),
        ("dhcpv6-server", 547, &[Udp]),
        ("submission", 587, &[Tcp]),
        ("domain-s", 853, &[Tcp, Udp]),
        ("openvpn", 1194, &[Tcp, Udp]),
        ("mysql", 3306, &[Tcp]),
        ("ms-wbt-server", 3389, &[Tcp]),
        ("rdp", 3389, &[Tcp]),
        ("postgresql", 5432, &[Tcp]),
        ("mdns", 5353, &[Udp]),
        ("llmnr", 5355, &[Tcp, Udp]),
        ("http-alt", 8080, &[Tcp]),
        ("wireguard", 51820, &[Udp]),
    ]
};

/// Service names and their pairs. Names are matched without regard to case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    by_name: BTreeMap<String, Vec<PortKey>>,
}

impl Services {
    /// `/etc/services` (when readable) plus the built-in names it lacks.
    pub fn system() -> Self {
        Self::from_file(Path::new(SERVICES_FILE))
    }

    /// `path` in the `/etc/services` format (when readable) plus the built-in names it lacks.
    pub fn from_file(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut services = Self::parse(&text);
        services.add_builtin();
        services
    }

    /// The built-in table alone: the same on every machine (shell completions use it).
    pub fn builtin() -> Self {
        let mut services = Self::default();
        services.add_builtin();
        services
    }

    /// Parses the `/etc/services` format: `name port/protocol [aliases…] [# comment]`. Lines
    /// that do not parse, and protocols other than tcp and udp (sctp, ddp), are skipped: the
    /// file is the system's, not the user's, so it is read leniently.
    pub fn parse(text: &str) -> Self {
        let mut services = Self::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pair)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = pair.split_once('/') else {
                continue;
            };
            let (Ok(port), Ok(protocol)) = (port.parse::<u16>(), proto.parse::<Protocol>()) else {
                continue;
            };
            let Ok(port) = Port::try_from(port) else {
                continue;
            };
            // "6"/"17" are accepted by Protocol's parser, but the file spells protocols out.
            if !proto.chars().all(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            let key = PortKey::new(port, protocol);
            for name in std::iter::once(name).chain(words) {
                services.insert(name, key);
            }
        }
        services
    }

    fn add_builtin(&mut self) {
        for (name, port, protocols) in BUILTIN {
            if self.by_name.contains_key(*name) {
                continue;
            }
            let port = Port::try_from(*port).expect("built-in ports are valid");
            for protocol in *protocols {
                self.insert(name, PortKey::new(port, *protocol));
            }
        }
    }

    fn insert(&mut self, name: &str, key: PortKey) {
        let keys = self.by_name.entry(name.to_ascii_lowercase()).or_default();
        if !keys.contains(&key) {
            keys.push(key);
            keys.sort();
        }
    }

    /// The pairs of `name` (any case), ordered by (port, protocol); `None` when unknown.
    pub fn lookup(&self, name: &str) -> Option<&[PortKey]> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// Every name, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Up to `n` known names closest to `name` (edit distance at most 3), best first: the
    /// suggestions of an "unknown service" error. Ties in edit distance go to the name sharing
    /// the longer prefix (Jaro-Winkler), as typos keep the start of a word more often.
    pub fn closest(&self, name: &str, n: usize) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        let mut scored: Vec<(usize, f64, &str)> = self
            .names()
            .map(|known| {
                (
                    strsim::levenshtein(&name, known),
                    strsim::jaro_winkler(&name, known),
                    known,
                )
            })
            .filter(|(d, _, _)| *d <= 3)
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(b.2)));
        scored.into_iter().take(n).map(|(_, _, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &Services, name: &str) -> Vec<String> {
        s.lookup(name)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn parses_the_file_format_leniently() {
        let s = Services::parse(
            "# comment\n\
             ssh\t\t22/tcp\t\t\t# SSH\n\
             domain\t53/tcp\ndomain\t53/udp\n\
             http\t80/tcp\t\twww # web\n\
             sctp-thing\t9/sctp\n\
             broken\n\
             bad\tx/tcp\n\
             zero\t0/udp\n",
        );
        assert_eq!(keys(&s, "ssh"), ["22/tcp"]);
        assert_eq!(keys(&s, "DOMAIN"), ["53/tcp", "53/udp"]);
        assert_eq!(keys(&s, "www"), ["80/tcp"]);
        for absent in ["sctp-thing", "broken", "bad", "zero", "comment"] {
            assert!(s.lookup(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn the_builtin_table_fills_gaps_but_the_file_wins() {
        let dir = std::env::temp_dir().join(format!("fw6-services-{}", std::process::id()));
        std::fs::write(&dir, "ssh 2222/tcp\n").unwrap();
        let s = Services::from_file(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(keys(&s, "ssh"), ["2222/tcp"], "the file wins");
        assert_eq!(keys(&s, "wireguard"), ["51820/udp"]);
        assert_eq!(keys(&s, "https"), ["443/tcp", "443/udp"]);
        let missing = Services::from_file(Path::new("/nonexistent/services"));
        assert_eq!(missing, Services::builtin());
    }

    #[test]
    fn suggestions_are_the_closest_names() {
        let s = Services::builtin();
        assert_eq!(s.closest("htp", 2), ["http", "ntp"]);
        assert!(s.closest("zzzzzzzzzz", 3).is_empty());
    }
}
