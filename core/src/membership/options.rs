//! Tuning of the SWIM failure detector, named after Consul's `gossip_lan` settings (and
//! memberlist/serf where Consul has no flag). Defaults are Consul's LAN defaults.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipOptions {
    /// One member is probed per interval (scaled by Lifeguard's health score + 1).
    pub probe_interval_ms: u64,
    /// A direct ping unanswered this long turns into indirect ping-reqs.
    pub probe_timeout_ms: u64,
    /// How many members are asked to ping a silent target for us.
    pub indirect_checks: usize,
    /// Scales the suspicion timeout and the confirmations needed (k = mult - 2).
    pub suspicion_mult: u32,
    /// The suspicion timer starts at this multiple of its minimum.
    pub suspicion_max_timeout_mult: u32,
    /// Each broadcast is piggybacked `retransmit_mult x ceil(log10(n+1))` times.
    pub retransmit_mult: u32,
    pub gossip_interval_ms: u64,
    /// Members sent the queued broadcasts per gossip round.
    pub gossip_nodes: usize,
    /// Dead members still get gossip this long (so they learn of their death and refute).
    pub gossip_to_the_dead_ms: u64,
    /// Full state exchange with one random member (scaled above 32 members).
    pub push_pull_interval_ms: u64,
    /// Lifeguard: the health score stays below this.
    pub awareness_max_multiplier: u32,
    /// Serf: every interval we push/pull with one dead member so a healed partition merges.
    pub reconnect_interval_ms: u64,
    /// Dead members are forgotten (reaped) after this long.
    pub reconnect_timeout_ms: u64,
    /// Left members are kept this long, then reaped; prunes are remembered this long.
    pub tombstone_timeout_ms: u64,
    /// The most bytes one datagram carries (memberlist UDPBufferSize).
    pub udp_payload_bytes_max: usize,
    /// The most members the table holds; news of more is dropped and counted.
    pub members_max: usize,
}

impl Default for MembershipOptions {
    fn default() -> MembershipOptions {
        MembershipOptions {
            probe_interval_ms: 1_000,
            probe_timeout_ms: 500,
            indirect_checks: 3,
            suspicion_mult: 4,
            suspicion_max_timeout_mult: 6,
            retransmit_mult: 4,
            gossip_interval_ms: 200,
            gossip_nodes: 3,
            gossip_to_the_dead_ms: 30_000,
            push_pull_interval_ms: 30_000,
            awareness_max_multiplier: 8,
            reconnect_interval_ms: 30_000,
            reconnect_timeout_ms: 72 * 3_600 * 1_000,
            tombstone_timeout_ms: 24 * 3_600 * 1_000,
            udp_payload_bytes_max: 1_400,
            members_max: 4_096,
        }
    }
}

impl MembershipOptions {
    /// Faster timers for the simulator and `-dev`: failures are found in seconds, not tens.
    pub fn fast(self) -> MembershipOptions {
        MembershipOptions {
            probe_interval_ms: 200,
            probe_timeout_ms: 100,
            gossip_interval_ms: 100,
            push_pull_interval_ms: 5_000,
            suspicion_mult: 4,
            // A healed partition merges at the next reconnect: seconds, not half a minute.
            reconnect_interval_ms: 1_000,
            ..self
        }
    }
}
