//! Consul shuffles service answers on every query, so that clients taking the first record
//! spread over the instances. Not in the simulator, so a process-seeded xorshift is enough.

use std::sync::atomic::{AtomicU64, Ordering};

/// A xorshift64 generator shared by the DNS handler's tasks.
pub struct Shuffler {
    state: AtomicU64,
}

impl Shuffler {
    /// Seeded from the clock and the process id; any non-zero seed works.
    pub fn from_process() -> Shuffler {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Shuffler::seeded(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub fn seeded(seed: u64) -> Shuffler {
        Shuffler {
            state: AtomicU64::new(seed | 1),
        }
    }

    fn next(&self) -> u64 {
        // A lost race between two queries only repeats a number: harmless for shuffling.
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        x
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_keep_every_item_and_change_the_order() {
        let shuffler = Shuffler::seeded(42);
        let sorted: Vec<u32> = (0..20).collect();
        let mut orders = std::collections::BTreeSet::new();
        for _ in 0..10 {
            let mut items = sorted.clone();
            shuffler.shuffle(&mut items);
            let mut back = items.clone();
            back.sort();
            assert_eq!(back, sorted, "a shuffle loses or adds nothing");
            orders.insert(items);
        }
        assert!(
            orders.len() > 5,
            "orders vary from query to query: {orders:?}"
        );
    }
}
