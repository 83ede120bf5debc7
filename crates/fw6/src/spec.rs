//! What an administrator types for pairs: `8080/tcp`, a range `27015-27030/udp`, a service
//! name `ssh`, `domain/udp`, or (where both protocols make sense, as in `fw6 explain`) a bare
//! port `443`. One argument resolves to the list of (port, protocol) pairs it stands for.

use fw6_model::{Error, Port, PortKey, Protocol};

use crate::range::PortRange;
use crate::services::{SERVICES_FILE, Services};

/// The pairs one argument stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs {
    /// The pairs, ordered by (port, protocol), never empty.
    pub keys: Vec<PortKey>,
    /// The service name as typed, when the argument was one: the default entry name.
    pub service: Option<String>,
    /// Said to the user when a service name without `/PROTO` stands for both protocols.
    pub note: Option<String>,
}

/// Whether a bare port or range (no `/PROTO`) stands for both protocols or is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// `443` means 443/tcp and 443/udp (questions such as `fw6 explain`).
    BothProtocols,
    /// `443` is refused: a change must say which protocol.
    Refused,
}

/// Resolves `arg` against `services`.
pub fn resolve(arg: &str, services: &Services, bare: Bare) -> Result<Pairs, Error> {
    let (what, protocol) = match arg.split_once('/') {
        Some((what, proto)) => (what, Some(proto.parse::<Protocol>()?)),
        None => (arg, None),
    };
    let ports: Option<Vec<Port>> = if !what.is_empty() && what.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = what
            .parse()
            .map_err(|_| Error::invalid_arg(format!("port {what} is out of range: use 1-65535")))?;
        Some(vec![Port::try_from(n)?])
    } else if let Some(range) = PortRange::parse(what) {
        Some(range?.ports().collect())
    } else {
        None
    };
    if let Some(ports) = ports {
        let protocols = match (protocol, bare) {
            (Some(p), _) => vec![p],
            (None, Bare::BothProtocols) => vec![Protocol::Tcp, Protocol::Udp],
            (None, Bare::Refused) => {
                return Err(Error::invalid_arg(format!(
                    "{arg:?} does not say which protocol: write {arg}/tcp or {arg}/udp"
                )));
            }
        };
        let mut keys: Vec<PortKey> = ports
            .iter()
            .flat_map(|port| protocols.iter().map(|p| PortKey::new(*port, *p)))
            .collect();
        keys.sort();
        return Ok(Pairs {
            keys,
            service: None,
            note: None,
        });
    }
    service(arg, what, protocol, services)
}

/// A service name, with or without `/PROTO`.
fn service(
    arg: &str,
    name: &str,
    protocol: Option<Protocol>,
    services: &Services,
) -> Result<Pairs, Error> {
    let Some(known) = services.lookup(name) else {
        let close = services.closest(name, 3);
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!("did you mean {}? ", close.join(", "))
        };
        return Err(Error::invalid_arg(format!(
            "{name:?} is neither a port nor a known service: {hint}write PORT/PROTO (e.g. \
             8080/tcp), a range (27015-27030/udp) or a service name from {SERVICES_FILE}"
        )));
    };
    let keys: Vec<PortKey> = known
        .iter()
        .filter(|k| protocol.is_none_or(|p| k.protocol == p))
        .copied()
        .collect();
    let listed = |keys: &[PortKey]| {
        keys.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if keys.is_empty() {
        return Err(Error::invalid_arg(format!(
            "service {name} has no {arg:?}: it is {}",
            listed(known)
        )));
    }
    let protocols_used = keys.iter().map(|k| k.protocol).collect::<Vec<_>>();
    let note = (protocol.is_none() && protocols_used.windows(2).any(|w| w[0] != w[1]))
        .then(|| format!("{name} is {}: both protocols", listed(&keys)));
    Ok(Pairs {
        keys,
        service: Some(name.to_owned()),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Pairs) -> Vec<String> {
        p.keys.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn numbers_ranges_and_names() {
        let s = Services::builtin();
        let r = |a: &str| resolve(a, &s, Bare::Refused);
        assert_eq!(text(&r("8080/tcp").unwrap()), ["8080/tcp"]);
        assert_eq!(r("27015-27030/udp").unwrap().keys.len(), 16);
        let ssh = r("ssh").unwrap();
        assert_eq!(
            (text(&ssh), ssh.service.as_deref(), ssh.note),
            (vec!["22/tcp".to_owned()], Some("ssh"), None)
        );
        let dns = r("domain").unwrap();
        assert_eq!(text(&dns), ["53/tcp", "53/udp"]);
        assert!(dns.note.unwrap().contains("both"));
        assert_eq!(text(&r("domain/udp").unwrap()), ["53/udp"]);
        assert_eq!(text(&r("HTTP/tcp").unwrap()), ["80/tcp"]);
        assert!(r("ssh/udp").unwrap_err().message().contains("22/tcp"));
        let e = r("htp/tcp").unwrap_err();
        assert!(e.message().contains("did you mean http"), "{e}");
        assert!(
            r("443")
                .unwrap_err()
                .message()
                .contains("443/tcp or 443/udp")
        );
        assert!(r("0/tcp").unwrap_err().message().contains("1-65535"));
        assert!(r("99999/tcp").unwrap_err().message().contains("1-65535"));
        assert!(r("80/icmp").unwrap_err().message().contains("tcp or udp"));
        assert!(r("1-5000/tcp").unwrap_err().message().contains("1024"));
        let both = resolve("443", &s, Bare::BothProtocols).unwrap();
        assert_eq!(text(&both), ["443/tcp", "443/udp"]);
    }
}
