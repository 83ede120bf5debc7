//! Who asked for a change. Stored with every entry and every audit row so an administrator can
//! answer "who opened this port, with which program, and when" from the store alone.

/// The caller of a state-changing member, as the D-Bus layer learned it from the bus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Provenance {
    /// The caller's user id.
    pub uid: u32,
    /// The caller's process id, when the bus could tell.
    pub pid: Option<u32>,
    /// The caller's executable, when it could be read.
    pub executable: Option<String>,
    /// The caller's D-Bus unique name (e.g. `:1.42`); `None` for changes the daemon makes itself.
    pub sender: Option<String>,
}

impl Provenance {
    /// The daemon itself, for changes nobody asked for over the bus: first-start defaults and
    /// connections adopted when they appear. The daemon runs as root (docs/design.md §5).
    pub fn daemon() -> Self {
        Self {
            uid: 0,
            pid: Some(std::process::id()),
            executable: std::env::current_exe()
                .ok()
                .map(|path| path.to_string_lossy().into_owned()),
            sender: None,
        }
    }
}
