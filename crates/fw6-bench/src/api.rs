//! Benchmark 1: open one port through the public API — `Connection.OpenPort` over D-Bus as root,
//! with the fw6 library; the reply means stored (SQLite commit, `synchronous=FULL`) and enforced
//! (the kernel acknowledged the set element). With 0, 10,000 and 100,000 pairs already stored
//! (one `Apply`). Comparison in the same run: one `nft add element` process per change into the
//! same table (rendered by fw6-model, loaded with `nft -f`) with as many elements, in a scratch
//! namespace.

use std::time::{Duration, Instant};

use fw6::{EntryName, PortKey};
use fw6_testkit::NetNs;

use crate::lab::{self, Lab, Result};
use crate::nftproc;
use crate::phases;
use crate::report::{Report, Row, ms, percentile};
use crate::{Bins, Scale};

/// Calls not counted, first (connection set-up, caches).
const WARMUP: usize = 20;
/// Upper bound on one size's timed calls.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The `i`-th timed pair: ports from 60,001 up, TCP (never among the preloaded ones).
fn timed_key(i: usize) -> Result<PortKey> {
    Ok(PortKey::from_raw(u32::try_from(60_001 + i)?, 6)?)
}

pub fn run(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    println!("\n# 1. OpenPort over D-Bus vs one `nft add element` process per change");
    let mut p50_at_zero = None;
    for &size in &scale.api_sizes {
        let (p50, p99, n) = ours(scale, bins, size)?;
        let (nft50, nft99, nft_n) = theirs(scale, size)?;
        let (f50, f99) = fsync_floor(scale)?;
        println!(
            "entries={size}: fdatasync of a 4 KiB in-place write on the store's file system (the floor of a durable reply): p50 {} p99 {}",
            ms(f50),
            ms(f99)
        );
        println!(
            "entries={size}: fw6 OpenPort p50 {} p99 {} ({n} calls); nft add element p50 {} p99 {} ({nft_n} processes)",
            ms(p50),
            ms(p99),
            ms(nft50),
            ms(nft99)
        );
        let ratio = p50.as_secs_f64() / nft50.as_secs_f64();
        report.add(Row {
            what: format!("1. OpenPort, {size} stored, p50 (p99)"),
            figure: format!("{} ({})", ms(p50), ms(p99)),
            comparison: format!("nft add element {} ({})", ms(nft50), ms(nft99)),
            ratio,
            target: "≤ 0.1".into(),
            met: ratio <= 0.1,
        });
        match p50_at_zero {
            None => p50_at_zero = Some(p50),
            Some(zero) if size == *scale.api_sizes.last().unwrap_or(&0) => {
                let flat = p50.as_secs_f64() / Duration::as_secs_f64(&zero);
                report.add(Row {
                    what: format!("1. OpenPort p50 at {size} vs at 0 stored"),
                    figure: ms(p50),
                    comparison: format!("{} at 0", ms(zero)),
                    ratio: flat,
                    target: "≤ 1.2".into(),
                    met: flat <= 1.2,
                });
            }
            Some(_) => {}
        }
    }
    leased_vs_plain(scale, bins, report)
}

/// The `i`-th pair of the lease comparison: ports from 40,001 up, TCP.
fn lease_key(i: usize) -> Result<PortKey> {
    Ok(PortKey::from_raw(u32::try_from(40_001 + i)?, 6)?)
}

/// `OpenPortWithOptions` with a lifetime against a plain `OpenPort`, in one lab with nothing
/// stored, the two alternating call by call so the machine's drift hits both alike: a lease
/// adds a timeout to the element and a row to the store.
fn leased_vs_plain(scale: &Scale, bins: &Bins, report: &mut Report) -> Result<()> {
    let mut lab = Lab::new(bins);
    lab.start_daemon()?;
    let manager = lab.manager()?;
    let lan = manager.connection("lan0")?;
    let name = EntryName::try_from("bench")?;
    let hour = fw6::OpenOptions {
        lifetime: Some(fw6::Lifetime::try_from(3600_u32)?),
        bind_to_caller: false,
    };
    let calls = scale.api_calls.min(10_000);
    let (mut plain, mut leased) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    let deadline = Instant::now() + TIME_LIMIT;
    for i in 0..WARMUP + calls {
        let started = Instant::now();
        lan.open_port(lease_key(2 * i)?, &name)?;
        let plain_took = started.elapsed();
        let started = Instant::now();
        lan.open_port_with_options(lease_key(2 * i + 1)?, &name, hour)?;
        let leased_took = started.elapsed();
        if i >= WARMUP {
            plain.push(plain_took);
            leased.push(leased_took);
        }
        if Instant::now() > deadline {
            println!(
                "leases: stopped after {} pairs of calls (time bound)",
                i + 1
            );
            break;
        }
    }
    if plain.is_empty() {
        return Err("leases: no call was timed".into());
    }
    let (p50, l50) = (percentile(&plain, 50), percentile(&leased, 50));
    println!(
        "OpenPort p50 {} p99 {}; OpenPortWithOptions (lifetime 3600) p50 {} p99 {} ({} each, alternating)",
        ms(p50),
        ms(percentile(&plain, 99)),
        ms(l50),
        ms(percentile(&leased, 99)),
        plain.len()
    );
    let ratio = l50.as_secs_f64() / p50.as_secs_f64();
    report.add(Row {
        what: "1. OpenPort with a lifetime vs plain, p50".into(),
        figure: ms(l50),
        comparison: format!("plain {}", ms(p50)),
        ratio,
        target: "≤ 1.2".into(),
        met: ratio <= 1.2,
    });
    Ok(())
}

/// p50, p99 and the number of timed calls with `size` pairs stored.
fn ours(scale: &Scale, bins: &Bins, size: usize) -> Result<(Duration, Duration, usize)> {
    let mut lab = Lab::new(bins);
    lab.log_filter = "info,fw6d=debug".into();
    lab.start_daemon()?;
    let manager = lab.manager()?;
    let took = lab::preload(&manager, size)?;
    println!("entries={size}: preloaded with one Apply in {}", ms(took));
    let lan = manager.connection("lan0")?;
    let name = EntryName::try_from("bench")?;
    for i in 0..WARMUP {
        lan.open_port(timed_key(scale.api_calls + i)?, &name)?;
    }
    let mut samples = Vec::with_capacity(scale.api_calls);
    let deadline = Instant::now() + TIME_LIMIT;
    for i in 0..scale.api_calls {
        let key = timed_key(i)?;
        let started = Instant::now();
        lan.open_port(key, &name)?;
        samples.push(started.elapsed());
        if Instant::now() > deadline {
            println!("entries={size}: stopped after {} calls (time bound)", i + 1);
            break;
        }
    }
    phases::print(&lab.log(), "OpenPort", 1, samples.len());
    // The same path without a change: a read crosses the bus both ways and is served from the
    // published state, so OpenPort minus this is what a durable, enforced change adds.
    let mut reads = Vec::with_capacity(samples.len());
    for i in 0..samples.len() {
        let key = timed_key(i)?;
        let started = Instant::now();
        lan.is_port_open(key)?;
        reads.push(started.elapsed());
    }
    println!(
        "entries={size}: the bus round trip alone (IsPortOpen, {} calls): p50 {} p99 {}",
        reads.len(),
        ms(percentile(&reads, 50)),
        ms(percentile(&reads, 99))
    );
    let status = manager.status()?;
    let expected = size + WARMUP + samples.len();
    if status.open as usize != expected {
        return Err(format!(
            "status says {} open pairs, expected {expected}",
            status.open
        )
        .into());
    }
    Ok((
        percentile(&samples, 50),
        percentile(&samples, 99),
        samples.len(),
    ))
}

/// p50 and p99 of `fdatasync` after overwriting 4 KiB in place in a preallocated 1 MiB file in
/// the temporary directory, where the labs keep their stores — what a WAL commit with
/// `synchronous=FULL` must wait for at least once per call, measured in the same run.
fn fsync_floor(scale: &Scale) -> Result<(Duration, Duration)> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    const BLOCKS: u64 = 256;
    let path = fw6_testkit::temp_path("bench-fsync");
    let mut file = std::fs::File::create(&path)?;
    let block = [0x66u8; 4096];
    for _ in 0..BLOCKS {
        file.write_all(&block)?;
    }
    file.sync_all()?;
    let mut samples = Vec::new();
    for i in 0..scale.api_calls.min(200) as u64 {
        file.seek(SeekFrom::Start((i % BLOCKS) * 4096))?;
        file.write_all(&block)?;
        let started = Instant::now();
        file.sync_data()?;
        samples.push(started.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok((percentile(&samples, 50), percentile(&samples, 99)))
}

/// The same with `nft add element` processes in a scratch namespace.
fn theirs(scale: &Scale, size: usize) -> Result<(Duration, Duration, usize)> {
    let ns = NetNs::new();
    let pairs: Vec<PortKey> = (0..size).map(lab::preload_key).collect::<Result<_>>()?;
    let dir = fw6_testkit::temp_path("bench-nft");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("table.nft");
    std::fs::write(&file, nftproc::fw6_table_text(&pairs)?)?;
    let took = nftproc::nft_file(&ns, &file, Duration::from_secs(120))?;
    println!(
        "entries={size}: nft -f of the equivalent table in {}",
        ms(took)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let mut samples = Vec::with_capacity(scale.nft_calls);
    let deadline = Instant::now() + TIME_LIMIT;
    for i in 0..scale.nft_calls {
        let set = format!("{{ {} }}", nftproc::element("lan0", timed_key(i)?)?);
        let took = nftproc::nft(
            &ns,
            &["add", "element", "inet", "fw6", "open", &set],
            None,
            Duration::from_secs(10),
        )?;
        samples.push(took);
        if Instant::now() > deadline {
            break;
        }
    }
    Ok((
        percentile(&samples, 50),
        percentile(&samples, 99),
        samples.len(),
    ))
}
