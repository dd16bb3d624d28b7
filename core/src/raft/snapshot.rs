//! Log compaction and InstallSnapshot, sent in chunks of `snapshot_chunk_bytes_max`, up to
//! `inflight_messages_max` of them a round trip.

use super::message::RaftBody;
use super::progress::{OutgoingSnapshot, ReplicationState};
use super::ready::SnapshotToSave;
use super::state::{IncomingSnapshot, Raft, Role};
use super::types::{EntryPayload, HardState, NodeId, Snapshot, SnapshotMeta};
use std::sync::Arc;

/// The largest snapshot a follower accepts; beyond it the transfer is refused and restarted.
pub const SNAPSHOT_SIZE_BYTES_MAX: usize = 1 << 30;

impl Raft {
    /// The state machine captured everything up to `index` in `data`: drop those entries.
    /// `index` must be applied and durable here.
    pub fn compact(&mut self, index: u64, data: Vec<u8>) {
        assert!(
            index <= self.log.applied_index,
            "{}: compacting unapplied index {index}",
            self.id
        );
        assert!(
            index <= self.log.persisted_index(),
            "{}: compacting undurable index {index}",
            self.id
        );
        if index <= self.log.snapshot_meta().last_index {
            return;
        }
        let last_term = self.log.term_at(index).expect("index is in the log");
        let meta = SnapshotMeta {
            last_index: index,
            last_term,
            config: self.config_at(index),
        };
        self.log.compact(meta.clone());
        self.snapshot_data = Arc::new(data);
        self.queue_snapshot_save(false);
    }

    /// The configuration in force at `index`: the last configuration entry at or before it.
    fn config_at(&self, index: u64) -> super::types::ClusterConfig {
        let from_log = self
            .log
            .iter()
            .rev()
            .filter(|e| e.index <= index)
            .find_map(|e| match &e.payload {
                EntryPayload::Config(c) => Some(c.clone()),
                _ => None,
            });
        from_log.unwrap_or_else(|| self.log.snapshot_meta().config.clone())
    }

    fn queue_snapshot_save(&mut self, restore: bool) {
        let snapshot = Snapshot {
            meta: self.log.snapshot_meta().clone(),
            data: self.snapshot_data.to_vec(),
        };
        let hard_state = HardState {
            term: self.term,
            voted_for: self.voted_for.clone(),
            commit_index: self.log.commit_index,
        };
        let retained_entries = self.log.handed_out_entries();
        self.snapshot_to_save = Some(SnapshotToSave {
            snapshot,
            hard_state,
            retained_entries,
            restore,
        });
    }

    /// The follower needs entries we compacted: switch it to snapshot transfer.
    pub(super) fn start_snapshot(&mut self, to: &NodeId) -> bool {
        let snapshot = OutgoingSnapshot {
            meta: self.log.snapshot_meta().clone(),
            data: Arc::clone(&self.snapshot_data),
        };
        let progress = self.progress.get_mut(to).expect("peer has progress");
        progress.state = ReplicationState::Snapshot {
            snapshot,
            acked_offset_bytes: 0,
            burst_end_bytes: None,
            confirmed: false,
        };
        progress.inflight.clear();
        self.send_snapshot_chunks(to)
    }

    /// Sends the next burst of chunks, from what the follower holds, once it holds all of the
    /// last burst (or a heartbeat gave that up as lost). A burst is one chunk until the
    /// follower has answered one whole (`confirmed`), then `inflight_messages_max` chunks. One round trip moves up to
    /// `inflight_messages_max` chunks: at a few bytes a chunk, one at a time would take minutes.
    pub(super) fn send_snapshot_chunks(&mut self, to: &NodeId) -> bool {
        let chunk_bytes_max = self.options.snapshot_chunk_bytes_max;
        let progress = self.progress.get_mut(to).expect("peer has progress");
        let ReplicationState::Snapshot {
            snapshot,
            acked_offset_bytes,
            burst_end_bytes,
            confirmed,
        } = &mut progress.state
        else {
            unreachable!("sending a snapshot chunk outside snapshot state");
        };
        if burst_end_bytes.is_some() {
            return false;
        }
        let chunks_max = if *confirmed {
            self.options.inflight_messages_max
        } else {
            1
        };
        let snapshot = snapshot.clone();
        let size_bytes = snapshot.data.len();
        let mut start = (*acked_offset_bytes as usize).min(size_bytes);
        let mut bodies = Vec::new();
        let mut end = start;
        while bodies.len() < chunks_max {
            end = (start + chunk_bytes_max).min(size_bytes);
            bodies.push(RaftBody::InstallSnapshot {
                meta: snapshot.meta.clone(),
                offset_bytes: start as u64,
                data: snapshot.data[start..end].to_vec(),
                done: end == size_bytes,
            });
            if end == size_bytes {
                break;
            }
            start = end;
        }
        assert!(!bodies.is_empty() && bodies.len() <= chunks_max);
        *burst_end_bytes = Some(end as u64);
        for body in bodies {
            self.send(to.clone(), body);
        }
        true
    }

    pub(super) fn on_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        offset_bytes: u64,
        data: Vec<u8>,
        done: bool,
    ) {
        if self.role == Role::Leader {
            panic!(
                "{}: two leaders in term {} ({} and {from})",
                self.id, self.term, self.id
            );
        }
        self.accept_leader(&from);
        let last_index = meta.last_index;
        if last_index <= self.log.commit_index {
            let commit_index = self.log.commit_index;
            let body = RaftBody::InstallSnapshotResponse {
                next_offset_bytes: 0,
                done: true,
                last_index: commit_index,
            };
            self.send(from, body);
            return;
        }
        let chunk_end_bytes = offset_bytes + data.len() as u64;
        let next_offset_bytes = self.receive_chunk(meta, offset_bytes, data);
        // Only a last chunk that was itself taken completes the snapshot: after a lost chunk,
        // the last one arrives at the wrong offset and the data received so far is a prefix.
        let installed = done
            && next_offset_bytes == chunk_end_bytes
            && self
                .incoming_snapshot
                .as_ref()
                .is_some_and(|s| s.data.len() as u64 == next_offset_bytes);
        if installed {
            self.install_incoming_snapshot();
        }
        let body = RaftBody::InstallSnapshotResponse {
            next_offset_bytes,
            done: installed,
            last_index,
        };
        self.send(from, body);
    }

    /// Adds a chunk to the snapshot being received; returns the offset wanted next.
    fn receive_chunk(&mut self, meta: SnapshotMeta, offset_bytes: u64, data: Vec<u8>) -> u64 {
        // A first chunk starts the snapshot over only if it is another snapshot: a repeated one
        // (the network duplicates, bursts are resent) must not throw away what came since.
        let same = self
            .incoming_snapshot
            .as_ref()
            .is_some_and(|s| s.meta == meta);
        if offset_bytes == 0 && !same {
            self.incoming_snapshot = Some(IncomingSnapshot {
                meta: meta.clone(),
                data: Vec::new(),
            });
        }
        let Some(incoming) = self.incoming_snapshot.as_mut() else {
            return 0;
        };
        if incoming.meta != meta {
            return 0;
        }
        if incoming.data.len() as u64 != offset_bytes {
            return incoming.data.len() as u64; // a chunk was lost or repeated: ask for the right one
        }
        if incoming.data.len() + data.len() > SNAPSHOT_SIZE_BYTES_MAX {
            self.incoming_snapshot = None;
            return 0;
        }
        incoming.data.extend_from_slice(&data);
        incoming.data.len() as u64
    }

    fn install_incoming_snapshot(&mut self) {
        let incoming = self.incoming_snapshot.take().expect("a complete snapshot");
        assert!(incoming.meta.last_index > self.log.commit_index);
        self.log.install_snapshot(incoming.meta);
        self.snapshot_data = Arc::new(incoming.data);
        self.reload_config_from_log();
        self.queue_snapshot_save(true);
    }

    pub(super) fn on_install_snapshot_response(
        &mut self,
        from: NodeId,
        next_offset_bytes: u64,
        done: bool,
        last_index: u64,
    ) {
        let Some(progress) = self
            .progress
            .get_mut(&from)
            .filter(|_| self.role == Role::Leader)
        else {
            self.stats.messages_dropped_unexpected += 1;
            return;
        };
        progress.recently_active = true;
        progress.last_heard_ms = Some(self.now_ms);
        if done {
            progress.state = ReplicationState::Probe {
                waiting_for_reply: false,
            };
            progress.next_index = progress.next_index.max(last_index + 1);
            progress.on_match(last_index, self.now_ms);
            self.maybe_commit();
            self.send_append(&from);
            return;
        }
        let ReplicationState::Snapshot {
            snapshot,
            acked_offset_bytes,
            burst_end_bytes,
            confirmed,
        } = &mut progress.state
        else {
            return;
        };
        if snapshot.meta.last_index != last_index {
            return; // answers a chunk of an earlier transfer
        }
        // The follower's offset only grows while it receives this snapshot; zero means it has
        // none of it (it restarted, or took another snapshot meanwhile): start over.
        if next_offset_bytes == 0 {
            *acked_offset_bytes = 0;
        } else {
            *acked_offset_bytes = (*acked_offset_bytes).max(next_offset_bytes);
        }
        assert!(*acked_offset_bytes <= snapshot.data.len() as u64);
        if burst_end_bytes.is_some_and(|end| *acked_offset_bytes >= end) {
            *burst_end_bytes = None;
            *confirmed = true;
            self.send_snapshot_chunks(&from);
        }
    }
}
