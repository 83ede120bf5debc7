//! nftables over raw netlink (docs/design.md §3): the plan of `fw6_model::plan` becomes one atomic
//! kernel transaction per call, errors name the operation the kernel refused, and the ruleset
//! generation each commit produces is kept so outside changes can be detected.
//!
//! Never spawns `nft`: one batch costs microseconds, a process milliseconds.

mod batch;
mod elements;
mod error;
mod expr;
mod monitor;
mod others;
mod query;
mod rules;
mod sets;
mod socket;
mod table;

use std::collections::HashMap;

use fw6_model::plan::{Element, ElementOp, SetName, TablePlan};

pub use error::Error;
pub use monitor::{Monitor, Subscription};
pub use query::TableState;
pub use table::Protection;

use batch::{Batch, Sealed};
use socket::Socket;

/// `ENOENT`: a table, chain or set that does not exist.
const ENOENT: i32 = 2;

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
    /// The transaction also deleted an earlier release's table (`ip6 fw6`): the upgrade to
    /// `inet fw6` happened in this commit.
    pub replaced_legacy: bool,
}

/// Element operations above which a commit is made with the monitor not listening: below it,
/// the notifications cost less than the two generation reads that cover the gap (measured:
/// BENCHMARKS.md, "Figures behind design choices").
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
        // An earlier release's `ip6 fw6` goes in the same transaction (docs/ruleset.md,
        // "Upgrade"). Looked up first because its delete fails the batch if it is absent; if it
        // vanishes in between (ENOENT), the rebuild is tried once more without it.
        let mut legacy = self.legacy_table_exists()?;
        let mut last = None;
        for &(existing, wanted) in attempts {
            let mut outcome = self.rebuild(plan, existing, wanted, legacy);
            if legacy && outcome.as_ref().err().and_then(Error::errno) == Some(ENOENT) {
                legacy = false;
                outcome = self.rebuild(plan, existing, wanted, legacy);
            }
            match outcome {
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
        legacy: bool,
    ) -> Result<Applied, Error> {
        let mut batch = Batch::new(self.next_seq);
        table::rebuild(&mut batch, plan, existing, wanted, legacy);
        let mut applied = self.commit_quietly(batch)?;
        applied.replaced_legacy = legacy;
        self.protection = wanted;
        Ok(applied)
    }

    /// Adds and deletes set elements in one transaction, with the effect of applying them in
    /// order. An add of a present element is accepted; a delete of an absent one fails the whole
    /// transaction. An empty slice sends nothing. Operations on different elements commute, so
    /// they are regrouped into as few messages as the order of each element's own operations
    /// allows (see [`pack`]).
    pub fn apply_changes(&mut self, ops: &[ElementOp]) -> Result<Applied, Error> {
        if ops.is_empty() {
            return Ok(Applied {
                generation: self.last_generation.unwrap_or(0),
                messages: 0,
                unwatched: false,
                replaced_legacy: false,
            });
        }
        let mut batch = Batch::new(self.next_seq);
        let now = now_millis();
        for (add, set, elements) in pack(ops) {
            let timed = elements
                .into_iter()
                .map(|(e, at)| (e, at.map(|at| timeout(at, now))));
            batch.push_timed(add, set, None, timed);
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

    /// Sends a batch, waits for its outcome, and maps a refusal to its operation.
    ///
    /// The kernel reports the outcome in replies queued while `send` runs: for an accepted
    /// batch the ack of the last message before END and, from Linux 6.10, the generation the
    /// commit produced (echo on BEGIN) and the ack of END; one error per refused message
    /// otherwise (see `batch.rs`). The wait has the socket's deadline; a lost reply
    /// ([`Error::Timeout`], [`Error::Overrun`]) leaves the outcome unknown, which the caller
    /// resolves by rebuilding.
    fn commit(&mut self, batch: Batch<'_>) -> Result<Applied, Error> {
        let sealed = batch.finish();
        let messages = sealed.labels.len();
        self.next_seq = self
            .next_seq
            .wrapping_add(u32::try_from(messages).unwrap_or(u32::MAX));
        let what = describe_batch(&sealed);
        self.socket.send(&sealed.buf, &what)?;
        let begin = sealed.labels[0].0;
        let index = |seq: u32| {
            usize::try_from(seq.wrapping_sub(begin))
                .ok()
                .filter(|i| *i < messages)
        };
        let end = messages - 1;
        // An accepted batch is acked at the last message (every kernel) and at END (6.10+).
        let last_acked = |i: usize| i + 1 >= end;
        let replies = self.socket.recv_until(&what, |reply| {
            index(reply.seq).is_some()
                && (reply.message_type == NEWGEN
                    || reply.ack().is_some_and(|ack| ack.errno != 0)
                    || (reply.ack().is_some() && index(reply.seq).is_some_and(last_acked)))
        })?;
        let mut refusal: Option<(u32, socket::Ack)> = None;
        let mut generation = None;
        for reply in &replies {
            if index(reply.seq).is_none() {
                continue;
            }
            if let Some(ack) = reply.ack() {
                if ack.errno != 0
                    && refusal.as_ref().is_none_or(|(seq, _)| {
                        seq.wrapping_sub(begin) > reply.seq.wrapping_sub(begin)
                    })
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
        let generation = match generation {
            Some(generation) => generation,
            None => self.generation()?,
        };
        self.last_generation = Some(generation);
        Ok(Applied {
            generation,
            messages,
            unwatched: std::mem::take(&mut self.missed),
            replaced_legacy: false,
        })
    }

    /// Sets how long a read waits for the kernel before the request fails with
    /// [`Error::Timeout`] (5 s unless changed).
    pub fn set_deadline(&mut self, deadline: std::time::Duration) -> Result<(), Error> {
        self.socket.set_deadline(deadline)
    }
}

/// An element of a packed list, with its expiry (ms since the Unix epoch) if it has one.
type Packed<'a> = (&'a Element, Option<u64>);

/// Now on the wall clock, ms since the Unix epoch: expiries are wall-clock times.
pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The kernel timeout (ms, counted from the commit) of an element expiring at `at`, at `now`.
/// At least 1 ms: an expiry already past still makes a valid element, gone at once, and fw6d's
/// own timer closes it in the state.
pub(crate) fn timeout(at: u64, now: u64) -> u64 {
    at.saturating_sub(now).max(1)
}

/// An operation's element and expiry.
fn packed(op: &ElementOp) -> Packed<'_> {
    let expiry = match op {
        ElementOp::AddExpiring(_, _, at) => Some(*at),
        ElementOp::Add(..) | ElementOp::Delete(..) => None,
    };
    (op.target().1, expiry)
}

/// `ops` as element lists `(add, set, elements)` with the effect of applying `ops` in order, in
/// few lists: the n-th operation on each element goes to layer n, and within a layer every
/// element appears once, so its operations commute and group by kind and set (deletes first, so
/// a set never holds more at once than before or after). An element's own operations keep their
/// order, one layer after the other. Opening and closing 50,000 ports is then 100 element
/// messages of up to 1,000 elements, not 100,000 messages of one.
fn pack(ops: &[ElementOp]) -> Vec<(bool, SetName, Vec<Packed<'_>>)> {
    let kind = |op: &ElementOp| (op.adds(), op.target().0);
    // The common case (one call's opens, one rebuild's sets): one list in order, as it stands.
    if let Some((add, set)) = ops.first().map(kind)
        && ops.iter().all(|op| kind(op) == (add, set))
    {
        let elements = ops.iter().map(packed).collect();
        return vec![(add, set, elements)];
    }
    let mut seen: HashMap<(SetName, &Element), usize> = HashMap::with_capacity(ops.len());
    // Per layer, the lists in the order their kind and set first appear.
    let mut layers: Vec<Vec<(bool, SetName, Vec<Packed<'_>>)>> = Vec::new();
    for op in ops {
        let (add, set) = kind(op);
        let element = packed(op);
        let count = seen.entry((set, element.0)).or_insert(0);
        let layer = *count;
        *count += 1;
        if layers.len() == layer {
            layers.push(Vec::new());
        }
        let lists = &mut layers[layer];
        match lists.iter_mut().find(|(a, s, _)| *a == add && *s == set) {
            Some((_, _, list)) => list.push(element),
            None => lists.push((add, set, vec![element])),
        }
    }
    layers
        .into_iter()
        .flat_map(|mut lists| {
            // Stable: deletes first, otherwise in order of appearance.
            lists.sort_by_key(|(add, _, _)| *add);
            lists
        })
        .collect()
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
    use std::collections::BTreeSet;

    use fw6_model::PortKey;

    use super::*;

    /// Applies lists to a model of the sets, as the kernel does: `None` when a delete finds
    /// nothing (the kernel refuses the batch).
    fn run<'a>(
        lists: impl IntoIterator<Item = (bool, SetName, Vec<Packed<'a>>)>,
    ) -> Option<BTreeSet<(SetName, Element)>> {
        let mut sets = BTreeSet::new();
        for (add, set, elements) in lists {
            let elements = elements.into_iter().map(|(e, _)| e);
            for element in elements {
                if add {
                    sets.insert((set, element.clone()));
                } else if !sets.remove(&(set, element.clone())) {
                    return None;
                }
            }
        }
        Some(sets)
    }

    #[test]
    fn packing_keeps_the_effect_of_the_operations_in_order() {
        let element = |n: u32| Element::Pair(PortKey::from_raw(n % 7 + 1, 6).unwrap());
        let sets = [SetName::Open, SetName::GlobalOpen];
        // A small deterministic generator: many orders, valid and invalid.
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..2000 {
            let ops: Vec<ElementOp> = (0..next() % 24)
                .map(|_| {
                    let (set, e) = (sets[(next() % 2) as usize], element(next()));
                    if next() % 2 == 0 {
                        ElementOp::Add(set, e)
                    } else {
                        ElementOp::Delete(set, e)
                    }
                })
                .collect();
            let one_by_one = ops.iter().map(|op| match op {
                ElementOp::Add(set, e) => (true, *set, vec![(e, None)]),
                ElementOp::Delete(set, e) => (false, *set, vec![(e, None)]),
                ElementOp::AddExpiring(set, e, at) => (true, *set, vec![(e, Some(*at))]),
            });
            assert_eq!(run(pack(&ops)), run(one_by_one), "{ops:?}");
        }
    }

    #[test]
    fn open_close_pairs_pack_into_two_lists() {
        let pairs: Vec<Element> = (1..=5000)
            .map(|p| Element::Pair(PortKey::from_raw(p, 17).unwrap()))
            .collect();
        let ops: Vec<ElementOp> = pairs
            .iter()
            .flat_map(|e| {
                [
                    ElementOp::Add(SetName::GlobalOpen, e.clone()),
                    ElementOp::Delete(SetName::GlobalOpen, e.clone()),
                ]
            })
            .collect();
        let lists = pack(&ops);
        let shape: Vec<(bool, usize)> = lists.iter().map(|(a, _, l)| (*a, l.len())).collect();
        assert_eq!(shape, [(true, 5000), (false, 5000)]);
    }

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
