//! `concord kv delete [-recurse] [-cas -modify-index N] KEY`.

use super::{kv_path, written};
use crate::commands::{clean_key, fail, HttpArgs};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Delete every key under the prefix.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub recurse: Option<bool>,
    /// Delete only if the key's ModifyIndex is -modify-index.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub cas: Option<bool>,
    /// The ModifyIndex that -cas expects.
    #[arg(long, value_name = "N")]
    pub modify_index: Option<u64>,
    #[arg(value_name = "KEY_OR_PREFIX")]
    pub key: Option<String>,
}

pub fn run(args: &DeleteArgs) -> i32 {
    let key = clean_key(args.key.as_deref().unwrap_or(""));
    let (recurse, cas) = (args.recurse.unwrap_or(false), args.cas.unwrap_or(false));
    if key.is_empty() && !recurse {
        return fail("Error! Missing KEY argument");
    }
    if cas && recurse {
        return fail("Cannot specify both -cas and -recurse!");
    }
    if cas && args.modify_index.is_none() {
        return fail("Must specify -modify-index with -cas!");
    }
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let index = args.modify_index.map(|i| i.to_string());
    let mut query: Vec<(&str, &str)> = Vec::new();
    if recurse {
        query.push(("recurse", ""));
    }
    if let (true, Some(index)) = (cas, &index) {
        query.push(("cas", index));
    }
    let what = if recurse { "prefix" } else { "key" };
    match client
        .delete(&kv_path(&key), &query)
        .and_then(|r| r.success())
    {
        Ok(reply) if cas && !written(&reply.body) => {
            fail(format!("Error! Did not delete key {key}: CAS failed"))
        }
        Ok(_) if recurse => {
            println!("Success! Deleted keys with prefix: {key}");
            0
        }
        Ok(_) => {
            println!("Success! Deleted key: {key}");
            0
        }
        Err(e) => fail(format!("Error! Did not delete {what} {key}: {e}")),
    }
}
