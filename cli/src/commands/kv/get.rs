//! `concord kv get [-recurse | -keys | -detailed] KEY`.

use super::{format, kv_path, KvPair};
use crate::commands::{clean_key, fail, HttpArgs};
use crate::http_client::{Client, HttpError};
use clap::Args;
use std::io::Write;

#[derive(Args, Clone, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Print every field of the entry, not just the value.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub detailed: Option<bool>,
    /// Print `key:value` for every key under the prefix.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub recurse: Option<bool>,
    /// Print key names under the prefix, up to the separator.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub keys: Option<bool>,
    /// With -keys: list only up to this separator (default "/").
    #[arg(long, value_name = "SEP", default_value = "/")]
    pub separator: String,
    /// Print values base64-encoded.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub base64: Option<bool>,
    /// Read from any server, even without a leader.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub stale: Option<bool>,
    #[arg(value_name = "KEY_OR_PREFIX")]
    pub key: Option<String>,
}

pub fn run(args: &GetArgs) -> i32 {
    let key = clean_key(args.key.as_deref().unwrap_or(""));
    let (keys, recurse) = (args.keys.unwrap_or(false), args.recurse.unwrap_or(false));
    if key.is_empty() && !(keys || recurse) {
        return fail("Error! Missing KEY argument");
    }
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let result = if keys {
        get_keys(&client, &key, args)
    } else if recurse {
        get_recurse(&client, &key, args)
    } else {
        get_one(&client, &key, args)
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(format!("Error querying Concord agent: {e}")),
    }
}

fn stale_query(args: &GetArgs) -> Vec<(&'static str, &'static str)> {
    if args.stale.unwrap_or(false) {
        vec![("stale", "")]
    } else {
        vec![]
    }
}

fn get_one(client: &Client, key: &str, args: &GetArgs) -> Result<i32, HttpError> {
    let reply = client.get(&kv_path(key), &stale_query(args))?;
    if reply.status == 404 {
        return Ok(fail(format!("Error! No key exists at: {key}")));
    }
    let pairs: Vec<KvPair> = reply.success()?.json()?;
    let Some(pair) = pairs.first() else {
        return Ok(fail(format!("Error! No key exists at: {key}")));
    };
    let base64 = args.base64.unwrap_or(false);
    let out = if args.detailed.unwrap_or(false) {
        format::detailed(pair, base64)
    } else {
        format::plain(pair, base64)
    };
    write_stdout(&out);
    Ok(0)
}

fn get_recurse(client: &Client, prefix: &str, args: &GetArgs) -> Result<i32, HttpError> {
    let mut query = stale_query(args);
    query.push(("recurse", ""));
    let reply = client.get(&kv_path(prefix), &query)?;
    // Nothing under the prefix: Consul prints nothing and succeeds.
    if reply.status == 404 {
        return Ok(0);
    }
    let pairs: Vec<KvPair> = reply.success()?.json()?;
    let base64 = args.base64.unwrap_or(false);
    let out = if args.detailed.unwrap_or(false) {
        format::detailed_list(&pairs, base64)
    } else {
        pairs
            .iter()
            .flat_map(|p| format::recurse_line(p, base64))
            .collect()
    };
    write_stdout(&out);
    Ok(0)
}

fn get_keys(client: &Client, prefix: &str, args: &GetArgs) -> Result<i32, HttpError> {
    let mut query = stale_query(args);
    query.push(("keys", ""));
    if !args.separator.is_empty() {
        query.push(("separator", &args.separator));
    }
    let reply = client.get(&kv_path(prefix), &query)?;
    if reply.status == 404 {
        return Ok(0);
    }
    let keys: Vec<String> = reply.success()?.json()?;
    for key in keys {
        println!("{key}");
    }
    Ok(0)
}

fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}
