//! Go's duration syntax (`time.ParseDuration`), which Consul uses for `?wait=` and its
//! configuration: "10s", "5m", "100ms", "1h30m", "1.5s", "0". The one duration parser of
//! Concord: HTTP's `?wait=`, config keys and flags (`retry_interval`), and scenario lines all
//! read durations here. A bare number other than "0" is refused, as Go refuses it (Consul's
//! `?wait=5` is a 400).

use std::time::Duration;

/// Parses a Go duration. A negative duration parses as zero: Consul treats a non-positive
/// wait as "use the default", so callers need not tell the two apart.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = parse_component(rest).ok_or_else(invalid)?;
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(invalid)?;
        rest = after;
    }
    if negative {
        return Ok(Duration::ZERO);
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    Ok(Duration::from_nanos(nanos))
}

/// One `<number>[.<fraction>]<unit>` component: its length in nanoseconds and what follows.
fn parse_component(text: &str) -> Option<(u128, &str)> {
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let unit_len = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_len);
    let unit_nanos = unit_nanos(unit)?;
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    // The fraction contributes digit by digit so "1.5h" is exact without floating point.
    let mut scale = unit_nanos;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos += u128::from(digit - b'0') * scale;
    }
    Some((nanos, rest))
}

/// A duration for a setting (a flag or a config key), in whole milliseconds (sub-millisecond
/// parts round down). Negative durations are refused: no setting means "before now".
pub fn parse_setting_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("invalid duration {text:?}: must not be negative"));
    }
    let duration = parse_go_duration(text)
        .map_err(|e| format!("{e}: use a number with a unit such as 30s, 1m30s or 500ms"))?;
    u64::try_from(duration.as_millis()).map_err(|_| format!("invalid duration {text:?}: too long"))
}

/// A duration as Go's `time.Duration.String()` prints it (`200ms`, `10s`, `1m30s`, `1h0m0s`,
/// `0s`): Consul's JSON and CLI show durations this way. Below a second a duration is printed
/// in its largest whole unit (`500ms`, `1500µs`, `7ns`), where Go would print `1.5ms`: every
/// caller formats whole milliseconds except a check body's own duration, echoed back.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        return match nanos {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}\u{b5}s", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let secs = d.as_secs();
    let fraction = format!("{:09}", d.subsec_nanos());
    let seconds = match fraction.trim_end_matches('0') {
        "" => format!("{}s", secs % 60),
        fraction => format!("{}.{fraction}s", secs % 60),
    };
    match (secs / 3600, secs % 3600 / 60) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// [`format_go_duration`] of whole milliseconds, as settings and autopilot hold them.
pub fn format_go_ms(ms: u64) -> String {
    format_go_duration(Duration::from_millis(ms))
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse_go_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_consul_style_durations() {
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("100ms"), Duration::from_millis(100));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("2m30s"), Duration::from_secs(150));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("+3s"), Duration::from_secs(3));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
    }

    #[test]
    fn settings_are_whole_milliseconds_and_never_negative() {
        assert_eq!(parse_setting_ms("30s"), Ok(30_000));
        assert_eq!(parse_setting_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_setting_ms("500ms"), Ok(500));
        assert_eq!(parse_setting_ms("1.5h"), Ok(5_400_000));
        assert_eq!(parse_setting_ms("0"), Ok(0));
        let bare = parse_setting_ms("30").unwrap_err();
        assert!(
            bare.starts_with("invalid duration \"30\": use a number with a unit"),
            "{bare}"
        );
        assert!(parse_setting_ms("-5s").unwrap_err().contains("negative"));
        assert!(parse_setting_ms("soon").is_err());
    }

    #[test]
    fn durations_print_as_go_does_and_parse_back() {
        let cases = [
            (0, "0s"),
            (200, "200ms"),
            (500, "500ms"),
            (10_000, "10s"),
            (1_500, "1.5s"),
            (90_000, "1m30s"),
            (3_600_000, "1h0m0s"),
            (3_723_250, "1h2m3.25s"),
        ];
        for (ms, text) in cases {
            assert_eq!(format_go_ms(ms), text);
            assert_eq!(parse_setting_ms(text), Ok(ms), "{text}");
        }
    }

    #[test]
    fn sub_millisecond_durations_print_in_their_largest_whole_unit() {
        let printed = [1_500_000, 10_000, 7, 1_000_000_001]
            .map(|n| format_go_duration(Duration::from_nanos(n)));
        assert_eq!(printed, ["1500\u{b5}s", "10\u{b5}s", "7ns", "1.000000001s"]);
        assert_eq!(ok(&printed[0]), Duration::from_micros(1_500));
    }

    #[test]
    fn negative_durations_are_zero() {
        assert_eq!(ok("-5s"), Duration::ZERO);
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "5",
            "s",
            ".s",
            "5x",
            "1.2.3s",
            "-",
            "5 s",
            "1e3s",
            "99999999999999h",
        ] {
            assert!(
                parse_go_duration(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
