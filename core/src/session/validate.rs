//! Whether a session may exist given the catalog: its node registered, and every check it
//! names registered on that node and not critical (Consul's `sessionCreateTxn`). Checked by
//! the leader before it proposes a create (with Consul's error texts), again when the create
//! applies, and after every catalog write that could break it (`sweep`).

use super::types::Session;
use crate::catalog::{CatalogStore, CheckStatus};

/// `Ok` if `session` may exist now; otherwise Consul's error text.
pub fn check_against_catalog(catalog: &CatalogStore, session: &Session) -> Result<(), String> {
    if !catalog.has_node(&session.node) {
        return Err("Missing node registration".to_string());
    }
    let service_checks = session.service_checks.iter().map(|c| c.id.as_str());
    for id in session
        .node_checks
        .iter()
        .map(String::as_str)
        .chain(service_checks)
    {
        match catalog.check(&session.node, id) {
            None => return Err(format!("Missing check '{id}' registration")),
            Some(check) if check.status == CheckStatus::Critical => {
                return Err(format!("Check '{id}' is in critical state"))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
