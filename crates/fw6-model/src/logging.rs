//! The manager's four logging settings (docs/icf-api.md §2.1 members 4–11, §7 item 25).

use serde::{Deserialize, Serialize};

use crate::Error;

/// The default log file.
pub const DEFAULT_LOGFILE_PATH: &str = "/var/log/fw6/firewall.log";

/// The longest path accepted (`PATH_MAX` − 1).
const MAX_PATH_BYTES: usize = 4095;

/// `LogfileMaximumSize` in KiB, 1–32767 (default 4096). At the limit the file is renamed to
/// `<path>.old` and a new one started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct LogfileMaximumSize(u32);

impl LogfileMaximumSize {
    /// The smallest size accepted, in KiB.
    pub const MIN: u32 = 1;
    /// The largest size accepted, in KiB.
    pub const MAX: u32 = 32767;

    /// The size in KiB.
    pub const fn kib(self) -> u32 {
        self.0
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0 as u64 * 1024
    }
}

impl Default for LogfileMaximumSize {
    fn default() -> Self {
        Self(4096)
    }
}

impl TryFrom<u32> for LogfileMaximumSize {
    type Error = Error;

    fn try_from(kib: u32) -> Result<Self, Error> {
        if (Self::MIN..=Self::MAX).contains(&kib) {
            Ok(Self(kib))
        } else {
            Err(Error::invalid_arg(format!(
                "log file maximum size {kib} KiB is out of range: use {}-{} KiB",
                Self::MIN,
                Self::MAX
            )))
        }
    }
}

impl From<LogfileMaximumSize> for u32 {
    fn from(size: LogfileMaximumSize) -> u32 {
        size.0
    }
}

/// The logging settings held by the manager. Both switches are off by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSettings {
    /// `LogDroppedPackets`: log unsolicited inbound packets that were dropped.
    pub log_dropped_packets: bool,
    /// `LogConnections`: log accepted new inbound connections.
    pub log_connections: bool,
    /// `LogfilePath`: an absolute path.
    pub logfile_path: String,
    /// `LogfileMaximumSize`.
    pub logfile_maximum_size: LogfileMaximumSize,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            log_dropped_packets: false,
            log_connections: false,
            logfile_path: DEFAULT_LOGFILE_PATH.to_owned(),
            logfile_maximum_size: LogfileMaximumSize::default(),
        }
    }
}

/// Checks a `LogfilePath` value: absolute, no `..`, no control characters, not a directory
/// name, at most 4095 bytes. No environment-variable expansion happens (docs/icf-api.md §7.25).
pub fn validate_logfile_path(path: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::invalid_arg(format!(
            "log file path {path:?} is not usable: {why}"
        )))
    };
    if !path.starts_with('/') {
        return bad("use an absolute path such as /var/log/fw6/firewall.log");
    }
    if path.len() > MAX_PATH_BYTES {
        return bad("use at most 4095 bytes");
    }
    if path.ends_with('/') {
        return bad("it names a directory; add a file name");
    }
    if path.chars().any(char::is_control) {
        return bad("remove the control characters");
    }
    if path.split('/').any(|part| part == "..") {
        return bad("'..' components are not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = LogSettings::default();
        assert!(!s.log_dropped_packets && !s.log_connections);
        assert_eq!(s.logfile_path, "/var/log/fw6/firewall.log");
        assert_eq!(s.logfile_maximum_size.kib(), 4096);
        assert_eq!(s.logfile_maximum_size.bytes(), 4096 * 1024);
    }

    #[test]
    fn size_range() {
        assert!(LogfileMaximumSize::try_from(1).is_ok());
        assert!(LogfileMaximumSize::try_from(32767).is_ok());
        for bad in [0, 32768, u32::MAX] {
            let err = LogfileMaximumSize::try_from(bad).unwrap_err();
            assert!(err.message().contains("1-32767"), "{err}");
        }
    }

    #[test]
    fn paths() {
        assert!(validate_logfile_path("/var/log/fw6/firewall.log").is_ok());
        for bad in [
            "",
            "relative.log",
            "/var/log/",
            "/var/../etc/passwd",
            "/tmp/a\nb",
            &format!("/{}", "x".repeat(4095)),
        ] {
            assert!(validate_logfile_path(bad).is_err(), "{bad:?}");
        }
    }
}
