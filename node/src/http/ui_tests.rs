//! The UI's serving: redirects, index.html for page paths, assets with their types and
//! ETags, a UI directory read from disk, and the whole router with the UI off.

use super::*;
use crate::http::{router_with, HttpExtras};
use axum::body::Body;
use axum::http::Request;
use concord_core::agent::AgentConfig;
use concord_core::membership::Role;
use hyper_util::service::TowerToHyperService;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// One GET through `router`, as hyper would call it.
async fn get(router: Router, path: &str, if_none_match: Option<&str>) -> Answer {
    let mut request = Request::builder().uri(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let service = TowerToHyperService::new(router);
    let request = request.body(Body::empty()).unwrap();
    let response = hyper::service::Service::call(&service, request)
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn on() -> Router {
    routes(Some(UiAssets::embedded()))
}

#[tokio::test]
async fn root_and_bare_ui_redirect_to_the_ui() {
    for path in ["/", "/ui"] {
        let answer = get(on(), path, None).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{path}");
        assert_eq!(answer.header("location"), "/ui/", "{path}");
    }
}

#[tokio::test]
async fn every_page_path_is_index_html() {
    let paths = [
        "/ui/",
        "/ui/dc1/services",
        "/ui/dc1/services/web",
        "/ui/dc1/kv/a/b/",
        "/ui/dc1/kv/a/b/c/edit",
        "/ui/dc1/raft",
    ];
    for path in paths {
        let answer = get(on(), path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
        assert!(answer.body.contains("/ui/assets/app.js"), "{path}");
        assert!(answer
            .header("content-security-policy")
            .contains("default-src 'self'"));
    }
}

#[tokio::test]
async fn assets_have_their_types_and_revalidate_by_etag() {
    let cases = [
        ("app.js", "text/javascript; charset=utf-8"),
        ("kv.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ];
    for (name, kind) in cases {
        let answer = get(on(), &format!("/ui/assets/{name}"), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        assert_eq!(answer.header("content-type"), kind, "{name}");
        assert_eq!(answer.header("cache-control"), "no-cache");
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        let etag = answer.header("etag").to_string();
        assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
        let again = get(on(), &format!("/ui/assets/{name}"), Some(&etag)).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{name}");
        assert!(again.body.is_empty());
    }
}

#[tokio::test]
async fn a_missing_or_sneaky_asset_is_404_not_the_index() {
    for path in [
        "/ui/assets/nope.js",
        "/ui/assets/../Cargo.toml",
        "/ui/assets/.hidden",
        "/ui/assets/a%2F..%2Fb",
    ] {
        let answer = get(on(), path, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("<html"), "{path}");
    }
}

/// A module imported by another (or named in index.html) but left out of `EMBEDDED` would
/// only show up as a blank page in a browser.
#[test]
fn every_referenced_asset_is_compiled_in() {
    let names: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
    let mut referenced = Vec::new();
    for (name, bytes) in EMBEDDED {
        let text = std::str::from_utf8(bytes).unwrap();
        for marker in ["/ui/assets/", "from './"] {
            for piece in text.split(marker).skip(1) {
                let end = piece.find(['"', '\'']).unwrap_or(piece.len());
                referenced.push((*name, piece[..end].to_string()));
            }
        }
    }
    assert!(referenced.len() >= 5, "{referenced:?}");
    for (from, asset) in referenced {
        assert!(
            names.contains(&asset.as_str()),
            "{from} refers to {asset}, not compiled in"
        );
    }
}

#[tokio::test]
async fn a_ui_directory_is_read_from_disk_at_each_request() {
    let dir = std::env::temp_dir().join(format!("concord-ui-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(UiAssets::from_dir(&dir)
        .unwrap_err()
        .contains("no index.html"));
    std::fs::write(dir.join("index.html"), "<p>mine</p>").unwrap();
    std::fs::write(dir.join("app.js"), "one").unwrap();
    let router = routes(Some(UiAssets::from_dir(&dir).unwrap()));
    assert_eq!(
        get(router.clone(), "/ui/x/y", None).await.body,
        "<p>mine</p>"
    );
    assert_eq!(
        get(router.clone(), "/ui/assets/app.js", None).await.body,
        "one"
    );
    std::fs::write(dir.join("app.js"), "two").unwrap();
    assert_eq!(
        get(router.clone(), "/ui/assets/app.js", None).await.body,
        "two"
    );
    let missing = get(router, "/ui/assets/kv.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The agent's whole router: the UI off answers Consul's text at `/` and 404 under `/ui/`;
/// on, it serves the pages next to the API.
#[tokio::test]
async fn the_whole_router_with_the_ui_off_and_on() {
    let handle = start_node().await;
    let off = router_with(handle.clone(), HttpExtras::default());
    let root = get(off.clone(), "/", None).await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.body, UI_DISABLED_TEXT);
    for path in ["/ui/", "/ui/dc1/services", "/ui/assets/app.js"] {
        assert_eq!(
            get(off.clone(), path, None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let extras = HttpExtras {
        ui: Some(UiAssets::embedded()),
        ..HttpExtras::default()
    };
    let on = router_with(handle.clone(), extras);
    assert_eq!(get(on.clone(), "/", None).await.status, StatusCode::FOUND);
    assert_eq!(
        get(on.clone(), "/ui/dc1/nodes", None).await.status,
        StatusCode::OK
    );
    let api = get(on, "/v1/nope", None).await;
    assert_eq!(
        api.status,
        StatusCode::NOT_FOUND,
        "the API's fallback still answers"
    );
}

/// A server node on free ports; no leader is needed, the UI's routes do not touch it.
async fn start_node() -> crate::handle::NodeHandle {
    let port = || {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let (rpc, gossip) = (port(), port());
    let mut agent = AgentConfig::new("ui-test", "127.0.0.1", Role::Server).fast();
    agent.rpc_addr = rpc.to_string();
    agent.gossip_addr = gossip.to_string();
    let config = crate::config::NodeConfig::new(agent, rpc, gossip);
    crate::start(config).await.expect("node starts")
}
