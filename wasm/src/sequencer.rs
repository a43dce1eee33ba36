//! The client-side per-topic `(epoch, offset)` tracker of PROTOCOL.md §4.
//!
//! Same epoch and `o ≤ last` → duplicate; `o = last + 1` → deliver; `o > last + 1` → gap (the
//! position stays, so the client can recover from `last`); a new epoch → rebaseline (deliver,
//! the position moves to the new epoch and offset). A topic without a position delivers and
//! starts one.

use crate::keyed_hash::RandomKeys;
use std::collections::HashMap;

/// What the sequencer says about one stamped publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The next offset: hand it to the application.
    Deliver,
    /// Already seen: drop it.
    Duplicate,
    /// Offsets were skipped: drop it and recover from the last position.
    Gap,
    /// A new epoch: deliver it; the position restarts there.
    Rebaseline,
}

impl Verdict {
    /// The name used by `SequenceVerdict` in `wasm/api.ts`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Deliver => "deliver",
            Verdict::Duplicate => "duplicate",
            Verdict::Gap => "gap",
            Verdict::Rebaseline => "rebaseline",
        }
    }
}

/// A topic's last seen position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Stream epoch (8 lowercase hex digits on the wire; stored as given).
    pub epoch: String,
    /// Last offset seen, inclusive.
    pub offset: u64,
}

/// Per-topic positions.
#[derive(Debug, Default)]
pub struct Sequencer {
    topics: HashMap<String, Position, RandomKeys>,
}

impl Sequencer {
    /// An empty sequencer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Classifies a publication and advances the position on deliver / rebaseline.
    pub fn check(&mut self, topic: &str, epoch: &str, offset: u64) -> Verdict {
        let Some(position) = self.topics.get_mut(topic) else {
            self.topics.insert(topic.to_owned(), Position { epoch: epoch.to_owned(), offset });
            return Verdict::Deliver;
        };
        if position.epoch != epoch {
            position.epoch.clear();
            position.epoch.push_str(epoch);
            position.offset = offset;
            return Verdict::Rebaseline;
        }
        if offset <= position.offset {
            Verdict::Duplicate
        } else if offset == position.offset + 1 {
            position.offset = offset;
            Verdict::Deliver
        } else {
            Verdict::Gap
        }
    }

    /// Sets a topic's position (e.g. from a subscribe reply).
    pub fn reset(&mut self, topic: &str, epoch: &str, offset: u64) {
        self.topics.insert(topic.to_owned(), Position { epoch: epoch.to_owned(), offset });
    }

    /// A topic's position, if any.
    pub fn position(&self, topic: &str) -> Option<&Position> {
        self.topics.get(topic)
    }

    /// Forgets a topic.
    pub fn forget(&mut self, topic: &str) {
        self.topics.remove(topic);
    }

    /// Every known position, sorted by topic.
    pub fn positions(&self) -> Vec<(&str, &Position)> {
        let mut all: Vec<_> = self.topics.iter().map(|(t, p)| (t.as_str(), p)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn first_publication_starts_a_position() {
        let mut s = Sequencer::new();
        assert_eq!(s.check("a", "0000beef", 41), Deliver);
        assert_eq!(s.position("a"), Some(&Position { epoch: "0000beef".into(), offset: 41 }));
    }

    #[test]
    fn in_order_duplicate_and_gap() {
        let mut s = Sequencer::new();
        s.reset("a", "0000beef", 41);
        assert_eq!(s.check("a", "0000beef", 42), Deliver);
        assert_eq!(s.check("a", "0000beef", 42), Duplicate);
        assert_eq!(s.check("a", "0000beef", 3), Duplicate);
        assert_eq!(s.check("a", "0000beef", 44), Gap);
        assert_eq!(s.position("a").unwrap().offset, 42, "a gap leaves the position");
        assert_eq!(s.check("a", "0000beef", 43), Deliver);
        assert_eq!(s.check("a", "0000beef", 44), Deliver);
    }

    #[test]
    fn new_epoch_rebaselines() {
        let mut s = Sequencer::new();
        s.reset("a", "0000beef", 100);
        assert_eq!(s.check("a", "cafe0001", 0), Rebaseline);
        assert_eq!(s.position("a"), Some(&Position { epoch: "cafe0001".into(), offset: 0 }));
        assert_eq!(s.check("a", "cafe0001", 1), Deliver);
        assert_eq!(s.check("a", "cafe0001", 1), Duplicate);
    }

    #[test]
    fn topics_are_independent_and_forgettable() {
        let mut s = Sequencer::new();
        s.check("a", "00000001", 5);
        s.check("b", "00000002", 7);
        assert_eq!(s.check("a", "00000001", 6), Deliver);
        assert_eq!(s.check("b", "00000002", 9), Gap);
        let all = s.positions();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, "a");
        assert_eq!(all[1].1.offset, 7);
        s.forget("a");
        assert_eq!(s.position("a"), None);
        assert_eq!(s.check("a", "00000001", 100), Deliver);
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let mut s = Sequencer::new();
        s.reset("a", "e", u64::MAX);
        assert_eq!(s.check("a", "e", u64::MAX), Duplicate);
        assert_eq!(s.check("a", "e", 0), Duplicate);
    }
}
