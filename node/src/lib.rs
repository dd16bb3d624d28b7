//! Concord's node runtime: drives `concord-core` over tokio. Builds with `--cfg madsim` too.

pub mod storage;
