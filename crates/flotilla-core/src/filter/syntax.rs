//! The entity-independent shape of a filter: `clause (AND clause)*`, each
//! clause `identifier comparator value`, before any field is resolved.

use super::lexer::{Part, Tok, Token, excerpt};
use super::{Comparator, FilterError, MAX_FILTER_CLAUSES};

/// A comparator as written. An unknown one is not an error yet: once the
/// field is known, the error can list the comparators that field accepts.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawCmp {
    Known(Comparator),
    Unknown,
}

/// A value as written, before it is checked against its field.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawValue {
    Str(String),
    Num(f64),
    List(Vec<String>),
    Null,
}

/// One clause with source slices kept for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawClause<'a> {
    pub ident: Vec<Part>,
    pub ident_text: &'a str,
    pub cmp: RawCmp,
    pub cmp_text: &'a str,
    pub value: RawValue,
    pub value_text: &'a str,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
}

fn invalid_clause(detail: &str) -> FilterError {
    FilterError(format!("Invalid clause(s) in filter string: {detail}"))
}

impl<'a> Parser<'a> {
    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn span(&self, from: usize, to: usize) -> &'a str {
        &self.src[from..to]
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    /// The source from the current token to the end, for "invalid clause" errors.
    fn rest(&self) -> String {
        let start = self.peek().map_or(self.src.len(), |t| t.start);
        format!("'{}'", excerpt(&self.src[start..]))
    }

    fn expect_more(&self, after: &str, wanted: &str) -> Result<&Token, FilterError> {
        self.peek().ok_or_else(|| invalid_clause(&format!("'{}' is incomplete, expected {wanted}", excerpt(after))))
    }

    fn identifier(&mut self) -> Result<(Vec<Part>, &'a str), FilterError> {
        let t = self.expect_more(self.src, "a clause")?;
        let parts = match &t.tok {
            Tok::Ident(_) if t.is_keyword("and") || t.is_keyword("or") || t.is_keyword("not") => {
                return Err(invalid_clause(&self.rest()));
            }
            Tok::Ident(parts) => parts.clone(),
            Tok::Str { text, double: true } => vec![Part { text: text.clone(), quoted: true }],
            Tok::LParen | Tok::RParen => return Err(invalid_clause(&self.rest())),
            Tok::Str { double: false, .. } | Tok::Num(_) | Tok::Op(_) | Tok::Comma => {
                let found = excerpt(self.text(t));
                return Err(invalid_clause(&format!("expected an identifier, found '{found}'")));
            }
        };
        let text = self.text(t);
        self.pos += 1;
        Ok((parts, text))
    }

    fn comparator(&mut self, ident_text: &str) -> Result<RawCmp, FilterError> {
        let t = self.expect_more(ident_text, "a comparator")?.clone();
        self.pos += 1;
        let cmp = match &t.tok {
            Tok::Op(op) => match op.as_str() {
                "=" => Comparator::Eq,
                "!=" => Comparator::Ne,
                ">" => Comparator::Gt,
                ">=" => Comparator::Ge,
                "<" => Comparator::Lt,
                "<=" => Comparator::Le,
                _ => return Ok(RawCmp::Unknown),
            },
            Tok::Ident(_) if t.is_keyword("like") => Comparator::Like,
            Tok::Ident(_) if t.is_keyword("ilike") => Comparator::ILike,
            Tok::Ident(_) if t.is_keyword("in") => Comparator::In,
            Tok::Ident(_) if t.is_keyword("not") => {
                let next = self.expect_more(self.span(t.start, t.end), "IN")?.clone();
                self.pos += 1;
                if next.is_keyword("in") {
                    Comparator::NotIn
                } else {
                    return Ok(RawCmp::Unknown);
                }
            }
            Tok::Ident(_) if t.is_keyword("is") => {
                let mut next = self.expect_more(self.text(&t), "NULL or NOT NULL")?.clone();
                self.pos += 1;
                let negated = next.is_keyword("not");
                if negated {
                    next = self.expect_more(self.span(t.start, next.end), "NULL")?.clone();
                    self.pos += 1;
                }
                if !next.is_keyword("null") {
                    let written = excerpt(self.span(t.start, next.end));
                    return Err(invalid_clause(&format!(
                        "'{written}' in '{}': only IS NULL and IS NOT NULL are supported",
                        excerpt(ident_text)
                    )));
                }
                if negated { Comparator::IsNotNull } else { Comparator::IsNull }
            }
            Tok::Ident(_) | Tok::Str { .. } | Tok::Num(_) | Tok::LParen | Tok::RParen | Tok::Comma => {
                return Err(invalid_clause(&format!(
                    "expected a comparator after '{}', found '{}'",
                    excerpt(ident_text),
                    excerpt(self.text(&t))
                )));
            }
        };
        Ok(RawCmp::Known(cmp))
    }

    /// `('a', "b", ...)`, with the opening parenthesis already consumed.
    fn list(&mut self, open: &Token) -> Result<Vec<String>, FilterError> {
        let ill_formed = |p: &Self| {
            let end = p.peek().map_or(p.src.len(), |t| t.end);
            FilterError(format!(
                "While parsing a list in the query, expected a non-empty list of string values, \
                 but got ill-formed list: '{}'",
                excerpt(p.span(open.start, end))
            ))
        };
        if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
            return Err(FilterError(
                "While parsing a list in the query, expected a non-empty list of string values, \
                 but got empty list"
                    .into(),
            ));
        }
        let mut items = Vec::new();
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Str { text, .. }) => items.push(text.clone()),
                Some(Tok::Num(_)) => {
                    let found = excerpt(self.peek().map_or("", |t| self.text(t)));
                    return Err(FilterError(format!(
                        "While parsing a list in the query, expected string value, punctuation, \
                         or whitespace, but got different type in list: {found}"
                    )));
                }
                Some(_) | None => return Err(ill_formed(self)),
            }
            self.pos += 1;
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) | None => return Err(ill_formed(self)),
            }
        }
    }

    fn value(&mut self, ident_text: &str) -> Result<RawValue, FilterError> {
        let t = self.expect_more(ident_text, "a value")?.clone();
        self.pos += 1;
        match &t.tok {
            Tok::Str { text, .. } => Ok(RawValue::Str(text.clone())),
            Tok::Num(n) => Ok(RawValue::Num(*n)),
            Tok::LParen => self.list(&t).map(RawValue::List),
            Tok::Ident(_) => Err(FilterError(format!(
                "Parameter value is either not quoted or unidentified quote types used for \
                 string value {}. Use either single or double quotes.",
                excerpt(self.text(&t))
            ))),
            Tok::Op(_) | Tok::RParen | Tok::Comma => Err(invalid_clause(&format!(
                "expected a value after '{}', found '{}'",
                excerpt(ident_text),
                excerpt(self.text(&t))
            ))),
        }
    }

    fn clause(&mut self) -> Result<RawClause<'a>, FilterError> {
        let (ident, ident_text) = self.identifier()?;
        let cmp_start = self.peek().map_or(self.src.len(), |t| t.start);
        let cmp = self.comparator(ident_text)?;
        let cmp_end = self.toks.get(self.pos - 1).map_or(cmp_start, |t| t.end);
        let value_start = self.peek().map_or(self.src.len(), |t| t.start);
        let value = match cmp {
            RawCmp::Known(Comparator::IsNull | Comparator::IsNotNull) => RawValue::Null,
            RawCmp::Known(_) | RawCmp::Unknown => self.value(ident_text)?,
        };
        let value_end = self.toks.get(self.pos - 1).map_or(value_start, |t| t.end.max(value_start));
        Ok(RawClause {
            ident,
            ident_text,
            cmp,
            cmp_text: self.span(cmp_start, cmp_end),
            value,
            value_text: self.span(value_start, value_end),
        })
    }
}

/// Parses `clause (AND clause)*`; `OR`, parentheses and stray tokens are
/// "invalid clause" errors, as in MLflow.
pub(super) fn parse_clauses(src: &str, toks: Vec<Token>) -> Result<Vec<RawClause<'_>>, FilterError> {
    let mut p = Parser { src, toks, pos: 0 };
    let mut clauses = Vec::new();
    while p.peek().is_some() {
        if clauses.len() == MAX_FILTER_CLAUSES {
            return Err(FilterError(format!(
                "Invalid filter: more than the limit of {MAX_FILTER_CLAUSES} clauses joined by AND in one filter"
            )));
        }
        clauses.push(p.clause()?);
        match p.peek() {
            None => break,
            Some(t) if t.is_keyword("and") => {
                p.pos += 1;
                if p.peek().is_none() {
                    return Err(invalid_clause("the filter ends with 'AND'"));
                }
            }
            Some(_) => return Err(invalid_clause(&p.rest())),
        }
    }
    Ok(clauses)
}
