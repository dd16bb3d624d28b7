#![allow(dead_code)]
pub mod datadriven;
pub mod raft_net;
