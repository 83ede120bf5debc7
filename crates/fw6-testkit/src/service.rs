//! Small servers (a TCP listener, a UDP echo) that probes talk to.
//!
//! The socket is opened on a thread inside the namespace, so it belongs there; it is then
//! served from an ordinary thread that polls a stop flag, and dropping the [`Service`] stops
//! and joins it.

use std::io::ErrorKind;
use std::net::{Ipv6Addr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::NetNs;

/// How often a server looks at its stop flag.
const TICK: Duration = Duration::from_millis(10);
/// No server outlives this, whatever the test does.
const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// A server thread running until this guard drops.
#[derive(Debug)]
#[must_use = "the server stops when this guard drops"]
pub struct Service {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// The port it serves.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn spawn(port: u16, mut serve_once: impl FnMut() + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("service-{port}"))
            .spawn(move || {
                let start = Instant::now();
                while !flag.load(Ordering::Relaxed) && start.elapsed() < MAX_LIFETIME {
                    serve_once();
                }
            })
            .expect("spawn a service thread");
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("fw6-testkit: the service on port {} panicked", self.port);
        }
    }
}

impl NetNs {
    /// Listens on `[::]:port` (TCP) inside the namespace, accepting and closing connections,
    /// so a connect succeeds exactly when the SYN reaches the socket.
    pub fn tcp_listen(&self, port: u16) -> Service {
        let listener = self.run_in(move || {
            TcpListener::bind((Ipv6Addr::UNSPECIFIED, port))
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot listen on tcp port {port}: {e}"))
        });
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        Service::spawn(port, move || match listener.accept() {
            Ok((stream, _)) => drop(stream),
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) => panic!("fw6-testkit: accept on tcp port {port}: {e}"),
        })
    }

    /// Echoes every UDP datagram received on `[::]:port` inside the namespace to its sender.
    pub fn udp_echo(&self, port: u16) -> Service {
        let socket = self.run_in(move || {
            UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port))
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot bind udp port {port}: {e}"))
        });
        socket
            .set_read_timeout(Some(TICK))
            .expect("set a read timeout");
        let mut buf = [0u8; 2048];
        Service::spawn(port, move || match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                // A lost echo only makes the probe fail, which is what it reports.
                let _ = socket.send_to(&buf[..n], from);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("fw6-testkit: recv on udp port {port}: {e}"),
        })
    }
}
