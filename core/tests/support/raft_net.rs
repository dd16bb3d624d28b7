//! A network of `Raft` nodes for datadriven tests: each node with its own clock and in-memory
//! storage; messages wait in one queue until delivered, dropped or blocked by a partition.

use concord_core::raft::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Default, Clone)]
pub struct MemStorage {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

impl MemStorage {
    fn write(&mut self, ready: &Ready) {
        if let Some(save) = &ready.snapshot {
            self.snapshot = Some(save.snapshot.clone());
            self.entries = save.retained_entries.clone();
            self.hard_state = save.hard_state.clone();
        }
        if let Some(first) = ready.entries.first() {
            self.entries.retain(|e| e.index < first.index);
            self.entries.extend(ready.entries.iter().cloned());
        }
        if let Some(hs) = &ready.hard_state {
            self.hard_state = hs.clone();
        }
    }
}

pub struct TestNode {
    pub raft: Raft,
    pub now_ms: u64,
    pub storage: MemStorage,
    pub applied: Vec<String>,
    pub reads: Vec<ReadState>,
}

pub struct Network {
    pub nodes: BTreeMap<NodeId, TestNode>,
    pub queue: Vec<RaftMessage>,
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    pub options: RaftOptions,
    pub seed: u64,
    /// Copies of messages kept aside to deliver again later (stale and reordered messages).
    pub stash: Vec<RaftMessage>,
}

pub fn id(name: &str) -> NodeId {
    NodeId::new(name)
}

pub fn describe(msg: &RaftMessage) -> String {
    let head = format!(
        "{}->{} {} term={}",
        msg.from,
        msg.to,
        msg.body.kind(),
        msg.term
    );
    match &msg.body {
        RaftBody::RequestVote {
            last_log_index,
            last_log_term,
            transfer,
            ..
        } => {
            format!(
                "{head} last={last_log_index}/{last_log_term}{}",
                if *transfer { " transfer" } else { "" }
            )
        }
        RaftBody::RequestVoteResponse { granted, .. } => format!("{head} granted={granted}"),
        RaftBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            ..
        } => {
            let list: Vec<String> = entries.iter().map(entry_short).collect();
            format!(
                "{head} prev={prev_log_index}/{prev_log_term} commit={leader_commit} entries=[{}]",
                list.join(" ")
            )
        }
        RaftBody::AppendEntriesResponse {
            success: true,
            match_index,
            ..
        } => format!("{head} ok match={match_index}"),
        RaftBody::AppendEntriesResponse {
            match_index,
            hint_index,
            hint_term,
            ..
        } => {
            format!("{head} reject at={match_index} hint={hint_index}/{hint_term}")
        }
        RaftBody::InstallSnapshot {
            meta,
            offset_bytes,
            data,
            done,
        } => format!(
            "{head} snap={}/{} offset={offset_bytes} len={} done={done}",
            meta.last_index,
            meta.last_term,
            data.len()
        ),
        RaftBody::InstallSnapshotResponse {
            next_offset_bytes,
            done,
            last_index,
        } => {
            format!("{head} next={next_offset_bytes} done={done} last={last_index}")
        }
        RaftBody::TimeoutNow => head,
    }
}

pub fn entry_short(e: &Entry) -> String {
    let what = match &e.payload {
        EntryPayload::Noop => "noop".to_string(),
        EntryPayload::Command(data) => String::from_utf8_lossy(data).to_string(),
        EntryPayload::Config(c) => format!("conf(v={} l={})", names(&c.voters), names(&c.learners)),
    };
    format!("{}/{}:{what}", e.index, e.term)
}

pub fn names(set: &BTreeSet<NodeId>) -> String {
    set.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(",")
}

impl Network {
    pub fn new() -> Network {
        Network {
            nodes: BTreeMap::new(),
            queue: Vec::new(),
            blocked: BTreeSet::new(),
            options: RaftOptions::fast(),
            seed: 1,
            stash: Vec::new(),
        }
    }

    pub fn add_node(&mut self, name: &str) {
        let seed = self.seed * 1000 + self.nodes.len() as u64;
        let raft = Raft::new(
            id(name),
            self.options.clone(),
            seed,
            0,
            RaftRestore::default(),
        );
        let node = TestNode {
            raft,
            now_ms: 0,
            storage: MemStorage::default(),
            applied: Vec::new(),
            reads: Vec::new(),
        };
        self.nodes.insert(id(name), node);
    }

    pub fn node(&mut self, name: &str) -> &mut TestNode {
        self.nodes
            .get_mut(&id(name))
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Restarts a node from what its storage holds (everything unsynced is lost: here, nothing).
    pub fn restart(&mut self, name: &str) {
        let node = self.node(name);
        let storage = node.storage.clone();
        let restore = RaftRestore {
            hard_state: storage.hard_state.clone(),
            snapshot: storage.snapshot.clone(),
            entries: storage.entries.clone(),
        };
        let now_ms = node.now_ms;
        let options = self.options.clone();
        let applied: Vec<String> = Vec::new();
        let node = self.node(name);
        node.raft = Raft::new(id(name), options, 77, now_ms, restore);
        node.applied = applied;
    }

    /// Runs one Ready of `name`: persist, queue messages, apply. Returns what happened.
    pub fn process_ready(&mut self, name: &str, out: &mut String) {
        let node = self.node(name);
        let ready = node.raft.poll_ready();
        if ready.is_empty() {
            return;
        }
        node.storage.write(&ready);
        if let Some((index, term)) = ready.last_entry() {
            node.raft.on_persisted(index, term);
        }
        if let Some(save) = ready.snapshot.as_ref().filter(|s| s.restore) {
            let meta = &save.snapshot.meta;
            writeln!(
                out,
                "{name} restored snapshot {}/{}",
                meta.last_index, meta.last_term
            )
            .unwrap();
            node.applied.push(format!(
                "snapshot({})",
                String::from_utf8_lossy(&save.snapshot.data)
            ));
        }
        for entry in &ready.committed {
            node.applied.push(entry_short(entry));
            writeln!(out, "{name} applied {}", entry_short(entry)).unwrap();
        }
        for read in &ready.read_states {
            writeln!(out, "{name} read {} index={:?}", read.read_id, read.index).unwrap();
            node.reads.push(read.clone());
        }
        if let Some(leader) = &ready.leader_changed {
            writeln!(
                out,
                "{name} leader={}",
                leader.as_ref().map_or("none", |l| l.as_str())
            )
            .unwrap();
        }
        // Early messages (a leader's appends) were sent before the write; the rest after.
        let mut messages = ready.early_messages;
        messages.extend(ready.messages);
        // Anything the persist report released (a lone leader's commit) goes out next round.
        self.queue.append(&mut messages);
    }

    pub fn process_all(&mut self, out: &mut String) {
        let names: Vec<String> = self.nodes.keys().map(|n| n.0.clone()).collect();
        for name in names {
            self.process_ready(&name, out);
        }
    }

    /// Delivers queued messages addressed to `to` (all when None); drops blocked ones.
    /// Delivers the queued messages (to `to` only, if given), dropping the first `drop_count`.
    pub fn deliver(&mut self, to: Option<&str>, drop_count: usize, out: &mut String) {
        let (take, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|m| to.is_none_or(|t| m.to.as_str() == t));
        self.queue = keep;
        for (position, msg) in take.into_iter().enumerate() {
            let drop = position < drop_count;
            let blocked = self.blocked.contains(&(msg.from.clone(), msg.to.clone()));
            let verb = if drop || blocked { "dropped" } else { "" };
            writeln!(
                out,
                "{}{}",
                describe(&msg),
                if verb.is_empty() {
                    String::new()
                } else {
                    format!(" ({verb})")
                }
            )
            .unwrap();
            if drop || blocked || !self.nodes.contains_key(&msg.to) {
                continue;
            }
            let node = self.nodes.get_mut(&msg.to).unwrap();
            let now_ms = node.now_ms;
            node.raft.step(now_ms, msg);
        }
    }

    /// Processes and delivers until nothing moves.
    pub fn stabilize(&mut self, out: &mut String) {
        for _ in 0..200 {
            self.process_all(out);
            self.process_all(out);
            if self.queue.is_empty() {
                return;
            }
            self.deliver(None, 0, out);
        }
        panic!("network did not stabilize in 200 rounds");
    }

    pub fn status(&self, name: &str) -> String {
        let node = &self.nodes[&id(name)];
        let r = &node.raft;
        format!(
            "{name}: {} term={} leader={} commit={} applied={} last={} voters={} learners={}",
            r.role().name(),
            r.term(),
            r.leader().map_or("none", |l| l.as_str()),
            r.commit_index(),
            r.applied_index(),
            r.last_index(),
            names(&r.config().voters),
            names(&r.config().learners),
        )
    }
}
