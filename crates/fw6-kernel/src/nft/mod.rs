//! nftables over raw netlink (DESIGN §3): the plan of `fw6_model::plan` becomes one atomic
//! kernel transaction per call, errors name the operation the kernel refused, and the ruleset
//! generation each commit produces is kept so outside changes can be detected.
//!
//! Never spawns `nft`: one batch costs microseconds, a process milliseconds.

mod batch;
mod elements;
mod error;
mod expr;
mod monitor;
mod query;
mod rules;
mod sets;
mod socket;
mod table;

use fw6_model::plan::{ElementOp, TablePlan};

pub use error::Error;
pub use monitor::{Monitor, Subscription};
pub use query::Verify;
pub use table::Protection;

use batch::{Batch, Sealed};
use socket::Socket;

/// `(NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN`: the generation a commit produced.
const NEWGEN: u16 = (10 << 8) | 15;

/// What a committed transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The ruleset generation the commit produced.
    pub generation: u32,
    /// Netlink messages in the batch, BEGIN and END included (0 when nothing was sent).
    pub messages: usize,
    /// The monitor did not listen during this commit, or during an earlier one the kernel
    /// refused (see [`Nft::quieting`]), and the generation shows that someone else committed
    /// meanwhile, perhaps to our table: check it.
    pub unwatched: bool,
}

/// Element operations above which a commit is made with the monitor not listening: below it,
/// the notifications cost less than the two generation reads that cover the gap (~10 µs each).
pub const QUIET_ABOVE: usize = 64;

/// fw6's handle on nftables: one `NETLINK_NETFILTER` socket in the network namespace of the
/// thread that created it.
#[derive(Debug)]
pub struct Nft {
    socket: Socket,
    next_seq: u32,
    last_generation: Option<u32>,
    quiet: Option<Subscription>,
    /// A refused quiet commit saw someone else commit while the monitor was away; the next
    /// accepted commit reports it (a refusal has no [`Applied`] to carry it).
    missed: bool,
    /// Whether to ask for [`Protection::OwnerPersist`] ([`Nft::owning`]).
    owning: bool,
    /// The protection of the table this handle last committed.
    protection: Protection,
}

impl Nft {
    /// Opens the socket (buffers raised, extended acks on).
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            socket: Socket::open()?,
            next_seq: 1,
            last_generation: None,
            quiet: None,
            missed: false,
            owning: false,
            protection: Protection::DriftRepair,
        })
    }

    /// Makes the table `owner` + `persist` where the kernel supports it (see [`Protection`]),
    /// detected by trying at the first [`Nft::apply_full`]; [`Nft::protection`] says which one
    /// is in force. The socket then stays the only one that can change the table.
    #[must_use]
    pub fn owning(mut self) -> Self {
        self.owning = true;
        self
    }

    /// How the table this handle last committed is protected.
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Makes large commits with `monitor` not listening, so the kernel does not build a
    /// notification per element for a listener that would ignore them. Around such a commit
    /// the generation is read twice: the commit must be the only one since the monitor left,
    /// and none may follow before it is back; otherwise [`Applied::unwatched`] is set.
    #[must_use]
    pub fn quieting(mut self, monitor: Subscription) -> Self {
        self.quiet = Some(monitor);
        self
    }

    /// Replaces fw6's table with `plan` in one transaction, whether or not the table exists.
    pub fn apply_full(&mut self, plan: &TablePlan) -> Result<Applied, Error> {
        use Protection::{DriftRepair, OwnerPersist};
        // The first add of a rebuild must carry the flags the table has (the kernel refuses to
        // change `owner` or `persist` with EOPNOTSUPP), and a new handle does not know them:
        // the table may be absent, plain (an older fw6d's, or one without ownership), or
        // orphaned by an earlier owner (adopted by adding it with the flags). So the handle
        // tries the likely case first and the other one next.
        let attempts: &[(Protection, Protection)] = match (self.owning, self.protection) {
            (true, OwnerPersist) => &[(OwnerPersist, OwnerPersist)],
            // Feature detection, until it succeeds once. A kernel before 6.9 refuses
            // `persist` (EOPNOTSUPP; EINVAL on older ones): drift repair then.
            (true, DriftRepair) => &[
                (OwnerPersist, OwnerPersist),
                (DriftRepair, OwnerPersist),
                (DriftRepair, DriftRepair),
            ],
            (false, _) => &[(DriftRepair, DriftRepair), (OwnerPersist, DriftRepair)],
        };
        let unsupported = |e: &Error| {
            e.errno().is_some_and(|n| {
                n == rustix::io::Errno::OPNOTSUPP.raw_os_error()
                    || n == rustix::io::Errno::INVAL.raw_os_error()
            })
        };
        let mut last = None;
        for &(existing, wanted) in attempts {
            match self.rebuild(plan, existing, wanted) {
                Err(e) if unsupported(&e) => last = Some(e),
                Ok(applied) => {
                    // Without support, stop asking for it at every rebuild.
                    self.owning &= wanted == OwnerPersist;
                    return Ok(applied);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt was made"))
    }

    fn rebuild(
        &mut self,
        plan: &TablePlan,
        existing: Protection,
        wanted: Protection,
    ) -> Result<Applied, Error> {
        let mut batch = Batch::new(self.next_seq);
        table::rebuild(&mut batch, plan, existing, wanted);
        let applied = self.commit_quietly(batch)?;
        self.protection = wanted;
        Ok(applied)
    }

    /// Adds and deletes set elements in one transaction, in order. An add of a present
    /// element is accepted; a delete of an absent one fails the whole transaction. An empty
    /// slice sends nothing.
    pub fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Applied, Error> {
        if ops.is_empty() {
            return Ok(Applied {
                generation: self.last_generation.unwrap_or(0),
                messages: 0,
                unwatched: false,
            });
        }
        let mut batch = Batch::new(self.next_seq);
        // Runs of the same kind and set share messages; order between runs is kept.
        let mut rest = ops;
        while let Some(first) = rest.first() {
            let key = op_key(first);
            let run = rest.iter().take_while(|op| op_key(op) == key).count();
            let (add, set) = key;
            let elements = rest[..run].iter().map(|op| match op {
                ElementOp::Add(_, e) | ElementOp::Delete(_, e) => e,
            });
            batch.push_elements(add, set, None, elements);
            rest = &rest[run..];
        }
        if ops.len() > QUIET_ABOVE {
            self.commit_quietly(batch)
        } else {
            self.commit(batch)
        }
    }

    /// Deletes fw6's table if it exists.
    pub fn delete_table(&mut self) -> Result<(), Error> {
        let mut batch = Batch::new(self.next_seq);
        table::delete(&mut batch, self.protection);
        self.commit(batch).map(|_| ())
    }

    /// The socket's netlink port id: ruleset notifications caused by this handle's commits
    /// carry it, so a [`Monitor`] can tell our changes from everyone else's.
    pub fn port(&self) -> u32 {
        self.socket.port()
    }

    /// The generation the last commit through this handle produced.
    pub fn last_generation(&self) -> Option<u32> {
        self.last_generation
    }

    /// [`Nft::commit`] with the monitor (if any) not listening. A failure to rejoin or to read
    /// the generation cannot undo an accepted commit, so it reports `unwatched` instead; after
    /// a refusal, the next accepted commit reports it.
    fn commit_quietly(&mut self, batch: Batch<'_>) -> Result<Applied, Error> {
        let Some(monitor) = self.quiet.clone() else {
            return self.commit(batch);
        };
        // Read before leaving and after rejoining, so every moment the monitor is away lies
        // between the two reads.
        let before = self.generation()?;
        monitor.leave()?;
        let committed = self.commit(batch);
        let rejoined = monitor.join();
        let after = self.generation();
        let ours = committed.as_ref().ok().map(|applied| applied.generation);
        let watched = match (rejoined, after) {
            (Ok(()), Ok(after)) => unwatched_gap_is_empty(before, ours, after),
            _ => false,
        };
        match committed {
            Ok(mut applied) => {
                applied.unwatched |= !watched;
                Ok(applied)
            }
            Err(refused) => {
                self.missed |= !watched;
                Err(refused)
            }
        }
    }

    /// Sends a batch, reads every ack, and maps a refusal to its operation.
    fn commit(&mut self, batch: Batch<'_>) -> Result<Applied, Error> {
        let sealed = batch.finish();
        let messages = sealed.labels.len();
        self.next_seq = self
            .next_seq
            .wrapping_add(u32::try_from(messages).unwrap_or(u32::MAX));
        let what = describe_batch(&sealed);
        self.socket.send(&sealed.buf, &what)?;
        let replies = self.socket.drain(&what)?;
        let begin = sealed.labels[0].0;
        let mut acked = vec![false; messages];
        let mut refusal: Option<(u32, socket::Ack)> = None;
        let mut generation = None;
        for reply in &replies {
            let Some(index) = usize::try_from(reply.seq.wrapping_sub(begin))
                .ok()
                .filter(|i| *i < messages)
            else {
                continue;
            };
            if let Some(ack) = reply.ack() {
                if ack.errno == 0 {
                    acked[index] = true;
                } else if refusal
                    .as_ref()
                    .is_none_or(|(seq, _)| seq.wrapping_sub(begin) > reply.seq.wrapping_sub(begin))
                {
                    refusal = Some((reply.seq, ack));
                }
            } else if reply.message_type == NEWGEN {
                generation = query::parse_generation(reply);
            }
        }
        if let Some((seq, ack)) = refusal {
            let operation = sealed
                .label(seq)
                .map_or_else(|| what.clone(), |l| l.describe(ack.offset));
            return Err(Error::kernel(operation, ack.errno, ack.message));
        }
        // Every object message must be acked. BEGIN and END are acked by recent kernels
        // (6.18 here) but need not be: a failed commit is reported as an error either way.
        if let Some(missing) = (1..messages - 1).find(|i| !acked[*i]) {
            let label = &sealed.labels[missing].1;
            return Err(Error::protocol(
                what,
                format!("no ack for message {} ({})", missing, label.describe(None)),
            ));
        }
        let generation = match generation {
            Some(generation) => generation,
            None => self.generation()?,
        };
        self.last_generation = Some(generation);
        Ok(Applied {
            generation,
            messages,
            unwatched: std::mem::take(&mut self.missed),
        })
    }
}

/// Whether nobody else committed while the monitor was away: our commit (if the kernel accepted
/// it) was the next after `before` (read before it left), and nothing followed it before `after`
/// (read once it was back).
fn unwatched_gap_is_empty(before: u32, ours: Option<u32>, after: u32) -> bool {
    match ours {
        Some(ours) => ours == before.wrapping_add(1) && after == ours,
        None => after == before,
    }
}

/// `(add, set)` of an element operation.
fn op_key(op: &ElementOp) -> (bool, fw6_model::plan::SetName) {
    match op {
        ElementOp::Add(set, _) => (true, *set),
        ElementOp::Delete(set, _) => (false, *set),
    }
}

/// A batch in words, for I/O errors that concern it as a whole.
fn describe_batch(sealed: &Sealed<'_>) -> String {
    format!(
        "commit a batch of {} netlink messages ({} bytes)",
        sealed.labels.len(),
        sealed.buf.len()
    )
}

#[cfg(test)]
mod tests {
    use super::unwatched_gap_is_empty;

    #[test]
    fn a_commit_by_someone_else_around_ours_is_noticed() {
        assert!(unwatched_gap_is_empty(7, Some(8), 8));
        assert!(
            !unwatched_gap_is_empty(7, Some(9), 9),
            "someone committed before ours"
        );
        assert!(
            !unwatched_gap_is_empty(7, Some(8), 9),
            "someone committed after ours"
        );
        assert!(
            unwatched_gap_is_empty(u32::MAX, Some(0), 0),
            "the generation wraps"
        );
        assert!(unwatched_gap_is_empty(7, None, 7), "ours was refused");
        assert!(
            !unwatched_gap_is_empty(7, None, 8),
            "ours was refused, someone else's was not"
        );
    }
}
