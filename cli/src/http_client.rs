//! A small blocking client for the local agent's HTTP API (what Consul's `api` package does for
//! its CLI). Every non-2xx answer comes back as a `Reply` so commands can treat 404 themselves.

pub use concord_core::ports::with_default_port;
use concord_core::ports::{split_host_port, HTTP_PORT_DEFAULT};
use std::fmt;
use std::io::ErrorKind;
use std::time::Duration;

/// The largest answer read: a snapshot archive (`GET /v1/snapshot`) is the largest there is.
const REPLY_BYTES_MAX: usize = concord_node::http::snapshot_archive::SNAPSHOT_ARCHIVE_BYTES_MAX;

/// The agent's HTTP API when no flag or environment variable names one (port 8500 is added).
const HTTP_HOST_DEFAULT: &str = "127.0.0.1";

/// Where the agent is and how to authenticate, from flags and the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `host:port`
    pub addr: String,
    pub token: Option<String>,
}

impl Target {
    /// `-http-addr` first, then `-rpc-addr` (old Consul: its host, with the HTTP port), then
    /// `CONCORD_HTTP_ADDR`, `CONSUL_HTTP_ADDR`, then 127.0.0.1:8500.
    pub fn resolve(
        http_addr: Option<&str>,
        rpc_addr: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, String> {
        let addr = match (http_addr, rpc_addr) {
            (Some(addr), _) => parse_http_addr(addr)?,
            (None, Some(rpc)) => rpc_to_http_addr(rpc)?,
            (None, None) => {
                let from_env = env("CONCORD_HTTP_ADDR").or_else(|| env("CONSUL_HTTP_ADDR"));
                parse_http_addr(from_env.as_deref().unwrap_or(HTTP_HOST_DEFAULT))?
            }
        };
        let token = env("CONCORD_HTTP_TOKEN").or_else(|| env("CONSUL_HTTP_TOKEN"));
        Ok(Target { addr, token })
    }
}

/// Accepts `host:port`, `http://host:port` and a bare host (port 8500).
pub fn parse_http_addr(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.starts_with("https://") || raw.starts_with("unix://") {
        return Err(format!(
            "{raw}: only plain http:// agent addresses are supported by concord"
        ));
    }
    let rest = raw
        .strip_prefix("http://")
        .unwrap_or(raw)
        .trim_end_matches('/');
    if rest.is_empty() {
        return Err("empty HTTP address".to_string());
    }
    Ok(with_default_port(rest, HTTP_PORT_DEFAULT))
}

/// `-rpc-addr=IP:8400` of old Consul: the same host, the HTTP API port.
fn rpc_to_http_addr(raw: &str) -> Result<String, String> {
    let (host, _) = split_host_port(raw.trim());
    if host.is_empty() {
        return Err(format!("invalid -rpc-addr {raw:?}"));
    }
    Ok(with_default_port(host, HTTP_PORT_DEFAULT))
}

/// An answer from the agent, whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value (`name` in any case), `None` when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `X-Consul-Index`: the index a blocking query waits on next (0 when absent).
    pub fn consul_index(&self) -> u64 {
        self.header("x-consul-index")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The reply itself when 2xx, else Consul's "Unexpected response code" error.
    pub fn success(self) -> Result<Reply, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(HttpError::Status {
                code: self.status,
                body: self.text().trim().to_string(),
            })
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::Other(format!("invalid JSON from the agent: {e}")))
    }
}

#[derive(Debug)]
pub enum HttpError {
    /// The agent could not be reached (Go prints `dial tcp ADDR: connect: ...`).
    Connect {
        method: String,
        url: String,
        addr: String,
        detail: String,
    },
    Status {
        code: u16,
        body: String,
    },
    Other(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect {
                method,
                url,
                addr,
                detail,
            } => {
                write!(f, "{method} \"{url}\": dial tcp {addr}: connect: {detail}")
            }
            HttpError::Status { code, body } => {
                write!(f, "Unexpected response code: {code} ({body})")
            }
            HttpError::Other(why) => write!(f, "{why}"),
        }
    }
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    target: Target,
}

impl Client {
    pub fn new(target: Target) -> Client {
        let config = ureq::Agent::config_builder()
            // Non-2xx answers are data here (404 = no such key), not transport errors.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            // The agent answers within its own request timeout; this only guards a hung agent.
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        Client {
            agent: config.into(),
            target,
        }
    }

    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Reply, HttpError> {
        self.send("GET", path, query, None)
    }

    pub fn put(&self, path: &str, query: &[(&str, &str)], body: &[u8]) -> Result<Reply, HttpError> {
        self.send("PUT", path, query, Some(body))
    }

    pub fn post(&self, path: &str, query: &[(&str, &str)]) -> Result<Reply, HttpError> {
        self.send("POST", path, query, Some(&[]))
    }

    pub fn delete(&self, path: &str, query: &[(&str, &str)]) -> Result<Reply, HttpError> {
        self.send("DELETE", path, query, None)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, HttpError> {
        let url = self.url(path, query);
        let result = match (method, body) {
            ("GET", _) => self.with_token_get(self.agent.get(&url)).call(),
            ("DELETE", _) => self.with_token_get(self.agent.delete(&url)).call(),
            ("POST", body) => self
                .with_token_body(self.agent.post(&url))
                .send(body.unwrap_or(&[])),
            (_, body) => self
                .with_token_body(self.agent.put(&url))
                .send(body.unwrap_or(&[])),
        };
        let mut response = result.map_err(|e| self.transport_error(method, &url, e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(REPLY_BYTES_MAX as u64)
            .read_to_vec()
            .map_err(|e| HttpError::Other(format!("reading the agent's answer: {e}")))?;
        Ok(Reply {
            status,
            body,
            headers,
        })
    }

    /// A GET whose answer is read as it arrives, with no overall timeout (`concord monitor`
    /// follows `/v1/agent/monitor` until the agent ends it): the status, and the body.
    pub fn get_streaming(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(u16, Box<dyn std::io::Read + Send>), HttpError> {
        let url = self.url(path, query);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build();
        let agent: ureq::Agent = config.into();
        let response = self
            .with_token_get(agent.get(&url))
            .call()
            .map_err(|e| self.transport_error("GET", &url, e))?;
        let status = response.status().as_u16();
        Ok((status, Box::new(response.into_body().into_reader())))
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("http://{}{}", self.target.addr, encode_path(path));
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_component(name));
            if !value.is_empty() {
                url.push('=');
                url.push_str(&encode_component(value));
            }
        }
        url
    }

    fn with_token_get(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        match &self.target.token {
            Some(token) => request.header("X-Consul-Token", token),
            None => request,
        }
    }

    fn with_token_body(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        match &self.target.token {
            Some(token) => request.header("X-Consul-Token", token),
            None => request,
        }
    }

    fn transport_error(&self, method: &str, url: &str, error: ureq::Error) -> HttpError {
        let detail = match &error {
            ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
                "connection refused".to_string()
            }
            ureq::Error::ConnectionFailed => "connection refused".to_string(),
            ureq::Error::Io(io) => io.to_string(),
            ureq::Error::HostNotFound => "no such host".to_string(),
            ureq::Error::Timeout(_) => "i/o timeout".to_string(),
            other => return HttpError::Other(format!("{method} \"{url}\": {other}")),
        };
        HttpError::Connect {
            method: go_method_name(method),
            url: url.to_string(),
            addr: self.target.addr.clone(),
            detail,
        }
    }
}

/// Go's net/http capitalizes only the first letter in its error text (`Get "http://..."`).
fn go_method_name(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => lower,
    }
}

/// Percent-encodes a URL path, keeping `/` (KV keys are paths).
pub fn encode_path(path: &str) -> String {
    encode(path, |b| b == b'/')
}

fn encode_component(text: &str) -> String {
    encode(text, |_| false)
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn address_forms() {
        assert_eq!(
            parse_http_addr("http://10.0.0.1:8500").unwrap(),
            "10.0.0.1:8500"
        );
        assert_eq!(parse_http_addr("10.0.0.1:9500").unwrap(), "10.0.0.1:9500");
        assert_eq!(parse_http_addr("10.0.0.1").unwrap(), "10.0.0.1:8500");
        assert_eq!(parse_http_addr("http://[::1]:8500/").unwrap(), "[::1]:8500");
        assert_eq!(parse_http_addr("::1").unwrap(), "[::1]:8500");
        assert!(parse_http_addr("https://x:8501").is_err());
    }

    #[test]
    fn rpc_addr_of_old_consul_means_the_http_port_of_that_host() {
        let t = Target::resolve(None, Some("192.168.11.145:8400"), &no_env).unwrap();
        assert_eq!(t.addr, "192.168.11.145:8500");
        let t = Target::resolve(None, Some("[::1]:8400"), &no_env).unwrap();
        assert_eq!(t.addr, "[::1]:8500");
    }

    #[test]
    fn precedence_flag_then_env() {
        let env = |name: &str| match name {
            "CONSUL_HTTP_ADDR" => Some("http://10.0.0.2:8500".to_string()),
            "CONCORD_HTTP_ADDR" => Some("10.0.0.3:8500".to_string()),
            _ => None,
        };
        assert_eq!(
            Target::resolve(None, None, &env).unwrap().addr,
            "10.0.0.3:8500"
        );
        let consul_only =
            |name: &str| (name == "CONSUL_HTTP_ADDR").then(|| "http://10.0.0.2:8500".to_string());
        assert_eq!(
            Target::resolve(None, None, &consul_only).unwrap().addr,
            "10.0.0.2:8500"
        );
        let flag = Target::resolve(Some("10.0.0.9:1"), Some("10.0.0.8:8400"), &env).unwrap();
        assert_eq!(flag.addr, "10.0.0.9:1");
        assert_eq!(
            Target::resolve(None, None, &no_env).unwrap().addr,
            "127.0.0.1:8500"
        );
    }

    #[test]
    fn errors_read_like_consul() {
        let e = HttpError::Status {
            code: 500,
            body: "No cluster leader".into(),
        };
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 500 (No cluster leader)"
        );
        let e = HttpError::Connect {
            method: go_method_name("GET"),
            url: "http://127.0.0.1:8500/v1/agent/members".into(),
            addr: "127.0.0.1:8500".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Get \"http://127.0.0.1:8500/v1/agent/members\": dial tcp 127.0.0.1:8500: connect: connection refused"
        );
    }

    #[test]
    fn paths_are_percent_encoded_but_keep_slashes() {
        assert_eq!(encode_path("/v1/kv/a b/c?d"), "/v1/kv/a%20b/c%3Fd");
        assert_eq!(encode_component("a/b"), "a%2Fb");
    }
}
