//! The benchmarks' lab: fw6-testkit's `Lab` (a host namespace with `lan0`/`wan0`, a private
//! dbus-daemon, the real `fw6d` started from a thread inside the host namespace and ready at
//! its `READY=1`, so start-up is timed from `fork`/`exec`) run with the binaries under test,
//! plus the daemon's memory and the preloading of pairs.

use std::error::Error;
use std::time::{Duration, Instant};

use fw6::{EntryName, IfName, Mutation, PortKey};

use crate::Bins;

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// fw6-testkit's lab with the binaries under test, and what the benchmarks read from it.
pub struct Lab {
    kit: fw6_testkit::Lab,
    bins: Bins,
}

impl std::ops::Deref for Lab {
    type Target = fw6_testkit::Lab;

    fn deref(&self) -> &fw6_testkit::Lab {
        &self.kit
    }
}

impl std::ops::DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut fw6_testkit::Lab {
        &mut self.kit
    }
}

impl Lab {
    /// Namespaces and bus; no daemon yet.
    pub fn new(bins: &Bins) -> Self {
        Self::build(bins, fw6_testkit::Lab::builder())
    }

    /// Namespaces and bus with the real polkitd; no daemon yet.
    pub fn with_polkit(bins: &Bins) -> Self {
        Self::build(bins, fw6_testkit::Lab::builder().polkit(true))
    }

    /// Namespaces and bus with the real polkitd run as the host runs it (`--no-debug`), `rules`
    /// in place from the start; no daemon yet.
    pub fn with_quiet_polkit(bins: &Bins, rules: &'static [&'static str]) -> Self {
        Self::build(bins, fw6_testkit::Lab::builder().quiet_polkit(rules))
    }

    fn build(bins: &Bins, builder: fw6_testkit::LabBuilder) -> Self {
        Self {
            kit: builder.fw6d(&bins.fw6d).build(),
            bins: bins.clone(),
        }
    }

    /// Starts fw6d and returns the time from just before `spawn` to its `READY=1`.
    pub fn start_daemon(&mut self) -> Result<Duration> {
        Ok(self.kit.try_start_daemon()?)
    }

    /// `VmRSS` and `VmHWM` of the daemon, in KiB.
    pub fn memory(&self) -> Result<(u64, u64)> {
        let pid = self.pid().ok_or("fw6d is not running")?;
        let m = fw6_testkit::Memory::of(pid)?;
        Ok((m.rss_kib, m.hwm_kib))
    }

    /// A blocking client on the lab's bus, as root.
    pub fn manager(&self) -> Result<fw6::blocking::Manager> {
        Ok(fw6::blocking::Manager::connect_to(self.bus.address())?)
    }

    /// Path of the `fw6` CLI.
    pub fn fw6_bin(&self) -> &std::path::Path {
        &self.bins.fw6
    }
}

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    Ok(fw6_testkit::Memory::of(pid)?.rss_kib)
}

/// The `i`-th preloaded pair: ports 1, 1, 2, 2, … alternating TCP and UDP, so `n` pairs use
/// ports 1..=n/2 (100,000 pairs: every port up to 50,000, both protocols).
pub fn preload_key(i: usize) -> Result<PortKey> {
    let port = u32::try_from(i / 2 + 1)?;
    let protocol = if i.is_multiple_of(2) { 6 } else { 17 };
    Ok(PortKey::from_raw(port, protocol)?)
}

/// `OpenPort` mutations for pairs `range` on `connection`, all named `name`.
pub fn opens(
    connection: &str,
    range: std::ops::Range<usize>,
    key: impl Fn(usize) -> Result<PortKey>,
    name: &str,
) -> Result<Vec<Mutation>> {
    let connection = IfName::try_from(connection)?;
    let name = EntryName::try_from(name)?;
    range
        .map(|i| {
            Ok(Mutation::OpenPort {
                connection: connection.clone(),
                key: key(i)?,
                name: name.clone(),
                lease: None,
            })
        })
        .collect()
}

/// Stores `n` pairs on `lan0` with one `Apply`; returns how long it took.
pub fn preload(manager: &fw6::blocking::Manager, n: usize) -> Result<Duration> {
    if n == 0 {
        return Ok(Duration::ZERO);
    }
    let batch = opens("lan0", 0..n, preload_key, "preload")?;
    let started = Instant::now();
    let changes = manager.apply(&batch)?;
    let took = started.elapsed();
    if changes as usize != n {
        return Err(format!("preload: {changes} changes for {n} pairs").into());
    }
    Ok(took)
}
