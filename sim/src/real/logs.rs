//! What the checkers learn from real agents' logs, where the simulator has an observer inside
//! each node: every agent writes Consul's lines, and the tailer turns them into checker state.
//!
//! - `raft: election won: term=N tally=M`: the leader of term N (election safety: two winners
//!   of one term in any logs is a violation; faults aimed at the leader pick the newest).
//! - `memberlist: Suspect X has failed`, `serf: EventMemberFailed|Join|Leave: X`: the
//!   observer's failure detector view of X (`expect suspected`, `expect never-failed`).
//!
//! A line's time is the world's clock when the tailer reads it (at most `TAIL_POLL_MS` late).

use crate::checker::Checker;
use concord_core::membership::SwimState;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How often the logs are read.
pub const TAIL_POLL_MS: u64 = 50;
/// Bytes read from one log per poll, so one chatty agent cannot stall the others.
const TAIL_READ_BYTES_MAX: u64 = 1 << 20;
/// A line longer than this is cut (no line the tailer looks for comes near it).
const LINE_BYTES_MAX: usize = 64 * 1024;

/// One agent's log: where it is, how far it was read, and the unfinished last line.
struct Tailed {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

/// The logs of every machine of a world, by node name.
#[derive(Clone, Default)]
pub struct LogTails {
    logs: Arc<Mutex<BTreeMap<String, Tailed>>>,
}

/// A line the checkers care about.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    ElectionWon { term: u64 },
    Member { member: String, state: SwimState },
}

impl LogTails {
    /// Follows `name`'s log from its current end (a restart appends to the same file, and
    /// what was read stays read).
    pub fn follow(&self, name: &str, path: PathBuf) {
        let mut logs = self.logs.lock().expect("logs lock");
        if logs.contains_key(name) {
            return;
        }
        let tailed = Tailed {
            path,
            offset: 0,
            partial: Vec::new(),
        };
        logs.insert(name.to_string(), tailed);
    }

    /// Reads what every log gained and feeds the checker.
    pub fn poll(&self, checker: &Checker, now_ms: u64) {
        let mut logs = self.logs.lock().expect("logs lock");
        for (observer, tailed) in logs.iter_mut() {
            for line in tailed.read_lines() {
                if let Some(event) = parse(&line) {
                    apply(checker, observer, event, now_ms);
                }
            }
        }
    }
}

impl Tailed {
    fn read_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut fresh = Vec::new();
        let read = file.take(TAIL_READ_BYTES_MAX).read_to_end(&mut fresh);
        let Ok(count) = read else {
            return Vec::new();
        };
        self.offset += count as u64;
        self.partial.extend_from_slice(&fresh);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        self.partial.truncate(LINE_BYTES_MAX);
        lines
    }
}

/// The event a log line tells, if any.
pub fn parse(line: &str) -> Option<Event> {
    if let Some(rest) = after(line, "raft: election won: term=") {
        let term = rest.split(|c: char| !c.is_ascii_digit()).next()?;
        return Some(Event::ElectionWon {
            term: term.parse().ok()?,
        });
    }
    let member_state = [
        ("memberlist: Suspect ", SwimState::Suspect),
        ("serf: EventMemberFailed: ", SwimState::Dead),
        ("serf: EventMemberJoin: ", SwimState::Alive),
        ("serf: EventMemberLeave: ", SwimState::Left),
    ];
    for (marker, state) in member_state {
        if let Some(rest) = after(line, marker) {
            let member = rest.split_whitespace().next()?.to_string();
            return Some(Event::Member { member, state });
        }
    }
    None
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|at| &line[at + marker.len()..])
}

fn apply(checker: &Checker, observer: &str, event: Event, now_ms: u64) {
    let mut state = checker.state.lock().expect("checker lock");
    match event {
        Event::ElectionWon { term } => {
            crate::checker::note_election(&mut state, observer, term, now_ms);
        }
        Event::Member {
            member,
            state: swim,
        } => {
            if member != observer {
                state.member_views.record(observer, &member, swim, now_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuls_lines_are_events_and_others_are_not() {
        let won = "2026-12-01T05:00:00.000Z [INFO]  raft: election won: term=7 tally=2";
        assert_eq!(parse(won), Some(Event::ElectionWon { term: 7 }));
        let suspect = "[INFO]  memberlist: Suspect c1 has failed, no acks received";
        let failed = "[INFO]  serf: EventMemberFailed: c1 10.77.0.14";
        let member = |state| {
            Some(Event::Member {
                member: "c1".into(),
                state,
            })
        };
        assert_eq!(parse(suspect), member(SwimState::Suspect));
        assert_eq!(parse(failed), member(SwimState::Dead));
        assert_eq!(parse("[INFO]  agent: started"), None);
        assert_eq!(parse("raft: election won: term=x"), None);
    }

    #[test]
    fn a_log_is_read_in_whole_lines_as_it_grows() {
        let dir = std::env::temp_dir().join(format!("concord-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.log");
        std::fs::write(&path, "one\ntw").unwrap();
        let mut tailed = Tailed {
            path: path.clone(),
            offset: 0,
            partial: Vec::new(),
        };
        assert_eq!(tailed.read_lines(), vec!["one".to_string()]);
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(tailed.read_lines(), vec!["two", "three"]);
        assert!(tailed.read_lines().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
