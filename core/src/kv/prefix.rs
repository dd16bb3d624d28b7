//! Prefix scans over sorted maps: every key starting with a prefix is one contiguous range.

use std::collections::BTreeMap;
use std::ops::Bound;

/// The entries whose key starts with `prefix`, in key order, without scanning the whole map.
pub(crate) fn under_prefix<'a, V>(
    map: &'a BTreeMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    // Keys starting with `prefix` sort at or after it and before any key that does not.
    map.range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(move |(key, _)| key.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_only_keys_starting_with_prefix_in_order() {
        let map: BTreeMap<String, u8> = ["a", "a/b", "a0", "a/c", "b", "a!"]
            .iter()
            .map(|k| (k.to_string(), 0))
            .collect();
        let keys: Vec<&str> = under_prefix(&map, "a/").map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a/b", "a/c"]);
        let all: Vec<&str> = under_prefix(&map, "").map(|(k, _)| k.as_str()).collect();
        assert_eq!(all.len(), map.len());
        assert_eq!(under_prefix(&map, "c").count(), 0);
    }
}
