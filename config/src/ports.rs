//! Which port numbers a flag or config key may take. Consul's rules: a port is 1..=65535;
//! listeners that can be turned off (HTTP, HTTPS, DNS, gRPC, WAN gossip) also take -1. Port 0
//! would bind a random port while the cluster is told `ADDR:0`, so it is refused everywhere.
//! Callers add the flag or file and key to the reason.

/// The value that turns a listener off, as in Consul.
pub const PORT_OFF: i32 = -1;
pub const PORT_MIN: i64 = 1;
pub const PORT_MAX: i64 = 65_535;

/// A listener that must run (server RPC, LAN gossip).
pub fn required(value: i64) -> Result<u16, String> {
    if (PORT_MIN..=PORT_MAX).contains(&value) {
        return Ok(value as u16);
    }
    Err(format!(
        "{value} is not a port: use {PORT_MIN} to {PORT_MAX} (this listener cannot be turned off)"
    ))
}

/// A listener that `-1` turns off (HTTP, DNS, ...).
pub fn or_off(value: i64) -> Result<i32, String> {
    if value == i64::from(PORT_OFF) {
        return Ok(PORT_OFF);
    }
    if (PORT_MIN..=PORT_MAX).contains(&value) {
        return Ok(value as i32);
    }
    Err(format!(
        "{value} is not a port: use {PORT_MIN} to {PORT_MAX}, or -1 to turn the listener off"
    ))
}

/// The bounds of a port range (`sidecar_min_port` and the like), where 0 means "none".
pub fn range_bound(value: i64) -> Result<u16, String> {
    if (0..=PORT_MAX).contains(&value) {
        return Ok(value as u16);
    }
    Err(format!(
        "{value} is not a port: use 0 to {PORT_MAX} (0 turns the range off)"
    ))
}

/// `-server-port` and `-serf-lan-port`, for clap (which names the flag in its error).
pub fn required_flag(text: &str) -> Result<u16, String> {
    required(integer(text)?)
}

/// `-http-port` and `-dns-port`, for clap.
pub fn or_off_flag(text: &str) -> Result<i32, String> {
    or_off(integer(text)?)
}

fn integer(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("{text:?} is not a port number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_one_to_65535_and_minus_one_only_where_a_listener_can_be_off() {
        assert_eq!(or_off(-1), Ok(-1));
        assert_eq!(or_off(8500), Ok(8500));
        assert_eq!(required(65_535), Ok(65_535));
        for bad in [0, -5, 65_536, 70_000] {
            assert!(or_off(bad).unwrap_err().contains("not a port"), "{bad}");
            assert!(required(bad).is_err(), "{bad}");
        }
        assert!(required(-1).unwrap_err().contains("cannot be turned off"));
        assert_eq!(range_bound(0), Ok(0));
        assert!(range_bound(-1).is_err());
    }

    #[test]
    fn flag_values_must_be_numbers() {
        assert_eq!(or_off_flag("-1"), Ok(-1));
        assert_eq!(required_flag("8300"), Ok(8300));
        assert!(or_off_flag("http").unwrap_err().contains("\"http\""));
        assert!(required_flag("0").is_err());
    }
}
