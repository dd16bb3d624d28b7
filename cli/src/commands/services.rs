//! `concord services register FILE | -name=NAME ...` and `concord services deregister ID|FILE`:
//! the local agent's services, as Consul's CLI registers them (through
//! `/v1/agent/service/register`, so the agent checks and syncs them like any client's).

use super::{fail, HttpArgs};
use crate::http_client::Client;
use clap::{Args, Subcommand};
use concord_config::config_file::{parse_text, Format};
use serde_json::{json, Map, Value};

#[derive(Subcommand, Clone, Debug)]
pub enum ServicesCommand {
    /// Register a service with the local agent (from a JSON/HCL file, or from flags).
    Register(RegisterArgs),
    /// Deregister a service from the local agent (by ID, or the services of a file).
    Deregister(DeregisterArgs),
}

#[derive(Args, Clone, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The service's name (when no file is given).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The service's ID (default: its name).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// A tag (repeat for several).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// A JSON or HCL file with `service {}` or `services []`.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct DeregisterArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The ID of the service to deregister.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// A service ID, or a file whose services to deregister.
    #[arg(value_name = "ID|FILE")]
    pub target: Option<String>,
}

pub fn run(command: &ServicesCommand) -> i32 {
    let http = match command {
        ServicesCommand::Register(args) => &args.http,
        ServicesCommand::Deregister(args) => &args.http,
    };
    let client = match http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let result = match command {
        ServicesCommand::Register(args) => register(&client, args),
        ServicesCommand::Deregister(args) => deregister(&client, args),
    };
    result.unwrap_or_else(fail)
}

/// The service definitions of a file: its `service` (one or several) and `services`.
fn file_definitions(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("Error reading {path}: {e}"))?;
    let format = match path.ends_with(".hcl") {
        true => Format::Hcl,
        false => Format::Json,
    };
    let value = parse_text(&text, format).map_err(|e| format!("Error parsing {path}: {e}"))?;
    let mut definitions = Vec::new();
    for key in ["service", "services"] {
        match value.get(key) {
            Some(Value::Array(items)) => definitions.extend(items.iter().cloned()),
            Some(one @ Value::Object(_)) => definitions.push(one.clone()),
            Some(other) => {
                return Err(format!(
                    "Error parsing {path}: {key}: expected an object, got {other}"
                ))
            }
            None => {}
        }
    }
    if definitions.is_empty() {
        return Err(format!(
            "Error parsing {path}: no service definition (service {{}} or services []) found"
        ));
    }
    Ok(definitions)
}

fn flag_definition(args: &RegisterArgs) -> Result<Value, String> {
    let Some(name) = args.name.as_deref().filter(|n| !n.is_empty()) else {
        return Err("Service name is required: give a file or -name".into());
    };
    let mut definition = Map::new();
    definition.insert("Name".into(), json!(name));
    definition.insert("ID".into(), json!(args.id.as_deref().unwrap_or(name)));
    definition.insert("Port".into(), json!(args.port.unwrap_or(0)));
    definition.insert(
        "Address".into(),
        json!(args.address.as_deref().unwrap_or("")),
    );
    definition.insert("Tags".into(), json!(args.tag));
    Ok(Value::Object(definition))
}

/// The definition's name (for the message), in any key spelling.
fn field(definition: &Value, wanted: &str) -> String {
    let object = definition.as_object();
    let found = object.and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(wanted)));
    found
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn register(client: &Client, args: &RegisterArgs) -> Result<i32, String> {
    let definitions = match &args.file {
        Some(path) => file_definitions(path)?,
        None => vec![flag_definition(args)?],
    };
    for definition in definitions {
        let body = serde_json::to_vec(&definition).expect("JSON encodes");
        let name = field(&definition, "name");
        client
            .put("/v1/agent/service/register", &[], &body)
            .and_then(|r| r.success())
            .map_err(|e| format!("Error registering service {name:?}: {e}"))?;
        println!("Registered service: {name}");
    }
    Ok(0)
}

fn deregister(client: &Client, args: &DeregisterArgs) -> Result<i32, String> {
    let ids = match (&args.id, &args.target) {
        (Some(id), _) => vec![id.clone()],
        (None, Some(target)) if std::path::Path::new(target).is_file() => {
            let definitions = file_definitions(target)?;
            let id_of = |d: &Value| match field(d, "id") {
                id if id.is_empty() => field(d, "name"),
                id => id,
            };
            definitions.iter().map(id_of).collect()
        }
        (None, Some(id)) => vec![id.clone()],
        (None, None) => return Err("Service ID or file is required".into()),
    };
    for id in ids {
        let path = format!("/v1/agent/service/deregister/{}", id);
        client
            .put(&path, &[], &[])
            .and_then(|r| r.success())
            .map_err(|e| format!("Error deregistering service {id:?}: {e}"))?;
        println!("Deregistered service: {id}");
    }
    Ok(0)
}
