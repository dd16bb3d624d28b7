//! `concord agent`: settings from files and flags, checks, then the running node.

mod banner;
pub mod bind;
pub mod config_file;
mod data_dir;
mod duration;
pub mod flags;
mod keys;
pub mod layer;
pub mod logging;
pub mod plan;
mod ports;
mod run;
mod watched_disk;

use config_file::{Format, Source};
use flags::AgentFlags;
use layer::ConfigLayer;
use plan::HostFacts;

/// Runs `concord agent`; the process exit code.
pub fn command(flags: &AgentFlags, sources: &[Source]) -> i32 {
    let (layer, mut warnings) = match merged_layer(flags, sources) {
        Ok(merged) => merged,
        Err(why) => {
            eprintln!("==> {why}");
            return 1;
        }
    };
    let plan = match plan::build(&layer, &host_facts()) {
        Ok(plan) => plan,
        Err(why) => {
            eprintln!("==> {why}");
            return 1;
        }
    };
    logging::init(plan.log_level, plan.log_json);
    println!("{}", banner::STARTING);
    warnings.extend(plan.warnings.iter().cloned());
    for warning in &warnings {
        tracing::warn!("agent: {warning}");
    }
    run::run(plan)
}

/// Config sources in order, then `-hcl` fragments, then the flags (strongest).
pub fn merged_layer(
    flags: &AgentFlags,
    sources: &[Source],
) -> Result<(ConfigLayer, Vec<String>), String> {
    let loaded = config_file::load(sources, flags.config_format)?;
    let mut layer = loaded.layer;
    let mut warnings = loaded.warnings;
    for fragment in &flags.hcl {
        let (fragment_layer, fragment_warnings) = config_file::parse_text(fragment, Format::Hcl)
            .and_then(|value| keys::layer_from_value(&value))
            .map_err(|why| format!("Error parsing -hcl {fragment:?}: {why}"))?;
        layer.merge(fragment_layer);
        warnings.extend(fragment_warnings.into_iter().map(|w| format!("-hcl: {w}")));
    }
    layer.merge(flags.to_layer());
    Ok((layer, warnings))
}

fn host_facts() -> HostFacts {
    HostFacts {
        hostname: hostname(),
        interfaces: bind::local_interfaces(),
        seed: seed(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn flags_override_hcl_fragments_override_files() {
        let dir = TempDir::new("merge");
        let file = dir.write(
            "a.json",
            r#"{"node_name": "file", "datacenter": "file-dc", "log_level": "warn"}"#,
        );
        let flags = AgentFlags {
            node: Some("flag".into()),
            hcl: vec!["datacenter = \"hcl-dc\"".into()],
            ..Default::default()
        };
        let (layer, _) = merged_layer(&flags, &[Source::File(file)]).unwrap();
        assert_eq!(layer.node_name.as_deref(), Some("flag"));
        assert_eq!(layer.datacenter.as_deref(), Some("hcl-dc"));
        assert_eq!(layer.log_level, Some(logging::Level::Warn));
    }
}
