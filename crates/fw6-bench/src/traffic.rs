//! Traffic for the data-plane benchmark: a UDP flood with `sendmmsg` on a connected socket, a
//! TCP connect/close loop (`SO_LINGER` 0, so a RST and no TIME_WAIT), and a SYN-only loop for
//! closed ports; a receiver and an acceptor in the host namespace. Every loop stops at a
//! deadline and at a maximum count.
//!
//! What is counted: the host namespace's own IP counters of the family measured
//! (`/proc/net/snmp6`, `/proc/net/snmp` read from a thread inside it). `Ip6InReceives` /
//! `Ip: InReceives` count every packet that reached IP input (before netfilter),
//! `Ip6InDelivers` / `Ip: InDelivers` every packet that passed the input hook and went to
//! UDP/TCP. On
//! veth the receive path (including nftables) runs in the sender's softirq, on the sender's CPU,
//! so the sender's rate is bounded by the firewall's per-packet cost.

use std::collections::HashMap;
use std::fs::File;
use std::io::IoSlice;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::AsFd as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::sockopt;
use rustix::net::{
    AddressFamily, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketFlags, SocketType,
};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::lab::Result;

/// Packets per `sendmmsg`.
const BATCH: usize = 32;
/// UDP payload bytes.
const PAYLOAD: usize = 18;
/// Upper bound on packets or connections per measurement, whatever the duration.
const MAX_COUNT: u64 = 50_000_000;

/// The CPU the sender (and with it the veth receive path, which runs in its softirq) uses; the
/// receiving program gets the other one. Pinning keeps the two from migrating and sharing a CPU.
const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;

/// Pins the calling thread to `cpu` (ignored on a machine with fewer CPUs).
fn pin(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// Moves the calling thread into the namespace bound at `path`.
fn enter(path: &Path) -> Result<()> {
    let ns = File::open(path)?;
    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
    Ok(())
}

/// Runs `f` on a new thread inside the namespace at `path` and returns its result.
pub fn in_ns<T: Send>(path: &Path, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    thread::scope(|s| {
        s.spawn(|| -> std::result::Result<T, String> {
            enter(path).map_err(|e| e.to_string())?;
            f().map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "a traffic thread panicked".to_owned())?
    })
    .map_err(Into::into)
}

/// The IPv6 counters of the namespace at `path`.
pub fn snmp6(path: &Path) -> Result<HashMap<String, u64>> {
    in_ns(path, || {
        let text = std::fs::read_to_string("/proc/thread-self/net/snmp6")?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((it.next()?.to_owned(), it.next()?.parse().ok()?))
            })
            .collect())
    })
}

/// The IPv4 counters (`Ip:` lines of `/proc/net/snmp`) of the namespace at `path`.
fn snmp4(path: &Path) -> Result<HashMap<String, u64>> {
    in_ns(path, || {
        let text = std::fs::read_to_string("/proc/thread-self/net/snmp")?;
        let mut ip = text.lines().filter(|l| l.starts_with("Ip:"));
        let (Some(names), Some(values)) = (ip.next(), ip.next()) else {
            return Err("no Ip: lines in /proc/net/snmp".into());
        };
        Ok(names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect())
    })
}

/// One measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds the sender ran.
    pub seconds: f64,
    /// Packets (UDP) or connection attempts (TCP) the sender made.
    pub sent: u64,
    /// Host: packets that reached IPv6 input.
    pub received: u64,
    /// Host: packets that passed the input hook.
    pub delivered: u64,
    /// UDP: datagrams the receiving program read; TCP: connections completed.
    pub completed: u64,
    /// TCP: connection attempts that failed or timed out.
    pub failed: u64,
}

impl Sample {
    pub fn per_second(&self, count: u64) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
        let c = count as f64;
        c / self.seconds
    }
}

/// Where the traffic goes: host namespace, sending peer namespace, destination.
#[derive(Debug, Clone, Copy)]
pub struct Path2<'a> {
    pub host: &'a Path,
    pub peer: &'a Path,
    pub to: SocketAddr,
}

/// Packets that reached IP input and that passed the input hook, in `to`'s family.
fn counters(host: &Path, to: SocketAddr) -> Result<(u64, u64)> {
    let (c, received, delivered) = match to {
        SocketAddr::V6(_) => (snmp6(host)?, "Ip6InReceives", "Ip6InDelivers"),
        SocketAddr::V4(_) => (snmp4(host)?, "InReceives", "InDelivers"),
    };
    Ok((
        c.get(received).copied().unwrap_or(0),
        c.get(delivered).copied().unwrap_or(0),
    ))
}

/// The unspecified address of `to`'s family.
fn any(to: SocketAddr) -> IpAddr {
    match to {
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
    }
}

/// Measures around `run` (which returns seconds, sent, completed, failed).
fn measured(path: Path2<'_>, run: impl FnOnce() -> Result<(f64, u64, u64, u64)>) -> Result<Sample> {
    let (r0, d0) = counters(path.host, path.to)?;
    let (seconds, sent, completed, failed) = run()?;
    let (r1, d1) = counters(path.host, path.to)?;
    Ok(Sample {
        seconds,
        sent,
        received: r1 - r0,
        delivered: d1 - d0,
        completed,
        failed,
    })
}

/// UDP flood from the peer to `path.to`; with `listen`, a receiver on the host reads it.
pub fn udp(path: Path2<'_>, listen: bool, duration: Duration) -> Result<Sample> {
    let receiver = if listen {
        let port = path.to.port();
        Some(in_ns(path.host, move || {
            // `[::]` without IPV6_V6ONLY receives IPv4 too (as mapped addresses).
            let sock = UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0))?;
            sockopt::set_socket_recv_buffer_size(&sock, 4 << 20)?;
            sock.set_nonblocking(true)?;
            Ok(sock)
        })?)
    } else {
        None
    };
    let to = path.to;
    let sender = in_ns(path.peer, move || {
        let sock = UdpSocket::bind(SocketAddr::new(any(to), 0))?;
        sock.connect(to)?;
        Ok(sock)
    })?;
    let stop = AtomicBool::new(false);
    let got = AtomicU64::new(0);
    measured(path, || {
        thread::scope(|s| {
            if let Some(rx) = &receiver {
                s.spawn(|| {
                    pin(RECEIVER_CPU);
                    let mut buf = [0u8; 64];
                    let mut n = 0;
                    // Polls without sleeping, so the sender never has to wake it (an IPI per
                    // packet in a VM). Bounded: the flag is set when the sender stops.
                    while !stop.load(Ordering::Relaxed) {
                        if rx.recv(&mut buf).is_ok() {
                            n += 1;
                        }
                    }
                    while rx.recv(&mut buf).is_ok() {
                        n += 1;
                    }
                    got.store(n, Ordering::Relaxed);
                });
            }
            let result = udp_send(&sender, duration);
            // Let the last packets land before counting.
            thread::sleep(Duration::from_millis(30));
            stop.store(true, Ordering::Relaxed);
            result
        })
        .map(|(seconds, sent)| (seconds, sent, got.load(Ordering::Relaxed), 0))
    })
}

fn udp_send(sock: &UdpSocket, duration: Duration) -> Result<(f64, u64)> {
    pin(SENDER_CPU);
    let payload = [0x66u8; PAYLOAD];
    let iov = [IoSlice::new(&payload)];
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
        (0..BATCH).map(|_| SendAncillaryBuffer::default()).collect();
    let mut msgs: Vec<MMsgHdr<'_>> = controls.iter_mut().map(|c| MMsgHdr::new(&iov, c)).collect();
    let started = Instant::now();
    let deadline = started + duration;
    let mut sent = 0u64;
    while sent < MAX_COUNT && Instant::now() < deadline {
        match rustix::net::sendmmsg(sock, &mut msgs, SendFlags::empty()) {
            Ok(n) => sent += n as u64,
            // A closed port without a firewall answers "port unreachable", which a connected
            // UDP socket reports on the next send; the flood goes on.
            Err(Errno::CONNREFUSED | Errno::NOBUFS | Errno::AGAIN) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((started.elapsed().as_secs_f64(), sent))
}

/// TCP connect/close loop from the peer to an open port with an acceptor on the host.
pub fn tcp_open(path: Path2<'_>, duration: Duration) -> Result<Sample> {
    let port = path.to.port();
    let listener = in_ns(path.host, move || {
        let fd = rustix::net::socket_with(
            AddressFamily::INET6,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        rustix::net::bind(&fd, &SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0))?;
        rustix::net::listen(&fd, 4096)?;
        let listener = TcpListener::from(fd);
        listener.set_nonblocking(true)?;
        Ok(listener)
    })?;
    let stop = AtomicBool::new(false);
    let to = path.to;
    measured(path, || {
        thread::scope(|s| {
            s.spawn(|| {
                pin(RECEIVER_CPU);
                // Polls without sleeping; bounded: the flag is set when the client stops.
                while !stop.load(Ordering::Relaxed) {
                    drop(listener.accept());
                }
            });
            let client = s.spawn(|| -> std::result::Result<(f64, u64, u64, u64), String> {
                enter(path.peer).map_err(|e| e.to_string())?;
                pin(SENDER_CPU);
                let started = Instant::now();
                let deadline = started + duration;
                let (mut ok, mut failed) = (0u64, 0u64);
                while ok + failed < MAX_COUNT && Instant::now() < deadline {
                    match TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                        Ok(stream) => {
                            let _ = sockopt::set_socket_linger(&stream, Some(Duration::ZERO));
                            ok += 1;
                        }
                        Err(_) => failed += 1,
                    }
                }
                Ok((started.elapsed().as_secs_f64(), ok + failed, ok, failed))
            });
            let result = client
                .join()
                .map_err(|_| "the TCP client panicked".to_owned());
            thread::sleep(Duration::from_millis(30));
            stop.store(true, Ordering::Relaxed);
            result
        })?
        .map_err(Into::into)
    })
}

/// SYNs from the peer to a closed port: a non-blocking connect, then close (no RST is sent for
/// a socket still in SYN_SENT). Each iteration is one SYN the host must judge.
pub fn tcp_syn(path: Path2<'_>, duration: Duration) -> Result<Sample> {
    let to = path.to;
    measured(path, || {
        in_ns(path.peer, move || {
            pin(SENDER_CPU);
            let started = Instant::now();
            let deadline = started + duration;
            let mut sent = 0u64;
            while sent < MAX_COUNT && Instant::now() < deadline {
                let family = match to {
                    SocketAddr::V6(_) => AddressFamily::INET6,
                    SocketAddr::V4(_) => AddressFamily::INET,
                };
                let fd = rustix::net::socket_with(
                    family,
                    SocketType::STREAM,
                    SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                    None,
                )?;
                match rustix::net::connect(&fd, &to) {
                    Err(Errno::INPROGRESS) | Ok(()) => sent += 1,
                    Err(Errno::CONNREFUSED | Errno::AGAIN | Errno::ADDRNOTAVAIL) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok((started.elapsed().as_secs_f64(), sent, 0, 0))
        })
    })
}
