//! No acknowledged write is lost: every write a client saw succeed at index i is the entry
//! applied at i (checked at the end, after the liveness phase).

use concord_core::agent::apply::payload_digest;
use concord_core::agent::command::Command;
use concord_core::agent::{AppliedEntry, Request, Response};
use concord_core::kv::KvCommand;
use concord_core::raft::EntryPayload;
use std::collections::BTreeMap;

use crate::history::History;

pub fn check(history: &History, applied: &BTreeMap<u64, AppliedEntry>) -> Vec<String> {
    let mut violations = Vec::new();
    for op in &history.operations {
        let (
            Request::KvWrite { command },
            Ok(Response::KvWritten {
                index,
                applied: took,
            }),
        ) = (&op.request, &op.result)
        else {
            continue;
        };
        // A lock the leader refused before proposing it (lock-delay, an unknown session) was
        // answered false without an entry of its own.
        let lock = matches!(command, KvCommand::Lock { .. } | KvCommand::Unlock { .. });
        if lock && !took {
            continue;
        }
        let digest = payload_digest(&EntryPayload::Command(
            Command::Kv(command.clone()).encode(),
        ));
        match applied.get(index) {
            Some(entry) if entry.digest == digest => {}
            Some(entry) => violations.push(format!(
                "acknowledged write lost: {} acknowledged at {} ms as index {index}, but index {index} holds another entry (term {})",
                op.request.kind(),
                op.return_ms,
                entry.term
            )),
            None => violations.push(format!(
                "acknowledged write lost: write acknowledged at {} ms as index {index} was never applied by any server",
                op.return_ms
            )),
        }
    }
    violations
}
