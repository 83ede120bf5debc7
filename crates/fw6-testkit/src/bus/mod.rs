//! A private D-Bus system bus, optionally with a real polkitd on it, for end-to-end tests of
//! fw6d's API and access control without touching the machine's own system bus or polkitd.
//!
//! [`PrivateBus`] runs its own `dbus-daemon` on a socket in a fresh temporary directory.
//! [`PrivateBus::start_with_polkit`] adds the distribution's real `polkitd`, pointed at that bus
//! with `DBUS_SYSTEM_BUS_ADDRESS` and run in a private mount namespace where our action file and
//! the test's rules appear at their real paths; see [`polkit`] for why.
//! [`run_as`] and [`BusClient`] give tests an unprivileged caller. Everything is killed by pid and
//! removed on drop, also when the test panics.

mod client;
mod config;
mod daemon;
pub mod polkit;
mod process;
mod user;

pub use client::BusClient;
pub use config::Policy;
pub use daemon::{Builder, PrivateBus};
pub use polkit::{Authorization, PolkitRule};
pub use user::{NOBODY, Unprivileged, run_as};

/// The polkit action file shipped in `data/`, the one the Debian package installs.
pub const POLICY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/org.fw6.Firewall1.policy"
);

/// The system-bus policy shipped in `data/`, included by [`Policy::System`] buses.
pub const BUS_POLICY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/org.fw6.Firewall1.conf"
);

/// How long any start-up wait may take before the helper panics: generous for a loaded
/// 2-core CI machine, short enough that a hang is reported instead of stalling the suite.
pub(crate) const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long polkitd may take to notice a rule file and reload its rules: it reloads on an
/// inotify event, and on a 2-core machine busy with builds and other labs that was seen to take
/// over 20 s (the wait ends as soon as the reload is logged).
pub(crate) const RELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
