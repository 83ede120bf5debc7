//! Running commands as an unprivileged user, the way a real desktop or service caller would.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// An unprivileged identity a test can run callers as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unprivileged {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// User name, as polkit rules see it (`subject.user`).
    pub user: &'static str,
    /// Primary group name, as polkit rules see it (`subject.isInGroup`).
    pub group: &'static str,
}

/// `nobody:nogroup` (65534:65534), present on every Debian system: no test user has to be
/// created, and polkit resolves its name and groups from `/etc/passwd` and `/etc/group`.
pub const NOBODY: Unprivileged = Unprivileged {
    uid: 65534,
    gid: 65534,
    user: "nobody",
    group: "nogroup",
};

impl Unprivileged {
    /// `cmd` set up to run as this identity; see [`run_as`].
    pub fn command(&self, cmd: Command) -> Command {
        run_as(self.uid, self.gid, cmd)
    }
}

/// Sets `cmd` to run as `uid`:`gid`. The standard library drops every supplementary group
/// when a root parent sets a uid, so the child keeps no trace of root's groups. `HOME` points
/// at `/` because `nobody`'s home does not exist and some tools complain about it.
pub fn run_as(uid: u32, gid: u32, mut cmd: Command) -> Command {
    cmd.uid(uid).gid(gid).env("HOME", "/");
    cmd
}
