//! The member table: merging gossip, judging failure, leaving, and choosing whom to gossip to.

use super::member::{Member, MemberStatus, Role};
use crate::rng::Rng;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipOptions {
    /// How often an agent raises its heartbeat and pushes its table to one other member.
    pub gossip_interval_ms: u64,
    /// No newer heartbeat of a member for this long: it is `failed`.
    pub fail_timeout_ms: u64,
    /// Left or failed members are forgotten after this long (Consul: 72 h).
    pub reap_after_ms: u64,
    /// The most members a table holds; news of more is dropped (and counted).
    pub members_max: usize,
}

impl Default for MembershipOptions {
    fn default() -> MembershipOptions {
        MembershipOptions {
            gossip_interval_ms: 200,
            fail_timeout_ms: 5_000,
            reap_after_ms: 72 * 3600 * 1000,
            members_max: 4096,
        }
    }
}

#[derive(Clone, Debug)]
pub struct MemberState {
    pub member: Member,
    /// When news that this member is alive last arrived (our clock).
    pub last_news_ms: u64,
}

#[derive(Clone, Debug)]
pub struct Membership {
    me: String,
    members: BTreeMap<String, MemberState>,
    options: MembershipOptions,
    pub members_dropped_over_max: u64,
}

impl Membership {
    pub fn new(me: Member, options: MembershipOptions, now_ms: u64) -> Membership {
        let name = me.name.clone();
        let mut members = BTreeMap::new();
        members.insert(
            name.clone(),
            MemberState {
                member: me,
                last_news_ms: now_ms,
            },
        );
        Membership {
            me: name,
            members,
            options,
            members_dropped_over_max: 0,
        }
    }

    pub fn options(&self) -> &MembershipOptions {
        &self.options
    }

    pub fn me(&self) -> &Member {
        &self.members[&self.me].member
    }

    pub fn get(&self, name: &str) -> Option<&Member> {
        self.members.get(name).map(|s| &s.member)
    }

    /// The member's status as this agent judges it now.
    pub fn status(&self, name: &str, now_ms: u64) -> Option<MemberStatus> {
        let state = self.members.get(name)?;
        let announced = state.member.announced;
        let silent = now_ms.saturating_sub(state.last_news_ms) > self.options.fail_timeout_ms;
        let failed = name != self.me && announced == MemberStatus::Alive && silent;
        Some(if failed {
            MemberStatus::Failed
        } else {
            announced
        })
    }

    /// Every member with its status: servers first, then by name (as `consul members`).
    pub fn list(&self, now_ms: u64) -> Vec<(Member, MemberStatus)> {
        let mut list: Vec<(Member, MemberStatus)> = self
            .members
            .keys()
            .map(|name| {
                (
                    self.members[name].member.clone(),
                    self.status(name, now_ms).expect("listed"),
                )
            })
            .collect();
        list.sort_by(|(a, _), (b, _)| (a.role, &a.name).cmp(&(b.role, &b.name)));
        list
    }

    /// Alive servers of `datacenter`, by name.
    pub fn alive_servers(&self, datacenter: &str, now_ms: u64) -> Vec<Member> {
        self.list(now_ms)
            .into_iter()
            .filter(|(m, s)| {
                m.role == Role::Server && m.datacenter == datacenter && *s == MemberStatus::Alive
            })
            .map(|(m, _)| m)
            .collect()
    }

    /// What this agent tells others: its whole table.
    pub fn digest(&self) -> Vec<Member> {
        self.members.values().map(|s| s.member.clone()).collect()
    }

    /// Merges news from another agent. Returns how many entries changed.
    pub fn merge(&mut self, news: Vec<Member>, now_ms: u64) -> usize {
        let mut changed = 0;
        for member in news {
            if member.name == self.me {
                changed += self.refute_if_needed(&member);
                continue;
            }
            changed += self.merge_one(member, now_ms);
        }
        changed
    }

    fn merge_one(&mut self, member: Member, now_ms: u64) -> usize {
        let full = self.members.len() >= self.options.members_max;
        match self.members.get_mut(&member.name) {
            Some(state) if state.member.is_older_than(&member) => {
                let proves_alive = member.heartbeat > state.member.heartbeat
                    || member.incarnation > state.member.incarnation;
                if proves_alive {
                    state.last_news_ms = now_ms;
                }
                state.member = member;
                1
            }
            Some(_) => 0,
            None if full => {
                self.members_dropped_over_max += 1;
                0
            }
            None => {
                let name = member.name.clone();
                self.members.insert(
                    name,
                    MemberState {
                        member,
                        last_news_ms: now_ms,
                    },
                );
                1
            }
        }
    }

    /// Someone says we left or failed while we are alive (a `force-leave`, an old rumour):
    /// raise our incarnation so that the truth wins everywhere (as SWIM and Consul do).
    fn refute_if_needed(&mut self, claim: &Member) -> usize {
        let me = &mut self.members.get_mut(&self.me).expect("me is listed").member;
        let wrong = claim.announced != me.announced && me.announced == MemberStatus::Alive;
        if wrong && claim.incarnation >= me.incarnation {
            me.incarnation = claim.incarnation + 1;
            return 1;
        }
        0
    }

    /// A gossip round: raise our heartbeat; returns whom to push our table to.
    pub fn gossip_round(&mut self, rng: &mut Rng, now_ms: u64) -> Option<String> {
        self.update_me(|me| me.heartbeat += 1);
        self.reap(now_ms);
        let others: Vec<(String, MemberStatus)> = self
            .members
            .keys()
            .filter(|n| **n != self.me)
            .map(|n| {
                (
                    self.members[n].member.gossip_addr.clone(),
                    self.status(n, now_ms).expect("listed"),
                )
            })
            .filter(|(_, s)| *s != MemberStatus::Left)
            .collect();
        let alive: Vec<&String> = others
            .iter()
            .filter(|(_, s)| *s != MemberStatus::Failed)
            .map(|(a, _)| a)
            .collect();
        // Now and then try a failed member too, so that a healed partition is noticed.
        let pool: Vec<&String> = if alive.is_empty() || rng.chance(1, 4) {
            others.iter().map(|(a, _)| a).collect()
        } else {
            alive
        };
        if pool.is_empty() {
            return None;
        }
        Some(pool[rng.range(0, pool.len() as u64) as usize].clone())
    }

    /// Changes our own entry; the heartbeat rises so the change spreads as news.
    pub fn update_me(&mut self, change: impl FnOnce(&mut Member)) {
        let me = &mut self.members.get_mut(&self.me).expect("me is listed").member;
        change(me);
        me.heartbeat += 1;
    }

    /// `force-leave`: a member we consider failed is marked left everywhere. An alive member
    /// refutes it. Returns false when the member is unknown or not failed.
    pub fn force_leave(&mut self, name: &str, now_ms: u64) -> bool {
        if self.status(name, now_ms) != Some(MemberStatus::Failed) {
            return false;
        }
        let state = self.members.get_mut(name).expect("status found it");
        state.member.announced = MemberStatus::Left;
        true
    }

    /// Forgets left and failed members after `reap_after_ms`.
    fn reap(&mut self, now_ms: u64) {
        let reap_after_ms = self.options.reap_after_ms;
        let me = self.me.clone();
        self.members
            .retain(|name, state| *name == me || now_ms < state.last_news_ms + reap_after_ms);
    }

    /// Addresses of every member not known to have left, for announcing our own leave.
    pub fn gossip_addrs_except_me(&self) -> Vec<String> {
        self.members
            .values()
            .filter(|s| s.member.name != self.me && s.member.announced != MemberStatus::Left)
            .map(|s| s.member.gossip_addr.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn member(name: &str, role: Role) -> Member {
        Member {
            name: name.into(),
            gossip_addr: format!("{name}:8301"),
            rpc_addr: format!("{name}:8300"),
            role,
            datacenter: "dc1".into(),
            bootstrap_expect: 0,
            in_raft: false,
            build: "0.1.0".into(),
            incarnation: 0,
            heartbeat: 0,
            announced: MemberStatus::Alive,
        }
    }

    #[test]
    fn silence_means_failed_and_news_means_alive() {
        let mut table = Membership::new(member("a", Role::Server), MembershipOptions::default(), 0);
        let mut b = member("b", Role::Client);
        assert_eq!(table.merge(vec![b.clone()], 0), 1);
        assert_eq!(table.status("b", 5_000), Some(MemberStatus::Alive));
        assert_eq!(table.status("b", 5_001), Some(MemberStatus::Failed));
        assert_eq!(
            table.merge(vec![b.clone()], 6_000),
            0,
            "old news changes nothing"
        );
        assert_eq!(table.status("b", 6_000), Some(MemberStatus::Failed));
        b.heartbeat += 1;
        assert_eq!(table.merge(vec![b], 6_000), 1);
        assert_eq!(table.status("b", 6_000), Some(MemberStatus::Alive));
    }

    #[test]
    fn leave_spreads_and_wins_over_alive_at_same_heartbeat() {
        let mut table = Membership::new(member("a", Role::Server), MembershipOptions::default(), 0);
        let mut b = member("b", Role::Server);
        table.merge(vec![b.clone()], 0);
        b.announced = MemberStatus::Left;
        table.merge(vec![b], 10);
        assert_eq!(table.status("b", 10), Some(MemberStatus::Left));
        assert_eq!(
            table.status("b", 100_000),
            Some(MemberStatus::Left),
            "left never turns failed"
        );
    }

    #[test]
    fn force_left_member_refutes_with_higher_incarnation() {
        let mut a = Membership::new(member("a", Role::Server), MembershipOptions::default(), 0);
        let mut b = Membership::new(member("b", Role::Server), MembershipOptions::default(), 0);
        a.merge(b.digest(), 0);
        assert!(
            !a.force_leave("b", 10),
            "alive members cannot be forced out"
        );
        assert!(a.force_leave("b", 10_000));
        b.merge(a.digest(), 10_000);
        assert_eq!(b.me().incarnation, 1);
        a.merge(b.digest(), 10_001);
        assert_eq!(a.status("b", 10_001), Some(MemberStatus::Alive));
    }

    #[test]
    fn list_puts_servers_first_then_names() {
        let mut table = Membership::new(member("m", Role::Client), MembershipOptions::default(), 0);
        table.merge(
            vec![
                member("z", Role::Server),
                member("a", Role::Client),
                member("b", Role::Server),
            ],
            0,
        );
        let names: Vec<String> = table.list(0).into_iter().map(|(m, _)| m.name).collect();
        assert_eq!(names, ["b", "z", "a", "m"]);
    }

    #[test]
    fn table_is_bounded() {
        let options = MembershipOptions {
            members_max: 3,
            ..MembershipOptions::default()
        };
        let mut table = Membership::new(member("a", Role::Server), options, 0);
        table.merge(
            (0..5)
                .map(|i| member(&format!("n{i}"), Role::Client))
                .collect(),
            0,
        );
        assert_eq!(table.digest().len(), 3);
        assert_eq!(table.members_dropped_over_max, 3);
    }
}
