//! Openings that end on their own (docs/dbus-api.md, "Leases"): an opening may carry a wall-clock
//! expiry, an owner (the bus connection that asked for it), or both. The options a caller sends
//! (`lifetime`, `bind_to_caller`) are validated here once, for the D-Bus members, `Apply` items
//! and the CLI alike; the daemon turns them into a [`Lease`] with the time of the call and the
//! caller's bus name.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The longest lifetime a lease may have: 30 days. Longer openings are what a plain (permanent)
/// opening is for; the bound also keeps every expiry far inside the kernel's timeout range.
pub const MAX_LIFETIME_SECONDS: u32 = 30 * 24 * 60 * 60;

/// Bound openings one bus connection may hold at once. A caller that then disconnects costs
/// fw6d one transaction of this many deletes; without a bound, a caller authorized to open ports
/// could make that transaction (and the rows and set elements before it) as large as it liked.
pub const MAX_BOUND_PER_OWNER: usize = 4096;

/// The option keys, as `a{sv}` and the `Apply` item text spell them.
pub const LIFETIME: &str = "lifetime";
/// See [`LIFETIME`].
pub const BIND_TO_CALLER: &str = "bind_to_caller";

/// How long a lease lasts: 1 s to [`MAX_LIFETIME_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Lifetime(NonZeroU32);

impl Lifetime {
    /// The lifetime in seconds.
    pub const fn seconds(self) -> u32 {
        self.0.get()
    }

    /// The lifetime in milliseconds.
    pub const fn millis(self) -> u64 {
        self.0.get() as u64 * 1000
    }
}

impl TryFrom<i64> for Lifetime {
    type Error = Error;

    fn try_from(seconds: i64) -> Result<Self, Error> {
        let hint = "use 1 to 2592000 seconds (30 days); for a permanent opening, give no lifetime";
        if seconds <= 0 {
            let what = if seconds == 0 { "zero" } else { "negative" };
            return Err(Error::invalid_arg(format!(
                "lifetime {seconds} is {what}: {hint}"
            )));
        }
        u32::try_from(seconds)
            .ok()
            .filter(|s| *s <= MAX_LIFETIME_SECONDS)
            .and_then(NonZeroU32::new)
            .map(Self)
            .ok_or_else(|| {
                Error::invalid_arg(format!(
                    "lifetime {seconds} is above the maximum of {MAX_LIFETIME_SECONDS} \
                     seconds: {hint}"
                ))
            })
    }
}

impl TryFrom<u32> for Lifetime {
    type Error = Error;

    fn try_from(seconds: u32) -> Result<Self, Error> {
        Self::try_from(i64::from(seconds))
    }
}

impl From<Lifetime> for u32 {
    fn from(lifetime: Lifetime) -> u32 {
        lifetime.seconds()
    }
}

/// The bus connection an opening is bound to: it lives while this unique name is on this bus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// The bus's id (its server GUID): unique names are unique only within one bus daemon's
    /// life, so after a reboot `:1.42` may be someone else. An owner on another bus is gone.
    pub bus: String,
    /// The caller's unique bus name, e.g. `:1.42`.
    pub name: String,
    /// The caller's process id (0 if the bus did not say), for people reading `Explain`.
    pub pid: u32,
    /// The caller's program name ("" if unknown), for people.
    pub command: String,
}

/// The most bytes of a program name an [`Owner`] keeps.
pub const MAX_COMMAND_BYTES: usize = 64;

impl Owner {
    /// A program name fit to show (`Explain`, `fw6 port list`, `Leases`) from the raw file
    /// name of the caller's executable, which its owner chose freely: control characters (an
    /// escape sequence, a newline that forges a line of output) and bidirectional overrides
    /// become `?`, and it is cut to [`MAX_COMMAND_BYTES`] on a character boundary.
    pub fn printable_command(raw: &str) -> String {
        let mut out = String::with_capacity(raw.len().min(MAX_COMMAND_BYTES));
        for c in raw.chars() {
            let c = if c.is_control() || is_bidi_control(c) {
                '?'
            } else {
                c
            };
            if out.len() + c.len_utf8() > MAX_COMMAND_BYTES {
                break;
            }
            out.push(c);
        }
        out
    }
}

/// The characters that reorder the text around them when shown (Unicode's bidirectional
/// formatting characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// When an opening ends on its own. At least one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The wall-clock expiry, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// The bus connection whose departure ends the opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

impl Lease {
    /// Whether the lease has expired at `now` (ms since the Unix epoch).
    pub fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The lease of a leased pair opened again with `new` (docs/dbus-api.md, "Leases"): a
    /// renewal may lengthen a lease, never shorten it or move it. The owner stays (a bound
    /// opening stays its first owner's, and a timed one gains none: another caller's departure
    /// must not close it); the expiry is the later of the two, and none stays none (a
    /// bound-only opening lasts while its owner runs). *Why*: every caller may reach
    /// `OpenPortWithOptions`, and one allowed only short or bound openings must not cut
    /// another's lease (a close it is not authorized for) or take it over.
    #[must_use]
    pub fn renewed_by(&self, new: &Self) -> Self {
        Self {
            expires: match (self.expires, new.expires) {
                (Some(old), Some(new)) => Some(old.max(new)),
                (old, _) => old,
            },
            owner: self.owner.clone(),
        }
    }

    /// Whether the opening is bound to `name` on bus `bus`.
    pub fn owned_by(&self, bus: &str, name: &str) -> bool {
        self.owner
            .as_ref()
            .is_some_and(|o| o.bus == bus && o.name == name)
    }
}

/// `open until 2026-12-04 14:05:00 UTC (lease)`, `open while PID 4242 (game-server) runs`, or
/// both joined by "and".
impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(at) = self.expires {
            parts.push(format!("open until {} (lease)", utc(at)));
        }
        if let Some(owner) = &self.owner {
            // Made printable when the lease was made; again here for one stored before that.
            let who = if owner.command.is_empty() {
                owner.name.clone()
            } else {
                Owner::printable_command(&owner.command)
            };
            parts.push(format!("open while PID {} ({who}) runs", owner.pid));
        }
        f.write_str(&parts.join(" and "))
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`, so the model needs no time-zone
/// crate for one sentence.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// civil-from-days); the one date conversion of fw6 (leases here, fw6d's log lines).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One option value as it arrived. The D-Bus side maps `a{sv}` values onto this (any integer
/// type to `Int`), so type errors are worded here once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// Any integer type (`y`, `n`, `q`, `i`, `u`, `x`, `t`).
    Int(i64),
    /// `b`.
    Bool(bool),
    /// Anything else: its D-Bus signature, for the message.
    Other(String),
}

/// The options of an opening: `lifetime` (seconds) and `bind_to_caller`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpenOptions {
    /// Close the opening this long after the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<Lifetime>,
    /// Close the opening when the caller's bus connection goes away.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bind_to_caller: bool,
}

impl OpenOptions {
    /// Whether the options ask for nothing: a plain, permanent opening.
    pub const fn is_plain(&self) -> bool {
        self.lifetime.is_none() && !self.bind_to_caller
    }

    /// The options as `(key, value)` pairs, for an `a{sv}` (a plain opening has none).
    pub fn pairs(&self) -> Vec<(&'static str, OptionValue)> {
        let mut pairs = Vec::new();
        if let Some(l) = self.lifetime {
            pairs.push((LIFETIME, OptionValue::Int(i64::from(l.seconds()))));
        }
        if self.bind_to_caller {
            pairs.push((BIND_TO_CALLER, OptionValue::Bool(true)));
        }
        pairs
    }

    /// The options from `(key, value)` pairs (an `a{sv}`): unknown keys and values of the wrong
    /// type are refused, naming them.
    pub fn from_pairs<'k>(
        pairs: impl IntoIterator<Item = (&'k str, OptionValue)>,
    ) -> Result<Self, Error> {
        let mut options = Self::default();
        for (key, value) in pairs {
            match (key, value) {
                (LIFETIME, OptionValue::Int(seconds)) => {
                    options.lifetime = Some(Lifetime::try_from(seconds)?);
                }
                (BIND_TO_CALLER, OptionValue::Bool(bind)) => options.bind_to_caller = bind,
                (LIFETIME, other) => return Err(wrong_type(LIFETIME, "an integer (u)", &other)),
                (BIND_TO_CALLER, other) => {
                    return Err(wrong_type(BIND_TO_CALLER, "a boolean (b)", &other));
                }
                (unknown, _) => {
                    return Err(Error::invalid_arg(format!(
                        "unknown option {unknown:?}: the options are {LIFETIME} (u, seconds) \
                         and {BIND_TO_CALLER} (b)"
                    )));
                }
            }
        }
        Ok(options)
    }

    /// The lease these options make for a call at `now` (ms since the Unix epoch) by `caller`;
    /// `None` for plain options. Binding needs a caller on a bus.
    pub fn lease(&self, now: u64, caller: Option<Owner>) -> Result<Option<Lease>, Error> {
        if self.is_plain() {
            return Ok(None);
        }
        let owner = if self.bind_to_caller {
            Some(caller.ok_or_else(|| {
                Error::invalid_arg(format!(
                    "{BIND_TO_CALLER} needs a caller on the bus: only a D-Bus call can bind an \
                     opening to its caller"
                ))
            })?)
        } else {
            None
        };
        Ok(Some(Lease {
            expires: self.lifetime.map(|l| now.saturating_add(l.millis())),
            owner,
        }))
    }
}

fn wrong_type(key: &str, want: &str, got: &OptionValue) -> Error {
    let got = match got {
        OptionValue::Int(n) => format!("the integer {n}"),
        OptionValue::Bool(b) => format!("the boolean {b}"),
        OptionValue::Other(signature) => format!("a value of type {signature:?}"),
    };
    Error::invalid_arg(format!("option {key} must be {want}, not {got}"))
}

/// The text form an `Apply` item carries in its `value` for `OpenPort` and `OpenGlobalPort`:
/// `lifetime=7200,bind_to_caller=true`; "" is plain. Old items (value "") stay valid.
impl fmt::Display for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.lifetime {
            parts.push(format!("{LIFETIME}={}", l.seconds()));
        }
        if self.bind_to_caller {
            parts.push(format!("{BIND_TO_CALLER}=true"));
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for OpenOptions {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let pairs = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').ok_or_else(|| {
                    Error::invalid_arg(format!(
                        "option {part:?} is not KEY=VALUE: write e.g. {LIFETIME}=3600,\
                         {BIND_TO_CALLER}=true"
                    ))
                })?;
                let value = match value.trim() {
                    "true" => OptionValue::Bool(true),
                    "false" => OptionValue::Bool(false),
                    v => v.parse().map_or_else(
                        |_| OptionValue::Other(format!("text {v:?}")),
                        OptionValue::Int,
                    ),
                };
                Ok((key.trim(), value))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Self::from_pairs(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_name_is_made_printable_and_bounded() {
        assert_eq!(Owner::printable_command("game-server"), "game-server");
        assert_eq!(
            Owner::printable_command("a\u{1b}[2Jb\nfw6d: all ports closed"),
            "a?[2Jb?fw6d: all ports closed"
        );
        assert_eq!(Owner::printable_command("x\u{202E}gpj.exe"), "x?gpj.exe");
        let long = "é".repeat(100);
        let cut = Owner::printable_command(&long);
        assert!(cut.len() <= MAX_COMMAND_BYTES && cut.len() >= MAX_COMMAND_BYTES - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }
    use crate::ErrorKind;

    fn owner() -> Owner {
        Owner {
            bus: "b1".into(),
            name: ":1.7".into(),
            pid: 4242,
            command: "game-server".into(),
        }
    }

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(Lifetime::try_from(1_i64).unwrap().seconds(), 1);
        assert_eq!(
            Lifetime::try_from(i64::from(MAX_LIFETIME_SECONDS))
                .unwrap()
                .millis(),
            2_592_000_000
        );
        for (bad, says) in [
            (0_i64, "lifetime 0 is zero"),
            (-5, "lifetime -5 is negative"),
            (
                2_592_001,
                "lifetime 2592001 is above the maximum of 2592000",
            ),
            (i64::MAX, "above the maximum"),
        ] {
            let e = Lifetime::try_from(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArg);
            assert!(e.message().contains(says), "{e}");
        }
    }

    #[test]
    fn options_name_what_is_wrong() {
        let ok = OpenOptions::from_pairs([
            (LIFETIME, OptionValue::Int(60)),
            (BIND_TO_CALLER, OptionValue::Bool(true)),
        ])
        .unwrap();
        assert_eq!(ok.lifetime.unwrap().seconds(), 60);
        assert!(ok.bind_to_caller);
        let cases = [
            (vec![("ttl", OptionValue::Int(1))], "unknown option \"ttl\""),
            (
                vec![(LIFETIME, OptionValue::Other("s".into()))],
                "option lifetime must be an integer (u), not a value of type \"s\"",
            ),
            (
                vec![(BIND_TO_CALLER, OptionValue::Int(1))],
                "option bind_to_caller must be a boolean (b), not the integer 1",
            ),
            (vec![(LIFETIME, OptionValue::Int(0))], "lifetime 0 is zero"),
        ];
        for (pairs, says) in cases {
            let e = OpenOptions::from_pairs(pairs).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArg);
            assert!(e.message().contains(says), "{e}");
        }
        assert!(OpenOptions::from_pairs([]).unwrap().is_plain());
        assert_eq!(OpenOptions::from_pairs(ok.pairs()).unwrap(), ok);
    }

    #[test]
    fn text_form_round_trips() {
        for text in [
            "",
            "lifetime=7200",
            "bind_to_caller=true",
            "lifetime=5,bind_to_caller=true",
        ] {
            let options: OpenOptions = text.parse().unwrap();
            assert_eq!(options.to_string(), text);
        }
        assert!(" lifetime = 5 , ".parse::<OpenOptions>().is_ok());
        for bad in [
            "lifetime",
            "lifetime=x",
            "lifetime=0",
            "colour=red",
            "bind_to_caller=1",
        ] {
            let e = bad.parse::<OpenOptions>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArg, "{bad}");
        }
    }

    #[test]
    fn leases_from_options() {
        let timed: OpenOptions = "lifetime=2".parse().unwrap();
        let lease = timed.lease(1_000, None).unwrap().unwrap();
        assert_eq!(lease.expires, Some(3_000));
        assert!(!lease.expired(2_999) && lease.expired(3_000));
        let bound: OpenOptions = "bind_to_caller=true".parse().unwrap();
        assert!(bound.lease(0, None).is_err());
        let lease = bound.lease(0, Some(owner())).unwrap().unwrap();
        assert!(lease.owned_by("b1", ":1.7") && !lease.owned_by("b2", ":1.7"));
        assert_eq!(lease.to_string(), "open while PID 4242 (game-server) runs");
        assert_eq!(
            OpenOptions::default().lease(0, Some(owner())).unwrap(),
            None
        );
    }

    #[test]
    fn expiry_reads_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 2026-12-04 14:05:00 UTC.
        assert_eq!(utc(1_796_393_100_000), "2026-12-04 14:05:00 UTC");
        let lease = Lease {
            expires: Some(1_796_393_100_000),
            owner: None,
        };
        assert_eq!(
            lease.to_string(),
            "open until 2026-12-04 14:05:00 UTC (lease)"
        );
    }
}
