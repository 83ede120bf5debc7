//! fw6d's own account of where a call's time went: with `fw6d=debug` it logs one `served a
//! change` line (service: validation, authorization, the writer, what follows) and one
//! `committed` line (engine: validation, store, kernel, commit) per change-making call. The
//! medians of those fields, for the calls of one benchmark, tell what to optimise without a
//! profiler.

use crate::report::median;

/// The two messages, in the order a call logs them.
const MESSAGES: [&str; 2] = ["committed", "served a change"];

/// Prints the median of every `*_us` field of the last `calls` lines of each message that
/// report `changes` changes made by a call whose first item was `member`.
pub fn print(log: &str, member: &str, changes: usize, calls: usize) {
    for message in MESSAGES {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!(": {message} ")))
            .filter(|l| l.contains(&format!(" member=\"{member}\" changes={changes} ")))
            .collect();
        let lines = &lines[lines.len().saturating_sub(calls)..];
        // In the order the daemon logs them, which is the order of the phases.
        let mut fields: Vec<(&str, Vec<f64>)> = Vec::new();
        for line in lines {
            for (key, value) in line.split_whitespace().filter_map(|w| w.split_once('=')) {
                let (Some(key), Ok(us)) = (key.strip_suffix("_us"), value.parse::<f64>()) else {
                    continue;
                };
                match fields.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, samples)) => samples.push(us),
                    None => fields.push((key, vec![us])),
                }
            }
        }
        if fields.is_empty() {
            continue;
        }
        let summary: Vec<String> = fields
            .iter()
            .map(|(key, us)| format!("{key} {:.3}", median(us) / 1e3))
            .collect();
        println!(
            "  fw6d `{message}` medians over {} calls (ms): {}",
            lines.len(),
            summary.join(", ")
        );
    }
}
