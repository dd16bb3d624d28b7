//! `CommitTimer`: Consul's `consul.raft.commitTime`, the time from the leader writing new
//! entries to its log until they commit. The driver notes each batch the leader writes (its
//! last index, when) and, after each round, observes the batches the commit index passed. A
//! leader that steps down forgets its batches; so does a leader whose followers lag past the
//! bound (the oldest batches are dropped, not timed).

use super::Histogram;
use std::collections::VecDeque;
use std::time::Instant;

/// Batches written and not yet committed that are remembered.
pub const PENDING_BATCHES_MAX: usize = 1024;

#[derive(Debug, Default)]
pub struct CommitTimer {
    /// (last index of a batch, when the leader began writing it), by index.
    pending: VecDeque<(u64, Instant)>,
}

impl CommitTimer {
    /// The leader began writing entries up to `last_index` at `started`.
    pub fn written(&mut self, last_index: u64, started: Instant) {
        // A truncation (a new leader's log) never happens on a leader's own log: indexes ascend.
        if self
            .pending
            .back()
            .is_some_and(|(index, _)| *index >= last_index)
        {
            self.pending.clear();
        }
        if self.pending.len() == PENDING_BATCHES_MAX {
            self.pending.pop_front();
        }
        self.pending.push_back((last_index, started));
    }

    /// Observes into `timer` every batch that `commit_index` covers.
    pub fn committed(&mut self, commit_index: u64, timer: &Histogram) {
        while let Some((index, started)) = self.pending.front() {
            if *index > commit_index {
                return;
            }
            timer.observe_since(*started);
            self.pending.pop_front();
        }
    }

    /// This server is no longer the leader: what it wrote commits (or not) under another.
    pub fn forget(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_timed_once_when_the_commit_index_passes_it() {
        let timer = Histogram::new(&[1.0]);
        let mut commits = CommitTimer::default();
        let now = Instant::now();
        commits.written(5, now);
        commits.written(9, now);
        commits.committed(4, &timer);
        assert_eq!(timer.snapshot().count, 0);
        commits.committed(7, &timer);
        assert_eq!(timer.snapshot().count, 1);
        commits.committed(9, &timer);
        commits.committed(9, &timer);
        assert_eq!(timer.snapshot().count, 2);
    }

    #[test]
    fn pending_batches_are_bounded_and_forgotten_on_step_down() {
        let timer = Histogram::new(&[1.0]);
        let mut commits = CommitTimer::default();
        let now = Instant::now();
        for index in 1..=(PENDING_BATCHES_MAX as u64 + 10) {
            commits.written(index, now);
        }
        assert_eq!(commits.pending.len(), PENDING_BATCHES_MAX);
        commits.forget();
        commits.committed(u64::MAX, &timer);
        assert_eq!(timer.snapshot().count, 0);
    }
}
