//! The batch file of `fw6 batch`: TOML with one `[[op]]` table per state-changing member.
//!
//! ```toml
//! [[op]]
//! member = "OpenPort"
//! connection = "lan0"
//! port = "8080/tcp"
//! name = "web"
//!
//! [[op]]
//! member = "LogDroppedPackets"
//! value = true
//! ```
//!
//! Each member takes exactly the fields it needs; a missing or extra field is an error on the
//! line of the `member` key (or of the offending field), so a typo never silently does less.

use fw6_model::{EntryName, IfName, LogfileMaximumSize, Mutation, PortKey};
use serde::Deserialize;
use toml::Spanned;

use super::FileError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    #[serde(default)]
    op: Vec<RawOp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOp {
    member: Spanned<String>,
    connection: Option<Spanned<String>>,
    port: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    value: Option<Spanned<toml::Value>>,
}

/// Which fields a member takes.
struct Shape {
    connection: bool,
    port: bool,
    name: bool,
    value: bool,
}

const fn shape(member: &str) -> Option<Shape> {
    let (connection, port, name, value) = match member.as_bytes() {
        b"OpenGlobalPort" => (false, true, true, false),
        b"CloseGlobalPort" => (false, true, false, false),
        b"EnableFirewall" | b"DisableFirewall" => (true, false, false, false),
        b"OpenPort" | b"IgnoreGlobalPort" => (true, true, true, false),
        b"ClosePort" | b"ObserveGlobalPort" => (true, true, false, false),
        b"LogfilePath" | b"LogfileMaximumSize" | b"LogDroppedPackets" | b"LogConnections" => {
            (false, false, false, true)
        }
        _ => return None,
    };
    Some(Shape {
        connection,
        port,
        name,
        value,
    })
}

/// The twelve member names, for error messages.
const MEMBERS: &str = "OpenGlobalPort, CloseGlobalPort, EnableFirewall, DisableFirewall, \
     OpenPort, ClosePort, IgnoreGlobalPort, ObserveGlobalPort, LogfilePath, LogfileMaximumSize, \
     LogDroppedPackets, LogConnections";

/// Parses a batch file into mutations, in file order. Nothing is sent; the daemon applies the
/// result all or nothing.
pub fn parse_batch(source: &str) -> Result<Vec<Mutation>, FileError> {
    let raw: RawBatch = toml::from_str(source).map_err(|e| FileError::toml(source, &e))?;
    raw.op
        .into_iter()
        .enumerate()
        .map(|(i, op)| {
            parse_op(source, op).map_err(|e| e.prefixed(format_args!("op {}", i + 1)))
        })
        .collect()
}

fn parse_op(source: &str, op: RawOp) -> Result<Mutation, FileError> {
    let at = |span: std::ops::Range<usize>, msg: String| FileError::at(source, Some(span), msg);
    let member = op.member.get_ref().as_str();
    let member_span = op.member.span();
    let Some(want) = shape(member) else {
        return Err(at(
            member_span,
            format!("unknown member {member:?}: use one of {MEMBERS}"),
        ));
    };
    // Field presence: required fields must be there, others must not.
    let fields = [
        ("connection", op.connection.as_ref().map(Spanned::span), want.connection, true),
        ("port", op.port.as_ref().map(Spanned::span), want.port, true),
        ("name", op.name.as_ref().map(Spanned::span), want.name, false),
        ("value", op.value.as_ref().map(Spanned::span), want.value, true),
    ];
    for (field, span, wanted, required) in fields {
        match (span, wanted) {
            (Some(span), false) => {
                return Err(at(span, format!("{member} takes no {field}: remove it")));
            }
            (None, true) if required => {
                return Err(at(
                    member_span.clone(),
                    format!("{member} needs a {field}"),
                ));
            }
            _ => {}
        }
    }

    let connection = || -> Result<IfName, FileError> {
        let c = op.connection.as_ref().expect("checked above");
        IfName::try_from(c.get_ref().as_str()).map_err(|e| at(c.span(), e.message().to_owned()))
    };
    let key = || -> Result<PortKey, FileError> {
        let p = op.port.as_ref().expect("checked above");
        p.get_ref()
            .parse()
            .map_err(|e: fw6_model::Error| at(p.span(), e.message().to_owned()))
    };
    let name = || -> Result<EntryName, FileError> {
        op.name.as_ref().map_or_else(
            || Ok(EntryName::default()),
            |n| {
                EntryName::try_from(n.get_ref().as_str())
                    .map_err(|e| at(n.span(), e.message().to_owned()))
            },
        )
    };
    let value = || op.value.as_ref().expect("checked above");
    let boolean = || -> Result<bool, FileError> {
        let v = value();
        v.get_ref().as_bool().ok_or_else(|| {
            at(
                v.span(),
                format!("{member} takes value = true or value = false"),
            )
        })
    };

    Ok(match member {
        "OpenGlobalPort" => Mutation::OpenGlobalPort {
            key: key()?,
            name: name()?,
        },
        "CloseGlobalPort" => Mutation::CloseGlobalPort { key: key()? },
        "EnableFirewall" => Mutation::EnableFirewall {
            connection: connection()?,
        },
        "DisableFirewall" => Mutation::DisableFirewall {
            connection: connection()?,
        },
        "OpenPort" => Mutation::OpenPort {
            connection: connection()?,
            key: key()?,
            name: name()?,
        },
        "ClosePort" => Mutation::ClosePort {
            connection: connection()?,
            key: key()?,
        },
        "IgnoreGlobalPort" => Mutation::IgnoreGlobalPort {
            connection: connection()?,
            key: key()?,
            name: name()?,
        },
        "ObserveGlobalPort" => Mutation::ObserveGlobalPort {
            connection: connection()?,
            key: key()?,
        },
        "LogfilePath" => {
            let v = value();
            let path = v.get_ref().as_str().ok_or_else(|| {
                at(v.span(), "LogfilePath takes a string value".to_owned())
            })?;
            Mutation::SetLogfilePath {
                path: path.to_owned(),
            }
        }
        "LogfileMaximumSize" => {
            let v = value();
            let kib = v
                .get_ref()
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    at(
                        v.span(),
                        "LogfileMaximumSize takes a number of KiB, 1-32767".to_owned(),
                    )
                })?;
            Mutation::SetLogfileMaximumSize {
                kib: LogfileMaximumSize::try_from(kib)
                    .map_err(|e| at(v.span(), e.message().to_owned()))?,
            }
        }
        "LogDroppedPackets" => Mutation::SetLogDroppedPackets {
            enabled: boolean()?,
        },
        "LogConnections" => Mutation::SetLogConnections {
            enabled: boolean()?,
        },
        _ => unreachable!("shape() knows exactly these members"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> FileError {
        parse_batch(src).unwrap_err()
    }

    #[test]
    fn parses_every_member() {
        let src = r#"
[[op]]
member = "OpenPort"
connection = "lan0"
port = "8080/tcp"
name = "web"

[[op]]
member = "CloseGlobalPort"
port = "23/tcp"

[[op]]
member = "OpenGlobalPort"
port = "53/udp"

[[op]]
member = "DisableFirewall"
connection = "wan0"

[[op]]
member = "EnableFirewall"
connection = "wan0"

[[op]]
member = "ClosePort"
connection = "lan0"
port = "8080/tcp"

[[op]]
member = "IgnoreGlobalPort"
connection = "wan0"
port = "22/tcp"
name = "no ssh from outside"

[[op]]
member = "ObserveGlobalPort"
connection = "wan0"
port = "22/tcp"

[[op]]
member = "LogfilePath"
value = "/var/log/fw6/x.log"

[[op]]
member = "LogfileMaximumSize"
value = 1024

[[op]]
member = "LogDroppedPackets"
value = true

[[op]]
member = "LogConnections"
value = false
"#;
        let ops = parse_batch(src).unwrap();
        let members: Vec<_> = ops.iter().map(Mutation::member).collect();
        assert_eq!(members.len(), 12);
        assert_eq!(members[0], "OpenPort");
        assert_eq!(members[11], "LogConnections");
        let Mutation::OpenGlobalPort { name, .. } = &ops[2] else {
            panic!()
        };
        assert_eq!(name.as_str(), "", "the name defaults to empty");
        assert_eq!(
            ops[9],
            Mutation::SetLogfileMaximumSize {
                kib: LogfileMaximumSize::try_from(1024).unwrap()
            }
        );
    }

    #[test]
    fn empty_file_is_an_empty_batch() {
        assert!(parse_batch("").unwrap().is_empty());
        assert!(parse_batch("# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn bad_values_name_their_line() {
        let head = "[[op]]\nmember = \"OpenPort\"\nconnection = \"lan0\"\n";
        for (port, want) in [
            ("0/tcp", "out of range"),
            ("70000/tcp", "out of range"),
            ("80/icmp", "not supported"),
            ("80/", "not supported"),
            ("80", "PORT/PROTOCOL"),
        ] {
            let e = err(&format!("{head}port = \"{port}\"\n"));
            assert_eq!(e.line(), Some(4), "{port}: {e}");
            assert!(e.message().contains(want), "{port}: {e}");
            assert!(e.message().starts_with("op 1: "), "{e}");
        }
        let e = err(&format!("{head}port = \"80/tcp\"\nname = \"a\\u0007b\"\n"));
        assert_eq!(e.line(), Some(5), "{e}");
        assert!(e.message().contains("control character"), "{e}");
        let e = err("[[op]]\nmember = \"EnableFirewall\"\nconnection = \"a/b\"\n");
        assert_eq!(e.line(), Some(3), "{e}");
    }

    #[test]
    fn shape_errors_name_their_line() {
        let e = err("\n[[op]]\nmember = \"OpenPorts\"\n");
        assert_eq!(e.line(), Some(3));
        assert!(e.message().contains("unknown member"), "{e}");
        let e = err("[[op]]\nmember = \"OpenPort\"\nport = \"1/tcp\"\n");
        assert_eq!(e.line(), Some(2));
        assert!(e.message().contains("needs a connection"), "{e}");
        let e = err("[[op]]\nmember = \"ClosePort\"\nconnection = \"x\"\nport = \"1/tcp\"\nname = \"n\"\n");
        assert_eq!(e.line(), Some(5));
        assert!(e.message().contains("takes no name"), "{e}");
        let e = err("[[op]]\nmember = \"LogConnections\"\nvalue = \"yes\"\n");
        assert_eq!(e.line(), Some(3));
        let e = err("[[op]]\nmember = \"LogfileMaximumSize\"\nvalue = 0\n");
        assert!(e.message().contains("1-32767"), "{e}");
        let e = err("[[op]]\nmember = \"LogfileMaximumSize\"\nvalue = -1\n");
        assert_eq!(e.line(), Some(3));
        let e = err("[[op]]\nmember = \"LogfilePath\"\n");
        assert!(e.message().contains("needs a value"), "{e}");
        // The second op is the bad one.
        let e = err("[[op]]\nmember = \"EnableFirewall\"\nconnection = \"a\"\n[[op]]\nmember = \"EnableFirewall\"\n");
        assert!(e.message().starts_with("op 2: "), "{e}");
        assert_eq!(e.line(), Some(5));
    }

    #[test]
    fn syntax_and_unknown_fields_name_their_line() {
        let e = err("[[op]]\nmember = \"OpenPort\"\nconection = \"lan0\"\n");
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.message().contains("conection"), "{e}");
        let e = err("[[op]]\nmember = \"OpenPort\n");
        assert_eq!(e.line(), Some(2), "{e}");
        let e = err("\n\n[[opp]]\nmember = \"OpenPort\"\n");
        assert_eq!(e.line(), Some(3), "{e}");
        let e = err("[[op]]\nport = \"1/tcp\"\n");
        assert!(e.message().contains("member"), "{e}");
    }
}
