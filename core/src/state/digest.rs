//! The tables other than KV in the digest the simulator's state-agreement checker compares
//! after every applied entry: FNV-1a over their bincode encoding, folded as the encoder writes
//! it (no buffer of the whole encoding, no sizing pass before it: `bincode::serialize` walks
//! the value twice). KV is walked field by field (`kv/store/digest.rs`).

use serde::Serialize;

/// FNV-1a over `value`'s encoding as `bincode::serialize` writes it.
pub(crate) fn encoding_digest<T: Serialize>(value: &T) -> u64 {
    let mut hasher = Fnv1aWriter {
        hash: crate::digest::FNV_OFFSET,
    };
    bincode::serialize_into(&mut hasher, value).expect("encoding into a hash cannot fail");
    hasher.hash
}

/// An `io::Write` that only folds what it is given into an FNV-1a hash.
struct Fnv1aWriter {
    hash: u64,
}

impl std::io::Write for Fnv1aWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.hash = crate::digest::fnv1a_extend(self.hash, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_fnv1a_of_the_buffered_encoding() {
        let value = (7u64, "key".to_string(), vec![1u8, 2, 3], Some(-1i32));
        let bytes = bincode::serialize(&value).expect("encodes");
        assert_eq!(encoding_digest(&value), crate::digest::fnv1a(&bytes));
        assert_ne!(encoding_digest(&value), encoding_digest(&(8u64, "key")));
    }
}
