#![allow(dead_code)]
pub mod agent_net;
pub mod datadriven;
pub mod drive;
pub mod raft_net;
