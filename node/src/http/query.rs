//! The query string as Consul reads it: boolean flags by presence, numbers, read consistency
//! (`?stale`, `?consistent`) and blocking parameters (`?index`, `?wait`).

use super::blocking::{Blocking, WAIT_DEFAULT, WAIT_MAX};
use super::errors::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use concord_core::agent::Consistency;
use concord_core::duration::parse_go_duration;
use std::convert::Infallible;

/// The decoded `name=value` pairs of a query string, in order. A name without `=` has an
/// empty value; it still counts as present, as in Consul.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    pub fn parse(query: &str) -> QueryParams {
        let pairs = query
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = part.split_once('=').unwrap_or((part, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        QueryParams { pairs }
    }

    /// The first value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for a repeatable `name` (`?tag=a&tag=b`), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        let values = self.pairs.iter().filter(|(n, _)| n == name);
        values.map(|(_, v)| v.clone()).collect()
    }

    /// A boolean flag: on when present (`?recurse`, `?recurse=1`, `?keys=True`), unless its
    /// value says false (`=false`, `=0`, `=no`, `=off`), which Consul would (surprisingly) still
    /// take as on.
    pub fn flag(&self, name: &str) -> bool {
        match self.get(name) {
            None => false,
            Some(value) => !matches!(
                value.to_ascii_lowercase().as_str(),
                "0" | "f" | "false" | "no" | "off"
            ),
        }
    }

    /// An unsigned integer parameter; present but not a number is the client's error.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, HttpError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value.trim().parse().map(Some).map_err(|_| {
                HttpError::bad_request(format!(
                    "Invalid ?{name}={value:?}: expected a non-negative integer"
                ))
            }),
        }
    }

    /// `?consistent` and `?stale` select the read mode; asking for both is a contradiction.
    pub fn consistency(&self) -> Result<Consistency, HttpError> {
        match (self.flag("consistent"), self.flag("stale")) {
            (true, true) => Err(HttpError::bad_request(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            )),
            (true, false) => Ok(Consistency::Consistent),
            (false, true) => Ok(Consistency::Stale),
            (false, false) => Ok(Consistency::Default),
        }
    }

    /// `?index=N` makes a read blocking, for `?wait=` (Go duration; default 5m, at most 10m).
    /// `?index=0` does not block, as in Consul.
    pub fn blocking(&self) -> Result<Option<Blocking>, HttpError> {
        let wait = match self.get("wait").filter(|w| !w.is_empty()) {
            None => WAIT_DEFAULT,
            Some(text) => parse_go_duration(text).map_err(|e| {
                HttpError::bad_request(format!("Invalid wait time: {e} (use e.g. 10s, 5m)"))
            })?,
        };
        let wait = if wait.is_zero() {
            WAIT_DEFAULT
        } else {
            wait.min(WAIT_MAX)
        };
        let min_index = self.u64("index")?.unwrap_or(0);
        Ok((min_index > 0).then_some(Blocking { min_index, wait }))
    }

    /// Concord has a single datacenter: `?dc=` naming another one cannot be served.
    pub fn check_datacenter(&self, ours: &str) -> Result<(), HttpError> {
        check_datacenter(self.get("dc").unwrap_or(""), ours)
    }

    /// `?pretty`: indent JSON answers, as Consul does.
    pub fn pretty(&self) -> bool {
        self.flag("pretty")
    }
}

/// A datacenter a request names (`?dc=`, a body's `Datacenter`): "" or ours, else Consul's
/// 500 "No path to datacenter".
pub fn check_datacenter(dc: &str, ours: &str) -> Result<(), HttpError> {
    if dc.is_empty() || dc == ours {
        return Ok(());
    }
    Err(HttpError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        format!("No path to datacenter {dc:?}: this cluster serves only {ours:?}"),
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::parse(parts.uri.query().unwrap_or("")))
    }
}

/// Decodes `%XX` escapes and `+` (a space in form encoding). Malformed escapes stay as they
/// are rather than failing the request, like Go's lenient clients expect; invalid UTF-8 is
/// replaced, since every parameter we read is text.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(byte: Option<&u8>) -> Option<u8> {
    (*byte? as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn q(text: &str) -> QueryParams {
        QueryParams::parse(text)
    }

    #[test]
    fn flags_count_by_presence_unless_false() {
        for on in [
            "recurse",
            "recurse=",
            "recurse=1",
            "recurse=true",
            "recurse=True",
            "recurse=yes",
        ] {
            assert!(q(on).flag("recurse"), "{on}");
        }
        for off in [
            "",
            "recursive",
            "recurse=false",
            "recurse=0",
            "recurse=FALSE",
            "recurse=off",
        ] {
            assert!(!q(off).flag("recurse"), "{off}");
        }
        assert!(q("a=1&keys=True&b").flag("keys"));
        assert!(q("a=1&keys=True&b").flag("b"));
    }

    #[test]
    fn values_are_percent_decoded() {
        let params = q("separator=%2F&name=a+b&odd=100%&bad=%zz&utf=%C3%A9");
        assert_eq!(params.get("separator"), Some("/"));
        assert_eq!(params.get("name"), Some("a b"));
        assert_eq!(params.get("odd"), Some("100%"));
        assert_eq!(params.get("bad"), Some("%zz"));
        assert_eq!(params.get("utf"), Some("é"));
        assert_eq!(params.get("missing"), None);
        let tags = q("tag=a&x=1&tag=b%20c");
        assert_eq!(
            (tags.all("tag"), tags.all("y")),
            (vec!["a".into(), "b c".into()], vec![])
        );
    }

    #[test]
    fn numbers_parse_or_fail_with_400() {
        assert_eq!(q("cas=42").u64("cas"), Ok(Some(42)));
        assert_eq!(q("").u64("cas"), Ok(None));
        let err = q("cas=x").u64("cas").unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(q("cas=-1").u64("cas").is_err());
    }

    #[test]
    fn consistency_modes() {
        assert_eq!(q("").consistency(), Ok(Consistency::Default));
        assert_eq!(q("consistent").consistency(), Ok(Consistency::Consistent));
        assert_eq!(q("stale=true").consistency(), Ok(Consistency::Stale));
        assert_eq!(q("stale=false").consistency(), Ok(Consistency::Default));
        let both = q("stale&consistent").consistency().unwrap_err();
        assert_eq!(both.status.as_u16(), 400);
    }

    #[test]
    fn blocking_parameters() {
        assert_eq!(q("wait=10s").blocking(), Ok(None), "no index: not blocking");
        assert_eq!(q("index=0&wait=10s").blocking(), Ok(None));
        let b = q("index=7&wait=10s").blocking().unwrap().unwrap();
        assert_eq!((b.min_index, b.wait), (7, Duration::from_secs(10)));
        let b = q("index=7").blocking().unwrap().unwrap();
        assert_eq!(b.wait, WAIT_DEFAULT);
        let b = q("index=7&wait=1h").blocking().unwrap().unwrap();
        assert_eq!(b.wait, WAIT_MAX);
        let b = q("index=7&wait=0s").blocking().unwrap().unwrap();
        assert_eq!(b.wait, WAIT_DEFAULT);
        assert_eq!(
            q("index=7&wait=5").blocking().unwrap_err().status.as_u16(),
            400
        );
        assert_eq!(q("index=x").blocking().unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn other_datacenters_are_refused() {
        assert!(q("dc=dc1").check_datacenter("dc1").is_ok());
        assert!(q("").check_datacenter("dc1").is_ok());
        let err = q("dc=eu").check_datacenter("dc1").unwrap_err();
        assert_eq!(err.status.as_u16(), 500);
        assert!(err.reason.starts_with("No path to datacenter"));
    }
}
