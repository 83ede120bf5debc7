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

use std::ops::Range;

use fw6_model::{
    Argument, EntryName, IfName, LogfileMaximumSize, Member, MemberArgs, Mutation, PortKey,
};
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

/// Whether a member takes a field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    No,
    Optional,
    Required,
}

use Takes::{No, Optional, Required};

/// The field names, in the order of [`shape`]'s array.
const FIELDS: [&str; 4] = ["connection", "port", "name", "value"];

/// What a member takes in a batch file: (connection, port, name, value). Its arguments are the
/// model's; a name may be left out (it defaults to empty).
fn shape(member: Member) -> [Takes; 4] {
    let takes = |argument, when| if member.takes(argument) { when } else { No };
    [
        takes(Argument::Connection, Required),
        takes(Argument::Key, Required),
        takes(Argument::Name, Optional),
        takes(Argument::Value, Required),
    ]
}

/// Parses a batch file into mutations, in file order. Nothing is sent; the daemon applies the
/// result all or nothing.
pub fn parse_batch(source: &str) -> Result<Vec<Mutation>, FileError> {
    let raw: RawBatch = toml::from_str(source).map_err(|e| FileError::toml(source, &e))?;
    raw.op
        .iter()
        .enumerate()
        .map(|(i, op)| {
            Op { source, op }
                .parse()
                .map_err(|e| e.prefixed(format_args!("op {}", i + 1)))
        })
        .collect()
}

/// One `[[op]]` table with the file it came from, for line numbers.
struct Op<'a> {
    source: &'a str,
    op: &'a RawOp,
}

impl Op<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError::at(self.source, Some(span), message)
    }

    fn member(&self) -> &str {
        self.op.member.get_ref()
    }

    fn parse(&self) -> Result<Mutation, FileError> {
        let name = self.member();
        let Some(member) = Member::parse(name) else {
            return Err(self.at(
                self.op.member.span(),
                format!("unknown member {name:?}: use one of {}", Member::list()),
            ));
        };
        self.check_fields(shape(member))?;
        member.mutation(self)
    }

    /// Required fields must be there; fields the member does not take must not.
    fn check_fields(&self, shape: [Takes; 4]) -> Result<(), FileError> {
        let op = self.op;
        let spans = [
            op.connection.as_ref().map(Spanned::span),
            op.port.as_ref().map(Spanned::span),
            op.name.as_ref().map(Spanned::span),
            op.value.as_ref().map(Spanned::span),
        ];
        let member = self.member();
        for ((field, span), takes) in FIELDS.iter().zip(spans).zip(shape) {
            match (span, takes) {
                (Some(span), No) => {
                    return Err(self.at(span, format!("{member} takes no {field}: remove it")));
                }
                (None, Required) => {
                    return Err(self.at(self.op.member.span(), format!("{member} needs a {field}")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn value(&self) -> &Spanned<toml::Value> {
        self.op.value.as_ref().expect("checked by check_fields")
    }
}

/// An `[[op]]` table's fields as the member's arguments, each error on the field's line.
impl MemberArgs for Op<'_> {
    type Error = FileError;

    fn connection(&self) -> Result<IfName, Self::Error> {
        let c = self
            .op
            .connection
            .as_ref()
            .expect("checked by check_fields");
        IfName::try_from(c.get_ref().as_str()).map_err(|e| self.at(c.span(), e.message()))
    }

    fn key(&self) -> Result<PortKey, Self::Error> {
        let p = self.op.port.as_ref().expect("checked by check_fields");
        p.get_ref()
            .parse()
            .map_err(|e: fw6_model::Error| self.at(p.span(), e.message()))
    }

    fn name(&self) -> Result<EntryName, Self::Error> {
        self.op.name.as_ref().map_or_else(
            || Ok(EntryName::default()),
            |n| {
                EntryName::try_from(n.get_ref().as_str())
                    .map_err(|e| self.at(n.span(), e.message()))
            },
        )
    }

    fn enabled(&self) -> Result<bool, Self::Error> {
        let v = self.value();
        v.get_ref().as_bool().ok_or_else(|| {
            self.at(
                v.span(),
                format!("{} takes value = true or value = false", self.member()),
            )
        })
    }

    fn path(&self) -> Result<String, Self::Error> {
        let v = self.value();
        v.get_ref()
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.at(v.span(), "LogfilePath takes a string value"))
    }

    fn size(&self) -> Result<LogfileMaximumSize, Self::Error> {
        let v = self.value();
        let kib = v
            .get_ref()
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                self.at(
                    v.span(),
                    "LogfileMaximumSize takes a number of KiB, 1-32767",
                )
            })?;
        LogfileMaximumSize::try_from(kib).map_err(|e| self.at(v.span(), e.message()))
    }
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
        assert!(
            e.message().ends_with(
                "unknown member \"OpenPorts\": use one of OpenGlobalPort, CloseGlobalPort, \
                 EnableFirewall, DisableFirewall, OpenPort, ClosePort, IgnoreGlobalPort, \
                 ObserveGlobalPort, LogfilePath, LogfileMaximumSize, LogDroppedPackets, \
                 LogConnections"
            ),
            "{e}"
        );
        let e = err("[[op]]\nmember = \"OpenPort\"\nport = \"1/tcp\"\n");
        assert_eq!(e.line(), Some(2));
        assert!(e.message().contains("needs a connection"), "{e}");
        let e = err(
            "[[op]]\nmember = \"ClosePort\"\nconnection = \"x\"\nport = \"1/tcp\"\nname = \"n\"\n",
        );
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
        let e = err(
            "[[op]]\nmember = \"EnableFirewall\"\nconnection = \"a\"\n[[op]]\nmember = \"EnableFirewall\"\n",
        );
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
