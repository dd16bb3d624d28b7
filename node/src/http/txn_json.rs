//! `PUT /v1/txn` bodies and answers as Consul's: a JSON array of `{"KV":{"Verb","Key",
//! "Value"(base64),"Flags","Index","Session"}}` (keys in any case), answered
//! `{"Results":[{"KV":{..}}],"Errors":null}` (200) or `{"Results":null,"Errors":[{"OpIndex",
//! "What"}]}` (409). Concord's transactions are KV only; Node/Service/Check operations are
//! refused by name.

use super::errors::HttpError;
use super::json_body::{canonicalize_keys, BodyFields};
pub use crate::api_types::txn::TxnAnswer;
use crate::api_types::txn::{TxnErrorJson, TxnResultJson};
use axum::http::StatusCode;
use base64::Engine;
use concord_core::kv::txn::{TxnError, TxnOp, TxnOutcome, TxnVerb, TXN_OPS_MAX};
use concord_core::kv::VALUE_SIZE_BYTES_MAX;
use serde::Deserialize;
use serde_json::Value;

const TXN_FIELDS: BodyFields<'static> = BodyFields {
    known: &[
        "KV",
        "Node",
        "Service",
        "Check",
        "Verb",
        "Key",
        "Value",
        "Flags",
        "Index",
        "Session",
        "Namespace",
        "Partition",
    ],
    opaque: &[],
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OpBody {
    #[serde(rename = "KV")]
    kv: Option<KvOpBody>,
    #[serde(rename = "Node")]
    node: Option<Value>,
    #[serde(rename = "Service")]
    service: Option<Value>,
    #[serde(rename = "Check")]
    check: Option<Value>,
}

/// Go's api sends every field (`"Value":null` when none); `null` reads as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvOpBody {
    verb: Option<String>,
    key: Option<String>,
    value: Option<String>,
    flags: Option<u64>,
    index: Option<u64>,
    session: Option<String>,
}

/// What a body asks for: the operations, or the operations refused before anything is read
/// (a verb not known; an empty key, Consul's pre-check `Must provide key` for every verb but
/// delete-tree), as a 409's errors.
#[derive(Debug, PartialEq, Eq)]
pub enum ParsedTxn {
    Ops(Vec<TxnOp>),
    Refused(Vec<TxnError>),
}

fn parse_failed(e: impl std::fmt::Display) -> HttpError {
    HttpError::bad_request(format!("Failed to parse body: {e}"))
}

/// Parses a body already within the size limit: 400 for bad JSON, base64 or non-KV operations;
/// 413 for too many operations or a value over the KV limit (Consul's texts).
pub fn parse_txn(body: &[u8]) -> Result<ParsedTxn, HttpError> {
    let mut value: Value = serde_json::from_slice(body).map_err(parse_failed)?;
    canonicalize_keys(&mut value, TXN_FIELDS);
    let ops: Vec<OpBody> = serde_json::from_value(value).map_err(parse_failed)?;
    if ops.len() > TXN_OPS_MAX {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {TXN_OPS_MAX})",
                ops.len()
            ),
        ));
    }
    let mut parsed = Vec::with_capacity(ops.len());
    let mut refused = Vec::new();
    for (op_index, op) in ops.into_iter().enumerate() {
        let kv = kv_op(op_index, op)?;
        let verb_name = kv.verb.clone().unwrap_or_default();
        let refuse = |what: String| TxnError { op_index, what };
        match TxnVerb::from_name(&verb_name) {
            None => refused.push(refuse(format!("unknown KV verb {verb_name:?}"))),
            Some(verb)
                if verb != TxnVerb::DeleteTree && kv.key.as_deref().unwrap_or("").is_empty() =>
            {
                refused.push(refuse("Must provide key".to_string()))
            }
            Some(verb) => parsed.push(txn_op(verb, kv)?),
        }
    }
    Ok(if refused.is_empty() {
        ParsedTxn::Ops(parsed)
    } else {
        ParsedTxn::Refused(refused)
    })
}

/// The KV operation of one element; Concord keeps no Node/Service/Check transactions.
fn kv_op(op_index: usize, op: OpBody) -> Result<KvOpBody, HttpError> {
    let other = [
        ("Node", op.node.is_some()),
        ("Service", op.service.is_some()),
        ("Check", op.check.is_some()),
    ];
    if let Some((kind, _)) = other.into_iter().find(|(_, given)| *given) {
        return Err(HttpError::bad_request(format!(
            "Concord transactions take KV operations only (operation {op_index} is a {kind} operation)"
        )));
    }
    op.kv.ok_or_else(|| {
        HttpError::bad_request(format!(
            "Failed to parse body: operation {op_index} has no \"KV\" member"
        ))
    })
}

fn txn_op(verb: TxnVerb, kv: KvOpBody) -> Result<TxnOp, HttpError> {
    let key = kv.key.unwrap_or_default();
    let value = match kv.value {
        None => Vec::new(),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| parse_failed(format!("Value of key {key:?} is not base64: {e}")))?,
    };
    if value.len() > VALUE_SIZE_BYTES_MAX {
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Value for key {key:?} is too large ({} > {VALUE_SIZE_BYTES_MAX} bytes)",
                value.len()
            ),
        ));
    }
    Ok(TxnOp {
        verb,
        key,
        value,
        flags: kv.flags.unwrap_or(0),
        index: kv.index.unwrap_or(0),
        session: kv.session.unwrap_or_default(),
    })
}

impl TxnAnswer {
    /// The answer and its status: 200 committed (or read), 409 rolled back.
    pub fn of(outcome: &TxnOutcome) -> (StatusCode, TxnAnswer) {
        match outcome {
            TxnOutcome::Committed { entries } => {
                let results = entries.iter().map(|e| TxnResultJson { kv: e.into() });
                let results: Vec<_> = results.collect();
                let answer = TxnAnswer {
                    results: (!results.is_empty()).then_some(results),
                    errors: None,
                };
                (StatusCode::OK, answer)
            }
            TxnOutcome::Failed { errors } => (StatusCode::CONFLICT, TxnAnswer::failed(errors)),
        }
    }

    pub fn failed(errors: &[TxnError]) -> TxnAnswer {
        let errors = errors.iter().map(|e| TxnErrorJson {
            op_index: e.op_index,
            what: e.what.clone(),
        });
        TxnAnswer {
            results: None,
            errors: Some(errors.collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::kv::KvEntry;

    fn ops(body: &str) -> Vec<TxnOp> {
        match parse_txn(body.as_bytes()) {
            Ok(ParsedTxn::Ops(ops)) => ops,
            other => panic!("{body}: {other:?}"),
        }
    }

    fn refused(body: &str) -> (u16, String) {
        let err = parse_txn(body.as_bytes()).unwrap_err();
        (err.status.as_u16(), err.reason)
    }

    #[test]
    fn kv_operations_parse_with_base64_values_in_any_case() {
        let parsed = ops(
            r#"[{"KV":{"Verb":"set","Key":"a","Value":"aGVsbG8=","Flags":7}},
                {"kv":{"verb":"cas","key":"b","value":null,"index":12}},
                {"KV":{"Verb":"lock","Key":"c","Session":"s1","Namespace":"default"}},
                {"KV":{"Verb":"get-tree","Key":"p/","Value":null,"Flags":0,"Index":0,"Session":""}}]"#,
        );
        assert_eq!(parsed.len(), 4);
        assert_eq!(
            (parsed[0].verb, parsed[0].value.as_slice(), parsed[0].flags),
            (TxnVerb::Set, &b"hello"[..], 7)
        );
        assert_eq!(
            (parsed[1].verb, parsed[1].index, parsed[1].value.len()),
            (TxnVerb::Cas, 12, 0)
        );
        assert_eq!(
            (parsed[2].verb, parsed[2].session.as_str()),
            (TxnVerb::Lock, "s1")
        );
        assert_eq!(
            (parsed[3].verb, parsed[3].key.as_str()),
            (TxnVerb::GetTree, "p/")
        );
        assert_eq!(ops("[]"), vec![]);
    }

    #[test]
    fn bad_bodies_are_400_and_name_the_problem() {
        let (code, why) = refused("{not json");
        assert_eq!(code, 400);
        assert!(why.starts_with("Failed to parse body: "), "{why}");
        assert!(refused(r#"{"KV":{}}"#)
            .1
            .starts_with("Failed to parse body"));
        let (code, why) = refused(r#"[{"KV":{"Verb":"set","Key":"a","Value":"%%%"}}]"#);
        assert_eq!(code, 400);
        assert!(why.contains("not base64"), "{why}");
        assert_eq!(
            refused(
                r#"[{"KV":{"Verb":"get","Key":"a"}},{"Node":{"Verb":"get","Node":{"Node":"n"}}}]"#
            ),
            (
                400,
                "Concord transactions take KV operations only (operation 1 is a Node operation)"
                    .into()
            )
        );
        assert!(refused(r#"[{"Service":{}}]"#)
            .1
            .contains("a Service operation"));
        assert!(refused(r#"[{}]"#).1.contains("operation 0 has no \"KV\""));
    }

    #[test]
    fn limits_are_413_with_consuls_texts() {
        let op = r#"{"KV":{"Verb":"get","Key":"a"}}"#;
        let at_limit = format!("[{}]", vec![op; TXN_OPS_MAX].join(","));
        assert_eq!(ops(&at_limit).len(), TXN_OPS_MAX);
        let over = format!("[{}]", vec![op; TXN_OPS_MAX + 1].join(","));
        assert_eq!(
            refused(&over),
            (
                413,
                "Transaction contains too many operations (65 > 64)".into()
            )
        );
        let big =
            base64::engine::general_purpose::STANDARD.encode(vec![0u8; VALUE_SIZE_BYTES_MAX + 1]);
        let body = format!(r#"[{{"KV":{{"Verb":"set","Key":"k","Value":"{big}"}}}}]"#);
        assert_eq!(
            refused(&body),
            (
                413,
                "Value for key \"k\" is too large (524289 > 524288 bytes)".into()
            )
        );
    }

    #[test]
    fn unknown_verbs_are_every_one_listed() {
        let parsed = parse_txn(br#"[{"KV":{"Verb":"x","Key":"a"}},{"KV":{"Verb":"get","Key":"a"}},{"KV":{"Key":"b"}}]"#);
        let expected = vec![
            TxnError {
                op_index: 0,
                what: "unknown KV verb \"x\"".into(),
            },
            TxnError {
                op_index: 2,
                what: "unknown KV verb \"\"".into(),
            },
        ];
        assert_eq!(parsed, Ok(ParsedTxn::Refused(expected)));
    }

    #[test]
    fn an_empty_key_is_refused_except_for_delete_tree() {
        let parsed = parse_txn(
            br#"[{"KV":{"Verb":"set","Key":""}},{"KV":{"Verb":"delete-tree","Key":""}},{"KV":{"Verb":"get"}}]"#,
        );
        let must = |op_index| TxnError {
            op_index,
            what: "Must provide key".into(),
        };
        assert_eq!(parsed, Ok(ParsedTxn::Refused(vec![must(0), must(2)])));
        let tree = parse_txn(br#"[{"KV":{"Verb":"delete-tree","Key":""}}]"#);
        assert!(matches!(tree, Ok(ParsedTxn::Ops(ops)) if ops.len() == 1));
    }

    #[test]
    fn answers_have_one_of_results_and_errors() {
        let entry = KvEntry {
            key: "a".into(),
            value: b"hi".to_vec(),
            flags: 1,
            create_index: 5,
            modify_index: 6,
            lock_index: 0,
            session: None,
        };
        let (code, answer) = TxnAnswer::of(&TxnOutcome::Committed {
            entries: vec![entry],
        });
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"Results":[{"KV":{"LockIndex":0,"Key":"a","Flags":1,"Value":"aGk=","CreateIndex":5,"ModifyIndex":6}}],"Errors":null}"#
        );
        let errors = vec![TxnError {
            op_index: 1,
            what: "key \"k\" doesn't exist".into(),
        }];
        let (code, answer) = TxnAnswer::of(&TxnOutcome::Failed { errors });
        assert_eq!(code, StatusCode::CONFLICT);
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"Results":null,"Errors":[{"OpIndex":1,"What":"key \"k\" doesn't exist"}]}"#
        );
        let (_, deletes) = TxnAnswer::of(&TxnOutcome::Committed { entries: vec![] });
        assert_eq!(
            serde_json::to_string(&deletes).unwrap(),
            r#"{"Results":null,"Errors":null}"#
        );
    }
}
