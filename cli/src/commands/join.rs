//! `concord join ADDR...`: asks the local agent to join other agents' gossip pools.

use super::{fail, HttpArgs};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct JoinArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Agents to contact (ip, ip:port or host; the port defaults to 8301).
    #[arg(value_name = "ADDR")]
    pub addrs: Vec<String>,
}

pub fn run(args: &JoinArgs) -> i32 {
    if args.addrs.is_empty() {
        return fail("Error! At least one address to join must be specified.");
    }
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let mut joined = 0;
    for addr in &args.addrs {
        let path = format!("/v1/agent/join/{addr}");
        match client.put(&path, &[], &[]).and_then(|r| r.success()) {
            Ok(_) => joined += 1,
            Err(e) => eprintln!("Error joining address '{addr}': {e}"),
        }
    }
    if joined == 0 {
        return fail("Failed to join any nodes.");
    }
    println!("{}", joined_message(joined));
    0
}

pub fn joined_message(joined: usize) -> String {
    format!("Successfully joined cluster by contacting {joined} nodes.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_matches_consul() {
        assert_eq!(
            super::joined_message(1),
            "Successfully joined cluster by contacting 1 nodes."
        );
    }
}
