//! The web UI (`-ui`, `ui_config.enabled`): static assets served at `/ui/`, compiled into the
//! binary (no CDN; works offline) or read from `ui_config.dir` (an operator's own UI, and the
//! development loop: edit `node/ui/*` and reload the page, no Rust build).
//!
//! `/` redirects to `/ui/`; `/ui/assets/<name>` are the assets; every other `/ui/...` path is
//! `index.html` (the page routes itself from the path, as Consul's UI does). With the UI off,
//! `/` answers Consul's "UI disabled" text and `/ui/...` is an unknown path (404).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;

/// Consul's text at `/` when the UI is off, under Concord's name.
pub const UI_DISABLED_TEXT: &str = "Concord Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.";

/// The assets compiled in: `node/ui/*`, served as `/ui/assets/<name>` (index.html as pages).
const EMBEDDED: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../ui/index.html")),
    ("app.js", include_bytes!("../../ui/app.js")),
    ("lib.js", include_bytes!("../../ui/lib.js")),
    ("pages.js", include_bytes!("../../ui/pages.js")),
    ("kv.js", include_bytes!("../../ui/kv.js")),
    ("style.css", include_bytes!("../../ui/style.css")),
];

/// Path segments of an asset name in a UI directory, at most (and each a plain file name).
const ASSET_DEPTH_MAX: usize = 4;

/// Where the UI's files come from.
#[derive(Clone, Debug)]
pub struct UiAssets {
    /// `None`: the compiled-in assets; `Some(dir)`: files read from `dir` at each request.
    dir: Option<Arc<PathBuf>>,
}

impl UiAssets {
    /// The assets compiled into the binary.
    pub fn embedded() -> UiAssets {
        UiAssets { dir: None }
    }

    /// The files of `dir` (`ui_config.dir`), which must hold an `index.html`.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<UiAssets, String> {
        let dir = dir.into();
        if !dir.join("index.html").is_file() {
            return Err(format!(
                "ui_config.dir {}: no index.html in that directory",
                dir.display()
            ));
        }
        Ok(UiAssets {
            dir: Some(Arc::new(dir)),
        })
    }

    /// The bytes of `name` (an asset name already checked by `asset_name_ok`), if it exists.
    fn read(&self, name: &str) -> Option<Vec<u8>> {
        match &self.dir {
            None => EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| bytes.to_vec()),
            Some(dir) => std::fs::read(dir.join(name)).ok(),
        }
    }
}

/// `/`, and with the UI on, `/ui` and everything under it.
pub fn routes<S: Clone + Send + Sync + 'static>(ui: Option<UiAssets>) -> Router<S> {
    let Some(ui) = ui else {
        return Router::new().route("/", get(disabled));
    };
    Router::new()
        .route("/", get(to_ui))
        .route("/ui", get(to_ui))
        .route("/ui/", get(page))
        .route("/ui/assets/{*name}", get(asset))
        .route("/ui/{*path}", get(page))
        .with_state(ui)
}

async fn disabled() -> Response {
    let mut response = UI_DISABLED_TEXT.into_response();
    no_sniff(response.headers_mut());
    response
}

/// A temporary redirect, so that a browser does not remember it once the UI is turned off.
async fn to_ui() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/ui/")]).into_response()
}

/// Any page of the UI: index.html, which reads the path itself.
async fn page(State(ui): State<UiAssets>, headers: HeaderMap) -> Response {
    serve(&ui, "index.html", &headers)
}

async fn asset(
    State(ui): State<UiAssets>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !asset_name_ok(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&ui, &name, &headers)
}

/// Plain file names joined by `/`: no `..`, no hidden files, nothing outside the directory.
fn asset_name_ok(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    segments.len() <= ASSET_DEPTH_MAX
        && segments.iter().all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// One file, with its type and an ETag (`304` when the browser has it already).
fn serve(ui: &UiAssets, name: &str, request: &HeaderMap) -> Response {
    let Some(bytes) = ui.read(name) else {
        return (StatusCode::NOT_FOUND, format!("no UI asset {name:?}")).into_response();
    };
    let etag = format!("\"{:016x}\"", fnv1a(&bytes));
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    // Names are not content-hashed, so browsers revalidate each time (a cheap 304) and never
    // run an old app.js against a new agent after an upgrade.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    no_sniff(headers);
    if name.ends_with(".html") {
        // The UI loads only its own files and talks only to this agent; no framing (the KV
        // editor writes).
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
            ),
        );
    }
    response
}

fn no_sniff(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: a stable content hash for the ETag (not a security property).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
