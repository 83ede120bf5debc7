//! ICF enumerators and collections (docs/icf-api.md §3) as one immutable, shareable snapshot with a
//! cursor.

use std::sync::Arc;

/// An ordered snapshot taken when a list was asked for: later changes are not seen. The items
/// are shared, so `clone` is cheap and keeps the cursor (COM `Clone`); cursors are independent
/// afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<T> {
    items: Arc<[T]>,
    cursor: usize,
}

impl<T> Default for Snapshot<T> {
    fn default() -> Self {
        Self {
            items: Arc::from(Vec::new()),
            cursor: 0,
        }
    }
}

impl<T> Snapshot<T> {
    /// A snapshot of `items` in the given order (callers sort: pairs by (port, protocol),
    /// connections by interface index).
    pub fn new(items: Vec<T>) -> Self {
        Self {
            items: items.into(),
            cursor: 0,
        }
    }

    /// `Count`: the number of items, whatever the cursor.
    pub fn count(&self) -> usize {
        self.items.len()
    }

    /// `Skip`: moves the cursor forward by up to `n`; `true` (`S_OK`) if all `n` were skipped,
    /// `false` (`S_FALSE`) if the end came first.
    pub fn skip(&mut self, n: usize) -> bool {
        let left = self.items.len() - self.cursor;
        self.cursor += n.min(left);
        n <= left
    }

    /// `Reset`: back to the first item of the same snapshot.
    pub fn reset(&mut self) {
        self.cursor = 0;
    }

    /// Every item, whatever the cursor.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }
}

impl<T: Clone> Snapshot<T> {
    /// `Next`: up to `n` items from the cursor. Fewer than `n` (possibly none) means the end was
    /// reached, the `S_FALSE` case; `next(0)` returns nothing and is `S_OK`.
    pub fn next(&mut self, n: usize) -> Vec<T> {
        let end = self.cursor.saturating_add(n).min(self.items.len());
        let out = self.items[self.cursor..end].to_vec();
        self.cursor = end;
        out
    }

    /// The items from the cursor on, without moving it.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> {
        self.items[self.cursor..].iter()
    }
}

/// A normal Rust iterator over the items from the cursor on. `Snapshot` itself is not an
/// `Iterator`, so the ICF names `next`, `skip` and `count` keep their enumerator meaning.
impl<T: Clone> IntoIterator for Snapshot<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

/// The iterator of [`Snapshot::into_iter`]; it shares the snapshot's items, copying none.
#[derive(Debug, Clone)]
pub struct IntoIter<T>(Snapshot<T>);

impl<T: Clone> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item = self.0.items.get(self.0.cursor)?.clone();
        self.0.cursor += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.0.items.len() - self.0.cursor;
        (left, Some(left))
    }
}

impl<T: Clone> ExactSizeIterator for IntoIter<T> {}

impl<T> FromIterator<T> for Snapshot<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abc() -> Snapshot<char> {
        Snapshot::new(vec!['a', 'b', 'c'])
    }

    #[test]
    fn next_returns_fewer_at_the_end() {
        let mut s = abc();
        assert_eq!(s.next(2), ['a', 'b']);
        assert_eq!(s.next(2), ['c']); // S_FALSE: 1 of 2
        assert_eq!(s.next(1), [] as [char; 0]); // S_FALSE: 0 of 1
        assert_eq!(s.next(0), [] as [char; 0]);
        assert_eq!(s.count(), 3);
    }

    #[test]
    fn skip_reports_s_false_past_the_end() {
        let mut s = abc();
        assert!(s.skip(0));
        assert!(s.skip(3));
        assert!(!s.skip(1));
        let mut s = abc();
        assert!(!s.skip(usize::MAX));
        assert!(s.next(1).is_empty());
    }

    #[test]
    fn reset_replays_and_clone_keeps_the_cursor() {
        let mut s = abc();
        s.next(1);
        let mut c = s.clone();
        assert_eq!(c.next(1), ['b']);
        assert_eq!(s.next(1), ['b']); // independent cursors
        s.reset();
        assert_eq!(s.into_iter().collect::<String>(), "abc");
        assert_eq!(c.iter().collect::<String>(), "c");
        assert_eq!(c.into_iter().collect::<String>(), "c");
    }

    #[test]
    fn next_huge_request_does_not_overflow() {
        let mut s = abc();
        s.next(1);
        assert_eq!(s.next(usize::MAX), ['b', 'c']);
    }

    #[test]
    fn empty_snapshot() {
        let mut s: Snapshot<u8> = Snapshot::default();
        assert_eq!(s.count(), 0);
        assert!(s.next(1).is_empty());
        assert!(s.skip(0));
        assert!(!s.skip(1));
    }
}
