//! Child processes owned by a helper: killed by their own pid and reaped on drop.

use std::process::Child;

/// A spawned child that is killed (SIGKILL, by its pid only) and reaped when dropped, so a
/// panicking test never leaves a daemon behind.
#[derive(Debug)]
pub(crate) struct Owned {
    child: Child,
    what: &'static str,
}

impl Owned {
    pub(crate) fn new(what: &'static str, child: Child) -> Self {
        Self { child, what }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` when the process has already exited: start-up waits use it to report a
    /// crash at once instead of timing out.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// The child's piped stdout; panics if it was not piped (a bug in the helper).
    pub(crate) fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child
            .stdout
            .take()
            .expect("fw6-testkit: child stdout was not piped")
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // Child::kill signals exactly this pid; an already-exited child is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
