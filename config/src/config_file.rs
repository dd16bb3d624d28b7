//! Reading `-config-file` and `-config-dir` sources: JSON or HCL files with Consul's keys, in the
//! order given on the command line; a directory contributes its `.json` and `.hcl` files in
//! alphabetical order.

use crate::keys::layer_from_value;
use crate::layer::ConfigLayer;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Dir(PathBuf),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Hcl,
}

impl Format {
    /// `-config-format` values.
    pub fn parse(text: &str) -> Result<Format, String> {
        match text {
            "json" => Ok(Format::Json),
            "hcl" => Ok(Format::Hcl),
            _ => Err(format!("invalid config format {text:?}: use json or hcl")),
        }
    }

    fn of_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "hcl" => Some(Format::Hcl),
            _ => None,
        }
    }
}

/// The merged settings of all sources, and what to warn about.
#[derive(Debug, Default)]
pub struct Loaded {
    pub layer: ConfigLayer,
    pub warnings: Vec<String>,
}

/// Reads and merges `sources` in order (later ones override earlier ones).
pub fn load(sources: &[Source], format: Option<Format>) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    for source in sources {
        for (path, file_format) in files_of(source, format, &mut loaded.warnings)? {
            let (layer, warnings) = parse_file(&path, file_format)?;
            let shown = path.display();
            loaded
                .warnings
                .extend(warnings.into_iter().map(|w| format!("{shown}: {w}")));
            loaded.layer.merge(layer);
        }
    }
    Ok(loaded)
}

/// The files a source stands for, each with the format to read it in.
fn files_of(
    source: &Source,
    format: Option<Format>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Format)>, String> {
    match source {
        Source::File(path) => {
            let file_format = Format::of_path(path).or(format).ok_or_else(|| {
                format!(
                    "Error parsing {}: the file name must end in .json or .hcl (or pass -config-format)",
                    path.display()
                )
            })?;
            Ok(vec![(path.clone(), file_format)])
        }
        Source::Dir(dir) => dir_files(dir, format, warnings),
    }
}

fn dir_files(
    dir: &Path,
    format: Option<Format>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Format)>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("Error reading config directory {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        match Format::of_path(&path).or(format) {
            Some(file_format) => files.push((path, file_format)),
            None => warnings.push(format!(
                "skipping file {}: the name must end in .json or .hcl",
                path.display()
            )),
        }
    }
    Ok(files)
}

/// Reads one file; errors say `Error parsing FILE: key "K": reason`.
pub fn parse_file(path: &Path, format: Format) -> Result<(ConfigLayer, Vec<String>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error reading {}: {e}", path.display()))?;
    let value = parse_text(&text, format)
        .and_then(|value| layer_from_value(&value))
        .map_err(|why| format!("Error parsing {}: {why}", path.display()))?;
    Ok(value)
}

/// JSON or HCL text as a JSON value, so that both formats go through the same key reader.
pub fn parse_text(text: &str, format: Format) -> Result<Value, String> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Hcl => {
            let value: hcl::Value = hcl::from_str(text).map_err(|e| e.to_string())?;
            serde_json::to_value(value).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use crate::Level;

    #[test]
    fn hcl_and_json_read_the_same() {
        let json = r#"{
            "node_name": "n1", "server": true, "bootstrap_expect": 3,
            "retry_join": ["10.0.0.1", "10.0.0.2"], "ports": {"http": 8501, "serf_lan": 8311},
            "log_level": "debug", "ui_config": {"enabled": true}
        }"#;
        let hcl = r#"
            node_name = "n1"
            server = true
            bootstrap_expect = 3
            retry_join = ["10.0.0.1", "10.0.0.2"]
            ports {
              http = 8501
              serf_lan = 8311
            }
            log_level = "debug"
            ui_config {
              enabled = true
            }
        "#;
        let from_json = layer_from_value(&parse_text(json, Format::Json).unwrap()).unwrap();
        let from_hcl = layer_from_value(&parse_text(hcl, Format::Hcl).unwrap()).unwrap();
        assert_eq!(from_json, from_hcl);
        assert_eq!(from_hcl.0.ports.serf_lan, Some(8311));
        assert_eq!(from_hcl.0.log_level, Some(Level::Debug));
    }

    #[test]
    fn bad_files_are_refused_with_file_key_and_reason() {
        let dir = TempDir::new("bad");
        let path = dir.write("a.json", r#"{"bootstrap_expect": "three"}"#);
        let err = load(&[Source::File(path.clone())], None).unwrap_err();
        assert_eq!(
            err,
            format!(
                r#"Error parsing {}: key "bootstrap_expect": expected a number, got "three""#,
                path.display()
            )
        );
        let hcl = dir.write("b.hcl", "server = \"maybe\"\n");
        let err = load(&[Source::File(hcl.clone())], None).unwrap_err();
        assert!(
            err.contains(&hcl.display().to_string()) && err.contains(r#"key "server""#),
            "{err}"
        );
        let broken = dir.write("c.json", "{\"server\": ");
        let err = load(&[Source::File(broken.clone())], None).unwrap_err();
        assert!(
            err.starts_with(&format!("Error parsing {}: ", broken.display())),
            "{err}"
        );
    }

    #[test]
    fn order_is_files_as_given_then_directory_alphabetically() {
        let dir = TempDir::new("order");
        let conf_d = dir.0.join("conf.d");
        let first = dir.write(
            "first.json",
            r#"{"node_name": "from-file", "datacenter": "dc-file"}"#,
        );
        dir.write("conf.d/20-b.hcl", "node_name = \"from-b\"\n");
        dir.write(
            "conf.d/10-a.json",
            r#"{"node_name": "from-a", "data_dir": "/a"}"#,
        );
        dir.write("conf.d/notes.txt", "not config");
        let sources = [Source::File(first), Source::Dir(conf_d)];
        let loaded = load(&sources, None).unwrap();
        assert_eq!(loaded.layer.node_name.as_deref(), Some("from-b"));
        assert_eq!(loaded.layer.datacenter.as_deref(), Some("dc-file"));
        assert_eq!(loaded.layer.data_dir.as_deref(), Some("/a"));
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("notes.txt"));
    }

    #[test]
    fn unknown_keys_are_warnings_naming_the_file() {
        let dir = TempDir::new("unknown");
        let path = dir.write("s.json", r#"{"servr": true}"#);
        let loaded = load(&[Source::File(path.clone())], None).unwrap();
        assert_eq!(
            loaded.warnings,
            [format!(
                r#"{}: unknown config key "servr"; ignored"#,
                path.display()
            )]
        );
    }

    #[test]
    fn missing_sources_are_errors() {
        let err = load(&[Source::File("/nonexistent/x.json".into())], None).unwrap_err();
        assert!(
            err.starts_with("Error reading /nonexistent/x.json"),
            "{err}"
        );
        let err = load(&[Source::Dir("/nonexistent/d".into())], None).unwrap_err();
        assert!(
            err.starts_with("Error reading config directory /nonexistent/d"),
            "{err}"
        );
    }
}
