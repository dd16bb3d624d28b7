//! `-log-level` / `log_level`: Consul's level names. One definition for the agent's flags,
//! its config files and `/v1/agent/monitor`: the node's (`concord_node::log_level`).

pub use concord_node::log_level::LogLevel as Level;
