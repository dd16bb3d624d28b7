//! The Consul-compatible HTTP API (being written).
