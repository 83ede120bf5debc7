//! The hostile callers of `fw6-bench hostile`: this program run again as user `nobody`
//! (`--flood KIND`), so that the bus vouches for an unprivileged uid. Each kind runs until its
//! deadline, bounded in calls and time, then prints one line of counts and exits.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use futures_util::future::join_all;
use fw6::{EntryName, IfName, Mutation, PortKey};
use fw6_model::wire::{BUS_NAME, MANAGER_IFACE, MANAGER_PATH};

use crate::lab::Result;

/// What the replies to one hostile caller were: calls sent, refusals by fw6 (any ICF class but
/// `Unexpected`), and anything else (no reply, a bus error) — which fails the benchmark.
#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    refused: u64,
    unexpected: Vec<String>,
}

impl Tally {
    fn count<T>(&mut self, result: std::result::Result<T, fw6::Error>) {
        self.calls += 1;
        if let Err(e) = result {
            if e.kind() == fw6::ErrorKind::Unexpected {
                if self.unexpected.len() < 3 {
                    self.unexpected.push(e.to_string());
                }
            } else {
                self.refused += 1;
            }
        }
    }
}

/// What a hostile caller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Pipelined `Apply` calls of `max_batch + 1` items and of `max_batch` items.
    Apply,
    /// `Status` as fast as replies come, eight in flight.
    Status,
    /// Many bus connections, each with a call in flight all the time.
    Holders,
    /// A raw connection that sends calls and never reads a reply.
    Noreader,
    /// `Properties.Set` of a logging property with a `size`-byte `ay` as the value, eight in
    /// flight: refused before the value is built (zbus's own decoding made 64 bytes of each).
    Properties,
}

/// One hostile caller's orders.
#[derive(Debug, Clone)]
pub struct Orders {
    pub kind: Kind,
    pub address: String,
    pub seconds: f64,
    /// `Apply`: items of the largest accepted batch; `Holders`: connections; `Properties`: bytes
    /// of the value.
    pub size: usize,
}

/// Runs `orders` (as whoever this process is) and prints `flood KIND: …` counts.
pub fn run(orders: &Orders) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(orders.seconds);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tally = match orders.kind {
        Kind::Apply => runtime.block_on(apply(orders, deadline))?,
        Kind::Status => runtime.block_on(status(orders, deadline))?,
        Kind::Holders => runtime.block_on(holders(orders, deadline))?,
        Kind::Noreader => noreader(orders, deadline)?,
        Kind::Properties => runtime.block_on(properties(orders, deadline))?,
    };
    println!(
        "flood {:?}: {} calls, {} refused by fw6, {} other errors",
        orders.kind,
        tally.calls,
        tally.refused,
        tally.unexpected.len()
    );
    if let Some(e) = tally.unexpected.first() {
        return Err(format!("a call got no answer from fw6: {e}").into());
    }
    Ok(())
}

fn opens(n: usize) -> Result<Vec<Mutation>> {
    let connection = IfName::try_from("wan0")?;
    let name = EntryName::try_from("flood")?;
    (0..n)
        .map(|i| {
            let port = u32::try_from(i % 65_535 + 1)?;
            let protocol = if (i / 65_535).is_multiple_of(2) {
                6
            } else {
                17
            };
            Ok(Mutation::OpenPort {
                connection: connection.clone(),
                key: PortKey::from_raw(port, protocol)?,
                name: name.clone(),
                lease: None,
            })
        })
        .collect()
}

/// Pipelined batches: each round sends 32 `Apply` calls at once, half over `max_batch`.
async fn apply(orders: &Orders, deadline: Instant) -> Result<Tally> {
    let manager = fw6::Manager::connect_to(&orders.address).await?;
    let oversized = opens(orders.size + 1)?;
    let largest = opens(orders.size)?;
    let mut tally = Tally::default();
    while Instant::now() < deadline && tally.calls < 100_000 {
        let round = (0..32).map(|i| {
            let batch = if i % 2 == 0 { &oversized } else { &largest };
            manager.apply(batch)
        });
        for result in join_all(round).await {
            tally.count(result);
        }
    }
    Ok(tally)
}

async fn properties(orders: &Orders, deadline: Instant) -> Result<Tally> {
    let conn = zbus::connection::Builder::address(orders.address.as_str())
        .build()
        .await?;
    let value = zbus::Variant::from(vec![7_u8; orders.size]);
    let set = (MANAGER_IFACE, "LogConnections", &value);
    let mut tally = Tally::default();
    while Instant::now() < deadline && tally.calls < 100_000 {
        let round = (0..8).map(|_| {
            conn.call_method(
                Some(BUS_NAME),
                MANAGER_PATH,
                Some("org.freedesktop.DBus.Properties"),
                "Set",
                &set,
            )
        });
        for result in join_all(round).await {
            tally.count(result.map_err(fw6::Error::from));
        }
    }
    Ok(tally)
}

async fn status(orders: &Orders, deadline: Instant) -> Result<Tally> {
    let manager = fw6::Manager::connect_to(&orders.address).await?;
    let mut tally = Tally::default();
    while Instant::now() < deadline && tally.calls < 10_000_000 {
        for result in join_all((0..8).map(|_| manager.status())).await {
            tally.count(result);
        }
    }
    Ok(tally)
}

/// `size` connections, each with one `OpenPort` in flight at a time, refused or not.
async fn holders(orders: &Orders, deadline: Instant) -> Result<Tally> {
    let mut managers = Vec::new();
    for _ in 0..orders.size {
        if Instant::now() >= deadline {
            break;
        }
        // The bus may cap connections per user: past the cap, keep the ones we have.
        match fw6::Manager::connect_to(&orders.address).await {
            Ok(m) => managers.push(m),
            Err(_) => break,
        }
    }
    let key = PortKey::from_raw(27_015, 17)?;
    let name = EntryName::try_from("hold")?;
    let mut connections = Vec::new();
    for m in &managers {
        connections.push(m.connection("lan0").await?);
    }
    let mut tally = Tally::default();
    while Instant::now() < deadline && tally.calls < 1_000_000 {
        let round = connections.iter().map(|c| c.open_port(key, &name));
        for result in join_all(round).await {
            tally.count(result);
        }
    }
    Ok(tally)
}

/// Speaks the bus protocol on a raw socket: authenticates, says Hello, then writes method calls
/// to fw6d until the socket is full or the deadline passes, and never reads what comes back.
fn noreader(orders: &Orders, deadline: Instant) -> Result<Tally> {
    let path = orders
        .address
        .strip_prefix("unix:path=")
        .ok_or("the flood needs a unix:path= bus address")?;
    let mut socket = UnixStream::connect(path)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let uid = rustix::process::getuid().as_raw().to_string();
    let hex = uid.bytes().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    socket.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
    let mut buf = [0u8; 256];
    let n = socket.read(&mut buf)?;
    if !buf[..n].starts_with(b"OK") {
        return Err(format!("the bus refused: {}", String::from_utf8_lossy(&buf[..n])).into());
    }
    socket.write_all(b"BEGIN\r\n")?;
    let hello = zbus::Message::method_call("/org/freedesktop/DBus", "Hello")
        .destination("org.freedesktop.DBus")
        .interface("org.freedesktop.DBus")
        .build(&())?;
    socket.write_all(hello.data())?;
    socket.set_nonblocking(true)?;
    let mut calls = 0_u64;
    while Instant::now() < deadline && calls < 1_000_000 {
        let call = zbus::Message::method_call(MANAGER_PATH, "Status")
            .destination(BUS_NAME)
            .interface(MANAGER_IFACE)
            .build(&())?;
        // An error: the bus stopped reading from us (our queue there is full), or dropped us.
        if socket.write_all(call.data()).is_err() {
            break;
        }
        calls += 1;
    }
    // Hold the connection, unread, until the deadline.
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    Ok(Tally {
        calls,
        ..Tally::default()
    })
}
