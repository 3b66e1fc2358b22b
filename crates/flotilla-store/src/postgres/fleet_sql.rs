//! Dynamic SQL for the fleet areas on PostgreSQL: clauses joined with AND,
//! each value bound as a numbered parameter (`$n`) of its own Rust type.

use postgres::types::ToSql;

/// A statement's WHERE clauses and their parameters.
#[derive(Default)]
pub(super) struct Sql {
    clauses: Vec<String>,
    args: Vec<Box<dyn ToSql + Sync>>,
}

impl Sql {
    /// Binds `value`; the placeholder to write in its place.
    pub(super) fn bind<T: ToSql + Sync + 'static>(&mut self, value: T) -> String {
        self.args.push(Box::new(value));
        format!("${}", self.args.len())
    }

    pub(super) fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// ` WHERE a AND b`, or nothing.
    pub(super) fn where_clause(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!(" WHERE {}", self.clauses.join(" AND ")) }
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| a.as_ref()).collect()
    }
}

/// `s` as a LIKE pattern that matches it literally (escape character `\`).
pub(super) fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
