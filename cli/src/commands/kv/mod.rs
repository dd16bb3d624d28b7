//! `concord kv get | put | delete | export | import`: the KV store through the agent's HTTP API.

mod delete;
mod format;
mod get;
mod input;
mod put;
mod transfer;

use base64::Engine;
use clap::Subcommand;

#[derive(Subcommand, Clone, Debug)]
pub enum KvCommand {
    /// Read a key, or list keys under a prefix.
    Get(get::GetArgs),
    /// Write a key.
    Put(put::PutArgs),
    /// Delete a key, or every key under a prefix.
    Delete(delete::DeleteArgs),
    /// Print keys under a prefix as JSON, for `kv import`.
    Export(transfer::ExportArgs),
    /// Write keys from `kv export` JSON.
    Import(transfer::ImportArgs),
}

pub fn run(command: &KvCommand) -> i32 {
    match command {
        KvCommand::Get(args) => get::run(args),
        KvCommand::Put(args) => put::run(args),
        KvCommand::Delete(args) => delete::run(args),
        KvCommand::Export(args) => transfer::run_export(args),
        KvCommand::Import(args) => transfer::run_import(args),
    }
}

/// One entry of `GET /v1/kv/...`: the shape the agent's HTTP server writes.
pub use concord_node::api_types::KvPair;

/// The raw value of a pair (empty when the agent sent `null` or bad base64).
pub fn pair_bytes(pair: &KvPair) -> Vec<u8> {
    let text = pair.value.as_deref().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default()
}

/// `true`/`false` bodies of KV writes and deletes.
fn written(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).trim() == "true"
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{key}")
}
