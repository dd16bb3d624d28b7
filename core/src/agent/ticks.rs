//! Time passing: gossip rounds, Raft's timers, bootstrap, reconciling voters and the catalog,
//! deadlines, and the periodic complaints a user reads in the log while there is no leader.

use super::api::{ApiError, Response};
use super::pending::{Origin, Pending, Waiting};
use super::wire::WireMessage;
use super::{Agent, LogLevel};
use crate::membership::Member;

impl Agent {
    pub fn tick(&mut self, now_ms: u64) {
        self.advance_clock(now_ms);
        if self.now_ms >= self.gossip_deadline_ms {
            self.gossip_deadline_ms = self.now_ms + self.config.membership.gossip_interval_ms;
            self.gossip_round();
            self.tick_bootstrap();
            self.reconcile_raft_members();
            self.reconcile_catalog();
            self.retry_forwards_to_failed();
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.tick(now_ms);
        }
        self.tick_leave();
        self.tick_local();
        self.expire_requests();
        self.release_watches_due();
        self.complain_if_leaderless();
    }

    fn gossip_round(&mut self) {
        let target = self
            .membership
            .gossip_round(&mut self.rng, self.now_ms)
            .or_else(|| self.raft_peer_addr());
        let Some(target) = target else { return };
        let members = self.me_first_digest();
        self.send(
            target,
            WireMessage::Gossip {
                members,
                reply_wanted: true,
                join_id: None,
            },
        );
    }

    /// A Raft peer's address: after a restart, before gossip knows anyone, this is how a server
    /// finds the others again (every listener of an agent takes every kind of message).
    fn raft_peer_addr(&mut self) -> Option<String> {
        let raft = self.raft.as_ref()?;
        let peers: Vec<String> = raft
            .config()
            .addresses
            .iter()
            .filter(|(id, _)| id.as_str() != self.config.node_name)
            .map(|(_, a)| a.clone())
            .collect();
        if peers.is_empty() {
            return None;
        }
        Some(peers[self.rng.range(0, peers.len() as u64) as usize].clone())
    }

    /// Pushes our table to every member (leave announcements, force-leave).
    pub(super) fn gossip_to_all(&mut self) {
        let members = self.me_first_digest();
        for addr in self.membership.gossip_addrs_except_me() {
            self.send(
                addr,
                WireMessage::Gossip {
                    members: members.clone(),
                    reply_wanted: false,
                    join_id: None,
                },
            );
        }
    }

    pub(super) fn on_gossip(
        &mut self,
        from_addr: String,
        members: Vec<Member>,
        reply_wanted: bool,
        join_id: Option<u64>,
    ) {
        let reply_to = members.first().map(|m| m.gossip_addr.clone());
        self.membership.merge(members, self.now_ms);
        if reply_wanted {
            let digest = self.me_first_digest();
            // Answer to the sender's gossip address (its first entry is itself).
            let to = reply_to.unwrap_or(from_addr);
            self.send(
                to,
                WireMessage::Gossip {
                    members: digest,
                    reply_wanted: false,
                    join_id,
                },
            );
            return;
        }
        if let Some(id) = join_id {
            if let Some(pending) = self.pending.remove(id) {
                self.reply(pending.origin, Ok(Response::Joined { contacted: 1 }));
            }
        }
    }

    pub(super) fn start_join(&mut self, origin: Origin, addr: String) {
        let deadline_ms = self.now_ms + self.config.request_timeout_ms.min(5_000);
        let join_id = self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting: Waiting::Join,
        });
        let members = self.me_first_digest();
        self.send(
            addr,
            WireMessage::Gossip {
                members,
                reply_wanted: true,
                join_id: Some(join_id),
            },
        );
    }

    /// Our table with ourselves first, so the receiver knows where to answer.
    fn me_first_digest(&self) -> Vec<Member> {
        let me = self.membership.me().clone();
        let mut members = vec![me.clone()];
        members.extend(
            self.membership
                .digest()
                .into_iter()
                .filter(|m| m.name != me.name),
        );
        members
    }

    fn expire_requests(&mut self) {
        for pending in self.pending.take_expired(self.now_ms) {
            let error = match pending.waiting {
                Waiting::Leader { .. } => ApiError::NoLeader,
                Waiting::Join => ApiError::JoinFailed("no answer from the address".into()),
                _ => ApiError::Timeout,
            };
            self.reply(pending.origin, Err(error));
        }
    }

    fn complain_if_leaderless(&mut self) {
        let Some(raft) = self.raft.as_ref() else {
            return;
        };
        if raft.leader().is_some()
            || self.now_ms < self.complaint_deadline_ms
            || self.leave.is_some()
        {
            return;
        }
        self.complaint_deadline_ms = self.now_ms + self.config.complaint_interval_ms;
        if raft.config().is_empty() {
            self.log(
                LogLevel::Warn,
                "raft: no known peers, aborting election".to_string(),
            );
        }
        self.log(
            LogLevel::Error,
            "agent: failed to sync remote state: No cluster leader".to_string(),
        );
    }
}
