//! Messages Raft servers send each other. Every message carries the sender's term.

use super::types::{Entry, NodeId, SnapshotMeta};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftMessage {
    pub from: NodeId,
    pub to: NodeId,
    pub term: u64,
    pub body: RaftBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftBody {
    /// `pre_vote`: asks "would you vote for me?" without anyone changing term.
    /// `transfer`: sent after TimeoutNow, so it may interrupt a live leader.
    RequestVote {
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
        transfer: bool,
    },
    RequestVoteResponse {
        granted: bool,
        pre_vote: bool,
    },
    /// `read_seq` lets the leader count this round trip as a confirmation for ReadIndex.
    AppendEntries {
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
        read_seq: u64,
    },
    /// On success `match_index` is the last index known to agree with the leader.
    /// On rejection `hint_index`/`hint_term` let the leader skip a whole term at once.
    AppendEntriesResponse {
        success: bool,
        match_index: u64,
        hint_index: u64,
        hint_term: u64,
        read_seq: u64,
    },
    /// One chunk of a snapshot; `done` marks the last.
    InstallSnapshot {
        meta: SnapshotMeta,
        offset_bytes: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        done: bool,
    },
    /// `next_offset_bytes` is where the follower wants the next chunk; `done` means installed.
    InstallSnapshotResponse {
        next_offset_bytes: u64,
        done: bool,
        last_index: u64,
    },
    /// Leader transfer: "campaign now, you are up to date".
    TimeoutNow,
}

impl RaftBody {
    /// A short name for traces and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            RaftBody::RequestVote { pre_vote: true, .. } => "PreVote",
            RaftBody::RequestVote { .. } => "RequestVote",
            RaftBody::RequestVoteResponse { pre_vote: true, .. } => "PreVoteResp",
            RaftBody::RequestVoteResponse { .. } => "RequestVoteResp",
            RaftBody::AppendEntries { .. } => "AppendEntries",
            RaftBody::AppendEntriesResponse { .. } => "AppendEntriesResp",
            RaftBody::InstallSnapshot { .. } => "InstallSnapshot",
            RaftBody::InstallSnapshotResponse { .. } => "InstallSnapshotResp",
            RaftBody::TimeoutNow => "TimeoutNow",
        }
    }
}
