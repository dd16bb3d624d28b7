//! `concord validate FILE|DIR...`: reads config the way the agent would, without starting one.

use super::fail;
use clap::Args;
use concord_config::config_file::{self, Format, Source};
use concord_config::plan;
use std::path::Path;

#[derive(Args, Clone, Debug)]
pub struct ValidateArgs {
    /// Print nothing when the configuration is valid.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub quiet: Option<bool>,
    /// The format of files whose names end in neither .json nor .hcl.
    #[arg(long, value_name = "json|hcl", value_parser = Format::parse)]
    pub config_format: Option<Format>,
    /// Config files or directories, in the order the agent would read them.
    #[arg(value_name = "FILE_OR_DIR")]
    pub paths: Vec<String>,
}

pub fn run(args: &ValidateArgs) -> i32 {
    if args.paths.is_empty() {
        return fail("Must specify at least one config file or directory");
    }
    match validate(&args.paths, args.config_format) {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("==> Warning: {warning}");
            }
            if !args.quiet.unwrap_or(false) {
                println!("Configuration is valid!");
            }
            0
        }
        Err(why) => fail(format!("Config validation failed: {why}")),
    }
}

/// The warnings of a valid configuration, or why it is not valid. A data directory is not
/// required here: the files may be completed by flags at start.
pub fn validate(paths: &[String], format: Option<Format>) -> Result<Vec<String>, String> {
    let sources: Vec<Source> = paths
        .iter()
        .map(|p| {
            if Path::new(p).is_dir() {
                Source::Dir(p.into())
            } else {
                Source::File(p.into())
            }
        })
        .collect();
    let loaded = config_file::load(&sources, format)?;
    let mut warnings = loaded.warnings;
    warnings.extend(plan::check(&loaded.layer, false)?);
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn valid_and_invalid_configurations() {
        let dir = TempDir::new("validate");
        dir.write(
            "conf.d/a.json",
            r#"{"server": true, "bootstrap_expect": 3}"#,
        );
        dir.write("conf.d/b.hcl", "data_dir = \"/var/lib/concord\"\n");
        let conf_d = dir.0.join("conf.d").display().to_string();
        assert_eq!(validate(std::slice::from_ref(&conf_d), None), Ok(vec![]));
        let client = dir.write("client.json", r#"{"server": false}"#);
        let err = validate(&[conf_d, client.display().to_string()], None).unwrap_err();
        assert!(err.contains("not allowed in client mode"), "{err}");
        let bad = dir.write("bad.json", r#"{"bootstrap_expect": "three"}"#);
        let err = validate(&[bad.display().to_string()], None).unwrap_err();
        assert!(
            err.contains(r#"key "bootstrap_expect": expected a number, got "three""#),
            "{err}"
        );
    }
}
