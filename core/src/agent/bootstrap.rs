//! Forming the first cluster with `-bootstrap-expect N`, never two.
//!
//! A fresh server waits until it knows N servers of its datacenter with the same N and none
//! already in a cluster. The initial configuration X is the N lowest-named of them, and only
//! the lowest-named server of X proposes it. Each server promises at most one X; X is
//! committed (every member writes X as log entry 1) only when all N promised it. Two different
//! configurations would need disjoint sets of promisers, so with fewer than 2N fresh servers
//! exactly one cluster forms, however joins race. A server that already has Raft state refuses,
//! and the proposer then waits to be added to that cluster instead.

use super::wire::{BootstrapMessage, WireMessage};
use super::{Agent, LogLevel};
use crate::raft::{ClusterConfig, NodeId};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub struct Bootstrap {
    expect: u32,
    promised: Option<Vec<String>>,
    proposal: Option<Proposal>,
    /// A cluster exists already: never bootstrap, wait to be added.
    abandoned: bool,
}

#[derive(Clone, Debug)]
struct Proposal {
    config: Vec<String>,
    promises: BTreeSet<String>,
}

impl Bootstrap {
    pub fn new(expect: u32) -> Bootstrap {
        Bootstrap {
            expect,
            promised: None,
            proposal: None,
            abandoned: false,
        }
    }
}

impl Agent {
    /// Raft's own definition, the one `Raft::bootstrap` checks: the two must never disagree.
    fn raft_is_fresh(&self) -> bool {
        self.raft.as_ref().is_some_and(|r| r.is_fresh())
    }

    /// Called on every gossip round while bootstrapping may be due.
    pub(super) fn tick_bootstrap(&mut self) {
        if self.bootstrap.expect == 0 || self.bootstrap.abandoned || !self.raft_is_fresh() {
            return;
        }
        let servers = self
            .membership
            .alive_servers(&self.config.datacenter, self.now_ms);
        if servers.iter().any(|s| s.in_raft) {
            self.bootstrap.abandoned = true;
            self.log(
                LogLevel::Info,
                "bootstrap: a cluster exists already; waiting to be added".into(),
            );
            return;
        }
        let mut names: Vec<String> = servers
            .iter()
            .filter(|s| s.bootstrap_expect == self.bootstrap.expect)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        if names.len() < self.bootstrap.expect as usize {
            return;
        }
        names.truncate(self.bootstrap.expect as usize);
        if names[0] != self.config.node_name {
            return;
        }
        self.propose_bootstrap(names);
    }

    fn propose_bootstrap(&mut self, config: Vec<String>) {
        let fresh = self
            .bootstrap
            .proposal
            .as_ref()
            .is_none_or(|p| p.config != config);
        if fresh {
            self.bootstrap.proposal = Some(Proposal {
                config: config.clone(),
                promises: BTreeSet::new(),
            });
        }
        let me = self.config.node_name.clone();
        // Our own promise first, through the same rule as anyone's.
        let (granted, _) = self.promise(&config);
        if granted {
            self.on_promise(me, config.clone(), true, false);
        }
        let waiting_on: Vec<String> = match &self.bootstrap.proposal {
            Some(p) => config
                .iter()
                .filter(|n| !p.promises.contains(*n))
                .cloned()
                .collect(),
            None => return,
        };
        for name in waiting_on {
            if let Some(addr) = self.membership.get(&name).map(|m| m.rpc_addr.clone()) {
                self.send(
                    addr,
                    WireMessage::Bootstrap(BootstrapMessage::Propose {
                        config: config.clone(),
                    }),
                );
            }
        }
    }

    /// Promises `config` unless we promised another or hold Raft state. (granted, already)
    fn promise(&mut self, config: &[String]) -> (bool, bool) {
        if !self.raft_is_fresh() {
            return (false, true);
        }
        let expected_size = config.len() == self.bootstrap.expect as usize;
        if !config.contains(&self.config.node_name) || !expected_size {
            return (false, false); // not a configuration this server may start
        }
        match &self.bootstrap.promised {
            Some(promised) if promised.as_slice() != config => (false, false),
            _ => {
                self.bootstrap.promised = Some(config.to_vec());
                (true, false)
            }
        }
    }

    pub(super) fn on_bootstrap_message(&mut self, from_addr: String, msg: BootstrapMessage) {
        if self.raft.is_none() {
            self.stats.messages_dropped += 1;
            return;
        }
        match msg {
            BootstrapMessage::Propose { config } => {
                let (granted, already_bootstrapped) = self.promise(&config);
                let reply = BootstrapMessage::Promise {
                    config,
                    granted,
                    already_bootstrapped,
                };
                self.send(from_addr, WireMessage::Bootstrap(reply));
            }
            BootstrapMessage::Promise {
                config,
                granted,
                already_bootstrapped,
            } => {
                let from = self
                    .membership
                    .list(self.now_ms)
                    .into_iter()
                    .find(|(m, _)| m.rpc_addr == from_addr);
                if let Some((member, _)) = from {
                    self.on_promise(member.name, config, granted, already_bootstrapped);
                }
            }
            BootstrapMessage::Commit { config, addrs } => self.commit_bootstrap(&config, &addrs),
        }
    }

    fn on_promise(
        &mut self,
        from: String,
        config: Vec<String>,
        granted: bool,
        already_bootstrapped: bool,
    ) {
        if already_bootstrapped {
            self.bootstrap.proposal = None;
            self.bootstrap.abandoned = true;
            return;
        }
        let Some(proposal) = self
            .bootstrap
            .proposal
            .as_mut()
            .filter(|p| p.config == config)
        else {
            return;
        };
        if granted && config.contains(&from) {
            proposal.promises.insert(from);
        }
        if proposal.promises.len() < config.len() {
            return;
        }
        let me = self.config.node_name.clone();
        let addrs: Vec<String> = config
            .iter()
            .map(|n| {
                self.membership
                    .get(n)
                    .map(|m| m.rpc_addr.clone())
                    .unwrap_or_default()
            })
            .collect();
        for (name, addr) in config.iter().zip(&addrs).filter(|(n, _)| **n != me) {
            let commit = BootstrapMessage::Commit {
                config: config.clone(),
                addrs: addrs.clone(),
            };
            let _ = name;
            self.send(addr.clone(), WireMessage::Bootstrap(commit));
        }
        self.commit_bootstrap(&config, &addrs);
    }

    /// Writes the agreed configuration as entry 1, if we promised exactly it.
    fn commit_bootstrap(&mut self, config: &[String], addrs: &[String]) {
        if self.bootstrap.promised.as_deref() != Some(config) || addrs.len() != config.len() {
            return;
        }
        if !self.raft_is_fresh() {
            // A server that bootstrapped first asked for our vote before its commit arrived
            // (fuzz seed 40317), or a cluster added us meanwhile: its leader gives us entry 1.
            self.log(
                LogLevel::Info,
                "bootstrap: raft has state already; the leader will replicate the configuration"
                    .into(),
            );
            return;
        }
        let mut cluster = ClusterConfig::with_voters(config.iter().map(NodeId::new));
        cluster.addresses = config
            .iter()
            .map(NodeId::new)
            .zip(addrs.iter().cloned())
            .collect();
        let raft = self.raft.as_mut().expect("servers have raft");
        if let Err(e) = raft.bootstrap(cluster) {
            // Unreachable while `raft_is_fresh` is Raft's own test; a remote message must
            // never panic a node all the same.
            self.stats.messages_dropped += 1;
            self.log(LogLevel::Warn, format!("bootstrap: not committed: {e}"));
            return;
        }
        self.bootstrap.proposal = None;
        self.membership.update_me(|me| me.in_raft = true);
        self.log(
            LogLevel::Info,
            format!("bootstrap: formed the cluster with {}", config.join(", ")),
        );
    }

    /// Whether this server is still waiting to form or join a cluster.
    pub fn awaiting_bootstrap(&self) -> bool {
        self.raft_is_fresh()
    }
}
