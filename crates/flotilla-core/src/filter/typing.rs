//! Checks a syntactic clause against its field: the comparator must be one the
//! field accepts, and the value must have the field's type.

use super::fields::{self, Usage};
use super::lexer::excerpt;
use super::syntax::{RawClause, RawCmp, RawValue};
use super::{Clause, Comparator, Entity, FilterError, MAX_LIKE_PATTERN_LENGTH, Operand};

/// How MLflow writes a comparator in its messages.
pub(super) fn comparator_str(cmp: Comparator) -> &'static str {
    match cmp {
        Comparator::Eq => "=",
        Comparator::Ne => "!=",
        Comparator::Gt => ">",
        Comparator::Ge => ">=",
        Comparator::Lt => "<",
        Comparator::Le => "<=",
        Comparator::Like => "LIKE",
        Comparator::ILike => "ILIKE",
        Comparator::In => "IN",
        Comparator::NotIn => "NOT IN",
        Comparator::IsNull => "IS NULL",
        Comparator::IsNotNull => "IS NOT NULL",
    }
}

fn invalid_comparator(written: &str, allowed: &[Comparator]) -> FilterError {
    FilterError(format!(
        "Invalid comparator '{}' not one of '{}'",
        excerpt(written),
        fields::python_set(allowed.iter().map(|c| comparator_str(*c)))
    ))
}

/// Types one clause for `entity`, or says what is wrong with it.
pub(super) fn clause(entity: Entity, raw: RawClause<'_>) -> Result<Clause, FilterError> {
    let spec = fields::resolve(entity, Usage::Filter, &raw.ident, raw.ident_text)?;
    let cmp = match raw.cmp {
        RawCmp::Known(cmp) if spec.allowed.contains(&cmp) => cmp,
        RawCmp::Known(_) | RawCmp::Unknown => {
            return Err(invalid_comparator(raw.cmp_text, spec.allowed));
        }
    };
    let found = excerpt(raw.value_text);
    let value = match (cmp, raw.value) {
        (Comparator::IsNull | Comparator::IsNotNull, RawValue::Null) => Operand::Null,
        (Comparator::In | Comparator::NotIn, RawValue::List(items)) => Operand::List(items),
        (Comparator::In | Comparator::NotIn, RawValue::Str(_) | RawValue::Num(_) | RawValue::Null) => {
            return Err(FilterError(format!(
                "Expected a list of quoted string values for '{}' {}. Got value {found}",
                excerpt(raw.ident_text),
                comparator_str(cmp)
            )));
        }
        (_, RawValue::List(_)) => {
            return Err(FilterError(format!(
                "Only IN and NOT IN compare '{}' with a list of quoted string values. Got {} {found}",
                excerpt(raw.ident_text),
                comparator_str(cmp)
            )));
        }
        (Comparator::IsNull | Comparator::IsNotNull, RawValue::Str(_) | RawValue::Num(_)) | (_, RawValue::Null) => {
            return Err(FilterError(format!(
                "Invalid clause '{} {} {found}'",
                excerpt(raw.ident_text),
                excerpt(raw.cmp_text)
            )));
        }
        (_, RawValue::Num(n)) if spec.numeric => Operand::Num(n),
        (Comparator::Like | Comparator::ILike, RawValue::Str(s)) if s.len() > MAX_LIKE_PATTERN_LENGTH => {
            return Err(FilterError(format!(
                "Invalid LIKE pattern for '{}': it is {} bytes long, more than the limit of {MAX_LIKE_PATTERN_LENGTH} bytes",
                excerpt(raw.ident_text),
                s.len()
            )));
        }
        (_, RawValue::Str(s)) if !spec.numeric => Operand::Str(s),
        (_, RawValue::Str(s)) => match quoted_number(entity, &s) {
            Some(n) => Operand::Num(n),
            None => {
                return Err(FilterError(format!("Expected numeric value type for {}. Found {found}", spec.what)));
            }
        },
        (_, RawValue::Num(_)) => {
            return Err(FilterError(format!(
                "Expected a quoted string value for {} (e.g. 'my-value'). Got value {found}",
                spec.what
            )));
        }
    };
    Ok(Clause { field: spec.field, cmp, value })
}

/// MLflow's model-version search compares `version_number` in SQL, where
/// `'3'` and `3` are equal, and clients do send the quoted form.
fn quoted_number(entity: Entity, s: &str) -> Option<f64> {
    match entity {
        Entity::ModelVersions => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        Entity::Runs | Entity::Experiments | Entity::RegisteredModels | Entity::LoggedModels => None,
    }
}
