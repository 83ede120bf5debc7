//! Medians, percentiles, and the summary table every run ends with.

use std::time::Duration;

pub use fw6_testkit::stats::{median, percentile};

/// Milliseconds with three decimals, e.g. `0.412 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A count per second, e.g. `123,456/s`.
pub fn rate(r: f64) -> String {
    format!("{}/s", thousands(r.round()))
}

/// `1234567` as `1,234,567`.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rates are small non-negative numbers"
)]
pub fn thousands(v: f64) -> String {
    count(v.max(0.0) as u64)
}

/// `1234567` as `1,234,567`.
pub fn count(v: impl Into<u64>) -> String {
    let digits = v.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line of the summary: a figure, its comparison, their ratio and the target.
#[derive(Debug)]
pub struct Row {
    pub what: String,
    pub figure: String,
    pub comparison: String,
    pub ratio: f64,
    pub target: String,
    pub met: bool,
}

/// The rows of one run.
#[derive(Debug)]
pub struct Report {
    smoke: bool,
    rows: Vec<Row>,
}

impl Report {
    pub fn new(smoke: bool) -> Self {
        Self {
            smoke,
            rows: Vec::new(),
        }
    }

    /// Adds a row and prints it at once.
    pub fn add(&mut self, row: Row) {
        println!(
            "  => {}: {} | comparison {} | ratio {:.3} | target {} | {}",
            row.what,
            row.figure,
            row.comparison,
            row.ratio,
            row.target,
            self.verdict(row.met)
        );
        self.rows.push(row);
    }

    fn verdict(&self, met: bool) -> &'static str {
        match (self.smoke, met) {
            (true, _) => "(smoke: not judged)",
            (false, true) => "met",
            (false, false) => "MISSED",
        }
    }

    /// The whole run as a Markdown table.
    pub fn print_summary(&self) {
        println!(
            "\n## Summary{}\n",
            if self.smoke { " (smoke run)" } else { "" }
        );
        println!("| benchmark | figure | comparison | ratio | target | met? |");
        println!("|---|---|---|---|---|---|");
        for row in &self.rows {
            println!(
                "| {} | {} | {} | {:.3} | {} | {} |",
                row.what,
                row.figure,
                row.comparison,
                row.ratio,
                row.target,
                self.verdict(row.met)
            );
        }
    }
}
