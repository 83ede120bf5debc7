//! The one seam between the engine and the kernel. The daemon uses [`fw6_kernel::Nft`]; the
//! engine's tests use a recording double (`tests/recording`), which keeps what it was told so
//! engine logic (rollback, undo, no-op skipping) can be checked without root. The real path is
//! tested end to end with real packets in `tests/`.
//!
//! An accepted commit is the kernel layer's own [`Applied`] (the engine reads its `unwatched`);
//! a failed one is a [`Refusal`] that keeps the kernel layer's error as its source.

use fw6_kernel::{Applied, Nft};
use fw6_model::plan::{ElementOp, TablePlan};

/// A commit that failed (ready to become an `E_FAIL` message in the kernel's own words).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The kernel layer failed: refused, timed out, overran, or could not be reached.
    #[error(transparent)]
    Kernel(#[from] fw6_kernel::Error),
    /// The thread that sent a large batch panicked.
    #[error("the kernel thread panicked")]
    Panicked,
}

impl Refusal {
    /// The kernel's answer was lost or never came, so the batch may have taken effect all the
    /// same: the engine rebuilds the table from its state rather than trust that nothing changed.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Kernel(e) => e.outcome_unknown(),
            Self::Panicked => false,
        }
    }
}

/// What the engine needs from the kernel.
pub trait Kernel: Send {
    /// Replaces our table with `plan` in one transaction.
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Applied, Refusal>;
    /// Adds and deletes set elements in one transaction.
    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Applied, Refusal>;
    /// Whether our table exists.
    fn table_exists(&mut self) -> Result<bool, fw6_kernel::Error>;
    /// The ruleset generation the last accepted commit produced, for `Status`.
    fn last_generation(&self) -> Option<u32>;
    /// How the table is kept from other programs, for `Status`.
    fn protection(&self) -> fw6_kernel::Protection {
        fw6_kernel::Protection::DriftRepair
    }
}

impl Kernel for Nft {
    fn apply_full(&mut self, plan: &TablePlan) -> Result<Applied, Refusal> {
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
        Ok(applied)
    }

    fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Applied, Refusal> {
        Ok(Nft::apply_changes(self, ops)?)
    }

    fn table_exists(&mut self) -> Result<bool, fw6_kernel::Error> {
        Nft::table_exists(self)
    }

    fn last_generation(&self) -> Option<u32> {
        Nft::last_generation(self)
    }

    fn protection(&self) -> fw6_kernel::Protection {
        Nft::protection(self)
    }
}
