//! What the log rules' rate limits held back, from their kernel counters.

use std::sync::atomic::Ordering;

use fw6_kernel::Nft;
use tracing::warn;

use super::LogCounters;

/// Follows the kernel counters of the log rules (`Nft::log_suppressed`) and adds what they grew
/// by to [`LogCounters`]. They restart at 0 when the table is replaced (a logging switch, a
/// drift repair): a smaller reading is taken as a fresh start, so what was suppressed between
/// the last reading and the replacement is not counted.
#[derive(Default)]
pub(super) struct Suppressed {
    nft: Option<Nft>,
    last: u64,
    failing: bool,
}

impl Suppressed {
    pub(super) fn read(&mut self, counters: &LogCounters) {
        let nft = match &mut self.nft {
            Some(nft) => nft,
            None => match Nft::new() {
                Ok(nft) => self.nft.insert(nft),
                Err(e) => return self.fail(&e),
            },
        };
        match nft.log_suppressed() {
            Ok(now) => {
                let grew = if now >= self.last {
                    now - self.last
                } else {
                    now
                };
                self.last = now;
                self.failing = false;
                counters.suppressed.fetch_add(grew, Ordering::Relaxed);
            }
            Err(e) => {
                self.nft = None;
                self.fail(&e);
            }
        }
    }

    fn fail(&mut self, e: &dyn std::fmt::Display) {
        if !std::mem::replace(&mut self.failing, true) {
            warn!(%e, "cannot read the log rules' counters; the rate-limited count stalls");
        }
    }
}
