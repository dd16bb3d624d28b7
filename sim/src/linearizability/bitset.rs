//! The set of a key's operations linearized so far: a bitset, plus a 128-bit fingerprint of
//! it for the search's cache. The fingerprint (Zobrist hashing: the XOR of a fixed random
//! 128-bit word per member) is updated in O(1) on each change, so a cache entry costs 16
//! bytes instead of a copy of the set: with a million states of a key with thousands of
//! operations, copies would take hundreds of megabytes. Two different sets share a
//! fingerprint with probability 2^-128 per pair, about 10^-27 for a million states: a
//! collision could wrongly prune a state, which is far less likely than a hardware fault.

#[derive(Clone, Debug)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    len: usize,
    fingerprint: u128,
}

const WORD_BITS: usize = u64::BITS as usize;

impl Bitset {
    /// The empty set of integers below `len`.
    pub(crate) fn new(len: usize) -> Bitset {
        Bitset {
            words: vec![0; len.div_ceil(WORD_BITS)],
            len,
            fingerprint: 0,
        }
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / WORD_BITS] & (1 << (i % WORD_BITS)) != 0
    }

    /// Adds `i`, which must not be in the set.
    pub(crate) fn insert(&mut self, i: usize) {
        debug_assert!(!self.contains(i));
        self.words[i / WORD_BITS] |= 1 << (i % WORD_BITS);
        self.fingerprint ^= zobrist(i);
    }

    /// Removes `i`, which must be in the set.
    pub(crate) fn remove(&mut self, i: usize) {
        debug_assert!(self.contains(i));
        self.words[i / WORD_BITS] &= !(1 << (i % WORD_BITS));
        self.fingerprint ^= zobrist(i);
    }

    pub(crate) fn fingerprint(&self) -> u128 {
        self.fingerprint
    }

    /// The integers below `len` not in the set, ascending. Skips full words at once: in long
    /// histories most early operations are linearized.
    pub(crate) fn absent(&self) -> impl Iterator<Item = usize> + '_ {
        let len = self.len;
        self.words
            .iter()
            .enumerate()
            .flat_map(|(w, word)| {
                let mut free = !word;
                std::iter::from_fn(move || {
                    let bit = free.trailing_zeros() as usize;
                    free &= free.wrapping_sub(1);
                    (bit < WORD_BITS).then_some(w * WORD_BITS + bit)
                })
            })
            .take_while(move |i| *i < len)
    }
}

/// The fixed random word of member `i`: two SplitMix64 outputs.
fn zobrist(i: usize) -> u128 {
    let mix = |x: u64| {
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let i = i as u64;
    (u128::from(mix(2 * i)) << 64) | u128::from(mix(2 * i + 1))
}
