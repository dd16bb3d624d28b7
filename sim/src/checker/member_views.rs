//! What each node's failure detector says of the others, recorded after every driver round
//! (clients too: they have no Raft but gossip as servers do). Not an invariant: a member may
//! rightly be suspected or failed under faults. Scenario lines read it:
//! `expect suspected NODE` (some answering node holds NODE suspect now) and
//! `expect never-failed NODE` (no node has declared NODE failed since the run began).

use concord_core::membership::{Membership, SwimState};
use std::collections::BTreeMap;

/// Declarations of failure remembered per member; later ones are only counted.
const DECLARATIONS_KEPT_MAX: usize = 64;

#[derive(Default)]
pub struct MemberViews {
    /// observer -> (member, the observer's detector state of it now), sorted by member as the
    /// detector lists them: the update after every round walks both in step, allocating
    /// nothing for members already seen. Reaped members keep their last state.
    current: BTreeMap<String, Vec<(String, SwimState)>>,
    /// member -> (observer, world ms) of its first failure declarations.
    failed_by: BTreeMap<String, Vec<(String, u64)>>,
    /// member -> every failure declaration seen, kept or not.
    failed_count: BTreeMap<String, u64>,
}

impl MemberViews {
    /// Records `observer`'s view after one of its rounds; a change to Dead is a declaration.
    /// Runs after every round of every node: it borrows the detector's states (no member is
    /// cloned); `world_ms` is asked only for a declaration.
    pub fn observe(
        &mut self,
        observer: &str,
        membership: &Membership,
        world_ms: &mut dyn FnMut() -> u64,
    ) {
        if !self.current.contains_key(observer) {
            self.current.insert(observer.to_string(), Vec::new());
        }
        let views = self.current.get_mut(observer).expect("inserted above");
        let mut declared = Vec::new();
        // Both are sorted by name: `at` only moves forward.
        let mut at = 0;
        for (member, state) in membership.swim_states() {
            if member == observer {
                continue;
            }
            while at < views.len() && views[at].0.as_str() < member {
                at += 1;
            }
            let before = match views.get_mut(at) {
                Some((held, view)) if held == member => Some(std::mem::replace(view, state)),
                _ => {
                    views.insert(at, (member.to_string(), state));
                    None
                }
            };
            at += 1;
            if state == SwimState::Dead && before != Some(SwimState::Dead) {
                declared.push(member);
            }
        }
        debug_assert!(views.windows(2).all(|w| w[0].0 < w[1].0));
        for member in declared {
            self.declare_failed(observer, member, world_ms());
        }
    }

    /// Records one change of `observer`'s view of `member` (the real world reads these from
    /// the observer's log); a change to Dead is a declaration.
    pub fn record(&mut self, observer: &str, member: &str, state: SwimState, world_ms: u64) {
        assert_ne!(observer, member, "a node's log tells of others only");
        let views = self.current.entry(observer.to_string()).or_default();
        let before = match views.binary_search_by(|(m, _)| m.as_str().cmp(member)) {
            Ok(at) => Some(std::mem::replace(&mut views[at].1, state)),
            Err(at) => {
                views.insert(at, (member.to_string(), state));
                None
            }
        };
        if state == SwimState::Dead && before != Some(SwimState::Dead) {
            self.declare_failed(observer, member, world_ms);
        }
    }

    fn declare_failed(&mut self, observer: &str, member: &str, world_ms: u64) {
        *self.failed_count.entry(member.to_string()).or_default() += 1;
        let kept = self.failed_by.entry(member.to_string()).or_default();
        if kept.len() < DECLARATIONS_KEPT_MAX {
            kept.push((observer.to_string(), world_ms));
        }
        assert!(kept.len() <= DECLARATIONS_KEPT_MAX);
    }

    /// Observers among `answering` that hold `member` suspect now.
    pub fn suspecting(&self, member: &str, answering: &[String]) -> Vec<String> {
        answering
            .iter()
            .filter(|o| {
                let views = self
                    .current
                    .get(o.as_str())
                    .map_or(&[][..], |v| v.as_slice());
                let at = views.binary_search_by(|(m, _)| m.as_str().cmp(member));
                at.is_ok_and(|at| views[at].1 == SwimState::Suspect)
            })
            .cloned()
            .collect()
    }

    /// Every failure declaration of `member` so far: (observer, world ms), and the count.
    pub fn failures(&self, member: &str) -> (&[(String, u64)], u64) {
        let kept = self.failed_by.get(member).map_or(&[][..], |v| v.as_slice());
        (kept, self.failed_count.get(member).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::membership::{Member, MemberStatus, MembershipOptions, Role};

    fn member(name: &str) -> Member {
        Member {
            name: name.into(),
            gossip_addr: format!("{name}:8301"),
            rpc_addr: format!("{name}:8300"),
            role: Role::Client,
            datacenter: "dc1".into(),
            bootstrap_expect: 0,
            in_raft: false,
            build: "0".into(),
            incarnation: 0,
            announced: MemberStatus::Alive,
        }
    }

    #[test]
    fn an_observer_alone_declares_nothing() {
        let membership = Membership::new(member("a"), MembershipOptions::default(), 1, 0);
        let mut views = MemberViews::default();
        views.observe("a", &membership, &mut || 10);
        assert_eq!(views.failures("b").1, 0);
        assert!(views.suspecting("b", &["a".to_string()]).is_empty());
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn log_changes_make_suspicions_and_declarations() {
        let mut views = MemberViews::default();
        let answering = ["a".to_string(), "b".to_string()];
        views.record("a", "c", SwimState::Suspect, 10);
        assert_eq!(views.suspecting("c", &answering), vec!["a".to_string()]);
        views.record("a", "c", SwimState::Alive, 20);
        assert!(views.suspecting("c", &answering).is_empty());
        assert_eq!(views.failures("c").1, 0);
        views.record("b", "c", SwimState::Dead, 30);
        views.record("b", "c", SwimState::Dead, 40);
        let (first, count) = views.failures("c");
        assert_eq!((first, count), (&[("b".to_string(), 30)][..], 1));
    }
}
