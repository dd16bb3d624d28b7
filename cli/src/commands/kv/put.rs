//! `concord kv put [-flags N] [-cas -modify-index N] KEY [VALUE|@file|-]`.

use super::input::read_data;
use super::{kv_path, written};
use crate::commands::{clean_key, fail, HttpArgs};
use base64::Engine;
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct PutArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// An unsigned number stored with the value.
    #[arg(long, value_name = "N")]
    pub flags: Option<u64>,
    /// Write only if the key's ModifyIndex is -modify-index (0: only if absent).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub cas: Option<bool>,
    /// The ModifyIndex that -cas expects.
    #[arg(long, value_name = "N")]
    pub modify_index: Option<u64>,
    /// The value is base64; store the decoded bytes.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub base64: Option<bool>,
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// The value, `@file` to read a file, or `-` to read stdin (default: empty).
    #[arg(value_name = "DATA", allow_hyphen_values = true)]
    pub data: Option<String>,
}

pub fn run(args: &PutArgs) -> i32 {
    let key = clean_key(args.key.as_deref().unwrap_or(""));
    if key.is_empty() {
        return fail("Error! Missing KEY argument");
    }
    let cas = args.cas.unwrap_or(false);
    if cas && args.modify_index.is_none() {
        return fail("Must specify -modify-index with -cas!");
    }
    let value = match value_of(args) {
        Ok(value) => value,
        Err(why) => return fail(format!("Error! {why}")),
    };
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let flags = args.flags.map(|f| f.to_string());
    let index = args.modify_index.map(|i| i.to_string());
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(flags) = &flags {
        query.push(("flags", flags));
    }
    if let (true, Some(index)) = (cas, &index) {
        query.push(("cas", index));
    }
    match client
        .put(&kv_path(&key), &query, &value)
        .and_then(|r| r.success())
    {
        Ok(reply) if written(&reply.body) => {
            println!("Success! Data written to: {key}");
            0
        }
        Ok(_) if cas => fail(format!("Error! Did not write to {key}: CAS failed")),
        Ok(_) => fail(format!("Error! Did not write to {key}")),
        Err(e) => fail(format!("Error! Failed writing data: {e}")),
    }
}

fn value_of(args: &PutArgs) -> Result<Vec<u8>, String> {
    let data = match args.data.as_deref() {
        Some(arg) => read_data(arg)?,
        None => Vec::new(),
    };
    if !args.base64.unwrap_or(false) {
        return Ok(data);
    }
    let text = String::from_utf8_lossy(&data);
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("Cannot base 64 decode data: {e}"))
}
