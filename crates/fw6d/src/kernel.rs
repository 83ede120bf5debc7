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

/// A commit that failed, in the kernel's own words (ready to become an `E_FAIL` message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What went wrong.
    pub message: String,
    /// The kernel's answer was lost or never came, so the batch may have taken effect all the
    /// same: the engine rebuilds the table from its state rather than trust that nothing changed.
    pub outcome_unknown: bool,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self {
            message,
            outcome_unknown: false,
        }
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

impl From<fw6_kernel::Error> for Refusal {
    fn from(e: fw6_kernel::Error) -> Self {
        Self {
            message: e.to_string(),
            outcome_unknown: e.outcome_unknown(),
        }
    }
}

/// What the engine needs from the kernel.
pub trait Kernel: Send {
    /// Replaces our table with `plan` in one transaction.
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, Refusal>;
    /// Adds and deletes set elements in one transaction.
    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, Refusal>;
    /// Whether our table exists.
    fn table_exists(&mut self) -> Result<bool, String>;
    /// The ruleset generation the last accepted commit produced, for `Status`.
    fn last_generation(&self) -> Option<u32>;
    /// How the table is kept from other programs, for `Status`.
    fn protection(&self) -> fw6_kernel::Protection {
        fw6_kernel::Protection::DriftRepair
    }
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
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, Refusal> {
        let applied = Nft::apply_full(self, plan)?;
        if applied.replaced_legacy {
            tracing::warn!(
                old = %fw6_model::plan::LEGACY_TABLE_FAMILY.table(),
                new = %fw6_model::plan::TABLE_FAMILY.table(),
                ipv4 = if plan.filters_ipv4() { "filtered" } else { "not filtered" },
                "replaced an earlier release's table in one transaction (fw6d.toml `families` \
                 says which IP families are filtered)"
            );
        }
        Ok(applied.into())
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, Refusal> {
        Ok(Nft::apply_changes(self, ops)?.into())
    }

    fn table_exists(&mut self) -> Result<bool, String> {
        Nft::table_exists(self).map_err(|e| e.to_string())
    }

    fn last_generation(&self) -> Option<u32> {
        Nft::last_generation(self)
    }

    fn protection(&self) -> fw6_kernel::Protection {
        Nft::protection(self)
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
    /// With `fail_next`: the failure leaves the outcome unknown (a lost reply).
    pub unknown_next: bool,
    /// When set, the next accepted commit reports [`Committed::Unwatched`].
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
            return Err(Refusal {
                message,
                outcome_unknown: std::mem::take(&mut rec.unknown_next),
            });
        }
        Ok(f(&mut rec))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Committed, Refusal> {
        self.with(|r| {
            r.full.push(plan.clone());
            r.committed()
        })
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Committed, Refusal> {
        self.with(|r| {
            r.changes.push(ops.to_vec());
            r.committed()
        })
    }

    fn table_exists(&mut self) -> Result<bool, String> {
        self.with(|r| !r.full.is_empty()).map_err(|e| e.message)
    }

    /// One generation per accepted commit.
    fn last_generation(&self) -> Option<u32> {
        let r = self.lock();
        u32::try_from(r.full.len() + r.changes.len()).ok()
    }
}
