//! What every command shares: the connection to fw6d ([`Session`]) and reading a command's
//! input file ([`read_input`]). The command modules depend on this one; it depends on none of
//! them, so `run` (the dispatcher) and the commands do not import each other.

use std::io::Read as _;
use std::path::Path;

use fw6::{ErrorKind, Manager};
use tokio::sync::OnceCell;

use super::exit::Failure;

/// The connection to fw6d, made on first use: arguments are validated before it, so a bad pair
/// is `InvalidArg` even when the daemon is down.
#[derive(Debug)]
pub struct Session {
    bus: Option<String>,
    manager: OnceCell<Manager>,
}

impl Session {
    /// A session for `--bus`/`FW6_BUS_ADDRESS`, or the system bus when `None`.
    pub fn new(bus: Option<String>) -> Self {
        Self {
            bus,
            manager: OnceCell::new(),
        }
    }

    /// The manager, connecting on first use.
    pub async fn manager(&self) -> Result<&Manager, fw6::Error> {
        self.manager
            .get_or_try_init(|| async {
                match self.bus.as_deref() {
                    Some(address) if !address.is_empty() => Manager::connect_to(address).await,
                    _ => Manager::connect().await,
                }
            })
            .await
    }

    /// The connection `id_or_name`, through the manager.
    pub async fn connection(&self, id_or_name: &str) -> Result<fw6::Connection, fw6::Error> {
        self.manager().await?.connection(id_or_name).await
    }
}

/// Reads FILE, or standard input for `-`. A missing or unreadable file is `InvalidArg`: the
/// argument names something that cannot be used.
pub fn read_input(path: &Path) -> Result<String, Failure> {
    let mut text = String::new();
    let res = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    res.map_err(|e| {
        Failure::Api(fw6::Error::new(
            ErrorKind::InvalidArg,
            format!("cannot read {}: {e}", path.display()),
        ))
    })?;
    Ok(text)
}
