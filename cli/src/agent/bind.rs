//! The machine's network interfaces (`getifaddrs`), for the configuration library's choice of
//! the cluster address (`concord_config::bind`).

pub use concord_config::bind::Interface;
use std::net::{IpAddr, Ipv4Addr};

/// The addresses of the interfaces that are up and running (`getifaddrs`).
pub fn local_interfaces() -> Vec<Interface> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free once below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        if let Some(iface) = interface_of(entry) {
            out.push(iface);
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    out
}

fn interface_of(entry: &libc::ifaddrs) -> Option<Interface> {
    let wanted = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    if entry.ifa_addr.is_null() || entry.ifa_flags & wanted != wanted {
        return None;
    }
    // SAFETY: ifa_name is a NUL-terminated string owned by the list.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: ifa_addr is non-null; its family tells which sockaddr it is.
    let family = unsafe { (*entry.ifa_addr).sa_family } as i32;
    let ip = match family {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
            IpAddr::V6(sin6.sin6_addr.s6_addr.into())
        }
        _ => return None,
    };
    Some(Interface { name, ip })
}
