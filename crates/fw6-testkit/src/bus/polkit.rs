//! The real polkitd on a private bus.
//!
//! polkitd 122 (Debian 12) has no option for its bus, its action directory or its rules
//! directories: it talks to `DBUS_SYSTEM_BUS_ADDRESS` (libgio honours it) and reads
//! `/usr/share/polkit-1/actions`, `/etc/polkit-1/rules.d` and `/usr/share/polkit-1/rules.d`.
//! Writing test files into the machine's real directories would let one test's grant leak into
//! every other polkitd (tests run in parallel) and would leave files behind after a crash. So
//! each polkitd starts in its own mount namespace (`unshare --mount`) in which two directories
//! of this bus's temporary directory are bind-mounted:
//!
//! - over `/usr/share/polkit-1/actions`: a copy of the machine's action files plus
//!   `data/org.fw6.Firewall1.policy` from this checkout, exactly where the Debian package
//!   installs it;
//! - over `/etc/polkit-1/rules.d`: the rules a test adds (`49-fw6-test-*.rules`).
//!
//! `/usr/share/polkit-1/rules.d` stays the machine's (Debian's `50-default.rules`: admins are
//! `unix-group:sudo`). Nothing outside the temporary directory is written, and the mounts
//! vanish with the process. polkitd still starts as root and switches to its `polkitd` user,
//! so that user (created by the `polkitd` package) must exist. It needs no logind, no
//! `/var/lib/polkit-1` and no authentication agent: without logind a caller has no session, so
//! the `allow_any` default applies, and with no agent a challenge comes back as
//! `is_authorized = false, is_challenge = true`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::daemon::PrivateBus;
use super::process::Owned;
use super::{POLICY_FILE, RELOAD_TIMEOUT, START_TIMEOUT};

const POLKITD: &str = "/usr/lib/polkit-1/polkitd";
const SYSTEM_ACTIONS: &str = "/usr/share/polkit-1/actions";
const SYSTEM_RULES: &str = "/usr/share/polkit-1/rules.d";
/// The line polkitd prints after every (re)load of its rules, with the number of rule files.
const LOADED: &str = "Finished loading, compiling and executing ";

/// Mounts the two directories, then becomes polkitd (same pid: `unshare` without `--fork`
/// and `exec`), so the pid we hold is polkitd's.
const LAUNCH: &str = "mount --bind \"$1\" /etc/polkit-1/rules.d && \
                      mount --bind \"$2\" /usr/share/polkit-1/actions && shift 2 && exec \"$@\"";

/// A polkitd serving `org.freedesktop.PolicyKit1` on a [`PrivateBus`]; killed on drop.
#[derive(Debug)]
pub struct Polkitd {
    shared: Arc<Shared>,
    process: Owned,
}

/// What [`PolkitRule`] guards need after the test moved on.
#[derive(Debug)]
struct Shared {
    address: String,
    rules: PathBuf,
    staging: PathBuf,
    /// Everything polkitd printed, one entry per line, appended by a reader thread.
    log: Arc<Mutex<Vec<String>>>,
    /// Serialises rule changes so each wait sees exactly one change's reload.
    changes: Mutex<()>,
    /// Cleared when polkitd is killed: a rule dropped after that has no reload to wait for.
    running: AtomicBool,
    /// Started with `--no-debug`, which prints no reload line to wait for.
    quiet: bool,
}

/// The answer of `CheckAuthorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// polkit says yes.
    pub is_authorized: bool,
    /// polkit would say yes after authentication (an agent would have been asked).
    pub is_challenge: bool,
    /// The reply as `busctl` printed it, details included, for assertion messages.
    pub reply: String,
}

impl Polkitd {
    /// Starts polkitd on `bus` and waits until it owns `org.freedesktop.PolicyKit1`.
    /// `quiet`: run with `--no-debug`, with these rules installed first (see
    /// [`super::Builder::quiet_polkit`]).
    pub(crate) fn start(bus: &PrivateBus, quiet: Option<&[&str]>) -> Self {
        let root = bus.dir().join("polkit");
        let rules = root.join("rules.d");
        let actions = root.join("actions");
        let staging = root.join("staging");
        for dir in [&rules, &actions, &staging] {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot create {}: {e}", dir.display()));
        }
        copy_actions(&actions);
        for (i, rule) in quiet.unwrap_or_default().iter().enumerate() {
            let path = rules.join(format!(
                "49-fw6-test-{}-start-{i}.rules",
                std::process::id()
            ));
            std::fs::write(&path, rule)
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot write {}: {e}", path.display()));
        }

        let (reader, writer) = std::io::pipe().expect("fw6-testkit: pipe for polkitd output");
        let writer2 = writer
            .try_clone()
            .expect("fw6-testkit: pipe for polkitd output");
        let child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                LAUNCH,
                "sh",
            ])
            .arg(&rules)
            .arg(&actions)
            .arg(POLKITD)
            .args(quiet.map(|_| "--no-debug"))
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .spawn()
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot run unshare/polkitd: {e}"));
        let process = Owned::new("polkitd", child);
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                lock(&sink).push(line);
            }
        });
        let mut polkitd = Self {
            shared: Arc::new(Shared {
                address: bus.address().to_owned(),
                rules,
                staging,
                log,
                changes: Mutex::new(()),
                running: AtomicBool::new(true),
                quiet: quiet.is_some(),
            }),
            process,
        };
        polkitd.wait_until_serving(bus);
        polkitd
    }

    /// polkitd's pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything polkitd printed so far (rule loading, JavaScript errors, `polkit.log()`).
    pub fn log(&self) -> String {
        lock(&self.shared.log).join("\n")
    }

    /// Installs `/etc/polkit-1/rules.d/49-fw6-test-<unique>.rules` with `javascript` as seen by
    /// this polkitd, and returns once polkitd has reloaded its rules with it. Dropping the
    /// returned guard removes the file and waits for the reload again. Panics (quoting
    /// polkitd's log) if polkitd does not load it, e.g. on a JavaScript error.
    pub fn add_rule(&self, javascript: &str) -> PolkitRule {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "49-fw6-test-{}-{}.rules",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        assert!(
            !self.shared.quiet,
            "fw6-testkit: a quiet polkitd (--no-debug) says nothing when it reloads: give its \
             rules to Builder::quiet_polkit"
        );
        let path = self.shared.rules.join(&name);
        let staged = self.shared.staging.join(&name);
        let _serial = lock(&self.shared.changes);
        let mark = lock(&self.shared.log).len();
        std::fs::write(&staged, javascript)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot write {}: {e}", staged.display()));
        // One atomic rename, so polkitd never reads a half-written rule.
        std::fs::rename(&staged, &path)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot install {}: {e}", path.display()));
        self.shared.wait_for_reload(mark);
        PolkitRule {
            shared: Arc::clone(&self.shared),
            path,
        }
    }

    /// A rule granting `actions` to the user named `user` (`subject.user`), whatever the
    /// details; see [`Polkitd::add_rule`].
    pub fn grant_user(&self, user: &str, actions: &[&str]) -> PolkitRule {
        self.add_rule(&grant_rule(
            &format!("subject.user == \"{}\"", plain(user)),
            actions,
        ))
    }

    /// A rule granting `actions` to members of `group` (`subject.isInGroup`: polkit reads the
    /// user's groups from `/etc/group`, not the caller's process); see [`Polkitd::add_rule`].
    pub fn grant_group(&self, group: &str, actions: &[&str]) -> PolkitRule {
        self.add_rule(&grant_rule(
            &format!("subject.isInGroup(\"{}\")", plain(group)),
            actions,
        ))
    }

    /// Asks polkitd `CheckAuthorization` for the system-bus-name subject `bus_name` (the
    /// subject kind fw6d uses), without user interaction, as root.
    pub fn check_authorization(
        &self,
        bus_name: &str,
        action: &str,
        details: &[(&str, &str)],
    ) -> Authorization {
        let mut cmd = Command::new("busctl");
        cmd.arg(format!("--address={}", self.shared.address)).args([
            "call",
            "org.freedesktop.PolicyKit1",
            "/org/freedesktop/PolicyKit1/Authority",
            "org.freedesktop.PolicyKit1.Authority",
            "CheckAuthorization",
            "(sa{sv})sa{ss}us",
            "system-bus-name",
            "1",
            "name",
            "s",
            bus_name,
            action,
        ]);
        cmd.arg(details.len().to_string());
        for (k, v) in details {
            cmd.args([k, v]);
        }
        cmd.args(["0", ""]);
        let out = crate::cmd::run(cmd);
        let reply = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let mut words = reply.split_whitespace().skip(1);
        let mut flag = || match words.next() {
            Some("true") => true,
            Some("false") => false,
            _ => panic!("fw6-testkit: unexpected CheckAuthorization reply: {reply}"),
        };
        let (is_authorized, is_challenge) = (flag(), flag());
        Authorization {
            is_authorized,
            is_challenge,
            reply,
        }
    }

    fn wait_until_serving(&mut self, bus: &PrivateBus) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if bus.name_has_owner("org.freedesktop.PolicyKit1") {
                return;
            }
            if let Some(status) = self.process.exited() {
                sleep(Duration::from_millis(50)); // let the reader thread catch the last words
                panic!(
                    "fw6-testkit: {} exited ({status}) before owning org.freedesktop.PolicyKit1 \
                     on {}: {}",
                    self.process.what(),
                    bus.address(),
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "fw6-testkit: polkitd (pid {}) did not own org.freedesktop.PolicyKit1 within \
                 {START_TIMEOUT:?}: {}",
                self.pid(),
                self.log()
            );
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Polkitd {
    fn drop(&mut self) {
        // The process itself is killed by `Owned`'s Drop right after this.
        self.shared.running.store(false, Ordering::SeqCst);
    }
}

/// An installed test rule; dropping it removes the file and waits for polkitd's reload.
#[derive(Debug)]
pub struct PolkitRule {
    shared: Arc<Shared>,
    path: PathBuf,
}

impl PolkitRule {
    /// Where the file lives on disk (in polkitd's namespace it is in `/etc/polkit-1/rules.d`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PolkitRule {
    fn drop(&mut self) {
        let _serial = lock(&self.shared.changes);
        let mark = lock(&self.shared.log).len();
        let running = self.shared.running.load(Ordering::SeqCst);
        if std::fs::remove_file(&self.path).is_ok() && running && !std::thread::panicking() {
            self.shared.wait_for_reload(mark);
        }
    }
}

impl Shared {
    /// Waits until polkitd logs a reload, after `mark`, that counted exactly the rule files now
    /// present: a reload that started before our change cannot have that count, because each
    /// change (serialised by `changes`) moves it by one.
    fn wait_for_reload(&self, mark: usize) {
        let want = format!(
            "{LOADED}{} rules",
            count_rules(&self.rules) + count_rules(Path::new(SYSTEM_RULES))
        );
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        loop {
            if lock(&self.log)[mark..].iter().any(|l| l.ends_with(&want)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fw6-testkit: polkitd did not reload its rules (expected \"{want}\") within \
                 {RELOAD_TIMEOUT:?}; its log:\n{}",
                lock(&self.log).join("\n")
            );
            sleep(Duration::from_millis(10));
        }
    }
}

/// The machine's action files plus ours from this checkout (ours wins over an installed copy).
fn copy_actions(to: &Path) {
    let entries = std::fs::read_dir(SYSTEM_ACTIONS)
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot list {SYSTEM_ACTIONS}: {e}"));
    for entry in entries.map_while(Result::ok) {
        let from = entry.path();
        if from.extension().is_some_and(|e| e == "policy") {
            let dest = to.join(entry.file_name());
            std::fs::copy(&from, &dest)
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot copy {}: {e}", from.display()));
        }
    }
    let dest = to.join("org.fw6.Firewall1.policy");
    std::fs::copy(POLICY_FILE, &dest)
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot copy {POLICY_FILE}: {e}"));
}

/// How many `*.rules` files polkitd will load from `dir`.
fn count_rules(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot list {}: {e}", dir.display()))
        .map_while(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rules"))
        .count()
}

/// `polkit.addRule` returning YES for `actions` when `condition` holds.
fn grant_rule(condition: &str, actions: &[&str]) -> String {
    let list = actions
        .iter()
        .map(|a| format!("\"{}\"", plain(a)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "// fw6 test rule, generated by fw6-testkit\npolkit.addRule(function(action, subject) {{\n    \
         if ([{list}].indexOf(action.id) >= 0 && {condition}) {{\n        \
         return polkit.Result.YES;\n    }}\n}});\n"
    )
}

/// `s`, checked to need no JavaScript escaping (user, group and action names never do).
fn plain(s: &str) -> &str {
    assert!(
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "fw6-testkit: {s:?} is not a plain user, group or action name"
    );
    s
}

/// Locks `m`, ignoring poisoning: the data is a log or a unit, still usable after a panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
