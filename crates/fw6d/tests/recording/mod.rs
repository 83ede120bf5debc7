//! A kernel double for the engine's tests: it records every call and can be told to refuse
//! the next one, so engine logic (rollback, undo, no-op skipping) is checked without root. It
//! lives with the tests, out of the daemon's build; the real kernel is tested end to end with
//! real packets in the other suites.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fw6_kernel::Applied;
use fw6_model::plan::{ElementOp, TablePlan};
use fw6d::kernel::{Kernel, Refusal};

/// What a [`Recording`] kernel was told.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Full rebuilds received, in order.
    pub full: Vec<TablePlan>,
    /// Element batches received, in order.
    pub changes: Vec<Vec<ElementOp>>,
    /// When set, the next call fails with this message (and is not recorded).
    pub fail_next: Option<String>,
    /// With `fail_next`: the failure leaves the outcome unknown (a lost reply).
    pub unknown_next: bool,
    /// When set, the next accepted commit reports itself unwatched ([`Applied::unwatched`]).
    pub unwatched_next: bool,
}

/// A test double that records every call and can be told to refuse the next one. The record
/// is shared, so a test can inspect it while the engine owns the double.
#[derive(Debug, Default, Clone)]
pub struct Recording(pub Arc<Mutex<Recorded>>);

impl Recording {
    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> Result<T, Refusal> {
        let mut rec = self.lock();
        if let Some(message) = rec.fail_next.take() {
            let error = if std::mem::take(&mut rec.unknown_next) {
                fw6_kernel::Error::Timeout {
                    operation: message,
                    waited: Duration::from_secs(5),
                }
            } else {
                fw6_kernel::Error::Protocol {
                    operation: "commit".to_owned(),
                    problem: message,
                }
            };
            return Err(error.into());
        }
        Ok(f(&mut rec))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recorded {
    /// An accepted commit: one generation per commit, as the kernel counts them.
    fn committed(&mut self) -> Applied {
        Applied {
            generation: u32::try_from(self.full.len() + self.changes.len()).unwrap_or(u32::MAX),
            messages: 0,
            unwatched: std::mem::take(&mut self.unwatched_next),
            replaced_legacy: false,
        }
    }
}

impl Kernel for Recording {
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Applied, Refusal> {
        self.with(|r| {
            r.full.push(plan.clone());
            r.committed()
        })
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Applied, Refusal> {
        self.with(|r| {
            r.changes.push(ops.to_vec());
            r.committed()
        })
    }

    fn table_exists(&mut self) -> Result<bool, fw6_kernel::Error> {
        self.with(|r| !r.full.is_empty()).map_err(|e| match e {
            Refusal::Kernel(e) => e,
            Refusal::Panicked => unreachable!("the double refuses with kernel errors only"),
        })
    }

    /// One generation per accepted commit.
    fn last_generation(&self) -> Option<u32> {
        let r = self.lock();
        u32::try_from(r.full.len() + r.changes.len()).ok()
    }
}
