//! Log compaction and InstallSnapshot, sent in chunks of `snapshot_chunk_bytes_max`.

use super::message::RaftBody;
use super::progress::ReplicationState;
use super::ready::SnapshotToSave;
use super::state::{IncomingSnapshot, Raft, Role};
use super::types::{EntryPayload, HardState, NodeId, Snapshot, SnapshotMeta};

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
        self.snapshot_data = data;
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
            data: self.snapshot_data.clone(),
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
        let last_index = self.log.snapshot_meta().last_index;
        let progress = self.progress.get_mut(to).expect("peer has progress");
        progress.state = ReplicationState::Snapshot {
            last_index,
            offset_bytes: 0,
            waiting_for_reply: false,
        };
        progress.inflight.clear();
        self.send_snapshot_chunk(to)
    }

    pub(super) fn send_snapshot_chunk(&mut self, to: &NodeId) -> bool {
        let meta = self.log.snapshot_meta().clone();
        let progress = self.progress.get_mut(to).expect("peer has progress");
        let ReplicationState::Snapshot {
            last_index,
            offset_bytes,
            waiting_for_reply,
        } = &mut progress.state
        else {
            unreachable!("sending a snapshot chunk outside snapshot state");
        };
        if *waiting_for_reply {
            return false;
        }
        if *last_index != meta.last_index {
            // We compacted again meanwhile: start over with the newer snapshot.
            *last_index = meta.last_index;
            *offset_bytes = 0;
        }
        let start = (*offset_bytes as usize).min(self.snapshot_data.len());
        let end = (start + self.options.snapshot_chunk_bytes_max).min(self.snapshot_data.len());
        *waiting_for_reply = true;
        let body = RaftBody::InstallSnapshot {
            meta,
            offset_bytes: start as u64,
            data: self.snapshot_data[start..end].to_vec(),
            done: end == self.snapshot_data.len(),
        };
        self.send(to.clone(), body);
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
        if offset_bytes == 0 {
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
        self.snapshot_data = incoming.data;
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
        if let ReplicationState::Snapshot {
            offset_bytes,
            waiting_for_reply,
            ..
        } = &mut progress.state
        {
            *offset_bytes = next_offset_bytes;
            *waiting_for_reply = false;
            self.send_snapshot_chunk(&from);
        }
    }
}
