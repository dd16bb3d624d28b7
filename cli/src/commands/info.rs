//! `concord info`: the `Stats` sections of `/v1/agent/self` (agent, build, consul, raft,
//! serf_lan, runtime) as `consul info` prints them: `section:` then a tab-indented
//! `key = value` line per entry, sections and keys sorted.

use super::{fail, HttpArgs};
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Args, Clone, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

pub fn run(args: &InfoArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let reply = client.get("/v1/agent/self", &[]).and_then(|r| r.success());
    let agent_self: Value = match reply.and_then(|r| r.json()) {
        Ok(value) => value,
        Err(e) => return fail(format!("Error querying agent: {e}")),
    };
    match stats_of(&agent_self) {
        Some(sections) => {
            print!("{}", render(&sections));
            0
        }
        None => fail("Error querying agent: its /v1/agent/self has no Stats"),
    }
}

/// Consul's `Stats`: `{"section": {"key": "value"}}`.
fn stats_of(agent_self: &Value) -> Option<Sections> {
    let stats = agent_self.get("Stats")?.as_object()?;
    let mut sections = Sections::new();
    for (name, entries) in stats {
        let entries = entries.as_object()?;
        let lines = entries.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
        sections.insert(name.clone(), lines);
    }
    Some(sections)
}

/// A JSON scalar as text (strings without quotes).
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `section:` then a tab-indented `key = value` line per entry, sections and keys sorted.
pub fn render(sections: &Sections) -> String {
    let mut out = String::new();
    for (name, entries) in sections {
        out.push_str(&format!("{name}:\n"));
        for (key, value) in entries {
            out.push_str(&format!("\t{key} = {value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn consul_stats_are_printed_sorted_as_given() {
        let agent_self = json!({"Stats": {
            "raft": {"term": "2", "state": "Leader"},
            "agent": {"services": "1"}
        }});
        let text = render(&stats_of(&agent_self).unwrap());
        assert_eq!(
            text,
            "agent:\n\tservices = 1\nraft:\n\tstate = Leader\n\tterm = 2\n"
        );
    }

    #[test]
    fn an_answer_without_stats_is_not_taken_for_empty_sections() {
        assert!(stats_of(&json!({"Config": {}})).is_none());
        assert!(stats_of(&json!({"Stats": {"raft": "oops"}})).is_none());
    }
}
