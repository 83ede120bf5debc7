//! A process's memory as the kernel reports it in `/proc/PID/status`: what the benchmarks and
//! the tests that bound fw6d's memory read.

use std::io::{Error, ErrorKind};

/// Resident memory now and at its peak, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`.
    pub rss_kib: u64,
    /// `VmHWM`: the most `VmRSS` has been.
    pub hwm_kib: u64,
}

impl Memory {
    /// The memory of process `pid`.
    pub fn of(pid: u32) -> std::io::Result<Self> {
        let path = format!("/proc/{pid}/status");
        let status = std::fs::read_to_string(&path)?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("no {name} in {path}")))
        };
        Ok(Self {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_its_peak_is_at_least_its_rss() {
        let m = Memory::of(std::process::id()).unwrap();
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
    }
}
