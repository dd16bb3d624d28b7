//! Changing the voter set one server at a time (thesis §4.1). A configuration takes effect as
//! soon as it is in the log; only one may be uncommitted; and a new leader first commits an
//! entry of its own term (Ongaro, raft-dev 2015). New servers join as learners (non-voters) and
//! are promoted once caught up, so they never hold up commitment.

use super::progress::Progress;
use super::state::{Raft, RaftError, Role};
use super::types::{ClusterConfig, EntryPayload, NodeId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    /// A new non-voter and its RPC address.
    AddLearner(NodeId, String),
    Promote(NodeId),
    Remove(NodeId),
}

impl Raft {
    pub fn propose_config_change(
        &mut self,
        now_ms: u64,
        change: ConfigChange,
    ) -> Result<u64, RaftError> {
        self.now_ms = self.now_ms.max(now_ms);
        self.check_can_propose()?;
        if self.log.term_at(self.log.commit_index) != Some(self.term) {
            return Err(RaftError::LeaderNotReady);
        }
        if self.config_index > self.log.commit_index {
            return Err(RaftError::ConfigChangeInProgress);
        }
        let config = changed_config(&self.config, &change).map_err(RaftError::BadConfigChange)?;
        Ok(self.append_and_replicate(EntryPayload::Config(config)))
    }

    /// Makes `config` (found at log index `index`) the one in force.
    pub(super) fn apply_config(&mut self, config: ClusterConfig, index: u64) {
        self.config = config;
        self.config_index = index;
        if self.role != Role::Leader {
            return;
        }
        let next_index = self.log.last_index() + 1;
        let members: Vec<NodeId> = self
            .config
            .members()
            .filter(|m| **m != self.id)
            .cloned()
            .collect();
        for member in &members {
            self.progress
                .entry(member.clone())
                .or_insert_with(|| Progress::new(next_index));
        }
        // A removed server keeps getting the log until it holds the entry that removed it and
        // knows it committed: that is how it learns it is out (and a leaving server may exit).
        // It never counts towards a quorum: quorums are of `config.voters` only.
        self.forget_removed_peers();
    }

    /// Drops replication to servers no longer in the configuration once they hold the
    /// configuration entry that removed them and have been told it is committed: a leaving
    /// server waits for that commit before it exits.
    pub(super) fn forget_removed_peers(&mut self) {
        let (config, config_index) = (&self.config, self.config_index);
        self.progress.retain(|id, p| {
            config.contains(id) || p.match_index < config_index || p.commit_sent < config_index
        });
    }

    /// Promotes one learner whose log is close enough to the commit index.
    pub(super) fn promote_caught_up_learner(&mut self) {
        if !self.options.promote_caught_up_learners
            || self.config_index > self.log.commit_index
            || self.transfer.is_some()
        {
            return;
        }
        let threshold = self
            .log
            .commit_index
            .saturating_sub(self.options.learner_catch_up_entries);
        let ready = self.config.learners.iter().find(|l| {
            self.progress
                .get(*l)
                .is_some_and(|p| p.match_index >= threshold.max(1))
        });
        if let Some(learner) = ready.cloned() {
            let _ = self.propose_config_change(self.now_ms, ConfigChange::Promote(learner));
        }
    }
}

impl Raft {
    /// Hooks the config change into `append_and_replicate`: configuration entries take effect
    /// when appended, on the leader as on followers.
    pub(super) fn on_appended_config(&mut self, index: u64) {
        if let Some(EntryPayload::Config(config)) = self.log.entry(index).map(|e| e.payload.clone())
        {
            self.apply_config(config, index);
        }
    }
}

/// The configuration after `change`, or why the change makes no sense.
pub fn changed_config(
    config: &ClusterConfig,
    change: &ConfigChange,
) -> Result<ClusterConfig, String> {
    let mut next = config.clone();
    match change {
        ConfigChange::AddLearner(id, addr) => {
            if config.contains(id) {
                return Err(format!("{id} is already a member"));
            }
            next.learners.insert(id.clone());
            next.addresses.insert(id.clone(), addr.clone());
        }
        ConfigChange::Promote(id) => {
            if !next.learners.remove(id) {
                return Err(format!("{id} is not a non-voter"));
            }
            next.voters.insert(id.clone());
        }
        ConfigChange::Remove(id) => {
            if !next.voters.remove(id) && !next.learners.remove(id) {
                return Err(format!("{id} is not a member"));
            }
            next.addresses.remove(id);
            if next.voters.is_empty() {
                return Err("cannot remove the last voter".to_string());
            }
        }
    }
    Ok(next)
}
