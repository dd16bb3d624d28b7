//! `concord agent`: the configuration library (`concord_config`) turns the words into a plan;
//! this module prints, logs and runs it.

mod banner;
mod bind;
mod data_dir;
pub mod logging;
mod reload;
mod run;
mod test_hooks;
mod watched_disk;

use concord_config::layer::ConfigLayer;
use concord_config::plan::HostFacts;
use concord_config::AgentError;

/// Runs `concord agent WORDS...` (the words after `agent`); the process exit code.
pub fn command(words: &[String]) -> i32 {
    // Debug builds only: the real-process runner's hooks (`test_hooks`).
    let hooks = match test_hooks::from_env() {
        Ok(hooks) => hooks,
        Err(why) => {
            eprintln!("==> Error starting agent: {why}");
            return 1;
        }
    };
    // A reload plans the same words with the same facts again (`reload::ConfigSource`).
    let source = reload::ConfigSource {
        words: words.to_vec(),
        host: host_facts(hooks.quick_timings),
    };
    let planned = match concord_config::plan_agent(words, ConfigLayer::default(), &source.host) {
        Ok(planned) => planned,
        Err(AgentError::Usage(error)) => return crate::cli::report_parse_error(error),
        Err(error @ AgentError::Config { .. }) => {
            eprintln!("{error}");
            return 1;
        }
    };
    for note in &planned.notes {
        eprintln!("==> Warning: {note}");
    }
    let mut plan = planned.plan;
    hooks.apply(&mut plan.node.agent.raft);
    logging::init(plan.log_level, plan.log_json);
    println!("{}", banner::STARTING);
    for warning in hooks.warnings() {
        eprintln!("==> Warning: {warning}");
        tracing::warn!("agent: {warning}");
    }
    for warning in &planned.warnings {
        tracing::warn!("agent: {warning}");
    }
    run::run(plan, source, hooks.bug)
}

/// This machine's facts; `quick_timings` only from a test hook (`-dev` asks on its own).
fn host_facts(quick_timings: bool) -> HostFacts {
    HostFacts {
        hostname: hostname(),
        interfaces: bind::local_interfaces(),
        seed: seed(),
        quick_timings,
    }
}

/// Consul's default node name.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "concord".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The real binary draws its PRNG seed from the clock and the process id, so that agents
/// started together still pick different election timeouts.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15
}
