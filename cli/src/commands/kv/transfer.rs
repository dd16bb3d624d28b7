//! `concord kv export [PREFIX]` and `concord kv import [-prefix P] DATA|@file|-`.

use super::format::{self, ExportEntry};
use super::input::read_data;
use super::{kv_path, KvPair};
use crate::commands::{clean_key, fail, HttpArgs};
use crate::http_client::Client;
use base64::Engine;
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[arg(value_name = "PREFIX")]
    pub prefix: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Put every imported key under this prefix.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// The JSON of `kv export`, `@file`, or `-` for stdin.
    #[arg(value_name = "DATA", allow_hyphen_values = true)]
    pub data: Option<String>,
}

pub fn run_export(args: &ExportArgs) -> i32 {
    let prefix = clean_key(args.prefix.as_deref().unwrap_or(""));
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let pairs: Vec<KvPair> = match client.get(&kv_path(&prefix), &[("recurse", "")]) {
        Ok(reply) if reply.status == 404 => Vec::new(),
        Ok(reply) => match reply.success().and_then(|r| r.json()) {
            Ok(pairs) => pairs,
            Err(e) => return fail(format!("Error querying Concord agent: {e}")),
        },
        Err(e) => return fail(format!("Error querying Concord agent: {e}")),
    };
    println!("{}", format::export(&pairs));
    0
}

pub fn run_import(args: &ImportArgs) -> i32 {
    let entries = match import_entries(args.data.as_deref()) {
        Ok(entries) => entries,
        Err(why) => return fail(format!("Error! {why}")),
    };
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let prefix = args.prefix.as_deref().unwrap_or("");
    for entry in entries {
        let key = join_key(prefix, &entry.key);
        if let Err(why) = import_one(&client, &key, &entry) {
            return fail(format!("Error! Failed writing data for key {key}: {why}"));
        }
        println!("Imported: {key}");
    }
    0
}

/// Consul's rules: one DATA argument, `@file`, `-` for stdin, or the JSON itself.
fn import_entries(data: Option<&str>) -> Result<Vec<ExportEntry>, String> {
    let data = match data {
        None => return Err("Missing DATA argument".to_string()),
        Some("") => return Err("Empty DATA argument".to_string()),
        Some(arg) => read_data(arg)?,
    };
    serde_json::from_slice(&data).map_err(|e| format!("Cannot unmarshal data: {e}"))
}

fn import_one(client: &Client, key: &str, entry: &ExportEntry) -> Result<(), String> {
    let value = base64::engine::general_purpose::STANDARD
        .decode(&entry.value)
        .map_err(|e| format!("Cannot base 64 decode value: {e}"))?;
    let flags = entry.flags.to_string();
    let query: Vec<(&str, &str)> = if entry.flags != 0 {
        vec![("flags", &flags)]
    } else {
        vec![]
    };
    client
        .put(&kv_path(key), &query, &value)
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn join_key(prefix: &str, key: &str) -> String {
    let prefix = clean_key(prefix);
    if prefix.is_empty() {
        return clean_key(key);
    }
    format!(
        "{}/{}",
        prefix.trim_end_matches('/'),
        key.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_data_forms() {
        assert_eq!(import_entries(None).unwrap_err(), "Missing DATA argument");
        assert_eq!(import_entries(Some("")).unwrap_err(), "Empty DATA argument");
        let entries = import_entries(Some(r#"[{"key":"a","flags":3,"value":"MQ=="}]"#)).unwrap();
        assert_eq!(
            entries,
            [ExportEntry {
                key: "a".into(),
                flags: 3,
                value: "MQ==".into()
            }]
        );
        assert!(import_entries(Some("nope"))
            .unwrap_err()
            .starts_with("Cannot unmarshal data"));
    }

    #[test]
    fn prefixes_join_with_one_slash() {
        assert_eq!(join_key("", "a/b"), "a/b");
        assert_eq!(join_key("backup/", "a"), "backup/a");
        assert_eq!(join_key("backup", "a"), "backup/a");
    }
}
