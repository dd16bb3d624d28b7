//! Choosing the cluster address (`-bind` / `-advertise`) when the user did not give one, as
//! Consul does: the machine's single private IPv4 address. Addresses on container and VM
//! bridges (docker0, virbr0, ...) only count when nothing else is there, so a Docker host with
//! one real NIC starts without `-bind` (a frequent Consul complaint).

use std::net::{IpAddr, Ipv4Addr};

/// One address of one network interface that is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub ip: IpAddr,
}

/// Where to listen and what to tell other agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindChoice {
    pub listen: IpAddr,
    pub advertise: IpAddr,
    pub warnings: Vec<String>,
}

/// Name prefixes of virtual bridges and tunnels that are rarely the cluster network.
const VIRTUAL_PREFIXES: [&str; 12] = [
    "docker",
    "br-",
    "veth",
    "virbr",
    "vboxnet",
    "vmnet",
    "cni",
    "flannel",
    "cali",
    "weave",
    "kube",
    "tailscale",
];

const GET_PRIVATE_IP: &str = "{{ GetPrivateIP }}";

/// Resolves `-bind` and `-advertise`. Without `-bind`, a `-dev` agent uses 127.0.0.1 and any
/// other agent the address `select_private` finds; `-bind 0.0.0.0` listens everywhere and
/// advertises that address.
pub fn resolve(
    bind: Option<&str>,
    advertise: Option<&str>,
    dev: bool,
    interfaces: &[Interface],
) -> Result<BindChoice, String> {
    let mut warnings = Vec::new();
    let listen = match bind {
        None if dev => IpAddr::V4(Ipv4Addr::LOCALHOST),
        None => pick(interfaces, &mut warnings)?,
        Some(text) if is_template(text) => pick(interfaces, &mut warnings)?,
        Some(text) => parse_ip("bind", text)?,
    };
    let advertise = match advertise {
        Some(text) if is_template(text) => pick(interfaces, &mut warnings)?,
        Some(text) => parse_ip("advertise", text)?,
        None if listen.is_unspecified() => pick(interfaces, &mut warnings)?,
        None => listen,
    };
    if advertise.is_unspecified() {
        return Err(format!(
            "advertise address {advertise} is not reachable by other agents: set -advertise to this machine's address"
        ));
    }
    Ok(BindChoice {
        listen,
        advertise,
        warnings,
    })
}

fn is_template(text: &str) -> bool {
    text.split_whitespace().collect::<String>() == GET_PRIVATE_IP.replace(' ', "")
}

fn parse_ip(flag: &str, text: &str) -> Result<IpAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("invalid {flag} address {text:?}: expected an IP address such as 10.0.0.5")
    })
}

fn pick(interfaces: &[Interface], warnings: &mut Vec<String>) -> Result<IpAddr, String> {
    let (ip, warning) = select_private(interfaces)?;
    warnings.extend(warning);
    Ok(ip)
}

/// The single private IPv4 address (10/8, 172.16/12, 192.168/16, 100.64/10), else the single
/// public one, else 127.0.0.1; each fallback with a warning.
pub fn select_private(interfaces: &[Interface]) -> Result<(IpAddr, Option<String>), String> {
    let private = candidates(interfaces, is_private_v4);
    if !private.is_empty() {
        return choose_one(&private);
    }
    let public = candidates(interfaces, |ip| !is_private_v4(ip) && is_usable_v4(ip));
    match public.as_slice() {
        [] => Ok((
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some("no private or public IPv4 address found: binding to 127.0.0.1, so other machines cannot reach this agent; set -bind".to_string()),
        )),
        [only] => Ok((
            only.ip,
            Some(format!(
                "no private IPv4 address found: using public address {} ({}); set -bind to choose another",
                only.ip, only.name
            )),
        )),
        several => Err(format!(
            "No private IPv4 address found and several public ones. Please configure one with 'bind' and/or 'advertise'. Found: {}",
            list(several)
        )),
    }
}

/// Picks among private addresses: a single one wins; else a single one not on a virtual bridge.
fn choose_one(private: &[&Interface]) -> Result<(IpAddr, Option<String>), String> {
    if let [only] = private {
        return Ok((only.ip, None));
    }
    let physical: Vec<&Interface> = private
        .iter()
        .copied()
        .filter(|i| !is_virtual(&i.name))
        .collect();
    if let [only] = physical.as_slice() {
        let skipped: Vec<&Interface> = private
            .iter()
            .copied()
            .filter(|i| is_virtual(&i.name))
            .collect();
        let note = format!(
            "using {} ({}) as the cluster address; ignored addresses on virtual interfaces: {}. Set -bind to choose another",
            only.ip,
            only.name,
            list(&skipped)
        );
        return Ok((only.ip, Some(note)));
    }
    Err(format!(
        "Multiple private IPv4 addresses found. Please configure one with 'bind' and/or 'advertise'. Found: {}",
        list(private)
    ))
}

/// IPv4 addresses passing `keep`, one entry per address.
fn candidates(interfaces: &[Interface], keep: impl Fn(&Ipv4Addr) -> bool) -> Vec<&Interface> {
    let mut out: Vec<&Interface> = Vec::new();
    for iface in interfaces {
        let IpAddr::V4(v4) = iface.ip else { continue };
        if keep(&v4) && !out.iter().any(|seen| seen.ip == iface.ip) {
            out.push(iface);
        }
    }
    out
}

pub fn is_private_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 10
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 100 && (64..=127).contains(&b))
}

fn is_usable_v4(ip: &Ipv4Addr) -> bool {
    !(ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast())
}

fn is_virtual(name: &str) -> bool {
    VIRTUAL_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

fn list(interfaces: &[&Interface]) -> String {
    let items: Vec<String> = interfaces
        .iter()
        .map(|i| format!("{} ({})", i.ip, i.name))
        .collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, ip: &str) -> Interface {
        Interface {
            name: name.into(),
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.11.143",
            "100.64.0.1",
            "100.127.0.1",
        ] {
            assert!(is_private_v4(&ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "172.32.0.1",
            "8.8.8.8",
            "100.128.0.1",
            "127.0.0.1",
            "192.169.0.1",
        ] {
            assert!(!is_private_v4(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_single_private_address_is_chosen() {
        let ifs = [
            iface("lo", "127.0.0.1"),
            iface("eth0", "192.168.11.143"),
            iface("eth0", "fe80::1"),
        ];
        assert_eq!(
            select_private(&ifs).unwrap(),
            ("192.168.11.143".parse().unwrap(), None)
        );
    }

    #[test]
    fn several_private_addresses_are_refused_with_the_list() {
        let ifs = [iface("eth0", "10.0.0.5"), iface("eth1", "192.168.1.2")];
        let err = select_private(&ifs).unwrap_err();
        assert!(err.starts_with("Multiple private IPv4 addresses found. Please configure one with 'bind' and/or 'advertise'."));
        assert!(err.contains("10.0.0.5 (eth0), 192.168.1.2 (eth1)"), "{err}");
    }

    #[test]
    fn virtual_bridges_give_way_to_the_real_interface() {
        let ifs = [iface("docker0", "172.17.0.1"), iface("eth0", "10.0.0.5")];
        let (ip, warning) = select_private(&ifs).unwrap();
        assert_eq!(ip, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert!(warning.unwrap().contains("172.17.0.1 (docker0)"));
    }

    #[test]
    fn fallbacks_without_private_addresses() {
        let (ip, warning) = select_private(&[iface("eth0", "203.0.113.7")]).unwrap();
        assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());
        assert!(warning.unwrap().contains("public address"));
        let (ip, warning) = select_private(&[iface("lo", "127.0.0.1")]).unwrap();
        assert_eq!(ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(warning.is_some());
        assert!(select_private(&[iface("a", "203.0.113.7"), iface("b", "198.51.100.1")]).is_err());
    }

    #[test]
    fn same_address_on_two_interfaces_counts_once() {
        let ifs = [iface("eth0", "10.0.0.5"), iface("eth0:1", "10.0.0.5")];
        assert_eq!(
            select_private(&ifs).unwrap().0,
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn resolve_bind_and_advertise() {
        let ifs = [iface("eth0", "10.0.0.5"), iface("eth1", "10.0.0.6")];
        let dev = resolve(None, None, true, &ifs).unwrap();
        assert_eq!(
            (dev.listen, dev.advertise),
            ("127.0.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap())
        );
        let given = resolve(Some("10.0.0.6"), None, false, &ifs).unwrap();
        assert_eq!(given.advertise, "10.0.0.6".parse::<IpAddr>().unwrap());
        assert!(resolve(None, None, false, &ifs).is_err());
        let any = resolve(Some("0.0.0.0"), Some("10.0.0.5"), false, &ifs).unwrap();
        assert_eq!(
            (any.listen, any.advertise),
            ("0.0.0.0".parse().unwrap(), "10.0.0.5".parse().unwrap())
        );
        let templ = resolve(Some("{{ GetPrivateIP }}"), None, false, &ifs[..1]).unwrap();
        assert_eq!(templ.listen, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert!(resolve(Some("not-an-ip"), None, false, &ifs).is_err());
    }
}
