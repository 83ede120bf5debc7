//! The one seam between the engine and the kernel. The daemon uses [`fw6_kernel::Nft`]; the
//! engine's own unit tests use [`Recording`], which keeps what it was told so engine logic
//! (rollback, undo, no-op skipping) can be checked without root. The real path is tested end to
//! end with real packets in `tests/`.

use std::sync::{Arc, Mutex, PoisonError};

use fw6_kernel::Nft;
use fw6_model::plan::{ElementOp, TablePlan};

/// What an accepted commit leaves to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Committed {
    /// The drift monitor saw everything around the commit.
    Watched,
    /// The monitor was not listening during the commit (a large one, see
    /// [`fw6_kernel::Nft::quieting`]) and someone else committed meanwhile, perhaps to our
    /// table: rebuild it to be sure.
    Unwatched,
}

/// What the engine needs from the kernel. Errors are the kernel's own words, ready to become an
/// `E_FAIL` message.
pub trait Kernel: Send {
    /// Replaces our table with `plan` in one transaction.
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, String>;
    /// Adds and deletes set elements in one transaction.
    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, String>;
    /// Whether our table exists.
    fn table_exists(&mut self) -> Result<bool, String>;
    /// The ruleset generation, for `Status`.
    fn generation(&mut self) -> Result<u32, String>;
}

impl From<fw6_kernel::Applied> for Committed {
    fn from(applied: fw6_kernel::Applied) -> Self {
        if applied.unwatched {
            Self::Unwatched
        } else {
            Self::Watched
        }
    }
}

impl Kernel for Nft {
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, String> {
        Nft::apply_full(self, plan)
            .map(Committed::from)
            .map_err(|e| e.to_string())
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, String> {
        Nft::apply_changes(self, ops)
            .map(Committed::from)
            .map_err(|e| e.to_string())
    }

    fn table_exists(&mut self) -> Result<bool, String> {
        Nft::table_exists(self).map_err(|e| e.to_string())
    }

    fn generation(&mut self) -> Result<u32, String> {
        Nft::generation(self).map_err(|e| e.to_string())
    }
}

/// What a [`Recording`] kernel was told.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Full rebuilds received, in order.
    pub full: Vec<TablePlan>,
    /// Element batches received, in order.
    pub changes: Vec<Vec<ElementOp>>,
    /// When set, the next call fails with this message (and is not recorded).
    pub fail_next: Option<String>,
    /// When set, the next accepted commit reports [`Committed::Unwatched`].
    pub unwatched_next: bool,
}

/// A test double that records every call and can be told to refuse the next one. The record
/// is shared, so a test can inspect it while the engine owns the double.
#[derive(Debug, Default, Clone)]
pub struct Recording(pub Arc<Mutex<Recorded>>);

impl Recording {
    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> Result<T, String>) -> Result<T, String> {
        let mut rec = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(refusal) = rec.fail_next.take() {
            return Err(refusal);
        }
        f(&mut rec)
    }
}

impl Recorded {
    fn committed(&mut self) -> Committed {
        if std::mem::take(&mut self.unwatched_next) {
            Committed::Unwatched
        } else {
            Committed::Watched
        }
    }
}

impl Kernel for Recording {
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, String> {
        self.with(|r| {
            r.full.push(plan.clone());
            Ok(r.committed())
        })
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, String> {
        self.with(|r| {
            r.changes.push(ops.to_vec());
            Ok(r.committed())
        })
    }

    fn table_exists(&mut self) -> Result<bool, String> {
        self.with(|r| Ok(!r.full.is_empty()))
    }

    fn generation(&mut self) -> Result<u32, String> {
        self.with(|r| u32::try_from(r.full.len() + r.changes.len()).map_err(|e| e.to_string()))
    }
}
