//! Benchmarks 4 and 5, on one lab with 100,000 pairs stored on `lan0`.
//!
//! 4. Start-up: from just before `spawn` of `fw6d` to its `READY=1` (sent after the whole table
//!    is in the kernel and `org.fw6.Firewall1` is owned; both are checked). Comparison: `nft -f`
//!    of the same table, with the same elements, in a scratch namespace — loading the ruleset
//!    alone with nft's own tool. Memory: `VmRSS`/`VmHWM` of the restarted daemon when ready,
//!    and after the enumerations.
//! 5. Enumeration: `fw6 --json port list lan0` (a new process, all 100,000 entries, output read
//!    to the end), wall time. Comparison: `nft list set inet fw6 open` of the same elements.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fw6::PortKey;
use fw6_testkit::NetNs;

use crate::lab::{self, Lab, Result};
use crate::nftproc;
use crate::report::{Report, Row, median, ms};
use crate::{Bins, Scale};

#[expect(
    clippy::too_many_lines,
    reason = "one linear story: preload, restarts, enumerations, comparisons"
)]
pub fn run(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    let n = scale.startup_entries;
    println!("\n# 4/5. Start-up, memory and enumeration with {n} stored pairs");
    let mut lab = Lab::new(bins);
    lab.start_daemon()?;
    let took = lab::preload(&lab.manager()?, n)?;
    let (rss, hwm) = lab.memory()?;
    println!(
        "preloaded {n} pairs with one Apply in {}; daemon VmRSS {rss} KiB, VmHWM {hwm} KiB (the process that took the Apply)",
        ms(took)
    );
    lab.stop_daemon();

    let mut starts = Vec::new();
    let mut memory = Vec::new();
    for i in 0..scale.startup_repeats {
        let ready = lab.start_daemon()?;
        starts.push(ready.as_secs_f64());
        memory.push(lab.memory()?);
        if i + 1 < scale.startup_repeats {
            lab.stop_daemon();
        }
    }
    let start = median(&starts);
    let (rss, hwm) = *memory.last().ok_or("no start-up")?;
    println!(
        "start → ready: median {} (all: {}); VmRSS {rss} KiB, VmHWM {hwm} KiB when ready",
        ms(Duration::from_secs_f64(start)),
        list(&starts)
    );
    let status = lab.manager()?.status()?;
    if (status.open as usize) < n {
        return Err(format!("after restart only {} pairs are open", status.open).into());
    }

    // 5. Enumeration through the CLI, then nft listing the same set.
    let mut enums = Vec::new();
    for _ in 0..scale.startup_repeats {
        let (took, entries) = enumerate(&lab)?;
        if entries != n {
            return Err(format!("fw6 port list printed {entries} entries, expected {n}").into());
        }
        enums.push(took.as_secs_f64());
    }
    let (rss_after, hwm_after) = lab.memory()?;
    println!(
        "fw6 --json port list lan0: median {} (all: {}); daemon VmRSS {rss_after} KiB, VmHWM {hwm_after} KiB after",
        ms(Duration::from_secs_f64(median(&enums))),
        list(&enums)
    );
    let mut nft_lists = Vec::new();
    for _ in 0..scale.startup_repeats {
        let took = nftproc::nft(
            lab.topology.host(),
            &["list", "set", "inet", "fw6", "open"],
            None,
            Duration::from_secs(60),
        )?;
        nft_lists.push(took.as_secs_f64());
    }
    lab.stop_daemon();
    drop(lab);

    // The comparison for start-up: nft loading the same table.
    let ns = NetNs::new();
    let pairs: Vec<PortKey> = (0..n).map(lab::preload_key).collect::<Result<_>>()?;
    let dir = fw6_testkit::temp_path("bench-start");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("table.nft");
    std::fs::write(&file, nftproc::fw6_table_text(&pairs)?)?;
    let mut loads = Vec::new();
    for _ in 0..scale.startup_repeats {
        loads.push(nftproc::nft_file(&ns, &file, Duration::from_secs(120))?.as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);

    let load = median(&loads);
    report.add(Row {
        what: format!("4. start-up to ready, {n} stored"),
        figure: ms(Duration::from_secs_f64(start)),
        comparison: format!("nft -f same table {}", ms(Duration::from_secs_f64(load))),
        ratio: start / load,
        target: "≤ 500 ms".into(),
        met: start <= 0.5,
    });
    let worst_kib = hwm.max(rss_after).max(hwm_after);
    #[expect(clippy::cast_precision_loss, reason = "KiB counts are small")]
    let mib = worst_kib as f64 / 1024.0;
    report.add(Row {
        what: format!(
            "4. daemon memory, {n} stored (restarted; max of VmRSS/VmHWM incl. after enumerations)"
        ),
        figure: format!(
            "{mib:.1} MiB (VmRSS {rss} KiB ready, {rss_after} KiB after; VmHWM {hwm_after} KiB)"
        ),
        comparison: "40 MiB budget".into(),
        ratio: mib / 40.0,
        target: "≤ 40 MiB".into(),
        met: mib <= 40.0,
    });
    let (e, l) = (median(&enums), median(&nft_lists));
    report.add(Row {
        what: format!("5. fw6 --json port list lan0, {n} entries"),
        figure: ms(Duration::from_secs_f64(e)),
        comparison: format!("nft list set {}", ms(Duration::from_secs_f64(l))),
        ratio: e / l,
        target: "≤ 200 ms".into(),
        met: e <= 0.2,
    });
    Ok(())
}

/// Runs `fw6 --json port list lan0`, reads its output to the end, and counts the entries.
fn enumerate(lab: &Lab) -> Result<(Duration, usize)> {
    let started = Instant::now();
    let mut child = Command::new(lab.fw6_bin())
        .args(["--bus", lab.bus.address(), "--json", "port", "list", "lan0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_end(&mut out)?;
    let status = child.wait()?;
    let took = started.elapsed();
    if !status.success() {
        return Err(format!("fw6 port list failed: {status}").into());
    }
    let doc: serde_json::Value = serde_json::from_slice(&out)?;
    let entries = doc["open"].as_array().map_or(0, Vec::len);
    Ok((took, entries))
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{:.1}", v * 1e3))
        .collect::<Vec<_>>()
        .join(" ")
}
