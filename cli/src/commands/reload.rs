//! `concord reload`: the agent reads its config files again and applies services, checks and
//! the log level (`PUT /v1/agent/reload`); a bad file is named and nothing is applied.

use super::{fail, HttpArgs};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

pub fn run(args: &ReloadArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    match client
        .put("/v1/agent/reload", &[], &[])
        .and_then(|r| r.success())
    {
        Ok(_) => {
            println!("Configuration reload triggered");
            0
        }
        Err(e) => fail(format!("Error reloading: {e}")),
    }
}
