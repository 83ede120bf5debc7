//! Benchmark 6: hostile local callers. Any local user can call fw6d; none may stall it, freeze
//! it or make it hold memory. Two parts:
//!
//! 1. A big batch from an unprivileged caller under a scoped polkit rule (user nobody may open
//!    ports above 1000 on wan0): every item is authorized alone, so this is the cost of
//!    item-by-item authorization. Comparison: the same batch from root (no polkit). polkitd
//!    runs as Debian's unit runs it (`--no-debug`), on a lab of its own.
//! 2. While user nobody floods fw6d (pipelined `Apply` calls over and at `max_batch`, a
//!    `Status` flood, many connections each with a call in flight, a raw connection that never
//!    reads its replies), root opens and closes a port in a loop. Comparison: the same loop with
//!    no flood. Every root call must succeed; fw6d's RSS is sampled throughout and after each
//!    of two floods, one after the other.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fw6::{EntryName, PortKey};
use fw6_testkit::bus::NOBODY;

use crate::flood::Kind;
use crate::lab::{Lab, Result};
use crate::report::{Report, Row, median, ms, percentile};
use crate::{Bins, Scale};

/// The scoped rule of part 1.
const RULE: &str = r#"polkit.addRule(function(action, subject) {
    if (action.id == "org.fw6.firewall1.ports" && subject.user == "nobody" &&
        action.lookup("connection") == "wan0" && parseInt(action.lookup("port")) > 1000)
        return polkit.Result.YES;
});"#;

pub fn run(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    {
        // polkitd as the host runs it (the lab's usual polkitd prints every question).
        let mut lab = Lab::with_quiet_polkit(bins, &[RULE]);
        lab.start_daemon()?;
        scoped_batch(scale, bins, &lab, report)?;
    }
    let mut lab = Lab::with_polkit(bins);
    lab.start_daemon()?;
    flood(scale, bins, &lab, report)?;
    Ok(())
}

/// Part 1: `fw6 batch` of `scale.hostile_batch` opens, as nobody under the rule and as root.
fn scoped_batch(scale: &Scale, bins: &Bins, lab: &Lab, report: &mut Report) -> Result<()> {
    let n = scale.hostile_batch;
    println!("\n# 6a. {n} opens in one Apply from user nobody under a scoped polkit rule");
    let dir = fw6_testkit::temp_path("bench-hostile");
    std::fs::create_dir_all(&dir)?;
    let file = |member: &str| -> Result<std::path::PathBuf> {
        let mut text = String::new();
        for i in 0..n {
            let port = 1001 + i;
            let _ = write!(
                text,
                "[[op]]\nmember = \"{member}\"\nconnection = \"wan0\"\nport = \"{port}/udp\"\n"
            );
        }
        let path = dir.join(format!("{member}.toml"));
        std::fs::write(&path, text)?;
        // Readable by nobody.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(path)
    };
    let opens = file("OpenPort")?;
    let closes = file("ClosePort")?;
    let batch = |path: &std::path::Path, as_nobody: bool| -> Result<f64> {
        let mut cmd = Command::new(&bins.fw6);
        cmd.args(["--bus", lab.bus.address(), "batch"]).arg(path);
        if as_nobody {
            cmd = NOBODY.command(cmd);
        }
        let started = Instant::now();
        let out = cmd.output()?;
        let took = started.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "fw6 batch as {}: {}",
                if as_nobody { "nobody" } else { "root" },
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(took)
    };
    let (mut nobody, mut root) = (Vec::new(), Vec::new());
    for _ in 0..scale.hostile_repeats {
        nobody.push(batch(&opens, true)?);
        batch(&closes, false)?;
        root.push(batch(&opens, false)?);
        batch(&closes, false)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (nobody, root) = (median(&nobody), median(&root));
    report.add(Row {
        what: format!("{n}-item Apply from nobody under a scoped rule (fw6 batch)"),
        figure: ms(Duration::from_secs_f64(nobody)),
        comparison: format!("root {}", ms(Duration::from_secs_f64(root))),
        ratio: nobody / root,
        target: "< 10 s".into(),
        met: nobody < 10.0,
    });
    Ok(())
}

/// A flood child: this program again, as nobody.
fn spawn_flood(bins: &Bins, lab: &Lab, kind: Kind, seconds: f64, size: usize) -> Result<Child> {
    let me = std::env::current_exe()?;
    let mut cmd = Command::new(me);
    cmd.arg("--flood")
        .arg(format!("{kind:?}").to_lowercase())
        .args(["--flood-address", lab.bus.address()])
        .arg("--flood-seconds")
        .arg(seconds.to_string())
        .arg("--flood-size")
        .arg(size.to_string())
        .arg("--bin-dir")
        .arg(bins.fw6d.parent().unwrap_or(std::path::Path::new(".")));
    Ok(NOBODY
        .command(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// What root saw in one loop.
struct Loop {
    latencies: Vec<Duration>,
    failures: Vec<String>,
    peak_rss_kib: u64,
}

/// One flood: the flood children, root's loop meanwhile, and fw6d's RSS once they are gone
/// (waiting, bounded, for it to come within 10% of `idle_rss`).
fn flood_round(
    scale: &Scale,
    bins: &Bins,
    lab: &Lab,
    seconds: f64,
    idle_rss: u64,
) -> Result<(Loop, u64)> {
    let kinds = [
        (Kind::Apply, scale.hostile_max_batch),
        (Kind::Status, 0),
        (Kind::Holders, scale.hostile_holders),
        (Kind::Noreader, 0),
        (Kind::Properties, scale.hostile_set_bytes),
    ];
    // The floods run a little longer than root's loop, so that root is flooded throughout.
    let mut children = Vec::new();
    for (kind, size) in kinds {
        children.push((kind, spawn_flood(bins, lab, kind, seconds + 2.0, size)?));
    }
    // fw6d's RSS, sampled from the floods' start until they have all ended.
    let (stop, sampler) = sample_peak_rss(lab.pid().ok_or("fw6d is not running")?);
    std::thread::sleep(Duration::from_secs(1));
    let mut flooded = root_loop(lab, seconds)?;
    for (kind, child) in children {
        let out = wait_bounded(child, Duration::from_secs_f64(seconds + 60.0))
            .map_err(|e| format!("the {kind:?} flood: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        println!("  {}", text.trim());
        if !out.status.success() {
            return Err(format!(
                "the {kind:?} flood failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    let _ = stop.send(());
    flooded.peak_rss_kib = flooded
        .peak_rss_kib
        .max(sampler.join().map_err(|_| "the RSS sampler panicked")?);
    // Memory goes back down once the floods are gone (bounded wait).
    let settle_deadline = Instant::now() + Duration::from_secs(30);
    let mut after_rss = lab.memory()?.0;
    while after_rss * 10 > idle_rss * 11 && Instant::now() < settle_deadline {
        std::thread::sleep(Duration::from_millis(200));
        after_rss = lab.memory()?.0;
    }
    Ok((flooded, after_rss))
}

/// Root opens and closes one port for `seconds`, sampling fw6d's RSS.
fn root_loop(lab: &Lab, seconds: f64) -> Result<Loop> {
    let manager = lab.manager()?;
    let lan0 = manager.connection("lan0")?;
    let key = PortKey::from_raw(4242, 6)?;
    let name = EntryName::try_from("root")?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut out = Loop {
        latencies: Vec::new(),
        failures: Vec::new(),
        peak_rss_kib: 0,
    };
    let mut open = true;
    while Instant::now() < deadline && out.latencies.len() < 1_000_000 {
        let started = Instant::now();
        let result = if open {
            lan0.open_port(key, &name)
        } else {
            lan0.close_port(key)
        };
        out.latencies.push(started.elapsed());
        if let Err(e) = result {
            out.failures.push(e.to_string());
        }
        open = !open;
        out.peak_rss_kib = out.peak_rss_kib.max(lab.memory()?.0);
    }
    Ok(out)
}

/// Waits for a flood child, at most `limit`: one still running then has calls that fw6d never
/// answered; it is killed and the benchmark fails.
fn wait_bounded(mut child: Child, limit: Duration) -> Result<std::process::Output> {
    let deadline = Instant::now() + limit;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still waiting for replies after {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child.wait_with_output()?)
}

/// Samples `pid`'s RSS until told to stop; the thread returns the peak, in KiB.
fn sample_peak_rss(pid: u32) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<u64>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while stopped.recv_timeout(Duration::from_millis(20)).is_err() {
            peak = peak.max(crate::lab::rss_kib(pid).unwrap_or(0));
        }
        peak
    });
    (stop, sampler)
}

/// Floods, one after the other, in part 2: the second shows whether memory a flood leaves
/// behind adds up flood after flood (what an attacker could grow at will) or settles.
const ROUNDS: usize = 2;

/// Part 2.
fn flood(scale: &Scale, bins: &Bins, lab: &Lab, report: &mut Report) -> Result<()> {
    let seconds = scale.hostile_seconds;
    println!(
        "\n# 6b. root opens and closes a port while nobody floods fw6d ({seconds} s per phase, \
         {ROUNDS} floods)"
    );
    let quiet = root_loop(lab, seconds)?;
    // Idle is the daemon after root's loop: one that has served calls, not a fresh one.
    let idle_rss = lab.memory()?.0;
    // Root's calls of every flood together; fw6d's RSS after each.
    let mut flooded = Loop {
        latencies: Vec::new(),
        failures: Vec::new(),
        peak_rss_kib: 0,
    };
    let mut afters = Vec::new();
    for _ in 0..ROUNDS {
        let (round, after) = flood_round(scale, bins, lab, seconds, idle_rss)?;
        flooded.latencies.extend(round.latencies);
        flooded.failures.extend(round.failures);
        flooded.peak_rss_kib = flooded.peak_rss_kib.max(round.peak_rss_kib);
        afters.push(after);
    }
    let peak_rss_kib = flooded.peak_rss_kib;
    let settled = afters.iter().all(|after| after * 10 <= idle_rss * 11);
    let afters = afters
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(failure) = flooded.failures.first() {
        return Err(format!(
            "{} of root's {} calls failed under the flood, e.g.: {failure}",
            flooded.failures.len(),
            flooded.latencies.len()
        )
        .into());
    }
    if !quiet.failures.is_empty() {
        return Err(format!("root's calls failed without a flood: {:?}", quiet.failures).into());
    }
    let (quiet_p50, quiet_p99) = (
        percentile(&quiet.latencies, 50),
        percentile(&quiet.latencies, 99),
    );
    let (flood_p50, flood_p99) = (
        percentile(&flooded.latencies, 50),
        percentile(&flooded.latencies, 99),
    );
    println!(
        "root, no flood: {} calls, p50 {}, p99 {}; flooded: {} calls, p50 {}, p99 {}",
        quiet.latencies.len(),
        ms(quiet_p50),
        ms(quiet_p99),
        flooded.latencies.len(),
        ms(flood_p50),
        ms(flood_p99)
    );
    println!(
        "fw6d RSS: idle {idle_rss} KiB, peak under flood {peak_rss_kib} KiB, after each flood \
         {afters} KiB"
    );
    report.add(Row {
        what: "root OpenPort/ClosePort p99 under a flood by nobody".into(),
        figure: ms(flood_p99),
        comparison: format!("no flood {}", ms(quiet_p99)),
        ratio: flood_p99.as_secs_f64() / quiet_p99.as_secs_f64().max(1e-9),
        target: "< 50 ms, every call succeeds".into(),
        met: flood_p99 < Duration::from_millis(50),
    });
    #[expect(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
    let ratio = peak_rss_kib as f64 / idle_rss as f64;
    report.add(Row {
        what: "fw6d peak RSS under the flood".into(),
        figure: format!("{peak_rss_kib} KiB"),
        comparison: format!("idle {idle_rss} KiB, after each flood {afters} KiB"),
        ratio,
        target: "< 64 MiB, after every flood within 10% of idle".into(),
        met: peak_rss_kib < 64 * 1024 && settled,
    });
    Ok(())
}
