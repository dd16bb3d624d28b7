//! A borrowed view of every member's detector state, for observers that look after every
//! round (the simulator's member-views record): `list` clones every member, this clones none.

use super::member::SwimState;
use super::swim::Swim;

impl Swim {
    /// Every member (us included) with its detector state, by name; nothing is cloned.
    pub fn swim_states(&self) -> impl Iterator<Item = (&str, SwimState)> + '_ {
        self.members
            .iter()
            .map(|(name, entry)| (name.as_str(), entry.state))
    }
}

#[cfg(test)]
mod tests {
    use crate::membership::{Member, MemberStatus, Membership, MembershipOptions, Role, SwimState};

    #[test]
    fn lists_every_member_with_its_state_as_swim_state_does() {
        let me = Member {
            name: "a".into(),
            gossip_addr: "a:8301".into(),
            rpc_addr: "a:8300".into(),
            role: Role::Server,
            datacenter: "dc1".into(),
            bootstrap_expect: 0,
            in_raft: false,
            build: "0".into(),
            incarnation: 0,
            announced: MemberStatus::Alive,
        };
        let membership = Membership::new(me, MembershipOptions::default(), 1, 0);
        let states: Vec<_> = membership.swim_states().collect();
        assert_eq!(states, vec![("a", SwimState::Alive)]);
        assert_eq!(membership.swim_state("a"), Some(states[0].1));
    }
}
