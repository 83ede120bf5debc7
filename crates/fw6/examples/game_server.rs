//! A game server that opens its UDP port on start-up and closes it on exit, the ICF way
//! (docs/icf-api.md §1.5): the entry's name is the ownership marker. If the pair is already open
//! under another name, another program owns it, so we refuse to start rather than take it over (and
//! later close a port someone else relies on). On exit (Ctrl-C) we close the pair only if it still
//! carries our name.
//!
//! ```sh
//! cargo run -p fw6 --example game_server -- lan0 27015
//! ```

use fw6::{EntryName, Manager, PortKey, Protocol};
use tokio::net::UdpSocket;

/// Our ownership marker.
const NAME: &str = "fw6 example game server";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(conn_name), port) = (args.next(), args.next()) else {
        eprintln!("usage: game_server CONNECTION [PORT]");
        std::process::exit(2);
    };
    let port: u16 = port.as_deref().unwrap_or("27015").parse()?;
    let key = PortKey::new(fw6::Port::try_from(port)?, Protocol::Udp);
    let name = EntryName::try_from(NAME)?;

    let manager = Manager::connect().await?;
    let conn = manager.connection(&conn_name).await?;

    // Ownership check: who has this pair open on this connection, if anyone?
    let owner = conn
        .open_ports()
        .await?
        .into_iter()
        .find(|e| e.key() == key)
        .map(|e| e.name);
    match owner {
        Some(other) if other != name => {
            eprintln!(
                "{key} is already open on {conn_name} for {:?}; not taking it over",
                other.as_str()
            );
            std::process::exit(1);
        }
        Some(_) => println!("{key} is already open under our name (a previous run); reusing it"),
        None => conn.open_port(key, &name).await?,
    }

    let socket = UdpSocket::bind(("::", port)).await?;
    println!("serving on [::]:{port}/udp, {key} open on {conn_name}; Ctrl-C to stop");
    let mut buf = [0_u8; 1500];
    let result = loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, peer)) => { socket.send_to(&buf[..n], peer).await?; }
                Err(e) => break Err(e),
            },
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };

    // Close only what is still ours: someone may have re-opened it under another name.
    let still_ours = conn
        .open_ports()
        .await?
        .into_iter()
        .any(|e| e.key() == key && e.name == name);
    if still_ours {
        conn.close_port(key).await?;
        println!("closed {key} on {conn_name}");
    }
    Ok(result?)
}
