//! Who may hold HTTP connections: at most `http_max_conns_per_client` from one address (Consul's
//! `limits.http_max_conns_per_client`) and `http_conns_max` in total, so that one client opening
//! thousands of idle connections can neither starve other clients nor take the file descriptors
//! the cluster ports need. The excess is answered as Consul answers it, then closed at once.

use crate::config::HttpLimits;
use crate::transport::limits::{Admitted, ConnTable, Refusal};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// File descriptors kept for everything but HTTP connections: the cluster ports' inbound
/// connections (capped by `INBOUND_CONNS_MAX`) and outbound ones (one per peer, `PEERS_MAX`),
/// plus listeners, storage files, stdio and the runtime's own.
pub const FDS_RESERVED: usize =
    crate::transport::limits::INBOUND_CONNS_MAX + crate::transport::PEERS_MAX + FDS_OTHER;
const FDS_OTHER: usize = 256;
/// Below this many HTTP connections in total the agent is not usable: refuse to start.
pub const HTTP_CONNS_MIN: usize = 64;
/// How long a refused client gets to take its answer (go-connlimit's 10ms in Consul).
const REFUSAL_WRITE_TIMEOUT_MS: u64 = 10;

/// go-connlimit's answer, byte for byte, as Consul sends it.
const TOO_MANY_PER_CLIENT: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 81\r\nConnection: close\r\n\r\nYour IP is issuing too many concurrent connections, please rate limit your calls\n";
/// Over the total cap (Concord's own bound; Consul has none).
const TOO_MANY_TOTAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 35\r\nConnection: close\r\n\r\nThe agent has too many connections\n";

/// The HTTP connection limits of one agent, shared by all of its HTTP listeners.
#[derive(Debug)]
pub struct HttpConns {
    pub limits: HttpLimits,
    pub http_conns_max: usize,
    table: Arc<ConnTable>,
    pub refused_per_client: AtomicU64,
    pub refused_total: AtomicU64,
}

impl HttpConns {
    pub fn new(limits: HttpLimits, http_conns_max: usize) -> Arc<HttpConns> {
        assert!(limits.idle_timeout_ms > 0);
        Arc::new(HttpConns {
            table: ConnTable::new(limits.http_max_conns_per_client, http_conns_max),
            limits,
            http_conns_max,
            refused_per_client: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
        })
    }

    /// The process's limits: raises the open-file limit to its hard limit (as Go does at start)
    /// and keeps `FDS_RESERVED` of it away from HTTP. An error says what to raise.
    pub fn for_process(limits: HttpLimits) -> Result<Arc<HttpConns>, String> {
        let nofile = raise_nofile_limit();
        Ok(HttpConns::new(limits, http_conns_max(nofile)?))
    }

    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refusal> {
        let admitted = self.table.admit(ip);
        match admitted {
            Err(Refusal::PerClient) => self.refused_per_client.fetch_add(1, Ordering::Relaxed),
            Err(Refusal::Total) => self.refused_total.fetch_add(1, Ordering::Relaxed),
            Ok(_) => 0,
        };
        admitted
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.idle_timeout_ms)
    }
}

/// Answers a refused connection (without reading its request) and closes it.
pub async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let answer = match refusal {
        Refusal::PerClient => TOO_MANY_PER_CLIENT,
        Refusal::Total => TOO_MANY_TOTAL,
    };
    let write = stream.write_all(answer);
    let _ = tokio::time::timeout(Duration::from_millis(REFUSAL_WRITE_TIMEOUT_MS), write).await;
}

/// HTTP's share of `nofile` descriptors.
pub fn http_conns_max(nofile: u64) -> Result<usize, String> {
    let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
    if nofile < FDS_FLOOR {
        return Err(format!("the open-file limit (RLIMIT_NOFILE) is {nofile}, Concord needs at least {FDS_FLOOR}: raise it with ulimit -n"));
    }
    if nofile < FDS_RESERVED + HTTP_CONNS_MIN {
        // A small host limit (1024 is common) still runs a small cluster: HTTP gets a
        // quarter, the rest stays for the cluster ports and storage.
        let http = nofile / 4;
        tracing::warn!(target: "concord", "the open-file limit (RLIMIT_NOFILE) is {nofile}, under the {} Concord keeps for a large cluster: HTTP may hold {http} connections; raise it with ulimit -n", FDS_RESERVED + HTTP_CONNS_MIN);
        assert!(http >= HTTP_CONNS_MIN / 4 && http < nofile);
        return Ok(http);
    }
    let http = nofile - FDS_RESERVED;
    assert!(http >= HTTP_CONNS_MIN && http + FDS_RESERVED <= nofile);
    Ok(http)
}

/// Under this open-file limit the agent refuses to start: too few for anything but a toy.
const FDS_FLOOR: usize = 256;

const OPEN_MAX: libc::rlim_t = 10_240;

/// Raises the soft open-file limit to the hard one; returns the soft limit in force after.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    if limit.rlim_cur < limit.rlim_max {
        // macOS reports an unlimited hard limit but refuses more than OPEN_MAX: try that next.
        for rlim_cur in [limit.rlim_max, limit.rlim_max.min(OPEN_MAX)] {
            let raised = libc::rlimit { rlim_cur, ..limit };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                return rlim_cur;
            }
        }
        tracing::warn!(
            "agent: cannot raise the open-file limit from {} to {}",
            limit.rlim_cur,
            limit.rlim_max
        );
    }
    limit.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_are_well_formed() {
        for answer in [TOO_MANY_PER_CLIENT, TOO_MANY_TOTAL] {
            let text = std::str::from_utf8(answer).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, body.len(), "{head}");
        }
    }

    #[test]
    fn the_reserve_fits_in_the_fd_limit_or_start_is_refused() {
        assert_eq!(http_conns_max(20_000).unwrap(), 20_000 - FDS_RESERVED);
        assert_eq!(
            http_conns_max(1_024).unwrap(),
            256,
            "a small limit still starts"
        );
        let err = http_conns_max(200).unwrap_err();
        assert!(err.contains("RLIMIT_NOFILE) is 200"), "{err}");
    }
}
