//! Shared helpers of the nftables tests: a private network namespace per test, the `nft` binary
//! as the oracle, and the model states the tests load.
//!
//! A network namespace belongs to a thread: [`NetNs::enter`] creates a named namespace with
//! `ip netns add` and moves the calling thread into it; dropping the guard moves the thread back
//! and deletes the namespace, also when the test panics. Processes started from the thread
//! (`nft`, `ip`) inherit the namespace. The machine's own namespace is never touched.

#![expect(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::fs::File;
use std::marker::PhantomData;
use std::os::fd::AsFd as _;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use fw6_model::{EntryName, IfName, Mutation, PortKey, State};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// Fails the test loudly unless it runs as root: these tests need CAP_NET_ADMIN and must never
/// pass by being skipped.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "fw6-kernel's nftables tests need root (they create network namespaces and nftables \
         tables); run them as root, e.g. `sudo -E cargo test -p fw6-kernel`"
    );
}

/// A fresh network namespace the current thread lives in until the guard drops. `!Send`: the
/// namespace belongs to this thread.
pub struct NetNs {
    name: String,
    original: File,
    _thread_bound: PhantomData<*const ()>,
}

impl NetNs {
    /// Creates a uniquely named namespace, enters it and brings `lo` up.
    pub fn enter() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        require_root();
        let name = format!(
            "fw6k-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let original = File::open("/proc/thread-self/ns/net").expect("open own netns");
        run("ip", &["netns", "add", &name]);
        // From here on the guard exists, so the namespace is removed whatever happens.
        let guard = Self {
            name,
            original,
            _thread_bound: PhantomData,
        };
        let target = File::open(format!("/run/netns/{}", guard.name)).expect("open new netns");
        move_into_link_name_space(target.as_fd(), Some(LinkNameSpaceType::Network))
            .expect("setns into the test namespace");
        run("ip", &["link", "set", "lo", "up"]);
        guard
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let back =
            move_into_link_name_space(self.original.as_fd(), Some(LinkNameSpaceType::Network));
        let deleted = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        if !std::thread::panicking() {
            back.expect("setns back to the original namespace");
            assert!(
                deleted.is_ok_and(|s| s.success()),
                "ip netns del {}",
                self.name
            );
        }
    }
}

/// Runs a command and returns its stdout, failing the test with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `nft ARGS` in the current namespace.
pub fn nft(args: &[&str]) -> String {
    run("nft", args)
}

/// Loads nft text with `nft -f`.
pub fn nft_load(text: &str) {
    let path = std::env::temp_dir().join(format!(
        "fw6-kernel-test-{}-{:?}.nft",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, text).expect("write nft file");
    let result = Command::new("nft").arg("-f").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let out = result.expect("run nft -f");
    assert!(
        out.status.success(),
        "nft -f failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nft -j list table inet fw6`, without handles and metainfo, set elements sorted: the table's
/// content and nothing about how or when it was made.
pub fn table_json() -> serde_json::Value {
    let text = nft(&["-j", "list", "table", "inet", "fw6"]);
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("nft -j output");
    normalize(&mut value);
    value
}

fn normalize(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("handle");
            map.remove("metainfo");
            if let Some(serde_json::Value::Array(elements)) = map.get_mut("elem") {
                elements.sort_by_key(ToString::to_string);
            }
            map.values_mut().for_each(normalize);
        }
        serde_json::Value::Array(items) => {
            items.retain(|item| item.get("metainfo").is_none());
            items.iter_mut().for_each(normalize);
        }
        _ => {}
    }
}

/// The number of elements `nft` lists in set `set` of our table.
pub fn nft_element_count(set: &str) -> usize {
    let text = nft(&["-j", "list", "set", "inet", "fw6", set]);
    let value: serde_json::Value = serde_json::from_str(&text).expect("nft -j output");
    value["nftables"]
        .as_array()
        .expect("nftables array")
        .iter()
        .filter_map(|item| item.get("set"))
        .map(|set| {
            set.get("elem")
                .and_then(|e| e.as_array())
                .map_or(0, Vec::len)
        })
        .sum()
}

pub fn ifname(s: &str) -> IfName {
    IfName::try_from(s).expect("valid interface name")
}

pub fn key(s: &str) -> PortKey {
    s.parse().expect("valid PORT/PROTO")
}

pub fn name(s: &str) -> EntryName {
    EntryName::try_from(s).expect("valid entry name")
}

/// fw6-model's golden "sample" state: every set populated.
pub fn sample() -> State {
    let mut state = State::default();
    state
        .apply_batch(&[
            Mutation::OpenGlobalPort {
                key: key("22/tcp"),
                name: name("ssh"),
            },
            Mutation::OpenGlobalPort {
                key: key("546/udp"),
                name: name("dhcpv6-client"),
            },
            Mutation::OpenPort {
                connection: ifname("lan0"),
                key: key("80/tcp"),
                name: name("web"),
            },
            Mutation::OpenPort {
                connection: ifname("lan0"),
                key: key("5353/udp"),
                name: name("mdns"),
            },
            Mutation::IgnoreGlobalPort {
                connection: ifname("wan0"),
                key: key("22/tcp"),
                name: name("no ssh from outside"),
            },
            Mutation::DisableFirewall {
                connection: ifname("lab0"),
            },
        ])
        .expect("sample mutations are valid");
    state
}

/// The sample with both logging switches on.
pub fn logging() -> State {
    let mut state = sample();
    state
        .apply_batch(&[
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: true },
        ])
        .expect("logging mutations are valid");
    state
}
