//! The daemon's configuration file (`/etc/fw6/fw6d.toml`). It holds what the ICF API does not:
//! policy (`allow_configuration`, the role of group policy in docs/icf-api.md §6.1), defaults for
//! new connections and first start, and where things live, so tests and the sandbox lab can run a
//! daemon inside a network namespace with a private bus and a private state directory.

use std::path::{Path, PathBuf};

use fw6_model::plan::{EchoRequest, Options};
use fw6_model::{EntryName, Mutation, PortKey};
use serde::Deserialize;

/// The default configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/fw6/fw6d.toml";

/// The parsed configuration. Every key is optional; missing keys take the defaults below.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// When false, every state-changing member is refused to everyone (AccessDenied).
    pub allow_configuration: bool,
    /// Whether a connection seen for the first time is firewalled.
    pub firewalled_by_default: bool,
    /// `"accept"` (rate-limited) or `"drop"` for unsolicited echo requests.
    pub echo_request: EchoPolicy,
    /// The echo-request rate limit, packets per second.
    pub echo_rate_per_second: u32,
    /// The NFLOG group of the log rules.
    pub log_group: u16,
    /// The kernel-side rate limit of each log rule, packets per second.
    pub log_rate_per_second: u32,
    /// Log events queued between the NFLOG reader and the file writer; when the writer falls
    /// behind, events beyond this are dropped and counted (`log_lost`), never waited for.
    pub log_queue: usize,
    /// Global open pairs seeded on first start, so installing fw6 never locks an admin out.
    pub seed_global: Vec<SeedPort>,
    /// Where the store lives.
    pub state_dir: PathBuf,
    /// The D-Bus address to serve on; `None` means the system bus.
    pub bus_address: Option<String>,
    /// Largest `Apply` batch accepted.
    pub max_batch: usize,
    /// State-changing calls in flight per unique bus name; more are refused at once.
    pub max_calls_per_caller: usize,
    /// State-changing calls in flight per uid (root excepted); more are refused at once.
    pub max_calls_per_user: usize,
    /// How long fw6d waits for polkit when it may show an authentication dialog, seconds: a
    /// person typing a password. A check without a dialog waits at most 25 s of it.
    pub polkit_timeout_seconds: u64,
    /// The only directories `LogfilePath` may point into (absolute, root-owned, not writable
    /// by group or others; checked at start-up). See `logging::confine`.
    pub log_directories: Vec<PathBuf>,
    /// Audit rows (one per member call that changed something) kept in the store; the oldest
    /// are pruned in the transaction that goes over. 0 keeps everything.
    pub audit_max_rows: u64,
    /// Make the table `owner` + `persist` where the kernel supports it (Linux 6.9 and later):
    /// no other program can change or delete it, `flush ruleset` included, and it outlives
    /// fw6d. Elsewhere, or when false, fw6d repairs outside changes instead.
    pub table_owner: bool,
    /// The IP families fw6 filters: `["ipv6", "ipv4"]` (both, the default) or `["ipv6"]`
    /// (IPv4 passes untouched, as before dual stack). IPv6 is always filtered.
    pub families: Vec<Family>,
}

/// An IP family of `families`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv6: always filtered.
    Ipv6,
    /// IPv4.
    Ipv4,
}

impl Family {
    /// The name in the file, in `Status` and in `fw6 status`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv6 => "ipv6",
            Self::Ipv4 => "ipv4",
        }
    }
}

/// Echo-request policy as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EchoPolicy {
    /// Accept, rate-limited.
    Accept,
    /// Drop.
    Drop,
}

/// One `[[seed_global]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPort {
    /// `PORT/PROTO`, e.g. `22/tcp`.
    pub port: String,
    /// The entry's name.
    #[serde(default)]
    pub name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allow_configuration: true,
            firewalled_by_default: true,
            echo_request: EchoPolicy::Accept,
            echo_rate_per_second: 10,
            log_group: 6,
            log_rate_per_second: 100,
            log_queue: 4096,
            seed_global: vec![
                SeedPort {
                    port: "22/tcp".into(),
                    name: "ssh".into(),
                },
                SeedPort {
                    port: "546/udp".into(),
                    name: "dhcpv6-client".into(),
                },
            ],
            state_dir: PathBuf::from("/var/lib/fw6"),
            bus_address: None,
            max_batch: 100_000,
            max_calls_per_caller: 16,
            max_calls_per_user: 64,
            polkit_timeout_seconds: 300,
            log_directories: vec![PathBuf::from("/var/log/fw6")],
            audit_max_rows: crate::store::DEFAULT_AUDIT_MAX_ROWS,
            table_owner: true,
            families: vec![Family::Ipv6, Family::Ipv4],
        }
    }
}

impl Config {
    /// Reads `path`. A missing file at the default path means all defaults; anything else that
    /// cannot be read or parsed is an error naming the file and the problem, so the daemon
    /// refuses to start with a configuration it does not understand.
    pub fn load(path: &Path, must_exist: bool) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(Self::default());
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let config: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config
            .seed_mutations()
            .map_err(|e| format!("{}: seed_global: {e}", path.display()))?;
        config
            .check_families()
            .map_err(|e| format!("{}: families: {e}", path.display()))?;
        Ok(config)
    }

    /// `families` must name IPv6 (fw6 always filters it) and each family once.
    fn check_families(&self) -> Result<(), String> {
        if !self.families.contains(&Family::Ipv6) {
            return Err("must contain \"ipv6\" (IPv6 is always filtered); write \
                        [\"ipv6\", \"ipv4\"] or [\"ipv6\"]"
                .to_owned());
        }
        if self.families.len() != 1 + usize::from(self.filters_ipv4()) {
            return Err(
                "names a family twice; write [\"ipv6\", \"ipv4\"] or [\"ipv6\"]".to_owned(),
            );
        }
        Ok(())
    }

    /// Whether IPv4 is filtered (`"ipv4"` in `families`).
    pub fn filters_ipv4(&self) -> bool {
        self.families.contains(&Family::Ipv4)
    }

    /// The filtered families in a fixed order (IPv6 first), as `Status` reports them.
    pub fn family_names(&self) -> Vec<&'static str> {
        [Family::Ipv6, Family::Ipv4]
            .into_iter()
            .filter(|f| self.families.contains(f))
            .map(Family::as_str)
            .collect()
    }

    /// The ruleset options this configuration asks for.
    pub fn plan_options(&self) -> Options {
        Options {
            echo_request: match self.echo_request {
                EchoPolicy::Accept => EchoRequest::Accept {
                    per_second: self.echo_rate_per_second,
                },
                EchoPolicy::Drop => EchoRequest::Drop,
            },
            log_group: self.log_group,
            log_per_second: self.log_rate_per_second,
            ipv4: self.filters_ipv4(),
        }
    }

    /// The mutations that seed a fresh store.
    pub fn seed_mutations(&self) -> Result<Vec<Mutation>, fw6_model::Error> {
        self.seed_global
            .iter()
            .map(|seed| {
                Ok(Mutation::OpenGlobalPort {
                    key: seed.port.parse::<PortKey>()?,
                    name: EntryName::try_from(seed.name.as_str())?,
                    lease: None,
                })
            })
            .collect()
    }

    /// How long each call to polkit and the bus daemon may take.
    pub fn timeouts(&self) -> crate::service::Timeouts {
        let interactive = std::time::Duration::from_secs(self.polkit_timeout_seconds.max(1));
        crate::service::Timeouts {
            interactive,
            check: interactive.min(std::time::Duration::from_secs(25)),
        }
    }

    /// The bounds on what one caller may have in flight.
    pub fn bounds(&self) -> crate::service::Bounds {
        crate::service::Bounds {
            per_sender: self.max_calls_per_caller.max(1),
            per_user: self.max_calls_per_user.max(1),
            // Decoded batches one user may make fw6d hold: one largest batch.
            items_per_user: self.max_batch.max(1),
        }
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.state_dir.join("fw6.sqlite")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_seed_ssh_and_dhcpv6() {
        let seeds = Config::default().seed_mutations().unwrap();
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0].key().unwrap().to_string(), "22/tcp");
        assert_eq!(seeds[1].key().unwrap().to_string(), "546/udp");
    }

    #[test]
    fn parses_every_key_and_rejects_unknown_ones() {
        let config: Config = toml::from_str(
            "allow_configuration = false\nfirewalled_by_default = false\necho_request = \"drop\"\n\
             seed_global = []\nstate_dir = \"/tmp/x\"\nlog_group = 9\n",
        )
        .unwrap();
        assert!(!config.allow_configuration && !config.firewalled_by_default);
        assert_eq!(config.plan_options().echo_request, EchoRequest::Drop);
        assert!(config.seed_global.is_empty());
        assert!(toml::from_str::<Config>("allow_configuraton = true").is_err());
    }

    #[test]
    fn the_shipped_default_config_parses_to_the_defaults() {
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fw6d.toml");
        let config = Config::load(Path::new(shipped), true).unwrap();
        let defaults = Config::default();
        assert_eq!(config.allow_configuration, defaults.allow_configuration);
        assert_eq!(config.firewalled_by_default, defaults.firewalled_by_default);
        assert_eq!(config.plan_options(), defaults.plan_options());
        assert_eq!(
            config.seed_mutations().unwrap(),
            defaults.seed_mutations().unwrap()
        );
        assert_eq!(config.state_dir, defaults.state_dir);
        assert_eq!(config.log_queue, defaults.log_queue);
        assert_eq!(config.max_calls_per_caller, defaults.max_calls_per_caller);
        assert_eq!(config.max_calls_per_user, defaults.max_calls_per_user);
        assert_eq!(
            config.polkit_timeout_seconds,
            defaults.polkit_timeout_seconds
        );
        assert_eq!(config.log_directories, defaults.log_directories);
        assert_eq!(config.audit_max_rows, defaults.audit_max_rows);
        assert_eq!(config.families, defaults.families);
    }

    #[test]
    fn families_default_to_both_and_must_name_ipv6_once() {
        assert!(Config::default().plan_options().ipv4);
        assert_eq!(Config::default().family_names(), ["ipv6", "ipv4"]);
        let dir = std::env::temp_dir().join(format!("fw6d-families-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fw6d.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(&path, true)
        };
        let v6 = load("families = [\"ipv6\"]\n").unwrap();
        assert!(!v6.plan_options().ipv4);
        assert_eq!(v6.family_names(), ["ipv6"]);
        for bad in ["[\"ipv4\"]", "[]", "[\"ipv6\", \"ipv6\"]"] {
            let err = load(&format!("families = {bad}\n")).unwrap_err();
            assert!(
                err.contains("families") && err.contains("ipv6"),
                "{bad}: {err}"
            );
        }
        let err = load("families = [\"ipx\"]\n").unwrap_err();
        assert!(err.contains("ipv4"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_seed_is_reported_with_the_file() {
        let dir = std::env::temp_dir().join(format!("fw6d-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fw6d.toml");
        std::fs::write(&path, "[[seed_global]]\nport = \"0/tcp\"\n").unwrap();
        let err = Config::load(&path, true).unwrap_err();
        assert!(
            err.contains("seed_global") && err.contains("1-65535"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
