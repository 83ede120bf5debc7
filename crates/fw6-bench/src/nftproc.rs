//! The comparisons that use the `nft` program: one process per change, one `nft -f` file,
//! started straight from a thread inside the namespace (no `ip netns exec` in the timing).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fw6_model::plan::{self, Element, Options, SetName};
use fw6_model::{IfName, PortKey, State};
use fw6_testkit::NetNs;
use rustix::process::{Pid, Signal, kill_process};

use crate::lab::Result;

/// Runs `nft args` (stdin from `input` when given) inside `ns`, killing it (by pid) after
/// `limit`. Returns the wall time from spawn to exit, or an error with nft's message.
pub fn nft(ns: &NetNs, args: &[&str], input: Option<&str>, limit: Duration) -> Result<Duration> {
    let mut cmd = Command::new("nft");
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (started, mut child) = {
        let _inside = ns.enter();
        let started = Instant::now();
        (started, cmd.spawn()?)
    };
    if let Some(text) = input {
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(text.as_bytes())?;
    }
    loop {
        if let Some(status) = child.try_wait()? {
            let took = started.elapsed();
            if status.success() {
                return Ok(took);
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read as _;
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!("nft {args:?} failed ({status}): {err}").into());
        }
        if started.elapsed() > limit {
            if let Some(pid) = Pid::from_raw(child.id().cast_signed()) {
                let _ = kill_process(pid, Signal::KILL);
            }
            let _ = child.wait();
            return Err(format!("nft {args:?} did not finish within {limit:?}").into());
        }
        // Short sleeps while a small command runs, longer ones for a long load.
        let waited = started.elapsed();
        std::thread::sleep(if waited < Duration::from_millis(20) {
            Duration::from_micros(50)
        } else {
            Duration::from_millis(2)
        });
    }
}

/// `nft -f file` inside `ns`, bounded by `limit`.
pub fn nft_file(ns: &NetNs, file: &Path, limit: Duration) -> Result<Duration> {
    let path = file.to_str().ok_or("non-UTF-8 path")?;
    nft(ns, &["-f", path], None, limit)
}

/// The fw6 table (as the daemon would install it) with `pairs` open on `lan0`, as `nft -f` text.
pub fn fw6_table_text(pairs: &[PortKey]) -> Result<String> {
    let lan0 = IfName::try_from("lan0")?;
    let mut table = plan::full(&State::default(), &Options::default());
    table
        .sets
        .iter_mut()
        .find(|s| s.name == SetName::Open)
        .ok_or("the plan has no open set")?
        .elements = pairs
        .iter()
        .map(|k| Element::ConnectionPair(lan0.clone(), *k))
        .collect();
    Ok(plan::render(&table))
}

/// The element text `"lan0" . tcp . 443` of a pair on `connection`.
pub fn element(connection: &str, key: PortKey) -> Result<String> {
    Ok(Element::ConnectionPair(IfName::try_from(connection)?, key).to_string())
}
