//! Autopilot's one decision per round, as a pure function of the facts the leader passes in:
//! which failed server to remove (dead-server cleanup) or which healthy non-voter to promote.
//! One change at a time: Raft serializes configuration changes anyway.

use super::config::AutopilotOptions;

/// How long a server must have been failed before cleanup removes it. Consul's autopilot
/// prunes dead servers at its reconcile, every 10 s, so a server that restarts within that
/// time usually keeps its vote; waiting exactly that long makes it so every time (with the
/// simulator's quick failure detection, every restart would otherwise cost a vote, and a
/// second failure meanwhile the quorum).
pub const DEAD_SERVER_GRACE_MS: u64 = 10_000;

/// What membership says of a server, as autopilot reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Declared failed by gossip since then (leader's clock, as this leader saw it): a
    /// candidate for cleanup once failed for `DEAD_SERVER_GRACE_MS`.
    Failed {
        since_ms: u64,
    },
    /// Leaving, left, or not known to membership at all (after a restart it is rebuilt by
    /// gossip): never removed by autopilot, never promoted. Left members are removed by the
    /// reconcile of announced leaves, not here.
    Other,
}

/// One server of the Raft configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFacts {
    pub id: String,
    pub voter: bool,
    pub liveness: Liveness,
    /// Healthy without a break since then (leader's clock); `None` while unhealthy.
    pub healthy_since_ms: Option<u64>,
}

/// The change autopilot wants now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    RemoveDead(String),
    Promote(String),
}

/// The next change: cleanup first (a failed voter weakens the quorum), then promotion.
pub fn decide(
    leader: &str,
    servers: &[ServerFacts],
    options: &AutopilotOptions,
    now_ms: u64,
) -> Option<Decision> {
    if options.cleanup_dead_servers {
        if let Some(id) = dead_to_remove(leader, servers, options, now_ms) {
            return Some(Decision::RemoveDead(id));
        }
    }
    servers
        .iter()
        .find(|s| {
            !s.voter
                && s.liveness == Liveness::Alive
                && s.healthy_since_ms.is_some_and(|since| {
                    now_ms.saturating_sub(since) >= options.server_stabilization_time_ms
                })
        })
        .map(|s| Decision::Promote(s.id.clone()))
}

/// A failed non-voter is always removed (it holds up nothing); a failed voter only while
/// the failed voters are fewer than half of the voters (raft-autopilot's rule: removing more
/// would put the quorum itself in question) and the voters left are at least `min_quorum`.
fn dead_to_remove(
    leader: &str,
    servers: &[ServerFacts],
    options: &AutopilotOptions,
    now_ms: u64,
) -> Option<String> {
    let failed = |s: &&ServerFacts| match s.liveness {
        Liveness::Failed { since_ms } => {
            s.id != leader && now_ms.saturating_sub(since_ms) >= DEAD_SERVER_GRACE_MS
        }
        Liveness::Alive | Liveness::Other => false,
    };
    if let Some(learner) = servers.iter().filter(failed).find(|s| !s.voter) {
        return Some(learner.id.clone());
    }
    let voters = servers.iter().filter(|s| s.voter).count();
    let failed_voters: Vec<&ServerFacts> =
        servers.iter().filter(failed).filter(|s| s.voter).collect();
    let first = failed_voters.first()?;
    if failed_voters.len() * 2 >= voters {
        return None;
    }
    if voters - 1 < options.min_quorum as usize {
        return None;
    }
    Some(first.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: u64 = DEAD_SERVER_GRACE_MS;

    fn server(id: &str, voter: bool, liveness: Liveness, since: Option<u64>) -> ServerFacts {
        ServerFacts {
            id: id.into(),
            voter,
            liveness,
            healthy_since_ms: since,
        }
    }

    fn voters(failed: &[&str], names: &[&str]) -> Vec<ServerFacts> {
        names
            .iter()
            .map(|n| {
                let liveness = if failed.contains(n) {
                    Liveness::Failed { since_ms: 0 }
                } else {
                    Liveness::Alive
                };
                server(n, true, liveness, Some(0))
            })
            .collect()
    }

    #[test]
    fn one_failed_voter_of_three_is_removed() {
        let servers = voters(&["s2"], &["s1", "s2", "s3"]);
        let options = AutopilotOptions::default();
        assert_eq!(
            decide("s1", &servers, &options, GRACE),
            Some(Decision::RemoveDead("s2".into()))
        );
        let off = AutopilotOptions {
            cleanup_dead_servers: false,
            ..options
        };
        assert_eq!(decide("s1", &servers, &off, GRACE), None);
    }

    #[test]
    fn no_removal_when_failed_voters_are_half_or_more() {
        let options = AutopilotOptions::default();
        let servers = voters(&["s2", "s3"], &["s1", "s2", "s3", "s4"]);
        assert_eq!(decide("s1", &servers, &options, GRACE), None, "2 of 4");
        let servers = voters(&["s2", "s3"], &["s1", "s2", "s3"]);
        assert_eq!(decide("s1", &servers, &options, GRACE), None, "2 of 3");
        let servers = voters(&["s2", "s3"], &["s1", "s2", "s3", "s4", "s5"]);
        assert_eq!(
            decide("s1", &servers, &options, GRACE),
            Some(Decision::RemoveDead("s2".into())),
            "2 of 5"
        );
    }

    #[test]
    fn min_quorum_is_respected() {
        let servers = voters(&["s3"], &["s1", "s2", "s3"]);
        let options = AutopilotOptions {
            min_quorum: 3,
            ..AutopilotOptions::default()
        };
        assert_eq!(decide("s1", &servers, &options, GRACE), None);
        let options = AutopilotOptions {
            min_quorum: 2,
            ..options
        };
        assert_eq!(
            decide("s1", &servers, &options, GRACE),
            Some(Decision::RemoveDead("s3".into()))
        );
    }

    #[test]
    fn unknown_or_leaving_servers_are_never_removed() {
        let mut servers = voters(&[], &["s1", "s2", "s3"]);
        servers[1].liveness = Liveness::Other;
        servers[1].healthy_since_ms = None;
        servers.push(server("s4", false, Liveness::Other, None));
        assert_eq!(
            decide("s1", &servers, &AutopilotOptions::default(), 1_000_000),
            None
        );
    }

    #[test]
    fn a_failed_non_voter_goes_first_and_needs_no_quorum_check() {
        let mut servers = voters(&["s2", "s3"], &["s1", "s2", "s3"]);
        servers.push(server("s4", false, Liveness::Failed { since_ms: 0 }, None));
        assert_eq!(
            decide("s1", &servers, &AutopilotOptions::default(), GRACE),
            Some(Decision::RemoveDead("s4".into()))
        );
    }

    #[test]
    fn the_leader_is_never_removed() {
        let servers = voters(&["s1"], &["s1", "s2", "s3"]);
        assert_eq!(
            decide("s1", &servers, &AutopilotOptions::default(), GRACE),
            None
        );
    }

    #[test]
    fn promotion_only_after_stabilization() {
        let options = AutopilotOptions::default();
        let mut servers = voters(&[], &["s1", "s2", "s3"]);
        servers.push(server("s4", false, Liveness::Alive, Some(5_000)));
        assert_eq!(decide("s1", &servers, &options, 14_999), None);
        assert_eq!(
            decide("s1", &servers, &options, 15_000),
            Some(Decision::Promote("s4".into()))
        );
        servers[3].healthy_since_ms = None;
        assert_eq!(decide("s1", &servers, &options, 99_000), None, "unhealthy");
        servers[3].healthy_since_ms = Some(0);
        servers[3].liveness = Liveness::Other;
        assert_eq!(decide("s1", &servers, &options, 99_000), None, "unknown");
    }

    #[test]
    fn cleanup_comes_before_promotion() {
        let mut servers = voters(&["s3"], &["s1", "s2", "s3"]);
        servers.push(server("s4", false, Liveness::Alive, Some(0)));
        assert_eq!(
            decide("s1", &servers, &AutopilotOptions::default(), 60_000),
            Some(Decision::RemoveDead("s3".into()))
        );
    }

    #[test]
    fn a_failed_server_keeps_its_vote_for_the_grace() {
        let mut servers = voters(&[], &["s1", "s2", "s3"]);
        servers[2].liveness = Liveness::Failed { since_ms: 5_000 };
        let options = AutopilotOptions::default();
        assert_eq!(decide("s1", &servers, &options, 5_000 + GRACE - 1), None);
        assert_eq!(
            decide("s1", &servers, &options, 5_000 + GRACE),
            Some(Decision::RemoveDead("s3".into()))
        );
    }
}
