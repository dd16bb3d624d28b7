//! One check registered on this agent: its definition, how it runs, its status and output,
//! and the rules that move the status (TTL expiry, Consul's success/failure thresholds, the
//! time it has been critical for `deregister_critical_service_after`).

use crate::catalog::{cap_output, CheckRegistration, CheckStatus};
use serde::{Deserialize, Serialize};

/// Consul's default `Timeout` of HTTP, TCP and script checks.
pub const CHECK_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Consul's floor for `deregister_critical_service_after`: shorter values are raised to it.
pub const DEREGISTER_CRITICAL_AFTER_MS_MIN: u64 = 60_000;
/// Arguments of one script check, and the bytes of each (a definition stays bounded).
pub const SCRIPT_ARGS_MAX: usize = 64;
pub const SCRIPT_ARG_BYTES_MAX: usize = 4096;

/// How a check gets its results. Runners in the node execute the HTTP, TCP and script kinds;
/// a TTL check is fed over the API; the others (maintenance, kinds Concord does not run)
/// keep the status they were given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckKind {
    Ttl {
        ttl_ms: u64,
    },
    Http {
        url: String,
        method: String,
        header: std::collections::BTreeMap<String, Vec<String>>,
        body: String,
        tls_skip_verify: bool,
    },
    Tcp {
        addr: String,
    },
    Script {
        args: Vec<String>,
    },
    /// Maintenance checks, and checks with no runner: the status stays as registered.
    Manual,
}

impl CheckKind {
    /// Consul's `Type` string for the kind.
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Ttl { .. } => "ttl",
            CheckKind::Http { .. } => "http",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Script { .. } => "script",
            CheckKind::Manual => "",
        }
    }

    /// Whether a runner in the node executes it every `interval`.
    pub fn is_run(&self) -> bool {
        matches!(
            self,
            CheckKind::Http { .. } | CheckKind::Tcp { .. } | CheckKind::Script { .. }
        )
    }
}

/// A check as a client registers it: the catalog's registration (id, name, status, notes,
/// service, Definition strings) and what only the agent needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInput {
    pub check: CheckRegistration,
    pub kind: CheckKind,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub success_before_passing: u32,
    pub failures_before_critical: u32,
    /// 0: never; else at least `DEREGISTER_CRITICAL_AFTER_MS_MIN`.
    pub deregister_critical_service_after_ms: u64,
}

/// What a runner needs to run one check (`Agent::check_specs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub check_id: String,
    pub kind: CheckKind,
    pub interval_ms: u64,
    pub timeout_ms: u64,
}

/// A registered check and its live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCheck {
    pub input: CheckInput,
    /// When a TTL check turns critical unless updated first.
    pub ttl_deadline_ms: Option<u64>,
    /// Consecutive results of a runner, for the thresholds.
    pub successes: u32,
    pub failures: u32,
    /// Since when the status is critical (for the reaper).
    pub critical_since_ms: Option<u64>,
    /// Bumped on every change the catalog must see; the catalog has `synced_version`.
    pub version: u64,
    pub synced_version: u64,
    /// An output-only change waits until then (`check_update_interval`).
    pub deferred_until_ms: Option<u64>,
}

impl LocalCheck {
    pub fn new(mut input: CheckInput, now_ms: u64) -> LocalCheck {
        input.check.output = cap_output(&input.check.output);
        input.check.check_type = input.kind.type_name().to_string();
        let ttl_deadline_ms = match input.kind {
            CheckKind::Ttl { ttl_ms } => Some(now_ms + ttl_ms),
            _ => None,
        };
        let critical = input.check.status == CheckStatus::Critical;
        LocalCheck {
            input,
            ttl_deadline_ms,
            successes: 0,
            failures: 0,
            critical_since_ms: critical.then_some(now_ms),
            version: 1,
            synced_version: 0,
            deferred_until_ms: None,
        }
    }

    pub fn id(&self) -> &str {
        &self.input.check.check_id
    }
    pub fn status(&self) -> CheckStatus {
        self.input.check.status
    }
    pub fn in_sync(&self) -> bool {
        self.version == self.synced_version
    }
    pub fn is_ttl(&self) -> bool {
        matches!(self.input.kind, CheckKind::Ttl { .. })
    }

    /// Sets status and output. Returns what changed, for the sync: a status change syncs at
    /// once, an output-only change may be deferred.
    pub fn set(&mut self, now_ms: u64, status: CheckStatus, output: &str) -> Change {
        let output = cap_output(output);
        let check = &mut self.input.check;
        let change = match (check.status == status, check.output == output) {
            (true, true) => Change::None,
            (true, false) => Change::OutputOnly,
            (false, _) => Change::Status,
        };
        if change == Change::Status {
            self.critical_since_ms = (status == CheckStatus::Critical).then_some(now_ms);
            self.deferred_until_ms = None;
        }
        check.status = status;
        check.output = output;
        if change != Change::None {
            self.version += 1;
        }
        change
    }

    /// A TTL update (`pass`, `warn`, `fail`, `update`): sets the status and restarts the TTL.
    pub fn ttl_update(&mut self, now_ms: u64, status: CheckStatus, output: &str) -> Change {
        let CheckKind::Ttl { ttl_ms } = self.input.kind else {
            unreachable!("callers check is_ttl");
        };
        self.ttl_deadline_ms = Some(now_ms + ttl_ms);
        self.set(now_ms, status, output)
    }

    /// A TTL check not updated in time turns critical, keeping its last output as Consul does.
    pub fn expire_ttl(&mut self, now_ms: u64) -> Change {
        let Some(deadline) = self.ttl_deadline_ms else {
            return Change::None;
        };
        if now_ms < deadline {
            return Change::None;
        }
        self.ttl_deadline_ms = None;
        let last = self.input.check.output.clone();
        let output = match last.as_str() {
            "" => "TTL expired".to_string(),
            last => format!("TTL expired (last output before timeout follows): {last}"),
        };
        self.set(now_ms, CheckStatus::Critical, &output)
    }

    /// A runner's result through Consul's thresholds: passing only after
    /// `success_before_passing` passes in a row, critical only after
    /// `failures_before_critical` failures in a row (warning in between); warning at once.
    pub fn result(&mut self, now_ms: u64, status: CheckStatus, output: &str) -> Change {
        let (need_ok, need_fail) = (
            self.input.success_before_passing,
            self.input.failures_before_critical,
        );
        let current = self.status();
        let effective = match status {
            CheckStatus::Passing => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                if self.successes >= need_ok {
                    status
                } else {
                    current
                }
            }
            CheckStatus::Critical => {
                self.successes = 0;
                self.failures = self.failures.saturating_add(1);
                if self.failures >= need_fail {
                    status
                } else {
                    current
                }
            }
            CheckStatus::Warning => {
                (self.successes, self.failures) = (0, 0);
                status
            }
        };
        self.set(now_ms, effective, output)
    }

    /// Whether the reaper removes this check's service now.
    pub fn reap_due(&self, now_ms: u64) -> bool {
        let after = self.input.deregister_critical_service_after_ms;
        let since = self.critical_since_ms;
        after > 0 && since.is_some_and(|t| now_ms.saturating_sub(t) >= after)
    }

    pub fn spec(&self) -> CheckSpec {
        CheckSpec {
            check_id: self.id().to_string(),
            kind: self.input.kind.clone(),
            interval_ms: self.input.interval_ms,
            timeout_ms: self.input.timeout_ms,
        }
    }
}

/// What a status update changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    OutputOnly,
    Status,
}
