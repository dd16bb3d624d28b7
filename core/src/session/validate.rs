//! Whether a session may exist given the catalog: its node registered, and every check it
//! names registered on that node and not critical (Consul's `sessionCreateTxn`). Checked by
//! the leader before it proposes a create (with Consul's error texts), again when the create
//! applies, and after every catalog write that could break it (`sweep`). Also the bounds on
//! what a create may carry (`check_spec_bounds`, checked by the leader before it proposes).

use super::types::{
    Session, SessionSpec, SESSION_CHECKS_MAX, SESSION_FIELD_BYTES_MAX, SESSION_NAME_BYTES_MAX,
};
use crate::catalog::{CatalogStore, CheckStatus};

/// `Ok` if a create of `spec` fits its bounds (so the largest create fits one log entry,
/// `kv::COMMAND_SIZE_BYTES_MAX`); otherwise why not, naming the field and the bound.
pub fn check_spec_bounds(spec: &SessionSpec) -> Result<(), String> {
    if spec.name.len() > SESSION_NAME_BYTES_MAX {
        return Err(format!(
            "session Name is {} bytes, over SESSION_NAME_BYTES_MAX ({SESSION_NAME_BYTES_MAX})",
            spec.name.len()
        ));
    }
    let checks = spec.node_checks.len() + spec.service_checks.len();
    if checks > SESSION_CHECKS_MAX {
        return Err(format!(
            "session names {checks} checks (NodeChecks and ServiceChecks), over \
             SESSION_CHECKS_MAX ({SESSION_CHECKS_MAX})"
        ));
    }
    let service_fields = spec
        .service_checks
        .iter()
        .flat_map(|c| [&c.id, &c.namespace]);
    let fields = [("Node", spec.node.as_ref()), ("TTL", Some(&spec.ttl))]
        .into_iter()
        .filter_map(|(what, text)| Some((what, text?)))
        .chain(spec.node_checks.iter().map(|c| ("NodeChecks", c)))
        .chain(service_fields.map(|text| ("ServiceChecks", text)));
    for (what, text) in fields {
        if text.len() > SESSION_FIELD_BYTES_MAX {
            return Err(format!(
                "session {what} holds a text of {} bytes, over SESSION_FIELD_BYTES_MAX \
                 ({SESSION_FIELD_BYTES_MAX})",
                text.len()
            ));
        }
    }
    Ok(())
}

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
