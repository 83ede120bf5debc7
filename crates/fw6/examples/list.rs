//! Lists everything fw6d knows, with the blocking client: status, logging, global pairs, and
//! each connection with its own and ignored pairs.
//!
//! ```sh
//! cargo run -p fw6 --example list            # system bus, or FW6_BUS_ADDRESS
//! ```

use fw6::blocking::Manager;

fn main() -> Result<(), fw6::Error> {
    let manager = Manager::connect()?;
    let status = manager.status()?;
    println!(
        "fw6d {} (table {:?}, generation {})",
        status.version, status.table, status.generation
    );

    let log = manager.log_settings()?;
    println!(
        "logging: dropped={} connections={} path={} max={} KiB",
        log.log_dropped_packets,
        log.log_connections,
        log.logfile_path,
        log.logfile_maximum_size.kib()
    );

    println!("global open pairs:");
    for entry in manager.globally_open_ports()? {
        println!("  {} {:?}", entry.key(), entry.name.as_str());
    }

    for info in manager.connections()? {
        println!(
            "connection {} ({}) {} present={} firewalled={}",
            info.interface, info.name, info.id, info.present, info.firewalled
        );
        let conn = manager.connection(info.interface.as_str())?;
        for entry in conn.open_ports()? {
            println!("  open    {} {:?}", entry.key(), entry.name.as_str());
        }
        for entry in conn.ignored_global_ports()? {
            println!("  ignored {} {:?}", entry.key(), entry.name.as_str());
        }
    }
    Ok(())
}
