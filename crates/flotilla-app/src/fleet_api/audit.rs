//! The audit trail on the fleet API (`GET /api/fleet/v1/audit/events`): its
//! filters as a query string (shared by the server, the UI and the CLI's
//! `--server` mode) and its answer.

use flotilla_core::Error;
use flotilla_store::PageRequest;
use flotilla_store::audit::{self as store, AuditEventQuery};
use serde::{Deserialize, Serialize};

/// The filters of an audit search, in the order the help lists them.
pub const FILTERS: &[&str] =
    &["actor", "action", "resource_kind", "resource_id", "request_id", "since", "until", "max_results", "page_token"];

/// One recorded mutation, as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub time: i64,
    pub actor: String,
    /// `password`, `token`, `local` or `none` (authentication off).
    pub method: String,
    pub token_id: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: String,
    pub outcome: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub count: i64,
}

impl From<store::AuditEvent> for AuditEvent {
    fn from(e: store::AuditEvent) -> Self {
        let doc = |d: Option<String>| d.map(|d| serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d)));
        Self {
            id: e.id,
            time: e.time,
            actor: e.actor,
            method: e.method,
            token_id: e.token_id,
            client: e.client,
            request_id: e.request_id,
            action: e.action,
            resource_kind: e.resource_kind,
            resource_id: e.resource_id,
            outcome: e.outcome,
            before: doc(e.before),
            after: doc(e.after),
            count: e.count,
        }
    }
}

/// `GET /audit/events`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvents {
    pub events: Vec<AuditEvent>,
    pub next_page_token: Option<String>,
}

/// An audit search from a query string; an empty value is no filter, an
/// unknown parameter is refused.
pub fn parse_query(query: &str) -> Result<AuditEventQuery, Error> {
    let mut q = AuditEventQuery::default();
    let time = |what: &str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| Error::invalid(format!("'{what}' must be milliseconds since the epoch, got '{v}'")))
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let text = Some(value.to_string());
        match key.as_ref() {
            "actor" => q.actor = text,
            "action" => q.action = text,
            "resource_kind" => q.resource_kind = text,
            "resource_id" => q.resource_id = text,
            "request_id" => q.request_id = text,
            "since" => q.since = Some(time("since", value)?),
            "until" => q.until = Some(time("until", value)?),
            "max_results" => {
                q.page.max_results = Some(
                    value
                        .parse()
                        .map_err(|_| Error::invalid(format!("'max_results' must be an integer, got '{value}'")))?,
                );
            }
            "page_token" => q.page.page_token = text,
            other => {
                return Err(Error::invalid(format!(
                    "unknown audit parameter '{other}'; known: {}",
                    FILTERS.join(", ")
                )));
            }
        }
    }
    Ok(q)
}

/// The query string of a search (for the CLI's `--server` mode and the UI's links).
pub fn to_query(q: &AuditEventQuery) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    let PageRequest { max_results, page_token } = &q.page;
    for (k, v) in [
        ("actor", q.actor.clone()),
        ("action", q.action.clone()),
        ("resource_kind", q.resource_kind.clone()),
        ("resource_id", q.resource_id.clone()),
        ("request_id", q.request_id.clone()),
        ("since", q.since.map(|t| t.to_string())),
        ("until", q.until.map(|t| t.to_string())),
        ("max_results", max_results.map(|n| n.to_string())),
        ("page_token", page_token.clone()),
    ] {
        if let Some(v) = v {
            out.append_pair(k, &v);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_string_round_trips_and_typos_are_refused() {
        let q = parse_query("actor=alice&action=registered_model.*&since=5&max_results=10&resource_id=").unwrap();
        assert_eq!(q.actor.as_deref(), Some("alice"));
        assert_eq!(q.resource_id, None);
        assert_eq!(to_query(&q), "actor=alice&action=registered_model.*&since=5&max_results=10");
        assert!(parse_query("actr=alice").unwrap_err().message.contains("unknown audit parameter 'actr'"));
        assert!(parse_query("since=yesterday").is_err());
    }
}
