//! Scenario files: one command a line, `#` comments, words split on blanks, `"quoted words"`.
//! A `key=value` setting a command does not know is an error at parse time, with its line:
//! a misspelt setting silently ignored would make a scenario test less than it says.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub text: String,
    pub words: Vec<String>,
}

pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    parse_numbered(text).map_err(|(number, why)| format!("line {number}: {why}"))
}

/// As `parse`, the error with the number of the line at fault.
pub fn parse_numbered(text: &str) -> Result<Vec<Line>, (usize, String)> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = split_words(trimmed)
            .and_then(|words| check_settings(&words).map(|()| words))
            .map_err(|e| (i + 1, e))?;
        lines.push(Line {
            number: i + 1,
            text: trimmed.to_string(),
            words,
        });
    }
    Ok(lines)
}

fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(stripped) = rest.strip_prefix('"') {
            let end = stripped.find('"').ok_or("unterminated quote")?;
            words.push(stripped[..end].to_string());
            rest = &stripped[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    Ok(words)
}

/// A command that takes `key=value` settings after `positional` other words.
struct Settings {
    command: &'static [&'static str],
    positional: usize,
    keys: &'static [&'static str],
}

const SETTINGS: &[Settings] = &[
    Settings {
        command: &["network"],
        positional: 0,
        keys: &["loss%", "latency", "dup%", "reorder%", "reorder-ms"],
    },
    Settings {
        command: &["load-start"],
        positional: 0,
        keys: &[
            "clients",
            "ops",
            "cas%",
            "delete-cas%",
            "tree%",
            "large%",
            "svc%",
            "lock%",
            "txn%",
            "lock-delay-ms",
            "session-ttl-s",
        ],
    },
    Settings {
        command: &["session-create"],
        positional: 2,
        keys: &["ttl", "lock-delay", "behavior", "checks"],
    },
    Settings {
        command: &["blocking-get"],
        positional: 3,
        keys: &["wait"],
    },
    Settings {
        command: &["blocking-health"],
        positional: 3,
        keys: &["wait"],
    },
    Settings {
        command: &["service-register"],
        positional: 2,
        keys: &["id", "port", "ttl"],
    },
    Settings {
        command: &["expect-passing"],
        positional: 1,
        keys: &["count"],
    },
    Settings {
        command: &["expect-critical"],
        positional: 1,
        keys: &["count"],
    },
    Settings {
        command: &["expect-no-wake"],
        positional: 1,
        keys: &["for"],
    },
    Settings {
        command: &["expect-wakes"],
        positional: 1,
        keys: &["within", "value", "passing"],
    },
    Settings {
        command: &["expect-deadline"],
        positional: 1,
        keys: &["within"],
    },
    Settings {
        command: &["expect", "peers"],
        positional: 1,
        keys: &["voters", "nonvoters", "followers", "leader"],
    },
];

/// Commands whose words may hold `=` that is no setting: values, agent flags, `NODE=STATUS`.
const FREE_TEXT: &[&[&str]] = &[
    &["let"],
    &["kv"],
    &["start"],
    &["expect", "value"],
    &["expect", "error"],
    &["expect", "members"],
];

/// Commands that take `KEYWORD WORD` pairs among their settings (`within 10s`, `via c1`).
const KEYWORD_PAIRS: &[(&str, &[&str])] = &[
    ("expect-passing", &["within", "via"]),
    ("expect-critical", &["within", "via"]),
    ("session-create", &["within"]),
    ("session-renew", &["within"]),
    ("lock-acquire", &["within"]),
    ("expect-lock-free", &["within"]),
    ("expect-lock-holder", &["within"]),
    ("expect-session", &["within"]),
];

/// Every setting must be one its command knows, given once; commands that take none take no
/// word with `=` either.
fn check_settings(words: &[String]) -> Result<(), String> {
    // `expect ... within D`: the deadline is no setting.
    let words = match words {
        [first, head @ .., within, _] if first == "expect" && within == "within" => {
            &words[..head.len() + 1]
        }
        _ => words,
    };
    let words = &strip_keyword_pairs(words)?;
    let starts = |command: &[&str]| {
        words.len() >= command.len() && command.iter().zip(words).all(|(c, w)| c == w)
    };
    if let Some(known) = SETTINGS.iter().find(|s| starts(s.command)) {
        let command = known.command.join(" ");
        let mut seen: Vec<&str> = Vec::new();
        for word in &words[(known.command.len() + known.positional).min(words.len())..] {
            let key = word
                .split_once('=')
                .map(|(key, _)| key)
                .ok_or(format!("{command}: expected KEY=VALUE, got {word:?}"))?;
            if !known.keys.contains(&key) {
                let keys = known.keys.join(", ");
                return Err(format!(
                    "{command}: unknown setting {key:?} (known: {keys})"
                ));
            }
            if seen.contains(&key) {
                return Err(format!("{command}: setting {key:?} given twice"));
            }
            seen.push(key);
        }
        return Ok(());
    }
    if FREE_TEXT.iter().any(|command| starts(command)) {
        return Ok(());
    }
    match words.iter().find(|w| w.contains('=')) {
        Some(word) => Err(format!(
            "unknown setting {word:?}: {} takes no settings",
            words[0]
        )),
        None => Ok(()),
    }
}

/// `words` without the keyword pairs its command takes (each at most once, with its word).
fn strip_keyword_pairs(words: &[String]) -> Result<Vec<String>, String> {
    let Some((command, keywords)) = KEYWORD_PAIRS
        .iter()
        .find(|(c, _)| Some(*c) == words.first().map(String::as_str))
    else {
        return Ok(words.to_vec());
    };
    let mut kept = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        match keywords.iter().find(|k| *k == word) {
            Some(keyword) if seen.contains(keyword) => {
                return Err(format!("{command}: {keyword} given twice"))
            }
            Some(keyword) => {
                rest.next()
                    .ok_or(format!("{command}: {keyword} needs a value"))?;
                seen.push(keyword);
            }
            None => kept.push(word.clone()),
        }
    }
    Ok(kept)
}

/// `250ms`, `5s`, `2m`, `1h30m`: Go's durations, read by Concord's one duration parser (the
/// one flags, config keys and HTTP's `?wait=` use).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    concord_core::duration::parse_setting_ms(text)
        .map(Duration::from_millis)
        .map_err(|why| format!("bad duration: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_start_takes_exactly_the_load_mix_settings() {
        let load = SETTINGS.iter().find(|s| s.command == ["load-start"]);
        let keys = load.expect("load-start is a command").keys;
        assert_eq!(keys[..2], ["clients", "ops"]);
        assert_eq!(keys[2..], crate::load::LoadMix::SETTINGS);
    }

    #[test]
    fn words_and_quotes() {
        let lines = parse("# c\n\nexpect error s1 put k v \"No cluster leader\"\n").unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].number, 3);
        assert_eq!(lines[0].words.last().unwrap(), "No cluster leader");
        assert!(parse("x \"open").is_err());
    }

    #[test]
    fn unknown_settings_are_parse_errors_with_their_line() {
        let error = parse("heal\nnetwork loss%=5 dupe%=10\n").unwrap_err();
        assert!(
            error.starts_with("line 2:") && error.contains("dupe%"),
            "{error}"
        );
        let error = parse("load-start clients=2 cass%=5\n").unwrap_err();
        assert!(
            error.starts_with("line 1:") && error.contains("cass%"),
            "{error}"
        );
        let error = parse("# c\nnetwork loss%=1 loss%=2\n").unwrap_err();
        assert!(
            error.starts_with("line 2:") && error.contains("twice"),
            "{error}"
        );
        let error = parse("network lossy\n").unwrap_err();
        assert!(error.contains("KEY=VALUE"), "{error}");
        let error = parse("kill s1 force=yes\n").unwrap_err();
        assert!(
            error.starts_with("line 1:") && error.contains("force=yes"),
            "{error}"
        );
        let error = parse("expect peers s1 voters=3 voter=3\n").unwrap_err();
        assert!(error.contains("\"voter\""), "{error}");
    }

    #[test]
    fn known_settings_and_free_text_parse() {
        let text = "network loss%=5 latency=1..9 dup%=2 reorder%=3 reorder-ms=40\n\
                    expect peers s1 voters=3 within 5s\n\
                    load-start clients=3 ops=5 cas%=10 delete-cas%=5 tree%=5 large%=2\n\
                    expect peers s1 voters=3 leader=s1\n\
                    expect members s1 s2=alive/server\n\
                    kv put s1 k a=b\n\
                    start s1 -server -bootstrap-expect=3\n";
        assert_eq!(parse(text).unwrap().len(), 7);
    }

    /// The discovery commands' settings are checked like the others', and `within D` and
    /// `via NODE` pairs are taken only where a command knows them.
    #[test]
    fn discovery_commands_parse_and_their_settings_are_checked() {
        let text = "service-register c1 web id=web1 port=80 ttl=10s\n\
                    check-pass c1 service:web1\n\
                    expect-passing web count=1 within 10s via c1\n\
                    expect-critical web count=0 via s1 within 2s\n\
                    blocking-health c1 h1 web wait=60s\n\
                    expect-wakes h1 within=2s passing=1\n\
                    load-start clients=2 svc%=20\n";
        assert_eq!(parse(text).unwrap().len(), 7);
        let error = parse("service-register c1 web tll=10s\n").unwrap_err();
        assert!(
            error.contains("\"tll\"") && error.contains("ttl"),
            "{error}"
        );
        let error = parse("#\nexpect-passing web count=1 within 1s within 2s\n").unwrap_err();
        assert!(
            error.starts_with("line 2:") && error.contains("twice"),
            "{error}"
        );
        let error = parse("expect-passing web count=1 via\n").unwrap_err();
        assert!(error.contains("via needs a value"), "{error}");
        let error = parse("check-pass c1 service:web within 2s status=ok\n").unwrap_err();
        assert!(error.contains("status=ok"), "{error}");
    }

    /// The coordination commands' settings are checked too, and the load's new settings.
    #[test]
    fn coordination_commands_parse_and_their_settings_are_checked() {
        let text = "session-create c1 a ttl=10s lock-delay=1s behavior=delete checks=none\n\
                    lock-acquire c1 lk9 a within 5s\n\
                    expect-lock-free lk9 within 30s\n\
                    expect-lock-holder lk9 a\n\
                    expect-session a gone within 25s\n\
                    load-start clients=2 lock%=20 txn%=10 lock-delay-ms=500 session-ttl-s=10\n\
                    check-locks\n";
        assert_eq!(parse(text).unwrap().len(), 7);
        let error = parse("session-create c1 a tll=10s\n").unwrap_err();
        assert!(error.contains("\"tll\""), "{error}");
        let error = parse("load-start lock%=5 lock-delay=5\n").unwrap_err();
        assert!(error.contains("\"lock-delay\""), "{error}");
        let error = parse("lock-acquire c1 lk9 a within 1s within 2s\n").unwrap_err();
        assert!(error.contains("twice"), "{error}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(
            parse_duration("5").is_err(),
            "a bare number has no unit, as in Go"
        );
    }
}
