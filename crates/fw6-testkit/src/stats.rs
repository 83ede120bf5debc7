//! What every measuring test and the benchmark share: a seeded random generator (a failing
//! randomised run replays from the seed it printed) and the median and percentiles of timings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// xorshift64*: deterministic, so a failing run replays with the seed it printed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// From `FW6_SEED` if set, else the clock; prints the seed.
    pub fn seeded(what: &str) -> Self {
        let seed = std::env::var("FW6_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| {
                    u64::try_from(d.as_nanos() & 0xffff_ffff_ffff).unwrap_or(1)
                })
            });
        println!("{what}: seed {seed} (replay with FW6_SEED={seed})");
        Self::new(seed)
    }

    /// From `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform index in `0..n`.
    pub fn pick(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).expect("below n, which is a usize")
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The `p`-th percentile (0–100) of `samples`: nearest rank on the sorted samples (`p` = 100
/// is the largest); zero when there are none.
pub fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p.min(100) / 100]
}

/// The median of `values`: the middle one, or the mean of the two middle ones; 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// The median of timings, like [`median`].
pub fn median_duration(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let samples = ms(&[5, 1, 4, 2, 3]);
        assert_eq!(percentile(&samples, 0), Duration::from_millis(1));
        assert_eq!(percentile(&samples, 50), Duration::from_millis(3));
        assert_eq!(percentile(&samples, 100), Duration::from_millis(5));
        assert_eq!(percentile(&[], 99), Duration::ZERO);
        assert_eq!(
            median_duration(&ms(&[4, 1, 3, 2])),
            Duration::from_micros(2500)
        );
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        assert!((median(&[4.0, 1.0, 3.0, 2.0]) - 2.5).abs() < f64::EPSILON);
    }

    #[test]
    fn a_seed_replays() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let first: Vec<u64> = (0..8).map(|_| a.below(1000)).collect();
        assert_eq!(first, (0..8).map(|_| b.below(1000)).collect::<Vec<_>>());
        assert!(first.iter().any(|&x| x != first[0]), "{first:?}");
    }
}
