//! `concord catalog services|nodes|datacenters`: the catalog as Consul's CLI prints it.

use super::{fail, HttpArgs};
use crate::http_client::Client;
use crate::row;
use crate::table::columnize;
use clap::{Args, Subcommand};
use concord_node::api_types::catalog::{CatalogNode, CatalogService};
use std::collections::BTreeMap;

/// Consul prints the first characters of a node's UUID in `catalog nodes`.
const NODE_ID_PREFIX_CHARS: usize = 8;

#[derive(Subcommand, Clone, Debug)]
pub enum CatalogCommand {
    /// List the services in the catalog.
    Services(ServicesArgs),
    /// List the nodes in the catalog.
    Nodes(NodesArgs),
    /// List the known datacenters.
    Datacenters(DatacentersArgs),
}

#[derive(Args, Clone, Debug)]
pub struct ServicesArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Show each service's tags too.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tags: Option<bool>,
}

#[derive(Args, Clone, Debug)]
pub struct NodesArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Only the nodes that run an instance of this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct DatacentersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

pub fn run(command: &CatalogCommand) -> i32 {
    let http = match command {
        CatalogCommand::Services(args) => &args.http,
        CatalogCommand::Nodes(args) => &args.http,
        CatalogCommand::Datacenters(args) => &args.http,
    };
    let client = match http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let result = match command {
        CatalogCommand::Services(args) => services(&client, args),
        CatalogCommand::Nodes(args) => nodes(&client, args),
        CatalogCommand::Datacenters(_) => datacenters(&client),
    };
    // An empty text: nothing matched, and the reason is already on stderr.
    match result {
        Ok(text) if text.is_empty() => 0,
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(why) => fail(why),
    }
}

fn get_json<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
    what: &str,
) -> Result<T, String> {
    let reply = client.get(path, &[]).and_then(|r| r.success());
    reply
        .and_then(|r| r.json())
        .map_err(|e| format!("Error listing {what}: {e}"))
}

fn services(client: &Client, args: &ServicesArgs) -> Result<String, String> {
    let services: BTreeMap<String, Vec<String>> =
        get_json(client, "/v1/catalog/services", "services")?;
    if services.is_empty() {
        eprintln!("No services match the given query - try expanding your search.");
        return Ok(String::new());
    }
    Ok(services_text(&services, args.tags.unwrap_or(false)))
}

/// One service a line, by name (a map orders them); with tags, their list as a second column.
pub fn services_text(services: &BTreeMap<String, Vec<String>>, tags: bool) -> String {
    if !tags {
        return services.keys().cloned().collect::<Vec<_>>().join("\n");
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|(name, tags)| row![name, tags.join(",")])
        .collect();
    columnize(&rows)
}

fn nodes(client: &Client, args: &NodesArgs) -> Result<String, String> {
    let nodes: Vec<CatalogNode> = match &args.service {
        None => get_json(client, "/v1/catalog/nodes", "nodes")?,
        Some(name) => {
            let path = format!("/v1/catalog/service/{}", name);
            let instances: Vec<CatalogService> = get_json(client, &path, "nodes")?;
            instances.into_iter().map(node_of).collect()
        }
    };
    if nodes.is_empty() {
        eprintln!("No nodes match the given query - try expanding your search.");
        return Ok(String::new());
    }
    Ok(nodes_text(nodes))
}

fn node_of(instance: CatalogService) -> CatalogNode {
    CatalogNode {
        id: instance.id,
        node: instance.node,
        address: instance.address,
        datacenter: instance.datacenter,
        ..CatalogNode::default()
    }
}

/// Consul's table: Node, ID (its first characters), Address, DC; by node, once each.
pub fn nodes_text(mut nodes: Vec<CatalogNode>) -> String {
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    nodes.dedup_by(|a, b| a.node == b.node);
    let mut rows = vec![row!["Node", "ID", "Address", "DC"]];
    for node in &nodes {
        let id: String = node.id.chars().take(NODE_ID_PREFIX_CHARS).collect();
        rows.push(row![node.node, id, node.address, node.datacenter]);
    }
    columnize(&rows)
}

fn datacenters(client: &Client) -> Result<String, String> {
    let dcs: Vec<String> = get_json(client, "/v1/catalog/datacenters", "datacenters")?;
    Ok(dcs.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_one_a_line_with_tags_as_a_column() {
        let mut services = BTreeMap::new();
        services.insert("web".to_string(), vec!["v1".to_string(), "v2".to_string()]);
        services.insert("db".to_string(), vec![]);
        assert_eq!(services_text(&services, false), "db\nweb");
        assert_eq!(services_text(&services, true), "db\nweb  v1,v2");
    }

    #[test]
    fn nodes_are_a_table_with_short_ids() {
        let node = |name: &str, id: &str| CatalogNode {
            id: id.into(),
            node: name.into(),
            address: "10.0.0.1".into(),
            datacenter: "dc1".into(),
            ..CatalogNode::default()
        };
        let text = nodes_text(vec![
            node("n2", ""),
            node("n1", "0123456789ab"),
            node("n2", ""),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Node  ID        Address   DC",
                "n1    01234567  10.0.0.1  dc1",
                "n2              10.0.0.1  dc1"
            ]
        );
    }
}
