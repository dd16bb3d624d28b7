//! Every client operation with its invoke and return time and its result.

use concord_core::agent::{ApiResult, Request};

#[derive(Clone, Debug)]
pub struct Operation {
    pub node: String,
    pub request: Request,
    pub result: ApiResult,
    pub invoke_ms: u64,
    pub return_ms: u64,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub operations: Vec<Operation>,
}

impl History {
    pub fn push(&mut self, op: Operation) {
        self.operations.push(op);
    }
}
