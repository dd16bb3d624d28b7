//! `concord watch -type=key|keyprefix|services|nodes|service|checks [options] [HANDLER...]`, as
//! Consul's: a loop of blocking queries; each time the answer changes (the first answer
//! counts) HANDLER runs with the answer as JSON on stdin and `CONSUL_INDEX` in its environment.
//! Without a handler the first answer is printed as indented JSON and the watch ends.

use super::blocking::{blocking_get, next_index};
use super::{clean_key, fail, subprocess, HttpArgs};
use crate::http_client::{Client, HttpError};
use clap::Args;
use concord_node::api_types::catalog::{CatalogNode, HealthCheck, ServiceEntry};
use concord_node::api_types::KvPair;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

/// One blocking read (the server adds up to 1/16 of jitter; below the client's own timeout).
const WATCH_WAIT: Duration = Duration::from_secs(60);
/// Consul's watch retry: 5 s times the square of the failures in a row, at most 180 s.
const RETRY_BASE: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(180);

#[derive(Args, Clone, Debug)]
#[command(override_usage = "concord watch [options] [child...]")]
pub struct WatchArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The watch type: key, keyprefix, services, nodes, service or checks.
    #[arg(long = "type", value_name = "TYPE")]
    pub watch_type: Option<String>,
    /// The key to watch (type key).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The key prefix to watch (type keyprefix).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// The service to watch: required for type service, optional for checks.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The service tag to filter on (type service).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only instances passing all their checks (type service): true or false.
    #[arg(long, value_name = "BOOL")]
    pub passingonly: Option<String>,
    /// The check state to watch (type checks): any, passing, warning or critical.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Read from any server, even without a leader.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub stale: Option<bool>,
    /// Use a shell to run the handler (can set a custom shell via the SHELL environment
    /// variable).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub shell: Option<bool>,
    /// The handler to run on each change.
    #[arg(value_name = "CHILD", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub handler: Vec<String>,
}

/// What is watched: one HTTP read each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    Key(String),
    KeyPrefix(String),
    Services,
    Nodes,
    Service {
        name: String,
        tag: Option<String>,
        passing_only: bool,
    },
    /// Checks of a service, or (`None`) in a state (`any` when neither is given).
    Checks {
        service: Option<String>,
        state: String,
    },
}

/// The answer of one read, as Consul's Go types encode it (field order kept; a missing key or
/// an empty prefix is `null`, as Go's nil).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Data {
    Key(Option<KvPair>),
    Pairs(Option<Vec<KvPair>>),
    Services(BTreeMap<String, Vec<String>>),
    Nodes(Vec<CatalogNode>),
    Entries(Vec<ServiceEntry>),
    Checks(Vec<HealthCheck>),
}

/// The watch the flags describe, with Consul's errors (`watch.Parse`).
pub fn parse(args: &WatchArgs) -> Result<Watch, String> {
    let Some(kind) = args.watch_type.as_deref().filter(|t| !t.is_empty()) else {
        return Err("Watch type must be specified".to_string());
    };
    let given = |name: &'static str, value: &Option<String>| {
        value.as_ref().filter(|v| !v.is_empty()).map(|_| name)
    };
    let mut unused: Vec<&str> = [
        given("key", &args.key),
        given("passingonly", &args.passingonly),
        given("prefix", &args.prefix),
        given("service", &args.service),
        given("state", &args.state),
        given("tag", &args.tag),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut take = |name: &str, value: &Option<String>| {
        unused.retain(|u| *u != name);
        value.clone().filter(|v| !v.is_empty())
    };
    let watch = match kind {
        "key" => Watch::Key(take("key", &args.key).ok_or("Must specify a single key to watch")?),
        "keyprefix" => Watch::KeyPrefix(
            take("prefix", &args.prefix).ok_or("Must specify a single prefix to watch")?,
        ),
        "services" => Watch::Services,
        "nodes" => Watch::Nodes,
        "service" => service_watch(
            take("service", &args.service),
            take("tag", &args.tag),
            take("passingonly", &args.passingonly),
        )?,
        "checks" => checks_watch(take("service", &args.service), take("state", &args.state))?,
        other => return Err(format!("Unsupported watch type: {other}")),
    };
    if !unused.is_empty() {
        return Err(format!("Invalid parameters: [{}]", unused.join(" ")));
    }
    Ok(watch)
}

fn service_watch(
    name: Option<String>,
    tag: Option<String>,
    passing: Option<String>,
) -> Result<Watch, String> {
    let name = name.ok_or("Must specify a single service to watch")?;
    let passing_only = match passing.as_deref() {
        None => false,
        Some(text) => parse_go_bool(text)
            .ok_or_else(|| format!("Failed to parse passingonly flag: strconv.ParseBool: parsing {text:?}: invalid syntax"))?,
    };
    Ok(Watch::Service {
        name,
        tag,
        passing_only,
    })
}

fn checks_watch(service: Option<String>, state: Option<String>) -> Result<Watch, String> {
    if service.is_some() && state.is_some() {
        return Err("Cannot specify service and state".to_string());
    }
    Ok(Watch::Checks {
        state: state.unwrap_or_else(|| {
            if service.is_some() {
                String::new()
            } else {
                "any".into()
            }
        }),
        service,
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

pub fn run(args: &WatchArgs) -> i32 {
    let watch = match parse(args) {
        Ok(watch) => watch,
        Err(why) => return fail(why),
    };
    let client = match args.http.connected_client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let stale = args.stale.unwrap_or(false);
    super::signals::exit_on_shutdown();
    let handler = Handler {
        words: args.handler.clone(),
        shell: args.shell.unwrap_or(true),
    };
    run_loop(&client, &watch, stale, &handler)
}

/// Consul's plan loop: read, and hand each changed answer to the handler; the exit code.
fn run_loop(client: &Client, watch: &Watch, stale: bool, handler: &Handler) -> i32 {
    let mut last_index: Option<u64> = None;
    let mut last_data: Option<Data> = None;
    let mut failures: u32 = 0;
    loop {
        let (index, data) = match read(client, watch, stale, last_index.unwrap_or(0)) {
            Ok(answer) => answer,
            Err(e) => {
                failures += 1;
                let retry = (RETRY_BASE * failures.saturating_mul(failures)).min(RETRY_MAX);
                eprintln!(
                    "Watch errored: type={} error={e} retry={retry:?}",
                    watch.name()
                );
                last_index = None;
                std::thread::sleep(retry);
                continue;
            }
        };
        failures = 0;
        if last_index == Some(index) {
            continue;
        }
        let previous = last_index;
        last_index = Some(next_index(previous.unwrap_or(0), index));
        if previous.is_some() && last_data.as_ref() == Some(&data) {
            continue;
        }
        match handler.handle(index, &data) {
            Ok(true) => last_data = Some(data),
            Ok(false) => return 0,
            Err(why) => return fail(why),
        }
    }
}

impl Watch {
    fn name(&self) -> &'static str {
        match self {
            Watch::Key(_) => "key",
            Watch::KeyPrefix(_) => "keyprefix",
            Watch::Services => "services",
            Watch::Nodes => "nodes",
            Watch::Service { .. } => "service",
            Watch::Checks { .. } => "checks",
        }
    }

    /// The path (not yet percent-encoded) and query of its read, without the blocking
    /// parameters.
    fn request(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            Watch::Key(key) => (format!("/v1/kv/{}", clean_key(key)), vec![]),
            Watch::KeyPrefix(prefix) => (
                format!("/v1/kv/{}", clean_key(prefix)),
                vec![("recurse", String::new())],
            ),
            Watch::Services => ("/v1/catalog/services".into(), vec![]),
            Watch::Nodes => ("/v1/catalog/nodes".into(), vec![]),
            Watch::Service {
                name,
                tag,
                passing_only,
            } => {
                let mut query = vec![];
                if let Some(tag) = tag {
                    query.push(("tag", tag.clone()));
                }
                if *passing_only {
                    query.push(("passing", String::new()));
                }
                (format!("/v1/health/service/{name}"), query)
            }
            Watch::Checks {
                service: Some(s), ..
            } => (format!("/v1/health/checks/{s}"), vec![]),
            Watch::Checks { state, .. } => (format!("/v1/health/state/{state}"), vec![]),
        }
    }
}

/// One (blocking) read: the index to wait on next and the answer.
fn read(client: &Client, watch: &Watch, stale: bool, index: u64) -> Result<(u64, Data), HttpError> {
    let (path, mut query) = watch.request();
    if stale {
        query.push(("stale", String::new()));
    }
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The client percent-encodes the path.
    let reply = blocking_get(client, &path, &query, index, WATCH_WAIT)?;
    let reply_index = reply.consul_index();
    let missing = reply.status == 404;
    let data = match watch {
        Watch::Key(_) if missing => Data::Key(None),
        Watch::KeyPrefix(_) if missing => Data::Pairs(None),
        Watch::Key(_) => Data::Key(reply.success()?.json::<Vec<KvPair>>()?.into_iter().next()),
        Watch::KeyPrefix(_) => Data::Pairs(Some(reply.success()?.json()?)),
        Watch::Services => Data::Services(reply.success()?.json()?),
        Watch::Nodes => Data::Nodes(reply.success()?.json()?),
        Watch::Service { .. } => Data::Entries(reply.success()?.json()?),
        Watch::Checks { .. } => Data::Checks(reply.success()?.json()?),
    };
    Ok((reply_index, data))
}

/// What to do with each changed answer.
struct Handler {
    words: Vec<String>,
    shell: bool,
}

impl Handler {
    /// Prints or hands `data` to the handler; whether the watch goes on.
    fn handle(&self, index: u64, data: &Data) -> Result<bool, String> {
        if self.words.is_empty() {
            println!("{}", indented_json(data));
            return Ok(false);
        }
        let mut input = serde_json::to_vec(data).expect("watch data encodes");
        input.push(b'\n'); // Go's json.Encoder ends with a newline
        let mut command = subprocess::command(&self.words, self.shell)
            .map_err(|e| format!("Error executing handler: {e}"))?;
        let mut child = command
            .env("CONSUL_INDEX", index.to_string())
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("Error starting handler: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A handler that does not read its input closes the pipe: not an error.
            let _ = stdin.write_all(&input);
        }
        let status = child
            .wait()
            .map_err(|e| format!("Error executing handler: {e}"))?;
        if !status.success() {
            return Err(format!(
                "Error executing handler: {}",
                subprocess::status_text(status)
            ));
        }
        Ok(true)
    }
}

/// Go's `json.MarshalIndent(data, "", "    ")`.
fn indented_json(data: &Data) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    data.serialize(&mut serializer).expect("watch data encodes");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kind: &str) -> WatchArgs {
        WatchArgs {
            http: HttpArgs::default(),
            watch_type: Some(kind.to_string()),
            key: None,
            prefix: None,
            service: None,
            tag: None,
            passingonly: None,
            state: None,
            stale: None,
            shell: None,
            handler: vec![],
        }
    }

    #[test]
    fn consuls_parse_errors() {
        let mut a = args("");
        assert_eq!(parse(&a).unwrap_err(), "Watch type must be specified");
        a.watch_type = Some("event".into());
        assert_eq!(parse(&a).unwrap_err(), "Unsupported watch type: event");
        assert_eq!(
            parse(&args("key")).unwrap_err(),
            "Must specify a single key to watch"
        );
        assert_eq!(
            parse(&args("service")).unwrap_err(),
            "Must specify a single service to watch"
        );
        let mut a = args("services");
        a.key = Some("k".into());
        assert_eq!(parse(&a).unwrap_err(), "Invalid parameters: [key]");
        let mut a = args("checks");
        a.service = Some("web".into());
        a.state = Some("critical".into());
        assert_eq!(parse(&a).unwrap_err(), "Cannot specify service and state");
        let mut a = args("service");
        a.service = Some("web".into());
        a.passingonly = Some("yes".into());
        assert!(parse(&a)
            .unwrap_err()
            .starts_with("Failed to parse passingonly flag"));
    }

    #[test]
    fn each_type_reads_consuls_endpoint() {
        let mut a = args("key");
        a.key = Some("/app/config".into());
        assert_eq!(parse(&a).unwrap().request().0, "/v1/kv/app/config");
        let mut a = args("service");
        a.service = Some("web".into());
        a.tag = Some("v1".into());
        a.passingonly = Some("true".into());
        let (path, query) = parse(&a).unwrap().request();
        assert_eq!(path, "/v1/health/service/web");
        assert_eq!(
            query,
            [("tag", "v1".to_string()), ("passing", String::new())]
        );
        assert_eq!(
            parse(&args("checks")).unwrap().request().0,
            "/v1/health/state/any"
        );
        let mut a = args("checks");
        a.service = Some("web".into());
        assert_eq!(parse(&a).unwrap().request().0, "/v1/health/checks/web");
    }

    #[test]
    fn output_is_gos_indented_json_with_null_for_nothing() {
        assert_eq!(indented_json(&Data::Key(None)), "null");
        let pair = KvPair {
            key: "k".into(),
            ..KvPair::default()
        };
        let text = indented_json(&Data::Key(Some(pair)));
        assert!(
            text.starts_with("{\n    \"LockIndex\": 0,\n    \"Key\": \"k\","),
            "{text}"
        );
    }
}
