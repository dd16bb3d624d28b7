//! The checker's input: a client-observed KV history, in the checker's own small types so it
//! stays independent of the agent API (the simulator converts its `history::Operation`s).

/// What a client asked for. Every operation touches exactly one key, which is what lets the
/// checker split the history per key (P-compositionality).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Write unconditionally.
    Put { key: String, value: Vec<u8> },
    /// Read one key.
    Get { key: String },
    /// Delete one key (no error if absent).
    Delete { key: String },
    /// Write only if the key's ModifyIndex equals `expect_modify_index`; 0 means "only if
    /// absent" (Consul's `?cas=`). The model needs the write indexes of the key's earlier
    /// writes (`Operation::index`) to decide it; where they are unknown it accepts either result.
    Cas {
        key: String,
        value: Vec<u8>,
        expect_modify_index: u64,
    },
    /// Delete only if the key's ModifyIndex equals `expect_modify_index`; applied (`Ok`) also
    /// when the key is absent, whatever it expects (Consul's `DELETE ?cas=`).
    DeleteCas {
        key: String,
        expect_modify_index: u64,
    },
}

impl KvOp {
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. }
            | KvOp::Get { key }
            | KvOp::Delete { key }
            | KvOp::Cas { key, .. }
            | KvOp::DeleteCas { key, .. } => key,
        }
    }

    /// A short name for explanations.
    pub fn kind(&self) -> &'static str {
        match self {
            KvOp::Put { .. } => "put",
            KvOp::Get { .. } => "get",
            KvOp::Delete { .. } => "delete",
            KvOp::Cas { .. } => "cas",
            KvOp::DeleteCas { .. } => "delete-cas",
        }
    }
}

/// What the client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutcome {
    /// A put or delete was applied; a cas or delete-cas was applied (`applied: true`).
    Ok,
    /// A cas or delete-cas completed and was not applied (`applied: false`): its check failed
    /// at its linearization point. Only valid for `Cas` and `DeleteCas`.
    Rejected,
    /// A get's result: the value, or `None` if the key was absent. Only valid for `Get`.
    Value(Option<Vec<u8>>),
    /// Timed out or failed ambiguously: the operation may take effect at any time after its
    /// invoke, or never. `return_ms` is ignored (taken as infinity).
    Unknown,
    /// Definitely did not take effect (refused before it was proposed): dropped.
    Failed,
}

/// One client operation, with the real times the client sent it and saw its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: u64,
    pub op: KvOp,
    pub outcome: KvOutcome,
    pub invoke_ms: u64,
    /// Ignored for `Unknown` outcomes (use `u64::MAX` there, by convention).
    pub return_ms: u64,
    /// For writes acknowledged with `Ok`: the Raft index they were applied at (Consul's
    /// ModifyIndex of the key after the write). Optional; used to decide `Cas` and by the
    /// stale-read check to order writes. `None` means unknown.
    pub index: Option<u64>,
}

impl Operation {
    /// An operation without a write index.
    pub fn new(
        client: u64,
        op: KvOp,
        outcome: KvOutcome,
        invoke_ms: u64,
        return_ms: u64,
    ) -> Operation {
        Operation {
            client,
            op,
            outcome,
            invoke_ms,
            return_ms,
            index: None,
        }
    }

    /// The same operation, acknowledged at Raft index `index`.
    pub fn at_index(mut self, index: u64) -> Operation {
        self.index = Some(index);
        self
    }
}
