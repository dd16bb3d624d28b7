//! Random writes of every kind, restores among them: no watch index ever goes backwards,
//! and every invariant holds after each entry.

use super::test_support::*;
use super::{RestoreCommand, StateMachine, TableId, WatchKey};
use crate::agent::command::Command;
use crate::catalog::test_support::{catalog, check, register, register_checks};
use crate::catalog::{CatalogCommand, CheckStatus};
use crate::kv::KvCommand;
use crate::session::Behavior;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
enum Step {
    Set(usize),
    Delete(usize),
    DeleteTree(usize),
    Lock(usize, usize),
    Unlock(usize, usize),
    Create(usize, usize, bool),
    Destroy(usize),
    Register(usize),
    Serf(usize, bool),
    Deregister(usize),
    /// Restore the snapshot taken after the given step (modulo the steps so far).
    Restore(usize),
}

const KEYS: [&str; 3] = ["a", "a/x", "b"];
const NODES: [&str; 2] = ["n1", "n2"];
const IDS: [&str; 3] = ["s1", "s2", "s3"];

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize).prop_map(Step::Set),
        (0..3usize).prop_map(Step::Delete),
        (0..3usize).prop_map(Step::DeleteTree),
        (0..3usize, 0..3usize).prop_map(|(k, s)| Step::Lock(k, s)),
        (0..3usize, 0..3usize).prop_map(|(k, s)| Step::Unlock(k, s)),
        (0..3usize, 0..2usize, any::<bool>()).prop_map(|(s, n, d)| Step::Create(s, n, d)),
        (0..3usize).prop_map(Step::Destroy),
        (0..2usize).prop_map(Step::Register),
        (0..2usize, any::<bool>()).prop_map(|(n, ok)| Step::Serf(n, ok)),
        (0..2usize).prop_map(Step::Deregister),
        (0..64usize).prop_map(Step::Restore),
    ]
}

/// The commands of one step (a restore takes three entries).
fn commands(step: &Step, snapshots: &[Vec<u8>]) -> Vec<Command> {
    let node = |n: usize| NODES[n].to_string();
    let one = match step {
        Step::Set(k) => set(KEYS[*k], "v"),
        Step::Delete(k) => Command::Kv(KvCommand::Delete {
            key: KEYS[*k].into(),
        }),
        Step::DeleteTree(k) => Command::Kv(KvCommand::DeleteTree {
            prefix: KEYS[*k].into(),
        }),
        Step::Lock(k, s) => lock(KEYS[*k], "v", IDS[*s]),
        Step::Unlock(k, s) => unlock(KEYS[*k], "v", IDS[*s]),
        Step::Create(s, n, delete) => {
            let behavior = if *delete {
                Behavior::Delete
            } else {
                Behavior::Release
            };
            create(session(IDS[*s], NODES[*n], behavior, 1_000))
        }
        Step::Destroy(s) => destroy(IDS[*s]),
        Step::Register(n) => catalog(register(NODES[*n], None, &[])),
        Step::Serf(n, ok) => {
            let status = if *ok {
                CheckStatus::Passing
            } else {
                CheckStatus::Critical
            };
            catalog(register_checks(
                NODES[*n],
                vec![check("serfHealth", "", status)],
            ))
        }
        Step::Deregister(n) => catalog(CatalogCommand::Deregister {
            node: node(*n),
            service_id: None,
            check_id: None,
        }),
        Step::Restore(at) => {
            let bytes = &snapshots[at % snapshots.len()];
            let id = *at as u64;
            return vec![
                Command::Restore(RestoreCommand::Begin {
                    id,
                    total_bytes: bytes.len() as u64,
                    sha256: Sha256::digest(bytes).into(),
                }),
                Command::Restore(RestoreCommand::Chunk {
                    id,
                    offset: 0,
                    bytes: bytes.clone(),
                }),
                Command::Restore(RestoreCommand::Commit { id }),
            ];
        }
    };
    vec![one]
}

fn watch_keys() -> Vec<WatchKey> {
    let mut keys: Vec<WatchKey> = TableId::ALL.into_iter().map(WatchKey::Table).collect();
    keys.extend(["", "a", "a/x", "b", "c"].map(|p| WatchKey::KvPrefix(p.into())));
    keys.extend(["n1", "n2", "n3"].map(|n| WatchKey::Node(n.into())));
    keys.push(WatchKey::Service("web".into()));
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn watch_indexes_never_go_backwards(steps in prop::collection::vec(arb_step(), 1..40)) {
        let mut state = StateMachine::new();
        let keys = watch_keys();
        let mut snapshots = vec![state.to_snapshot_bytes()];
        let mut index = 0;
        let mut seen: Vec<u64> = keys.iter().map(|k| state.watch_index(k)).collect();
        for step in &steps {
            for command in commands(step, &snapshots) {
                index += 1;
                state.apply_traced(index, 1, &command);
            }
            prop_assert_eq!(state.check_invariants(), Ok(()), "after {:?}", step);
            for (key, last) in keys.iter().zip(seen.iter_mut()) {
                let now = state.watch_index(key);
                prop_assert!(now >= *last, "{:?} went back from {} to {} at {:?}", key, last, now, step);
                *last = now;
            }
            if matches!(step, Step::Restore(_)) {
                prop_assert!(seen.iter().all(|i| *i >= index), "every watch raised: {:?}", seen);
            }
            snapshots.push(state.to_snapshot_bytes());
        }
    }
}
