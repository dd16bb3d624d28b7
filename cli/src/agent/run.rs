//! The running agent: start the node, serve the HTTP API, and leave gracefully on Ctrl+C or
//! SIGTERM. Everything that touches `concord_node`'s runtime is here.

use super::banner;
use super::data_dir::{self, DataDirLock};
use super::reload::ConfigSource;
use super::watched_disk::{StorageWatch, WatchedDisk};
use concord_config::plan::AgentPlan;
use concord_core::agent::Request;
use concord_node::http::reload::{ReloadHook, ReloadRefused};
use concord_node::http::HttpExtras;
use concord_node::{Hooks, NodeHandle, PlantedBug};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// How long to wait for the node to stop after its leave was answered.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Runs the agent until it leaves; the process exit code. `source` is what a reload plans
/// again; `bug` is a test hook's planted bug (`PlantedBug::None` in production).
pub fn run(plan: AgentPlan, source: ConfigSource, bug: PlantedBug) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("==> Error starting agent: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(run_agent(plan, source, bug));
    // Tasks still running (HTTP connections) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

/// What must live as long as the agent: the node, and the data dir's lock and storage watch.
struct Running {
    handle: NodeHandle,
    storage: Option<StorageWatch>,
    reload: ReloadHook,
    _lock: Option<DataDirLock>,
}

async fn run_agent(plan: AgentPlan, source: ConfigSource, bug: PlantedBug) -> i32 {
    let running = match start(&plan, source, bug).await {
        Ok(running) => running,
        Err(why) => {
            eprintln!("==> Error starting agent: {why}");
            return 1;
        }
    };
    let handle = &running.handle;
    for line in banner::config_lines(&plan, handle.info()) {
        println!("{line}");
    }
    println!();
    println!("{}", banner::RUNNING);
    println!("==> Log data will now stream in as it occurs:");
    println!();
    announce_unbuilt_features(&plan);
    let exit = wait_for_exit(handle, &running.reload).await;
    let code = exit_code(exit, running.storage.as_ref());
    if let Some(path) = &plan.pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// A node that stopped because its storage failed is a fatal stop, whatever else happened
/// (a `concord leave` also stops the node, with success).
fn exit_code(code: i32, storage: Option<&StorageWatch>) -> i32 {
    let Some((dir, failure)) = storage.and_then(|s| s.failure().map(|f| (s.dir(), f))) else {
        return code;
    };
    let message = format!(
        "storage failed in data_dir {}: {failure}; exiting with code 1",
        dir.display()
    );
    tracing::error!("agent: {message}");
    eprintln!("==> {message}");
    1
}

/// Claims the data dir first (another agent's, or one we cannot write, stops us before we
/// serve anything), binds the HTTP and DNS listeners (a busy port fails before the node joins
/// anyone), then starts the node and serves the API and DNS.
async fn start(plan: &AgentPlan, source: ConfigSource, bug: PlantedBug) -> Result<Running, String> {
    let lock = plan
        .node
        .data_dir
        .as_deref()
        .map(data_dir::claim)
        .transpose()?;
    if let Some(lock) = &lock {
        tracing::debug!(
            "agent: data_dir locked for this process: {}",
            lock.path().display()
        );
    }
    concord_node::transport::limits::return_freed_buffers_to_the_system();
    // A bad ui_config.dir stops the agent before it binds or joins anything.
    let ui = ui_assets(plan)?;
    // Raises the open-file limit and keeps the cluster ports' share of it away from HTTP.
    let http_conns = concord_node::http::HttpConns::for_process(plan.node.http.clone())?;
    let mut listeners = Vec::new();
    for addr in &plan.http_listen {
        listeners.push(bind_http(*addr).await?);
    }
    let dns_sockets = match plan.dns_port {
        Some(port) => Some(concord_node::dns::bind(&dns_addrs(plan, port)).await?),
        None => None,
    };
    let (handle, storage) = start_node(plan, bug).await?;
    let reload = super::reload::start(&handle, source, plan.log_level);
    if let Some(sockets) = dns_sockets {
        concord_node::dns::serve(sockets, handle.clone(), plan.dns.clone())?;
    }
    let mut extras = http_extras(plan);
    extras.ui = ui;
    extras.reload = Some(reload.clone());
    for listener in listeners {
        let (handle, conns, extras) = (handle.clone(), http_conns.clone(), extras.clone());
        tokio::spawn(async move {
            let served = concord_node::http::serve_with(listener, handle, conns, extras);
            if let Err(e) = served.await {
                tracing::error!("agent: HTTP server stopped: {e}");
            }
        });
    }
    if let Some(path) = &plan.pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("cannot write pid_file {}: {e}", path.display()))?;
    }
    Ok(Running {
        handle,
        storage,
        reload,
        _lock: lock,
    })
}

/// The optional pieces of the HTTP API this agent serves (each feature adds its own).
fn http_extras(_plan: &AgentPlan) -> HttpExtras {
    HttpExtras::default()
}

/// The web UI's files (`-ui`, `-dev`): compiled in, or from `ui_config.dir` / `-ui-dir`.
fn ui_assets(plan: &AgentPlan) -> Result<Option<concord_node::http::ui::UiAssets>, String> {
    use concord_node::http::ui::UiAssets;
    if !plan.ui {
        return Ok(None);
    }
    let assets = match &plan.ui_dir {
        Some(dir) => UiAssets::from_dir(dir)?,
        None => UiAssets::embedded(),
    };
    Ok(Some(assets))
}

/// The node on the data dir, watched for failed writes; in memory for `-dev`.
async fn start_node(
    plan: &AgentPlan,
    bug: PlantedBug,
) -> Result<(NodeHandle, Option<StorageWatch>), String> {
    let hooks = Hooks {
        bug,
        ..Hooks::real()
    };
    let Some(dir) = &plan.node.data_dir else {
        let disk = Box::new(concord_node::storage::MemDisk::new());
        let handle = concord_node::start_with(plan.node.clone(), disk, hooks).await;
        return handle.map(|h| (h, None)).map_err(|e| e.to_string());
    };
    let (disk, watch) =
        WatchedDisk::open(dir).map_err(|e| format!("data_dir {}: {e}", dir.display()))?;
    let handle = concord_node::start_with(plan.node.clone(), Box::new(disk), hooks)
        .await
        .map_err(|e| e.to_string())?;
    Ok((handle, Some(watch)))
}

/// UDP and TCP on each `-client` address at the DNS port, as Consul listens.
fn dns_addrs(plan: &AgentPlan, port: u16) -> Vec<SocketAddr> {
    plan.client_addrs
        .iter()
        .map(|ip| SocketAddr::new(*ip, port))
        .collect()
}

async fn bind_http(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for HTTP on {addr}: {e}"))
}

/// Flags Concord accepts for compatibility but does not act on yet: say so once.
fn announce_unbuilt_features(plan: &AgentPlan) {
    if plan.dev {
        tracing::info!(
            "agent: -dev mode: state is kept in memory only and is lost when the agent stops"
        );
    }
    match (&plan.ui_dir, plan.ui) {
        (Some(dir), true) => tracing::info!("agent: web UI at /ui/, from {}", dir.display()),
        (None, true) => tracing::info!("agent: web UI at /ui/"),
        (_, false) => {}
    }
}

/// Waits for Ctrl+C, SIGTERM, or the node stopping by itself (after `concord leave`); SIGHUP
/// reloads the configuration meanwhile, as Consul's does.
async fn wait_for_exit(handle: &NodeHandle, reload: &ReloadHook) -> i32 {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::error!("agent: cannot watch SIGTERM: {e}");
            handle.stopped().await;
            return 0;
        }
    };
    let mut hangup = signal(SignalKind::hangup())
        .map_err(|e| tracing::error!("agent: cannot watch SIGHUP (no reload on it): {e}"))
        .ok();
    let caught = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break "interrupt",
            _ = terminate.recv() => break "terminated",
            _ = hangups(&mut hangup) => reload_on_hangup(reload),
            _ = handle.stopped() => {
                tracing::info!("agent: the node has stopped; exiting");
                return 0;
            }
        }
    };
    println!("==> Caught signal: {caught}");
    tokio::select! {
        code = graceful_leave(handle) => code,
        _ = second_signal(&mut terminate) => {
            println!("==> Caught second signal, exiting without finishing the leave");
            1
        }
    }
}

/// The next SIGHUP (never, when it cannot be watched).
async fn hangups(hangup: &mut Option<Signal>) {
    match hangup {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Reloads in the background (the reload task logs the outcome), so signals stay watched.
fn reload_on_hangup(reload: &ReloadHook) {
    println!("==> Caught signal: hangup");
    println!("==> Reloading configuration...");
    let reload = reload.clone();
    tokio::spawn(async move {
        if let Err(refused) = reload.reload().await {
            let why = match refused {
                ReloadRefused::Busy => "too many reloads queued",
                ReloadRefused::Stopped => "the agent is stopping",
            };
            tracing::warn!("agent: configuration not reloaded: {why}");
        }
    });
}

async fn second_signal(terminate: &mut Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Leaves the cluster (others see this node `left`, a server leaves the Raft voters first)
/// and waits for the node to stop.
async fn graceful_leave(handle: &NodeHandle) -> i32 {
    println!("==> Gracefully shutting down agent...");
    if let Err(e) = handle.request(Request::Leave).await {
        eprintln!("==> Error leaving: {e}");
        return 1;
    }
    if tokio::time::timeout(STOP_WAIT, handle.stopped())
        .await
        .is_err()
    {
        eprintln!(
            "==> The node left but did not stop within {}s; exiting",
            STOP_WAIT.as_secs()
        );
        return 1;
    }
    println!("Graceful leave complete");
    0
}
