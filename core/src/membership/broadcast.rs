//! The piggyback queue (memberlist's TransmitLimitedQueue): every update is sent a limited
//! number of times on whatever datagrams leave, least-sent first, so news spreads
//! epidemically without a message of its own.

use super::member::Member;
use super::message::Update;
use std::collections::BTreeMap;

/// Fixed per-update cost on the wire beyond its strings (tags, numbers, framing). Estimated,
/// generously, from a msgpack/bincode member record so real encodings stay under budget.
pub const UPDATE_OVERHEAD_BYTES: usize = 72;
/// Fixed per-packet cost beyond the sender's strings and the body (framing, seq, tags, the
/// envelope around the packet): 69 bytes measured, with a margin.
pub const PACKET_HEADER_BYTES: usize = 80;

/// `retransmit_mult x ceil(log10(n+1))`: how often each update is piggybacked.
pub fn retransmit_limit(retransmit_mult: u32, members_n: usize) -> u32 {
    let scale = ((members_n as f64) + 1.0).log10().ceil() as u32;
    retransmit_mult * scale
}

/// The estimated encoded size of an update (strings plus a fixed overhead).
pub fn update_size_bytes(update: &Update) -> usize {
    let strings = match update {
        Update::Alive(member) => member_strings_bytes(member),
        Update::Suspect { name, from, .. } | Update::Dead { name, from, .. } => {
            name.len() + from.len()
        }
        Update::Prune { name, .. } => name.len(),
    };
    UPDATE_OVERHEAD_BYTES + strings
}

fn member_strings_bytes(member: &Member) -> usize {
    member.name.len()
        + member.gossip_addr.len()
        + member.rpc_addr.len()
        + member.datacenter.len()
        + member.build.len()
}

#[derive(Clone, Debug)]
struct Queued {
    update: Update,
    transmits: u32,
    /// Insertion order: among equally sent updates the newest goes first (memberlist).
    id: u64,
}

#[derive(Clone, Debug)]
pub struct BroadcastQueue {
    by_subject: BTreeMap<String, Queued>,
    next_id: u64,
    len_max: usize,
}

impl BroadcastQueue {
    pub fn new(len_max: usize) -> BroadcastQueue {
        assert!(len_max > 0, "a broadcast queue holds at least one update");
        BroadcastQueue {
            by_subject: BTreeMap::new(),
            next_id: 0,
            len_max,
        }
    }

    pub fn len(&self) -> usize {
        self.by_subject.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_subject.is_empty()
    }

    /// Queues `update`, replacing an older one about the same member; when full, the most
    /// sent (then oldest) update makes room. Returns whether one was dropped for room.
    pub fn push(&mut self, update: Update) -> bool {
        let subject = update.subject().to_string();
        let mut dropped = false;
        if !self.by_subject.contains_key(&subject) && self.by_subject.len() >= self.len_max {
            dropped = self.drop_most_sent();
        }
        self.next_id += 1;
        let queued = Queued {
            update,
            transmits: 0,
            id: self.next_id,
        };
        self.by_subject.insert(subject, queued);
        debug_assert!(self.by_subject.len() <= self.len_max);
        dropped
    }

    fn drop_most_sent(&mut self) -> bool {
        let victim = self
            .by_subject
            .iter()
            .max_by_key(|(_, q)| (q.transmits, std::cmp::Reverse(q.id)))
            .map(|(k, _)| k.clone());
        victim.is_some_and(|k| self.by_subject.remove(&k).is_some())
    }

    /// Takes updates to piggyback within `budget_bytes`, least sent first (newest first among
    /// equals); one too large for what is left is skipped for smaller ones after it. Each
    /// counts one transmit and leaves the queue after `limit` of them. Runs for every packet:
    /// it sorts small keys and looks up only what it takes, and stops once no update could fit.
    pub fn take(&mut self, budget_bytes: usize, limit: u32) -> Vec<Update> {
        let mut order: Vec<(u32, std::cmp::Reverse<u64>, &str, usize)> = self
            .by_subject
            .iter()
            .map(|(k, q)| {
                let size_bytes = update_size_bytes(&q.update);
                (q.transmits, std::cmp::Reverse(q.id), k.as_str(), size_bytes)
            })
            .collect();
        order.sort_unstable_by_key(|(transmits, id, _, _)| (*transmits, *id));
        let mut used_bytes = 0usize;
        let mut chosen: Vec<String> = Vec::new();
        for (_, _, subject, size_bytes) in order {
            // Every update costs at least its overhead: nothing more can fit.
            if budget_bytes.saturating_sub(used_bytes) < UPDATE_OVERHEAD_BYTES {
                break;
            }
            if used_bytes + size_bytes > budget_bytes {
                continue;
            }
            used_bytes += size_bytes;
            chosen.push(subject.to_string());
        }
        debug_assert!(used_bytes <= budget_bytes);
        chosen
            .into_iter()
            .map(|subject| {
                let queued = self.by_subject.get_mut(&subject).expect("chosen above");
                queued.transmits += 1;
                let update = queued.update.clone();
                if queued.transmits >= limit {
                    self.by_subject.remove(&subject);
                }
                update
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suspect(name: &str, incarnation: u64) -> Update {
        Update::Suspect {
            name: name.into(),
            incarnation,
            from: "x".into(),
        }
    }

    #[test]
    fn retransmit_limit_grows_with_log10_of_n_plus_one() {
        assert_eq!(retransmit_limit(4, 1), 4);
        assert_eq!(retransmit_limit(4, 9), 4);
        assert_eq!(retransmit_limit(4, 10), 8);
        assert_eq!(retransmit_limit(4, 99), 8);
        assert_eq!(retransmit_limit(4, 100), 12);
    }

    #[test]
    fn update_is_sent_limit_times_then_gone() {
        let mut q = BroadcastQueue::new(8);
        q.push(suspect("a", 1));
        for _ in 0..3 {
            assert_eq!(q.take(1_000, 3).len(), 1);
        }
        assert!(q.take(1_000, 3).is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn newer_update_about_same_member_replaces_and_least_sent_goes_first() {
        let mut q = BroadcastQueue::new(8);
        q.push(suspect("a", 1));
        q.take(1_000, 10);
        q.push(suspect("b", 1));
        let one = update_size_bytes(&suspect("a", 1));
        assert_eq!(
            q.take(one, 10),
            vec![suspect("b", 1)],
            "least sent first, within budget"
        );
        q.push(suspect("a", 2));
        assert_eq!(q.len(), 2);
        assert_eq!(q.take(one, 10), vec![suspect("a", 2)]);
    }

    #[test]
    fn full_queue_drops_the_most_sent() {
        let mut q = BroadcastQueue::new(2);
        q.push(suspect("a", 1));
        q.take(update_size_bytes(&suspect("a", 1)), 10);
        q.push(suspect("b", 1));
        assert!(q.push(suspect("c", 1)));
        let left: Vec<String> = q
            .take(10_000, 10)
            .iter()
            .map(|u| u.subject().into())
            .collect();
        assert_eq!(left, vec!["c".to_string(), "b".to_string()]);
    }
}
