//! A caller's readable set (`query::Visible`) as a predicate on registered
//! models, as `sqlite/visible.rs`: grants bound as parameters, family
//! membership a primary-key probe per row, and the readable names' range
//! bounding the walk on the name index; experiments by their integer ids.

use super::sql::Value;
use crate::query::Visible;

fn list(items: &[String], args: &mut Vec<Value>) -> String {
    args.extend(items.iter().map(|i| Value::Text(i.clone())));
    vec!["?"; items.len()].join(", ")
}

fn member(families: &[String], rm_id: &str, args: &mut Vec<Value>) -> String {
    if families.iter().any(|f| f == "*") {
        return format!("EXISTS (SELECT 1 FROM fleet_members m WHERE m.rm_id = {rm_id})");
    }
    format!(
        "EXISTS (SELECT 1 FROM fleet_members m JOIN families f ON f.family_id = m.family_id \
         WHERE m.rm_id = {rm_id} AND f.name IN ({}))",
        list(families, args)
    )
}

/// The predicate on registered models (`name` and `rm_id` their columns),
/// `None` when everything is visible.
pub(super) fn models(v: &Visible, name: &str, rm_id: &str, args: &mut Vec<Value>) -> Option<String> {
    if v.is_everything() {
        return None;
    }
    let mut parts = Vec::new();
    if !v.ids_out.is_empty() {
        parts.push(format!("{name} NOT IN ({})", list(&v.ids_out, args)));
    }
    // Arguments are bound in the order their `?` appear.
    let ids_in = if v.ids_in.is_empty() { None } else { Some(format!("{name} IN ({})", list(&v.ids_in, args))) };
    let mut wide = Vec::new();
    if !v.families_out.is_empty() {
        wide.push(format!("NOT {}", member(&v.families_out, rm_id, args)));
    }
    if !v.all {
        if v.families_in.is_empty() {
            wide.push("FALSE".to_string());
        } else {
            wide.push(member(&v.families_in, rm_id, args));
        }
    }
    let wide = if wide.is_empty() { "TRUE".to_string() } else { wide.join(" AND ") };
    match ids_in {
        None => parts.push(format!("({wide})")),
        Some(ids_in) => parts.push(format!("({ids_in} OR ({wide}))")),
    }
    if !v.all && !v.families_in.iter().any(|f| f == "*") {
        let names = v.ids_in.iter().chain(&v.families_in);
        match (names.clone().min(), names.max()) {
            (Some(lo), Some(hi)) => {
                parts.push(format!("{name} >= ? AND {name} < ?"));
                args.push(Value::Text(lo.clone()));
                args.push(Value::Text(format!("{hi}\u{10FFFF}")));
            }
            (None, _) | (_, None) => parts.push("FALSE".to_string()),
        }
    }
    Some(parts.join(" AND "))
}

/// The predicate on experiments (`id` their integer id column), `None`
/// when everything is visible (as `sqlite/visible.rs`).
pub(super) fn experiments(v: &Visible, id: &str, args: &mut Vec<Value>) -> Option<String> {
    if v.is_everything() {
        return None;
    }
    let ints = |ids: &[String]| ids.iter().filter_map(|i| i.parse::<i64>().ok()).collect::<Vec<_>>();
    let bind = |ids: Vec<i64>, args: &mut Vec<Value>| {
        let marks = vec!["?"; ids.len()].join(", ");
        args.extend(ids.into_iter().map(Value::Int));
        marks
    };
    let mut parts = Vec::new();
    let out = ints(&v.ids_out);
    if !out.is_empty() {
        parts.push(format!("{id} NOT IN ({})", bind(out, args)));
    }
    if !v.all {
        let ids = ints(&v.ids_in);
        if ids.is_empty() {
            parts.push("FALSE".to_string());
        } else {
            parts.push(format!("{id} IN ({})", bind(ids, args)));
        }
    }
    Some(if parts.is_empty() { "TRUE".to_string() } else { parts.join(" AND ") })
}
