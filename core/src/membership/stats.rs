//! Counters of the detector: what it did, and what remote input it dropped (never panicked on).

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembershipStats {
    pub probes_sent: u64,
    pub acks_received: u64,
    pub probes_failed: u64,
    pub ping_reqs_sent: u64,
    pub ping_reqs_served: u64,
    pub nacks_sent: u64,
    pub nacks_received: u64,
    pub suspicions_started: u64,
    pub suspicion_confirmations: u64,
    pub deaths_declared: u64,
    pub refutations: u64,
    pub push_pulls_sent: u64,
    pub reaped: u64,
    /// Updates or records older than what we hold (or ack/nack of no pending probe).
    pub dropped_stale: u64,
    /// News about a member we do not know that cannot introduce it (suspect/dead/prune).
    pub dropped_unknown: u64,
    /// Packets that cannot be right (our own name as sender, wrong ping target, over bounds).
    pub dropped_malformed: u64,
    /// New members beyond `members_max`.
    pub dropped_over_members_max: u64,
    /// Records of a pruned member at its pruned incarnation.
    pub dropped_pruned: u64,
    /// Queued broadcasts pushed out by newer ones when the queue was full.
    pub broadcasts_dropped_queue_full: u64,
    /// Ping-reqs we could not serve because too many were pending.
    pub ping_reqs_dropped_pending_max: u64,
    /// Times we found we had not run for a while (a paused process): our probe in flight was
    /// dropped unjudged and suspicion timers waited for what had queued up meanwhile.
    pub stalls: u64,
    /// Unconfirmed suspicions that sent one last ping before running out.
    pub last_chance_probes: u64,
}
