//! One `order_by` entry: `<identifier> [ASC|DESC]`, resolved per entity.

use super::fields::{self, Usage};
use super::lexer::{self, Part, Tok, excerpt};
use super::{Entity, FilterError, OrderBy};

fn unparsable(src: &str) -> FilterError {
    FilterError(format!("Invalid order_by clause '{}'. Could not be parsed.", excerpt(src)))
}

/// Parses `metrics.rmse DESC`, `name`, `` tags.`a b` asc ``, `"run name"`.
pub(super) fn parse(entity: Entity, src: &str) -> Result<OrderBy, FilterError> {
    let tokens = lexer::lex(src).map_err(|_| unparsable(src))?;
    let (ident, direction) = match tokens.as_slice() {
        [ident] => (ident, None),
        [ident, direction] => (ident, Some(direction)),
        _ => return Err(unparsable(src)),
    };
    let parts = match &ident.tok {
        Tok::Ident(parts) => parts.clone(),
        Tok::Str { text, double: true } => vec![Part { text: text.clone(), quoted: true }],
        Tok::Str { double: false, .. } | Tok::Num(_) | Tok::Op(_) | Tok::LParen | Tok::RParen | Tok::Comma => {
            return Err(unparsable(src));
        }
    };
    let ascending = match direction {
        None => true,
        Some(t) if t.is_keyword("asc") => true,
        Some(t) if t.is_keyword("desc") => false,
        Some(_) => {
            return Err(FilterError(format!("Invalid ordering key in order_by clause '{}'.", excerpt(src))));
        }
    };
    let written = &src[ident.start..ident.end];
    let spec = fields::resolve(entity, Usage::OrderBy, &parts, written)?;
    Ok(OrderBy { field: spec.field, ascending })
}
