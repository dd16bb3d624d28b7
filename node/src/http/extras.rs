//! `HttpExtras`: optional pieces of the HTTP API that the agent adds and tests leave out
//! (the web UI's assets, the reload hook, ...). Each helper adds its field here; the default
//! is the bare API that `router(handle)` serves.

/// Optional pieces of the router; `Default` is none of them.
#[derive(Clone, Default)]
pub struct HttpExtras {
    /// The web UI's assets (`-ui`); `None` answers Consul's "UI disabled" text at `/`.
    pub ui: Option<super::ui::UiAssets>,
    /// Asks the agent binary to read its config files again (`PUT /v1/agent/reload`).
    pub reload: Option<super::reload::ReloadHook>,
}
