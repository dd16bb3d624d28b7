//! Quorum arithmetic. Only voters count: never learners, never a stale configuration
//! (openraft #1802).

use super::types::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// The highest index that a majority of `voters` has: the median of their match indexes.
/// A voter missing from `match_index` counts as 0.
pub fn committed_index(voters: &BTreeSet<NodeId>, match_index: &BTreeMap<NodeId, u64>) -> u64 {
    if voters.is_empty() {
        return 0;
    }
    let mut matched: Vec<u64> = voters
        .iter()
        .map(|v| match_index.get(v).copied().unwrap_or(0))
        .collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    let quorum = voters.len() / 2 + 1;
    let index = matched[quorum - 1];
    debug_assert!(matched.iter().filter(|&&m| m >= index).count() >= quorum);
    index
}

/// Whether the voters in `granted` form a majority of `voters` (others are ignored).
pub fn has_quorum<'a>(
    voters: &BTreeSet<NodeId>,
    granted: impl IntoIterator<Item = &'a NodeId>,
) -> bool {
    let count = granted
        .into_iter()
        .filter(|id| voters.contains(*id))
        .collect::<BTreeSet<_>>()
        .len();
    !voters.is_empty() && count > voters.len() / 2
}

/// Whether the "no" votes already make a majority impossible.
pub fn is_lost<'a>(
    voters: &BTreeSet<NodeId>,
    rejected: impl IntoIterator<Item = &'a NodeId>,
) -> bool {
    let count = rejected
        .into_iter()
        .filter(|id| voters.contains(*id))
        .collect::<BTreeSet<_>>()
        .len();
    voters.len() - count < voters.len() / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: usize) -> BTreeSet<NodeId> {
        (0..n).map(|i| NodeId(format!("n{i}"))).collect()
    }

    #[test]
    fn learners_do_not_count() {
        let voters = ids(3);
        let mut matched = BTreeMap::new();
        matched.insert(NodeId::new("n0"), 10);
        matched.insert(NodeId::new("learner1"), 10);
        matched.insert(NodeId::new("learner2"), 10);
        assert_eq!(committed_index(&voters, &matched), 0);
        matched.insert(NodeId::new("n1"), 7);
        assert_eq!(committed_index(&voters, &matched), 7);
    }

    proptest! {
        /// The committed index is replicated on a majority, and no higher index is.
        #[test]
        fn committed_index_is_the_largest_majority_index(matches in proptest::collection::vec(0u64..20, 1..8)) {
            let voters = ids(matches.len());
            let map: BTreeMap<NodeId, u64> = voters.iter().cloned().zip(matches.iter().copied()).collect();
            let index = committed_index(&voters, &map);
            let quorum = voters.len() / 2 + 1;
            prop_assert!(matches.iter().filter(|&&m| m >= index).count() >= quorum);
            prop_assert!(matches.iter().filter(|&&m| m > index).count() < quorum);
        }

        /// Two majorities of the same voter set always intersect.
        #[test]
        fn majorities_intersect(n in 1usize..8, a in any::<u16>(), b in any::<u16>()) {
            let voters: Vec<NodeId> = ids(n).into_iter().collect();
            let set = ids(n);
            let pick = |mask: u16| voters.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, v)| v.clone()).collect::<Vec<_>>();
            let (x, y) = (pick(a), pick(b));
            if has_quorum(&set, &x) && has_quorum(&set, &y) {
                prop_assert!(x.iter().any(|v| y.contains(v)));
            }
        }

        /// A lost election and a won one are never both true for the same split.
        #[test]
        fn won_and_lost_exclude_each_other(n in 1usize..8, mask in any::<u16>()) {
            let voters: Vec<NodeId> = ids(n).into_iter().collect();
            let set = ids(n);
            let yes: Vec<NodeId> = voters.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, v)| v.clone()).collect();
            let no: Vec<NodeId> = voters.iter().filter(|v| !yes.contains(v)).cloned().collect();
            prop_assert!(!(has_quorum(&set, &yes) && is_lost(&set, &no)));
            prop_assert!(has_quorum(&set, &yes) || is_lost(&set, &no) || yes.len() + no.len() < n);
        }
    }
}
