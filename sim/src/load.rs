//! Background client load: several clients, each a task issuing random KV operations to
//! random agents while faults happen, every operation recorded for the checkers.

use crate::history::Recorder;
use crate::world::World;
use concord_core::agent::{Consistency, Request};
use concord_core::kv::KvCommand;
use concord_core::rng::Rng;
use concord_node::NodeHandle;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keys the load writes and reads: few, so that operations contend.
pub const LOAD_KEYS: u64 = 4;

type Slot = Arc<Mutex<Option<NodeHandle>>>;

/// Clients running in the background; `wait` joins them.
#[derive(Default)]
pub struct Load {
    tasks: Vec<madsim::task::JoinHandle<()>>,
}

impl Load {
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl World {
    /// Starts `clients` clients doing `ops` operations each, in the background.
    pub fn start_load(&mut self, clients: u64, ops: u64) -> Load {
        let targets: Vec<(String, Slot)> = self
            .nodes
            .values()
            .map(|n| (n.name.clone(), n.handle.clone()))
            .collect();
        let mut load = Load::default();
        for _ in 0..clients {
            self.next_client += 1;
            let client = Client {
                id: self.next_client,
                rng: Rng::new(self.rng.next_u64()),
                recorder: self.recorder.clone(),
            };
            let targets = targets.clone();
            load.tasks
                .push(madsim::task::spawn(client.run(targets, ops)));
        }
        load
    }
}

struct Client {
    id: u64,
    rng: Rng,
    recorder: Recorder,
}

impl Client {
    async fn run(mut self, targets: Vec<(String, Slot)>, ops: u64) {
        for op in 0..ops {
            let (name, slot) = &targets[self.rng.range(0, targets.len() as u64) as usize];
            let handle = slot.lock().expect("slot").clone();
            let request = self.next_request(op);
            let _ = self.recorder.call(self.id, name, handle, request).await;
            madsim::time::sleep(Duration::from_millis(self.rng.range(0, 30))).await;
        }
    }

    /// Writes carry values unique in the whole run, so that a read names the write it saw.
    fn next_request(&mut self, op: u64) -> Request {
        let key = format!("k{}", self.rng.range(0, LOAD_KEYS));
        match self.rng.range(0, 20) {
            0..=8 => {
                let value = format!("c{}-{op}", self.id).into_bytes();
                Request::KvWrite {
                    command: KvCommand::Set {
                        key,
                        value,
                        flags: 0,
                    },
                }
            }
            9 => Request::KvWrite {
                command: KvCommand::Delete { key },
            },
            10..=17 => Request::KvGet {
                key,
                consistency: Consistency::Consistent,
            },
            _ => Request::KvGet {
                key,
                consistency: Consistency::Stale,
            },
        }
    }
}
