//! Client sockets made inside a machine's network namespace. A socket keeps the namespace it
//! was made in, so one thread per namespace enters it once (setns) and makes sockets on
//! request; tokio connects them, so a slow connect never holds up the next one. The runner's
//! requests thus reach the agent's own 127.0.0.1 and never cross the switch, as the
//! simulator's in-process clients never cross its network.

use std::io;
use std::net::SocketAddr;
use std::os::fd::FromRawFd;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use super::netns;

enum Ask {
    /// A fresh unconnected TCP socket of this address family (true: IPv6).
    Socket(bool, oneshot::Sender<io::Result<std::net::TcpStream>>),
    Stop,
}

/// Makes TCP connections from inside one namespace. Cheap to clone; all clones share the
/// namespace's thread, which ends when the `Network` is dropped.
#[derive(Clone)]
pub struct Connector {
    namespace: Arc<str>,
    tx: mpsc::Sender<Ask>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Connector {
    /// Starts the namespace's thread. If it cannot enter the namespace, every connect says why.
    pub fn start(namespace: &str) -> Connector {
        let (tx, rx) = mpsc::channel();
        let name = namespace.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("connector-{namespace}"))
            .spawn(move || serve(&name, &rx))
            .map_err(|e| eprintln!("connector {namespace}: no thread: {e}"))
            .ok();
        Connector {
            namespace: namespace.into(),
            tx,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A TCP connection to `addr` made inside the namespace, within `timeout`.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<tokio::net::TcpStream> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let gone = || {
            io::Error::other(format!(
                "connector {}: its network is torn down",
                self.namespace
            ))
        };
        self.tx
            .send(Ask::Socket(addr.is_ipv6(), reply_tx))
            .map_err(|_| gone())?;
        let std_socket = reply_rx.await.map_err(|_| gone())??;
        std_socket.set_nonblocking(true)?;
        let socket = tokio::net::TcpSocket::from_std_stream(std_socket);
        match tokio::time::timeout(timeout, socket.connect(addr)).await {
            Ok(result) => result.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("connect {addr} in {}: {e}", self.namespace),
                )
            }),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connect {addr} in {}: no answer in {} ms",
                    self.namespace,
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// Ends the namespace's thread (so it holds the namespace no longer) and waits for it.
    pub fn stop(&self) {
        let _ = self.tx.send(Ask::Stop);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The namespace's thread: enters once, then makes sockets until told to stop.
fn serve(namespace: &str, rx: &mpsc::Receiver<Ask>) {
    let entered = netns::enter(namespace);
    while let Ok(Ask::Socket(ipv6, reply)) = rx.recv() {
        let socket = match &entered {
            Ok(()) => tcp_socket(ipv6),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("connector {namespace}: {e}"),
            )),
        };
        let _ = reply.send(socket);
    }
}

fn tcp_socket(ipv6: bool) -> io::Result<std::net::TcpStream> {
    let family = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: socket(2) returns a fresh fd or -1.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, unconnected TCP socket owned by nobody else.
    Ok(unsafe { std::net::TcpStream::from_raw_fd(fd) })
}
