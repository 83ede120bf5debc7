//! Benchmark 2: 10,000 opens in one `Apply` (D-Bus, root), time to the acknowledgement (stored
//! and enforced). Comparison: the same 10,000 elements added by one `nft -f` file to the same
//! (empty) table in a scratch namespace. Between repeats the pairs are closed again (fw6: one
//! `Apply` of `ClosePort`; nft: `flush set`), untimed.

use std::time::Duration;

use fw6::PortKey;
use fw6_testkit::NetNs;

use crate::lab::{self, Lab, Result};
use crate::nftproc;
use crate::phases;
use crate::report::{Report, Row, median, ms};
use crate::{Bins, Scale};

pub fn run(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    let n = scale.batch;
    println!("\n# 2. {n} opens in one Apply vs one `nft -f` file");
    let keys: Vec<PortKey> = (0..n).map(lab::preload_key).collect::<Result<_>>()?;

    let mut lab = Lab::new(bins);
    lab.log_filter = "info,fw6d=debug".into();
    lab.start_daemon()?;
    let manager = lab.manager()?;
    let opens = lab::opens("wan0", 0..n, |i| Ok(keys[i]), "batch")?;
    let closes: Vec<fw6::Mutation> = keys
        .iter()
        .map(|k| {
            Ok(fw6::Mutation::ClosePort {
                connection: fw6::IfName::try_from("wan0")?,
                key: *k,
            })
        })
        .collect::<Result<_>>()?;
    let mut ours = Vec::new();
    for _ in 0..scale.batch_repeats {
        settle(&manager)?;
        let started = std::time::Instant::now();
        let changes = manager.apply(&opens)?;
        ours.push(started.elapsed().as_secs_f64());
        if changes as usize != n {
            return Err(format!("Apply made {changes} changes, expected {n}").into());
        }
        settle(&manager)?;
        manager.apply(&closes)?;
    }
    phases::print(&lab.log(), "OpenPort", n, scale.batch_repeats);
    // The part that is not the commit: the same number of items that change nothing (every
    // pair is closed now) still crosses the bus, is decoded, resolved and validated.
    let mut noop = Vec::new();
    for _ in 0..scale.batch_repeats {
        settle(&manager)?;
        let started = std::time::Instant::now();
        let changes = manager.apply(&closes)?;
        if changes != 0 {
            return Err(format!("a no-op Apply made {changes} changes").into());
        }
        noop.push(started.elapsed().as_secs_f64());
    }
    println!(
        "of which the bus, decoding and validation: a no-op Apply of {n} items: median {}",
        ms(Duration::from_secs_f64(median(&noop)))
    );
    drop(manager);
    drop(lab);

    let ns = NetNs::new();
    let dir = fw6_testkit::temp_path("bench-batch");
    std::fs::create_dir_all(&dir)?;
    let table = dir.join("table.nft");
    std::fs::write(&table, nftproc::fw6_table_text(&[])?)?;
    nftproc::nft_file(&ns, &table, Duration::from_secs(60))?;
    let elements: Vec<String> = keys
        .iter()
        .map(|k| nftproc::element("wan0", *k))
        .collect::<Result<_>>()?;
    let adds = dir.join("adds.nft");
    std::fs::write(
        &adds,
        format!("add element inet fw6 open {{ {} }}\n", elements.join(", ")),
    )?;
    let mut theirs = Vec::new();
    for _ in 0..scale.batch_repeats {
        theirs.push(nftproc::nft_file(&ns, &adds, Duration::from_secs(60))?.as_secs_f64());
        nftproc::nft(
            &ns,
            &["flush", "set", "inet", "fw6", "open"],
            None,
            Duration::from_secs(60),
        )?;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let (a, b) = (median(&ours), median(&theirs));
    println!(
        "Apply of {n} OpenPort: median {} (all: {}); nft -f: median {} (all: {})",
        ms(Duration::from_secs_f64(a)),
        list(&ours),
        ms(Duration::from_secs_f64(b)),
        list(&theirs)
    );
    report.add(Row {
        what: format!("2. {n} opens in one Apply"),
        figure: ms(Duration::from_secs_f64(a)),
        comparison: format!("nft -f {}", ms(Duration::from_secs_f64(b))),
        ratio: a / b,
        target: "≤ 0.5".into(),
        met: a / b <= 0.5,
    });
    Ok(())
}

/// Lets the daemon finish the previous batch's work that follows its reply (10,000 `Changed`
/// signals through the bus), so that it is not counted against the next `Apply`.
fn settle(manager: &fw6::blocking::Manager) -> Result<()> {
    std::thread::sleep(Duration::from_millis(300));
    manager.status()?;
    Ok(())
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{:.1}", v * 1e3))
        .collect::<Vec<_>>()
        .join(" ")
}
