//! A bounded window of recently seen message ids: at most `capacity` ids, each remembered for
//! `max_age_ms`. The oldest ids leave first when the window is full.

use crate::keyed_hash::RandomKeys;
use std::collections::{HashMap, VecDeque};

/// Default number of ids the window holds.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Default age after which an id is forgotten: 5 minutes.
pub const DEFAULT_MAX_AGE_MS: f64 = 300_000.0;

/// Recently seen message ids.
#[derive(Debug)]
pub struct DedupWindow {
    capacity: usize,
    max_age_ms: f64,
    /// id → (time recorded, generation of that record).
    ids: HashMap<String, (f64, u64), RandomKeys>,
    /// Records in the order they were made; a record whose generation no longer matches
    /// `ids` is stale (the id expired and was recorded again) and is skipped.
    order: VecDeque<(String, f64, u64)>,
    generation: u64,
}

impl DedupWindow {
    /// A window of `capacity` ids (at least 1), each kept `max_age_ms` (non-finite or ≤ 0 means
    /// no age limit).
    pub fn new(capacity: usize, max_age_ms: f64) -> Self {
        DedupWindow {
            capacity: capacity.max(1),
            max_age_ms: if max_age_ms.is_finite() && max_age_ms > 0.0 { max_age_ms } else { f64::INFINITY },
            ids: HashMap::default(),
            order: VecDeque::new(),
            generation: 0,
        }
    }

    /// True when `id` was seen within the window; otherwise records it at `now_ms` and returns false.
    pub fn seen(&mut self, id: &str, now_ms: f64) -> bool {
        self.expire(now_ms);
        if let Some(&(at, _)) = self.ids.get(id) {
            if now_ms - at < self.max_age_ms {
                return true;
            }
        }
        self.generation += 1;
        self.ids.insert(id.to_owned(), (now_ms, self.generation));
        self.order.push_back((id.to_owned(), now_ms, self.generation));
        while self.ids.len() > self.capacity {
            self.pop_oldest();
        }
        false
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no id is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Empties the window.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }

    fn expire(&mut self, now_ms: f64) {
        while let Some((_, at, _)) = self.order.front() {
            if now_ms - *at >= self.max_age_ms {
                self.pop_oldest();
            } else {
                break;
            }
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((id, _, generation)) = self.order.pop_front() {
            if matches!(self.ids.get(&id), Some(&(_, g)) if g == generation) {
                self.ids.remove(&id);
            }
        }
    }
}

impl Default for DedupWindow {
    fn default() -> Self {
        DedupWindow::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_ids() {
        let mut w = DedupWindow::default();
        assert!(!w.seen("a", 0.0));
        assert!(w.seen("a", 1.0));
        assert!(!w.seen("b", 1.0));
        assert_eq!(w.len(), 2);
        w.clear();
        assert!(w.is_empty());
        assert!(!w.seen("a", 2.0));
    }

    #[test]
    fn holds_at_most_capacity_oldest_first() {
        let mut w = DedupWindow::new(10_000, f64::INFINITY);
        for i in 0..10_001 {
            assert!(!w.seen(&i.to_string(), 0.0));
        }
        assert_eq!(w.len(), 10_000);
        assert!(!w.seen("0", 0.0), "the oldest id was evicted");
        assert!(w.seen("10000", 0.0));
        assert_eq!(w.len(), 10_000);
    }

    #[test]
    fn forgets_ids_after_max_age() {
        let mut w = DedupWindow::new(100, 1000.0);
        assert!(!w.seen("a", 0.0));
        assert!(w.seen("a", 999.0));
        assert!(!w.seen("a", 1000.0), "expired ids are new again");
        assert!(w.seen("a", 1500.0));
        assert!(!w.seen("b", 1600.0));
        assert!(!w.seen("c", 2600.0));
        assert_eq!(w.len(), 1, "a (1000) and b (1600) expired by 2600");
    }

    #[test]
    fn re_recorded_ids_survive_their_stale_records() {
        let mut w = DedupWindow::new(2, 10.0);
        w.seen("a", 0.0);
        w.seen("a", 10.0); // expired → recorded again; the first record is stale
        w.seen("b", 11.0);
        assert!(w.seen("a", 12.0));
        assert_eq!(w.len(), 2);
        w.seen("c", 13.0); // evicts the oldest live id, a
        assert_eq!(w.len(), 2);
        assert!(!w.seen("a", 14.0));
    }

    #[test]
    fn capacity_zero_means_one() {
        let mut w = DedupWindow::new(0, f64::NAN);
        assert!(!w.seen("a", 0.0));
        assert!(w.seen("a", 1e12));
        assert!(!w.seen("b", 0.0));
        assert_eq!(w.len(), 1);
    }
}
