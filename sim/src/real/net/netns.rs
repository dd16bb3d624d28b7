//! Network namespaces and TUN devices: the `ip` commands that make and remove them, and
//! `in_namespace`, which runs a closure on a short-lived thread that has entered one (a socket
//! or a TUN device keeps the namespace it was made in, so the runner's own threads never move).

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

/// The TUN device's name inside each namespace (each namespace has its own name space).
pub const TUN_NAME: &str = "crtun0";
/// The largest MTU a TUN device takes: fewer packets for the 512 KiB values of the scenarios.
pub const TUN_MTU_BYTES: u32 = 65_535;
/// Packets the kernel queues toward the switch before it drops; above the TUN default of 500
/// so that a burst of small datagrams survives a switch that is busy for a moment.
pub const TUN_TXQUEUE_PACKETS: u32 = 2_000;
/// `/run/netns` names are file names; keep them to a safe alphabet and length.
const NAMESPACE_NAME_BYTES_MAX: usize = 64;

// <linux/if_tun.h>: the ioctl and flags of a layer-3 device without the packet-info header.
const TUNSETIFF: libc::c_ulong = 0x4004_54CA;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct ifreq` as TUNSETIFF reads it: the name, the flags, and the union's remaining bytes.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _union_rest: [u8; 22],
}

/// Runs `ip ARGS`; an error names the command and what it wrote to stderr.
pub fn ip(args: &[&str]) -> io::Result<String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("ip {}: {e}", args.join(" "))))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(io::Error::other(format!(
            "ip {}: {}: {}",
            args.join(" "),
            output.status,
            stderr.trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The names of the namespaces `ip netns list` shows (a line is `NAME` or `NAME (id: N)`).
pub fn list() -> io::Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Deletes the namespaces a crashed run of the same world left behind.
pub fn sweep(prefix: &str) -> io::Result<()> {
    for name in list()?.into_iter().filter(|n| n.starts_with(prefix)) {
        delete(&name)?;
    }
    Ok(())
}

pub fn add(namespace: &str) -> io::Result<()> {
    ip(&["netns", "add", namespace]).map(drop)
}

pub fn delete(namespace: &str) -> io::Result<()> {
    ip(&["netns", "del", namespace]).map(drop)
}

/// A namespace name is a file under /run/netns and an argument to `ip`: letters, digits,
/// `-`, `_`, `.`, not starting with a dot.
pub fn check_name(namespace: &str) -> io::Result<()> {
    let fine = !namespace.is_empty()
        && namespace.len() <= NAMESPACE_NAME_BYTES_MAX
        && !namespace.starts_with('.')
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if fine {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("namespace name {namespace:?}: use letters, digits, '-', '_', '.' (at most {NAMESPACE_NAME_BYTES_MAX} bytes)"),
    ))
}

/// Moves the calling thread into `namespace`'s network namespace, for good: call it only on a
/// thread made for that namespace.
pub fn enter(namespace: &str) -> io::Result<()> {
    let path = format!("/run/netns/{namespace}");
    let file = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    // SAFETY: setns on an fd we own; it changes only this thread's network namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("setns {path}: {e}")));
    }
    Ok(())
}

/// Runs `f` on a new thread inside `namespace` and returns its result. What `f` makes
/// (sockets, TUN devices) stays in that namespace after the thread ends.
pub fn in_namespace<T, F>(namespace: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let name = namespace.to_string();
    std::thread::Builder::new()
        .name(format!("netns-{namespace}"))
        .spawn(move || enter(&name).and_then(|()| f()))?
        .join()
        .map_err(|_| io::Error::other(format!("the thread in namespace {namespace} panicked")))?
}

/// Makes the TUN device inside `namespace` (so it is never seen in the root namespace), with
/// IPv6 off first (no link-local address, no router solicitations through the switch), then
/// gives it `ip`/24, its MTU and queue length, and brings it and lo up. The fd is the runner's:
/// the device lives as long as it does.
pub fn add_tun(namespace: &str, addr: Ipv4Addr) -> io::Result<OwnedFd> {
    let fd = in_namespace(namespace, || {
        disable_ipv6()?;
        open_tun(TUN_NAME)
    })?;
    let cidr = format!("{addr}/24");
    let (mtu, txqueue) = (TUN_MTU_BYTES.to_string(), TUN_TXQUEUE_PACKETS.to_string());
    ip(&["-n", namespace, "addr", "add", &cidr, "dev", TUN_NAME])?;
    let link = ["-n", namespace, "link", "set", TUN_NAME];
    ip(&[&link[..], &["mtu", &mtu, "txqueuelen", &txqueue, "up"]].concat())?;
    ip(&["-n", namespace, "link", "set", "lo", "up"])?;
    Ok(fd)
}

/// /proc/sys/net shows the calling thread's namespace. A kernel without IPv6 has no such
/// files, and then there is nothing to turn off.
fn disable_ipv6() -> io::Result<()> {
    for scope in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{scope}/disable_ipv6");
        match std::fs::write(&path, "1") {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{path}: {e}"))),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// Opens a non-blocking layer-3 TUN device (IFF_TUN | IFF_NO_PI: every read is one IP packet).
fn open_tun(name: &str) -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    let flags = libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; the fd is owned at once below.
    let raw = unsafe { libc::open(path.as_ptr(), flags) };
    if raw < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")));
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI,
        _union_rest: [0; 22],
    };
    assert!(name.len() < libc::IFNAMSIZ, "TUN name {name} too long");
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq` lays out.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    Ok(fd)
}
