//! A named network namespace owned by one test, and entering it from a thread.
//!
//! A network namespace belongs to a *thread*, and a socket belongs to the namespace it was
//! created in (docs/design.md §9.1). So the guard never moves the calling thread by
//! itself: [`NetNs::enter`] does, with a guard that moves it back; [`NetNs::run_in`] runs a
//! closure on a fresh thread inside; [`NetNs::block_on`] enters and only *then* builds a
//! current-thread tokio runtime, so every socket the future opens is inside (aya's
//! `run_netns_tokio`). The guard is `!Send` so it cannot be dropped from another thread while
//! its creator still relies on it.

use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use rustix::fs::{Mode, OFlags};
use rustix::mount::{UnmountFlags, mount_bind, unmount};
use rustix::thread::{LinkNameSpaceType, UnshareFlags, move_into_link_name_space};

use crate::{cmd, require_root, sysctl};

/// Where `ip netns` keeps named namespaces; binding ours there lets `ip netns exec` and `nft`
/// reach them.
pub(crate) const RUN_DIR: &str = "/run/netns";

/// Makes names unique within the process; the pid makes them unique across test binaries.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh network namespace named `fw6t-<pid>-<n>`, bind-mounted at `/run/netns/<name>` like
/// `ip netns add` does, with `lo` up. Dropping it unmounts and removes the name; the kernel
/// frees the namespace, and the veth ends inside it, once no thread or socket uses it.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    path: PathBuf,
    /// An open handle on the namespace, for `setns`.
    fd: Option<OwnedFd>,
    _not_send: PhantomData<*const ()>,
}

impl NetNs {
    /// Creates the namespace. Panics when not root or when the kernel refuses.
    pub fn new() -> Self {
        require_root("creating a network namespace");
        let name = format!(
            "fw6t-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = Path::new(RUN_DIR).join(&name);
        std::fs::create_dir_all(RUN_DIR)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot create {RUN_DIR}: {e}"));
        std::fs::File::create_new(&path)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot create {}: {e}", path.display()));
        // From here on, dropping `ns` cleans up whatever part was made.
        let mut ns = Self {
            name,
            path,
            fd: None,
            _not_send: PhantomData,
        };
        let target = ns.path.clone();
        // A throw-away thread unshares, so the caller's thread never changes namespace.
        thread::spawn(move || {
            unshare_net();
            mount_bind("/proc/thread-self/ns/net", &target).unwrap_or_else(|e| {
                panic!(
                    "fw6-testkit: cannot bind the new namespace to {}: {e}",
                    target.display()
                )
            });
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
        ns.fd = Some(
            rustix::fs::open(&ns.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot open {}: {e}", ns.path.display())),
        );
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name, as `ip netns` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind mount, `/run/netns/<name>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> &OwnedFd {
        self.fd
            .as_ref()
            .expect("namespace handle is set once created")
    }

    /// Moves the current thread into the namespace until the returned guard drops.
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            original: self.move_here(),
            _ns: PhantomData,
            _not_send: PhantomData,
        }
    }

    /// A fresh namespace the current thread lives in until the guard drops: for a test whose
    /// whole body runs inside one namespace (fw6-kernel's), so processes it starts (`nft`,
    /// `ip`) and sockets it opens are inside too.
    pub fn enter_new() -> Inside {
        let ns = Self::new();
        Inside {
            original: ns.move_here(),
            ns,
        }
    }

    /// Moves the current thread in; the handle on where it was.
    fn move_here(&self) -> OwnedFd {
        let original = rustix::fs::open(
            "/proc/thread-self/ns/net",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot open this thread's namespace: {e}"));
        move_into_link_name_space(self.fd().as_fd(), Some(LinkNameSpaceType::Network))
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot enter {}: {e}", self.name));
        original
    }

    /// Runs `f` on a fresh thread inside the namespace and returns its result; a panic in `f`
    /// is re-raised here. Sockets `f` opens belong to the namespace even after it returns them.
    pub fn run_in<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let fd = self.fd().as_fd();
        let name = &self.name;
        thread::scope(|s| {
            thread::Builder::new()
                .name(format!("in-{name}"))
                .spawn_scoped(s, move || {
                    move_into_link_name_space(fd, Some(LinkNameSpaceType::Network))
                        .unwrap_or_else(|e| panic!("fw6-testkit: cannot enter {name}: {e}"));
                    f()
                })
                .expect("spawn a thread")
                .join()
        })
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// Enters the namespace, builds a current-thread tokio runtime there, and runs `fut` to
    /// completion. The runtime is built after entering and has no worker threads, so every
    /// socket the future opens is inside the namespace.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _entered = self.enter();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("fw6-testkit: build a current-thread tokio runtime");
        // `runtime` drops before `_entered`, so its I/O driver closes inside the namespace.
        runtime.block_on(fut)
    }

    /// `ip -n <name> <args>`; panics on failure, returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        cmd::ip(&self.name, args)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec <name> program`).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program args` inside the namespace; panics on failure, returns stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut cmd = self.command(program);
        cmd.args(args);
        String::from_utf8_lossy(&cmd::run(cmd).stdout).into_owned()
    }

    /// Writes `/proc/sys/net/<key>` inside the namespace (e.g. `ipv6/conf/eth0/disable_ipv6`).
    pub fn set_sysctl(&self, key: &str, value: &str) {
        sysctl::write(self, key, value);
    }

    /// Reads `/proc/sys/net/<key>` inside the namespace.
    pub fn sysctl(&self, key: &str) -> String {
        sysctl::read(self, key)
    }
}

impl Default for NetNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.fd = None;
        remove_name(&self.path);
    }
}

/// Unmounts a namespace's bind mount and removes the name. DETACH: a thread still inside (a
/// listener being stopped) must not make this fail; the namespace goes away when its last user
/// does.
pub(crate) fn remove_name(path: &Path) {
    if let Err(e) = unmount(path, UnmountFlags::DETACH)
        && e != rustix::io::Errno::INVAL
    {
        eprintln!("fw6-testkit: cannot unmount {}: {e}", path.display());
    }
    if let Err(e) = std::fs::remove_file(path) {
        eprintln!("fw6-testkit: cannot remove {}: {e}", path.display());
    }
}

/// The current thread is inside a [`NetNs`] until this drops, then back where it was.
#[derive(Debug)]
#[must_use = "the thread leaves the namespace when this guard drops"]
pub struct Entered<'a> {
    original: OwnedFd,
    _ns: PhantomData<&'a NetNs>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        move_back(&self.original);
    }
}

/// A [`NetNs`] of its own the current thread is inside until this drops ([`NetNs::enter_new`]):
/// the thread moves back first, then the namespace is removed.
#[derive(Debug)]
#[must_use = "the thread leaves the namespace, and it is removed, when this guard drops"]
pub struct Inside {
    original: OwnedFd,
    ns: NetNs,
}

impl Inside {
    /// The namespace.
    pub fn ns(&self) -> &NetNs {
        &self.ns
    }

    /// The namespace's name, as `ip netns` shows it.
    pub fn name(&self) -> &str {
        self.ns.name()
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        move_back(&self.original);
    }
}

/// Moves the current thread back to `original`.
fn move_back(original: &OwnedFd) {
    if let Err(e) = move_into_link_name_space(original.as_fd(), Some(LinkNameSpaceType::Network)) {
        // A thread left in a test namespace must not go on as if it were home.
        if thread::panicking() {
            eprintln!("fw6-testkit: cannot restore the thread's namespace: {e}");
            std::process::abort();
        }
        panic!("fw6-testkit: cannot restore the thread's namespace: {e}");
    }
}

/// `unshare(CLONE_NEWNET)` on the calling thread.
#[expect(
    unsafe_code,
    reason = "rustix marks unshare unsafe because of CLONE_FILES; only CLONE_NEWNET is used"
)]
fn unshare_net() {
    // SAFETY: `unshare_unsafe` is unsafe only for `UnshareFlags::FILES`, which can make file
    // descriptors of other threads invalid here. `NEWNET` changes only which network namespace
    // this thread's future sockets and sysctl opens refer to; no memory or descriptor is
    // affected.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }
        .unwrap_or_else(|e| panic!("fw6-testkit: unshare(CLONE_NEWNET) failed: {e}"));
}
