//! The command line: the same nouns as the D-Bus API and the library (`fw6 port open` is
//! `OpenPort` is `Connection::open_port`). Pairs and names are taken as text and validated when
//! run, so a bad pair is an `InvalidArg` (exit 3) with the model's own message, not a usage error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// fw6: the IPv6 host firewall with the model of the Windows IPv6 Internet Connection Firewall.
///
/// Connections are IPv6 interfaces, each firewalled or not, each with its own open
/// PORT/PROTOCOL pairs; global pairs are open on every connection that does not ignore them.
#[derive(Debug, Parser)]
#[command(name = "fw6", version, about, long_about = None)]
pub struct Cli {
    /// Print machine-readable JSON (schema in docs/cli.md), errors included.
    #[arg(long, global = true)]
    pub json: bool,

    /// The D-Bus address of the bus fw6d is on (default: $FW6_BUS_ADDRESS, else the system bus).
    // Not clap's `env`: with it, usage lines show `--bus` as if typed whenever the variable is
    // set. `Manager::connect` reads the variable itself.
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub bus: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the connections (IPv6 interfaces, present or configured).
    Connections,
    /// Switch filtering on or off for a connection.
    Firewall {
        /// On or off.
        #[command(subcommand)]
        action: FirewallAction,
    },
    /// A connection's own open pairs.
    Port {
        /// What to do.
        #[command(subcommand)]
        action: PortAction,
    },
    /// Global open pairs, and connections ignoring them.
    Global {
        /// What to do.
        #[command(subcommand)]
        action: GlobalAction,
    },
    /// Would an unsolicited inbound packet to PORT/PROTO on CONN pass, and why (a bare PORT
    /// answers for tcp and udp).
    Explain(ConnPair),
    /// The logging settings.
    Log {
        /// Show or set.
        #[command(subcommand)]
        action: LogAction,
    },
    /// Apply a batch file (TOML `[[op]]` tables) atomically: all or nothing.
    Batch {
        /// The batch file, or `-` for standard input.
        file: PathBuf,
        /// Revert the batch unless confirmed within DURATION (60s, 2m; at most 1h): apply it,
        /// show it, and keep it only if `yes` is typed in time (with --json: print the token
        /// for `fw6 confirm`).
        #[arg(long, value_name = "DURATION")]
        confirm: Option<String>,
    },
    /// Print the whole configuration as TOML (stable order, diffable).
    Export,
    /// Make the configuration that of an export file, atomically, after showing the changes.
    Import {
        /// The export file, or `-` for standard input (then --yes is required).
        file: PathBuf,
        /// Apply without asking for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Apply at once and revert unless confirmed within DURATION (60s, 2m; at most 1h):
        /// show the changes and keep them only if `yes` is typed in time (with --json: print
        /// the token for `fw6 confirm`). Replaces the question asked before applying.
        #[arg(long, value_name = "DURATION", conflicts_with = "yes")]
        confirm: Option<String>,
    },
    /// Keep a change made with --confirm (TOKEN as it printed, or as `fw6 status` shows).
    Confirm {
        /// The pending change's token.
        token: String,
    },
    /// Take back a change made with --confirm now, instead of at its deadline.
    Revert {
        /// The pending change's token.
        token: String,
    },
    /// Who changed what, and when: the audit trail (root, or polkit org.fw6.firewall1.audit).
    Audit {
        /// Only entries from this time on: RFC 3339 (2026-12-03T19:00:00Z) or an age (2h,
        /// 7days).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// At most this many entries, the newest (1-10000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Is the daemon reachable, is the kernel table in sync, and how much is configured.
    Status,
    /// Everything on one screen: each connection with its open and ignored pairs, the global
    /// pairs, the logging settings and warnings.
    Show(Expand),
    /// Run COMMAND with pairs open while it runs: they close when it exits, however it exits
    /// (fw6 run itself killed included), and its exit status is fw6's.
    Run(RunArgs),
    /// Generate shell completions or man pages (for packaging).
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[command(subcommand)]
        what: Generate,
    },
}

/// A connection: its Id (`{GUID}`, any case, braces optional) or its interface name.
#[derive(Debug, Args)]
pub struct Conn {
    /// The connection: interface name or Id.
    #[arg(value_name = "CONN")]
    pub conn: String,
}

/// A connection and a pair.
#[derive(Debug, Args)]
pub struct ConnPair {
    /// The connection: interface name or Id.
    #[arg(value_name = "CONN")]
    pub conn: String,
    /// The pair: PORT/PROTO (8080/tcp), a range (27015-27030/udp, at most 1024 ports) or a
    /// service name (ssh, domain/udp).
    #[arg(value_name = "PORT/PROTO", value_parser = PairValue, hide_possible_values = true)]
    pub pair: String,
}

/// A connection that may not exist yet (a change configures it), and the switch that says so.
#[derive(Debug, Args)]
pub struct ConnAbsent {
    /// The connection.
    #[command(flatten)]
    pub at: Conn,
    /// Configure CONN even though no such interface is present and its name is close to a
    /// present one (without it, that looks like a typo and is refused).
    #[arg(long)]
    pub absent: bool,
}

/// An optional connection (every connection when left out), for listings.
#[derive(Debug, Args)]
pub struct MaybeConn {
    /// The connection: interface name or Id; every connection when left out.
    #[arg(value_name = "CONN")]
    pub conn: Option<String>,
    /// The listing's options.
    #[command(flatten)]
    pub expand: Expand,
}

/// Listing options.
#[derive(Debug, Args)]
pub struct Expand {
    /// One line per pair: do not fold consecutive ports with the same protocol and name into
    /// a range (JSON always lists each pair).
    #[arg(long)]
    pub expand: bool,
}

/// A connection, a pair and an optional name.
#[derive(Debug, Args)]
pub struct ConnPairName {
    /// The connection and the pair.
    #[command(flatten)]
    pub at: ConnPair,
    /// An informational name (default: the service name, if one was given); the first name
    /// given to a pair is kept.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Configure CONN even though no such interface is present and its name is close to a
    /// present one (without it, that looks like a typo and is refused).
    #[arg(long)]
    pub absent: bool,
}

/// `fw6 port open` options.
#[derive(Debug, Args)]
pub struct PortOpen {
    /// The connection, the pair and its name.
    #[command(flatten)]
    pub at: ConnPairName,
    /// How long the opening lasts.
    #[command(flatten)]
    pub lease: LeaseFor,
}

/// `--for`: an opening that closes on its own.
#[derive(Debug, Args)]
pub struct LeaseFor {
    /// Close the pair on its own after DURATION (90s, 30m, 2h, 7days; 1 second to 30 days),
    /// even if fw6d is stopped; opening it again renews. A pair already open without --for
    /// stays open. Without --for, a pair stays open until closed.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
}

/// A pair alone.
#[derive(Debug, Args)]
pub struct Pair {
    /// The pair: PORT/PROTO (22/tcp), a range (27015-27030/udp, at most 1024 ports) or a
    /// service name (ssh, domain/udp).
    #[arg(value_name = "PORT/PROTO", value_parser = PairValue, hide_possible_values = true)]
    pub pair: String,
}

/// The `PORT/PROTO` argument: any text (validated when run, so a bad pair is `InvalidArg`), with
/// the built-in service names and `NAME/PROTO` forms offered to shell completion.
#[derive(Debug, Clone, Copy)]
pub struct PairValue;

impl clap::builder::TypedValueParser for PairValue {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let services = fw6::services::Services::builtin();
        let mut words = Vec::new();
        for name in services.names() {
            words.push(name.to_owned());
            for key in services.lookup(name).unwrap_or_default() {
                words.push(format!("{name}/{}", key.protocol));
            }
        }
        words.dedup();
        Some(Box::new(
            words.into_iter().map(clap::builder::PossibleValue::new),
        ))
    }
}

/// `fw6 firewall …`.
#[derive(Debug, Subcommand)]
pub enum FirewallAction {
    /// Filter unsolicited inbound traffic on CONN.
    Enable(ConnAbsent),
    /// Let all inbound traffic on CONN through.
    Disable(ConnAbsent),
}

/// `fw6 port …`.
#[derive(Debug, Subcommand)]
pub enum PortAction {
    /// Open a pair (or a range, or a service's pairs) on a connection, in one atomic call.
    Open(PortOpen),
    /// Close a pair (or a range, or a service's pairs) on a connection, in one atomic call.
    Close(ConnPair),
    /// Is a pair open on this connection's own set (not counting global pairs).
    Check(ConnPair),
    /// List a connection's open pairs (every connection's without CONN).
    List(MaybeConn),
}

/// `fw6 global …`.
#[derive(Debug, Subcommand)]
pub enum GlobalAction {
    /// Open a pair on every connection that does not ignore it.
    Open {
        /// The pair.
        #[command(flatten)]
        pair: Pair,
        /// An informational name; the first name given to a pair is kept.
        #[arg(long, default_value = "")]
        name: String,
        /// How long the opening lasts.
        #[command(flatten)]
        lease: LeaseFor,
    },
    /// Close a global pair.
    Close(Pair),
    /// Is a pair globally open.
    Check(Pair),
    /// List the global pairs.
    List(Expand),
    /// Keep a global pair closed on one connection.
    Ignore(ConnPairName),
    /// Stop ignoring a global pair on one connection.
    Observe(ConnPair),
    /// List the global pairs a connection ignores (every connection's without CONN).
    Ignored(MaybeConn),
}

/// `fw6 log …`.
#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Show the four logging settings.
    Show,
    /// Change logging settings, all in one atomic call.
    Set(LogSet),
    /// Print the last lines of the log file; with -f, keep printing new lines until Ctrl-C.
    Tail(LogTail),
}

/// `fw6 log tail` options.
#[derive(Debug, Args)]
pub struct LogTail {
    /// How many lines to print from the end.
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub lines: usize,
    /// Follow the file as it grows, across rotations, until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Read this file instead of asking fw6d for its LogfilePath.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Print the lines as they are: by default control characters are shown escaped (`^[`),
    /// so a planted line cannot send escape sequences to the terminal.
    #[arg(long)]
    pub raw: bool,
}

/// `fw6 log set` options; at least one is required.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct LogSet {
    /// Log unsolicited inbound packets that were dropped.
    #[arg(long, value_name = "on|off")]
    pub dropped: Option<OnOff>,
    /// Log accepted new inbound connections.
    #[arg(long, value_name = "on|off")]
    pub connections: Option<OnOff>,
    /// The log file (an absolute path).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// The log file's maximum size in KiB (1-32767); at the limit it is renamed to PATH.old.
    #[arg(long, value_name = "KIB")]
    pub max_size: Option<u32>,
}

/// A switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Switched on.
    On,
    /// Switched off.
    Off,
}

impl OnOff {
    /// As a boolean.
    pub fn enabled(self) -> bool {
        self == Self::On
    }
}

/// `fw6 generate …`.
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Print a completion script for SHELL.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages (fw6.1 and one per subcommand) into DIR.
    Man {
        /// The output directory (created if missing).
        dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_forms() {
        let cli = Cli::try_parse_from([
            "fw6", "--json", "port", "open", "lan0", "8080/tcp", "--name", "web",
        ])
        .unwrap();
        assert!(cli.json);
        let Command::Port {
            action: PortAction::Open(a),
        } = cli.command
        else {
            panic!()
        };
        assert_eq!(
            (
                a.at.at.conn.as_str(),
                a.at.at.pair.as_str(),
                a.at.name.as_str()
            ),
            ("lan0", "8080/tcp", "web")
        );
        assert_eq!(a.lease.duration, None);
        let cli = Cli::try_parse_from(["fw6", "port", "open", "lan0", "8080/tcp", "--for", "2h"])
            .unwrap();
        let Command::Port {
            action: PortAction::Open(a),
        } = cli.command
        else {
            panic!()
        };
        assert_eq!(a.lease.duration.as_deref(), Some("2h"));
        assert!(Cli::try_parse_from(["fw6", "global", "open", "443/tcp", "--for", "30m"]).is_ok());
        assert!(
            Cli::try_parse_from(["fw6", "global", "ignore", "wan0", "22/tcp", "--for", "1h"])
                .is_err(),
            "only openings take --for"
        );
        // Global flags go anywhere.
        let cli =
            Cli::try_parse_from(["fw6", "status", "--bus", "unix:path=/x", "--json"]).unwrap();
        assert_eq!(cli.bus.as_deref(), Some("unix:path=/x"));
        assert!(
            Cli::try_parse_from(["fw6", "log", "set"]).is_err(),
            "log set needs a flag"
        );
        assert!(Cli::try_parse_from(["fw6", "log", "set", "--dropped", "maybe"]).is_err());
        let cli = Cli::try_parse_from(["fw6", "log", "set", "--dropped", "on", "--max-size", "8"])
            .unwrap();
        let Command::Log {
            action: LogAction::Set(s),
        } = cli.command
        else {
            panic!()
        };
        assert_eq!((s.dropped, s.max_size), (Some(OnOff::On), Some(8)));
        assert!(Cli::try_parse_from(["fw6", "import", "x.toml", "--yes"]).is_ok());
        assert!(Cli::try_parse_from(["fw6", "global", "ignore", "wan0", "22/tcp"]).is_ok());
        assert!(Cli::try_parse_from(["fw6", "frobnicate"]).is_err());
    }
}

/// `fw6 run --open PAIR [--on CONN] [--name NAME] -- COMMAND [ARG…]`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A pair to open while COMMAND runs: PORT/PROTO, a service name or a range (repeatable).
    #[arg(long = "open", value_name = "PAIR", required = true)]
    pub open: Vec<String>,
    /// Open them on this connection only (an interface name or an Id); without it, globally.
    #[arg(long = "on", value_name = "CONN")]
    pub on: Option<String>,
    /// The name the opened pairs carry (default: "fw6 run COMMAND").
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}
