//! A fixed-size set of small integers: which operations of a key are linearized. Part of the
//! search cache's key, so it is compact and hashable.

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

const WORD_BITS: usize = u64::BITS as usize;

impl Bitset {
    pub(crate) fn new(len: usize) -> Bitset {
        Bitset {
            words: vec![0; len.div_ceil(WORD_BITS)],
        }
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / WORD_BITS] & (1 << (i % WORD_BITS)) != 0
    }

    pub(crate) fn insert(&mut self, i: usize) {
        self.words[i / WORD_BITS] |= 1 << (i % WORD_BITS);
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.words[i / WORD_BITS] &= !(1 << (i % WORD_BITS));
    }

    /// The smallest integer not in the set (may be past the end).
    pub(crate) fn first_absent(&self) -> usize {
        // Skip full words at once: in long histories most early operations are linearized.
        match self.words.iter().position(|w| *w != u64::MAX) {
            Some(w) => w * WORD_BITS + self.words[w].trailing_ones() as usize,
            None => self.words.len() * WORD_BITS,
        }
    }
}
