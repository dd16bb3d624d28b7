//! Admission checks for catalog writes, and their bounds. They run before a command is
//! proposed, so a refused write never reaches the log.
//!
//! `apply` does not re-check the bounds: they are admission policy, and re-checking them on
//! replay would make a change of limits between versions diverge replicas.

use super::command::{CatalogCommand, Registration};
use super::store::CatalogStore;
use super::types::CheckStatus;
use std::collections::BTreeMap;

/// Consul's `OutputMaxSize` default: longer output is cut, not refused.
pub const CHECK_OUTPUT_BYTES_MAX: usize = 4096;
/// Tags of one instance (Consul has no limit; a bound keeps one entry's size in reach).
pub const SERVICE_TAGS_MAX: usize = 256;
/// Meta pairs of a node or an instance, and the lengths of their keys and values (Consul's).
pub const META_PAIRS_MAX: usize = 64;
pub const META_KEY_BYTES_MAX: usize = 128;
pub const META_VALUE_BYTES_MAX: usize = 512;
/// Instances and checks one node may hold (Consul has no limit; ours keep a node's answers
/// and its anti-entropy bounded).
pub const SERVICES_PER_NODE_MAX: usize = 1024;
pub const CHECKS_PER_NODE_MAX: usize = 4096;
/// One registration, encoded: it must fit `kv::COMMAND_SIZE_BYTES_MAX` with the command's
/// own envelope (checked by a test), so one log entry stays bounded whatever it carries.
pub const CATALOG_REGISTRATION_BYTES_MAX: usize = 256 * 1024;

/// Why a catalog write was refused before anything was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogError {
    MissingNodeName,
    MissingNodeAddress,
    MissingServiceName,
    InvalidServiceAddress,
    InvalidWeights,
    MissingCheckName,
    InvalidCheckStatus(String),
    UnknownServiceId(String),
    TooManyTags {
        count: usize,
        count_max: usize,
    },
    InvalidMeta(String),
    TooManyServices {
        count_max: usize,
    },
    TooManyChecks {
        count_max: usize,
    },
    TooLarge {
        size_bytes: usize,
        size_bytes_max: usize,
    },
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::MissingNodeName => write!(f, "Missing node name"),
            CatalogError::MissingNodeAddress => {
                write!(f, "Must provide address if SkipNodeUpdate is not set")
            }
            CatalogError::MissingServiceName => write!(f, "Missing service name"),
            CatalogError::InvalidServiceAddress => write!(f, "Invalid service address"),
            CatalogError::InvalidWeights => write!(f, "Invalid Weights"),
            CatalogError::MissingCheckName => write!(f, "Missing check name"),
            CatalogError::InvalidCheckStatus(s) => write!(f, "Invalid check status: '{s}'"),
            CatalogError::UnknownServiceId(id) => write!(f, "ServiceID {id:?} does not exist"),
            CatalogError::TooManyTags { count, count_max } => {
                write!(f, "Too many tags: {count}, the maximum is {count_max}")
            }
            CatalogError::InvalidMeta(why) => write!(f, "Invalid meta: {why}"),
            CatalogError::TooManyServices { count_max } => {
                write!(
                    f,
                    "Too many services on the node: the maximum is {count_max}"
                )
            }
            CatalogError::TooManyChecks { count_max } => {
                write!(f, "Too many checks on the node: the maximum is {count_max}")
            }
            CatalogError::TooLarge {
                size_bytes,
                size_bytes_max,
            } => write!(
                f,
                "Request body too large: registration is {size_bytes} bytes, the maximum is \
                 {size_bytes_max} bytes"
            ),
        }
    }
}

/// A check status from Consul's spelling, or Consul's error for anything else.
pub fn parse_check_status(text: &str) -> Result<CheckStatus, CatalogError> {
    CheckStatus::parse(text).ok_or_else(|| CatalogError::InvalidCheckStatus(text.to_string()))
}

/// Cuts check output to `CHECK_OUTPUT_BYTES_MAX` (at a character boundary) and says so with
/// Consul's suffix; shorter output is kept as it is.
pub fn cap_output(output: &str) -> String {
    if output.len() <= CHECK_OUTPUT_BYTES_MAX {
        return output.to_string();
    }
    let mut end = CHECK_OUTPUT_BYTES_MAX;
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... (captured {end} of {} bytes)",
        &output[..end],
        output.len()
    )
}

/// Consul's defaults a request may leave out: a service's id is its name, a check's id its
/// name; and check output over the bound is cut.
pub fn fill_defaults(reg: &mut Registration) {
    if let Some(service) = reg.service.as_mut().filter(|s| s.id.is_empty()) {
        service.id = service.name.clone();
    }
    for check in &mut reg.checks {
        if check.check_id.is_empty() {
            check.check_id = check.name.clone();
        }
        check.output = cap_output(&check.output);
    }
}

/// What a registration must satisfy on its own (no state needed: a client agent can check it).
pub fn validate_registration(reg: &Registration) -> Result<(), CatalogError> {
    if reg.node.name.is_empty() {
        return Err(CatalogError::MissingNodeName);
    }
    if reg.node.address.is_empty() && !reg.skip_node_update {
        return Err(CatalogError::MissingNodeAddress);
    }
    validate_meta(&reg.node.meta)?;
    if let Some(service) = &reg.service {
        if service.name.is_empty() {
            return Err(CatalogError::MissingServiceName);
        }
        // A wildcard address is where a service listens, not where it can be reached.
        if matches!(service.address.as_str(), "0.0.0.0" | "::" | "[::]") {
            return Err(CatalogError::InvalidServiceAddress);
        }
        if service.weights.passing == 0 {
            return Err(CatalogError::InvalidWeights);
        }
        if service.tags.len() > SERVICE_TAGS_MAX {
            let count = service.tags.len();
            let count_max = SERVICE_TAGS_MAX;
            return Err(CatalogError::TooManyTags { count, count_max });
        }
        validate_meta(&service.meta)?;
    }
    if reg.checks.iter().any(|c| c.name.is_empty()) {
        return Err(CatalogError::MissingCheckName);
    }
    let size_bytes = encoded_bytes(reg);
    if size_bytes > CATALOG_REGISTRATION_BYTES_MAX {
        let size_bytes_max = CATALOG_REGISTRATION_BYTES_MAX;
        return Err(CatalogError::TooLarge {
            size_bytes,
            size_bytes_max,
        });
    }
    Ok(())
}

fn encoded_bytes(reg: &Registration) -> usize {
    let size = bincode::serialized_size(reg).expect("a registration always encodes");
    usize::try_from(size).unwrap_or(usize::MAX)
}

fn validate_meta(meta: &BTreeMap<String, String>) -> Result<(), CatalogError> {
    if meta.len() > META_PAIRS_MAX {
        let why = format!("more than {META_PAIRS_MAX} key/value pairs");
        return Err(CatalogError::InvalidMeta(why));
    }
    for (key, value) in meta {
        let why = if key.is_empty() {
            "Key cannot be blank".to_string()
        } else if key.len() > META_KEY_BYTES_MAX {
            format!("Key is too long (limit: {META_KEY_BYTES_MAX} bytes)")
        } else if value.len() > META_VALUE_BYTES_MAX {
            format!("Value is too long (limit: {META_VALUE_BYTES_MAX} bytes)")
        } else {
            continue;
        };
        return Err(CatalogError::InvalidMeta(why));
    }
    Ok(())
}

/// What a registration must satisfy against the state it will apply to (the leader checks
/// it before proposing): checks name instances the node has or gets, and the node stays
/// within its bounds.
pub fn validate_against(catalog: &CatalogStore, reg: &Registration) -> Result<(), CatalogError> {
    let node = reg.node.name.as_str();
    let existing = catalog.node(node).map(|(_, s)| s).unwrap_or_default();
    let has = |id: &str| existing.iter().any(|s| s.id == id);
    let registered = |id: &str| reg.service.as_ref().is_some_and(|s| s.id == id);
    if let Some(c) = reg
        .checks
        .iter()
        .find(|c| !c.service_id.is_empty() && !has(&c.service_id) && !registered(&c.service_id))
    {
        return Err(CatalogError::UnknownServiceId(c.service_id.clone()));
    }
    let new_service = reg.service.as_ref().is_some_and(|s| !has(&s.id));
    if existing.len() + usize::from(new_service) > SERVICES_PER_NODE_MAX {
        let count_max = SERVICES_PER_NODE_MAX;
        return Err(CatalogError::TooManyServices { count_max });
    }
    let checks = catalog.node_checks(node);
    let new_checks = reg.checks.iter();
    let added = new_checks.filter(|c| !checks.iter().any(|o| o.check_id == c.check_id));
    if checks.len() + added.count() > CHECKS_PER_NODE_MAX {
        let count_max = CHECKS_PER_NODE_MAX;
        return Err(CatalogError::TooManyChecks { count_max });
    }
    Ok(())
}

/// Both checks for a command about to be proposed; a deregistration needs a node name.
pub fn validate_command(catalog: &CatalogStore, cmd: &CatalogCommand) -> Result<(), CatalogError> {
    match cmd {
        CatalogCommand::Register(reg) => {
            validate_registration(reg)?;
            validate_against(catalog, reg)
        }
        CatalogCommand::Deregister { node, .. } if node.is_empty() => {
            Err(CatalogError::MissingNodeName)
        }
        CatalogCommand::Deregister { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::command::Command;
    use crate::catalog::command::{CheckRegistration, ServiceRegistration};
    use crate::catalog::test_support::{node_reg, register};
    use crate::kv::COMMAND_SIZE_BYTES_MAX;

    fn with_service(name: &str, address: &str) -> Registration {
        Registration {
            node: node_reg("n1", "10.0.0.1"),
            service: Some(ServiceRegistration {
                name: name.into(),
                address: address.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn message(reg: &Registration) -> String {
        validate_registration(reg).unwrap_err().to_string()
    }

    #[test]
    fn consuls_messages_for_missing_and_invalid_fields() {
        let mut reg = with_service("web", "");
        assert_eq!(validate_registration(&reg), Ok(()));
        reg.node.name.clear();
        assert_eq!(message(&reg), "Missing node name");
        assert_eq!(message(&with_service("", "")), "Missing service name");
        assert_eq!(
            message(&with_service("web", "0.0.0.0")),
            "Invalid service address"
        );
        assert_eq!(
            message(&with_service("web", "::")),
            "Invalid service address"
        );
        let mut reg = with_service("web", "");
        reg.checks.push(CheckRegistration::default());
        assert_eq!(message(&reg), "Missing check name");
        let status = parse_check_status("ok").unwrap_err().to_string();
        assert_eq!(status, "Invalid check status: 'ok'");
        assert_eq!(parse_check_status("warning"), Ok(CheckStatus::Warning));
    }

    #[test]
    fn an_address_is_needed_unless_the_node_is_left_as_it_is() {
        let mut reg = with_service("web", "");
        reg.node.address.clear();
        assert_eq!(
            validate_registration(&reg),
            Err(CatalogError::MissingNodeAddress)
        );
        reg.skip_node_update = true;
        assert_eq!(validate_registration(&reg), Ok(()));
    }

    #[test]
    fn meta_bounds_name_the_limit() {
        let mut reg = with_service("web", "");
        reg.node.meta.insert(
            "k".repeat(META_KEY_BYTES_MAX),
            "v".repeat(META_VALUE_BYTES_MAX),
        );
        assert_eq!(validate_registration(&reg), Ok(()), "at the bounds");
        reg.node
            .meta
            .insert("k".repeat(META_KEY_BYTES_MAX + 1), "v".into());
        assert!(message(&reg).contains("limit: 128"), "{}", message(&reg));
        let mut reg = with_service("web", "");
        let meta = &mut reg.service.as_mut().expect("a service").meta;
        meta.extend((0..=META_PAIRS_MAX).map(|i| (format!("k{i}"), String::new())));
        assert!(message(&reg).contains("more than 64"), "{}", message(&reg));
    }

    #[test]
    fn too_many_tags_are_refused() {
        let mut reg = with_service("web", "");
        let tags = (0..=SERVICE_TAGS_MAX).map(|i| i.to_string()).collect();
        reg.service.as_mut().expect("a service").tags = tags;
        let count = SERVICE_TAGS_MAX + 1;
        let count_max = SERVICE_TAGS_MAX;
        assert_eq!(
            validate_registration(&reg),
            Err(CatalogError::TooManyTags { count, count_max })
        );
    }

    #[test]
    fn long_output_is_cut_with_consuls_suffix() {
        assert_eq!(cap_output("fine"), "fine");
        let long = "x".repeat(CHECK_OUTPUT_BYTES_MAX + 10);
        let capped = cap_output(&long);
        assert!(
            capped.ends_with("... (captured 4096 of 4106 bytes)"),
            "{capped}"
        );
        assert_eq!(capped.find("..."), Some(CHECK_OUTPUT_BYTES_MAX));
        // A character across the bound is not split.
        let wide = format!("{}é", "x".repeat(CHECK_OUTPUT_BYTES_MAX - 1));
        assert!(cap_output(&wide).contains("captured 4095 of 4097 bytes"));
    }

    #[test]
    fn defaults_fill_ids_from_names_and_cap_output() {
        let mut reg = with_service("web", "");
        reg.checks.push(CheckRegistration {
            name: "mem".into(),
            output: "y".repeat(CHECK_OUTPUT_BYTES_MAX * 2),
            ..Default::default()
        });
        fill_defaults(&mut reg);
        assert_eq!(reg.service.as_ref().map(|s| s.id.as_str()), Some("web"));
        assert_eq!(reg.checks[0].check_id, "mem");
        assert!(reg.checks[0].output.len() < CHECK_OUTPUT_BYTES_MAX + 64);
    }

    #[test]
    fn the_largest_valid_registration_fits_one_command() {
        let mut reg = with_service("web", "");
        let filler = "z".repeat(CATALOG_REGISTRATION_BYTES_MAX);
        reg.node.tagged_addresses.insert("lan".into(), filler);
        let over = encoded_bytes(&reg) - CATALOG_REGISTRATION_BYTES_MAX;
        assert!(matches!(
            validate_registration(&reg),
            Err(CatalogError::TooLarge { .. })
        ));
        reg.node
            .tagged_addresses
            .get_mut("lan")
            .expect("set")
            .truncate(CATALOG_REGISTRATION_BYTES_MAX - over);
        assert_eq!(
            encoded_bytes(&reg),
            CATALOG_REGISTRATION_BYTES_MAX,
            "exactly at the bound"
        );
        assert_eq!(validate_registration(&reg), Ok(()));
        let command = Command::Catalog(CatalogCommand::Register(Box::new(reg)));
        let encoded = command.encode().len();
        assert!(
            encoded <= COMMAND_SIZE_BYTES_MAX,
            "{encoded} > {COMMAND_SIZE_BYTES_MAX}"
        );
    }

    #[test]
    fn state_checks_refuse_unknown_services_and_full_nodes() {
        let mut catalog = CatalogStore::new();
        catalog.apply(3, &register("n1", Some(("web1", "web", &[])), &[]));
        let mut reg = with_service("db", "");
        reg.service.as_mut().expect("a service").id = "db1".into();
        reg.checks.push(CheckRegistration {
            name: "c".into(),
            check_id: "c".into(),
            service_id: "nope".into(),
            ..Default::default()
        });
        let refused = validate_against(&catalog, &reg);
        assert_eq!(refused, Err(CatalogError::UnknownServiceId("nope".into())));
        reg.checks[0].service_id = "web1".into();
        assert_eq!(
            validate_against(&catalog, &reg),
            Ok(()),
            "the node has web1"
        );
        let deregister = CatalogCommand::Deregister {
            node: String::new(),
            service_id: None,
            check_id: None,
        };
        assert_eq!(
            validate_command(&catalog, &deregister),
            Err(CatalogError::MissingNodeName)
        );
    }

    #[test]
    fn a_node_at_its_service_bound_takes_no_new_instance() {
        let mut catalog = CatalogStore::new();
        for i in 0..SERVICES_PER_NODE_MAX as u64 {
            let id = format!("s{i}");
            catalog.apply(i + 1, &register("n1", Some((&id, "web", &[])), &[]));
        }
        let mut reg = with_service("web", "");
        reg.service.as_mut().expect("a service").id = "s0".into();
        assert_eq!(
            validate_against(&catalog, &reg),
            Ok(()),
            "an update is not a new one"
        );
        reg.service.as_mut().expect("a service").id = "new".into();
        let count_max = SERVICES_PER_NODE_MAX;
        assert_eq!(
            validate_against(&catalog, &reg),
            Err(CatalogError::TooManyServices { count_max })
        );
    }
}
