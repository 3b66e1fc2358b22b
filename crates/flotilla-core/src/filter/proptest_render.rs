//! Generators and renderers for the property tests: random valid clauses
//! for an entity, written out with random spellings, quoting, spacing and case.
//!
//! The field tables here are written out again on purpose, from MLflow's
//! documentation, rather than borrowed from `fields.rs`.

use proptest::prelude::*;
use proptest::sample::Index;

use super::{Attr, Clause, Comparator as C, DatasetField, Entity, Field, Operand};

const NUM: &[C] = &[C::Eq, C::Ne, C::Gt, C::Ge, C::Lt, C::Le];
const STR: &[C] = &[C::Eq, C::Ne, C::Like, C::ILike];
const STR_NULL: &[C] = &[C::Eq, C::Ne, C::Like, C::ILike, C::IsNull, C::IsNotNull];
const STR_LIST: &[C] = &[C::Eq, C::Ne, C::Like, C::ILike, C::In, C::NotIn];
const ID_LIST: &[C] = &[C::Eq, C::Ne, C::In, C::NotIn];

const METRIC: &[&str] = &["metric", "metrics"];
const PARAM: &[&str] = &["param", "params", "parameter", "parameters"];
const TAG: &[&str] = &["tag", "tags"];
const DATASET: &[&str] = &["dataset", "datasets"];
const ATTR: &[&str] = &["", "attribute", "attributes", "attr"];
const RUN_ATTR: &[&str] = &["", "attribute", "attributes", "attr", "run"];

/// A kind of field an entity filters on: keyed ones get a random key.
#[derive(Debug, Clone, Copy)]
enum Gen {
    Metric,
    Param(&'static [C]),
    Tag(&'static [C]),
    /// Spellings, the attribute, numeric, comparators.
    Attr(&'static [&'static str], Attr, bool, &'static [C]),
    Dataset(&'static str, DatasetField),
}

fn gens(entity: Entity) -> (Vec<Gen>, &'static [&'static str]) {
    use Gen::Attr as A;
    match entity {
        Entity::Runs => (
            vec![
                Gen::Metric,
                Gen::Param(STR_NULL),
                Gen::Tag(STR_NULL),
                A(&["run_id"], Attr::RunId, false, STR_LIST),
                A(&["run_name", "run name", "Run name", "Run Name"], Attr::RunName, false, STR),
                A(&["status"], Attr::Status, false, STR),
                A(&["user_id"], Attr::UserId, false, STR),
                A(&["artifact_uri"], Attr::ArtifactUri, false, STR),
                A(&["start_time", "created", "Created"], Attr::StartTime, true, NUM),
                A(&["end_time"], Attr::EndTime, true, NUM),
                Gen::Dataset("name", DatasetField::Name),
                Gen::Dataset("digest", DatasetField::Digest),
                Gen::Dataset("context", DatasetField::Context),
            ],
            RUN_ATTR,
        ),
        Entity::Experiments => (
            vec![
                Gen::Tag(STR_NULL),
                A(&["name"], Attr::Name, false, STR),
                A(&["experiment_id"], Attr::ExperimentId, false, ID_LIST),
                A(&["creation_time"], Attr::CreationTime, true, NUM),
                A(&["last_update_time"], Attr::LastUpdateTime, true, NUM),
            ],
            ATTR,
        ),
        Entity::RegisteredModels => (vec![Gen::Tag(STR), A(&["name"], Attr::Name, false, STR_LIST)], ATTR),
        Entity::ModelVersions => (
            vec![
                Gen::Tag(STR),
                A(&["name"], Attr::Name, false, STR_LIST),
                A(&["version_number"], Attr::VersionNumber, true, NUM),
                A(&["run_id"], Attr::RunId, false, ID_LIST),
                A(&["source_path"], Attr::SourcePath, false, STR),
            ],
            ATTR,
        ),
        Entity::LoggedModels => (
            vec![
                Gen::Metric,
                Gen::Param(STR),
                Gen::Tag(STR),
                A(&["name"], Attr::Name, false, STR_LIST),
                A(&["model_id"], Attr::ModelId, false, STR_LIST),
                A(&["model_type"], Attr::ModelType, false, STR_LIST),
                A(&["status"], Attr::Status, false, STR_LIST),
                A(&["source_run_id"], Attr::SourceRunId, false, STR_LIST),
                A(&["creation_timestamp", "creation_time"], Attr::CreationTime, true, NUM),
                A(&["last_updated_timestamp", "last_updated_time"], Attr::LastUpdateTime, true, NUM),
            ],
            ATTR,
        ),
    }
}

/// Every random decision for one clause, so proptest can shrink them.
#[derive(Debug, Clone)]
pub(super) struct Pick {
    field: Index,
    spelling: Index,
    quoting: Index,
    cmp: Index,
    case: Index,
    space: [Index; 3],
    key: String,
    text: String,
    items: Vec<String>,
    num: f64,
}

pub(super) fn pick() -> impl Strategy<Value = Pick> {
    let num = prop_oneof![
        any::<i64>().prop_map(|i| i as f64),
        -1e15f64..1e15,
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
    ];
    (
        (any::<Index>(), any::<Index>(), any::<Index>(), any::<Index>(), any::<Index>()),
        any::<[Index; 3]>(),
        prop_oneof!["[a-z_][a-z0-9_.:/-]{0,10}", ".+"],
        any::<String>(),
        prop::collection::vec(any::<String>(), 1..4),
        num,
    )
        .prop_filter("keys are storable: not empty, bounded, no control characters", |t| {
            !t.2.is_empty()
                && t.2.len() <= crate::validation::MAX_ENTITY_KEY_LENGTH
                && !t.2.chars().any(char::is_control)
        })
        .prop_map(|((field, spelling, quoting, cmp, case), space, key, text, items, num)| Pick {
            field,
            spelling,
            quoting,
            cmp,
            case,
            space,
            key,
            text,
            items,
            num,
        })
}

const SPACES: &[&str] = &[" ", "  ", "\t", "\n ", " \r\n"];

pub(super) fn space(i: &Index, optional: bool) -> &'static str {
    let all: &[&str] = if optional { &["", " ", "\t"] } else { SPACES };
    all[i.index(all.len())]
}

pub(super) fn recase(word: &str, case: &Index) -> String {
    match case.index(3) {
        0 => word.to_uppercase(),
        1 => word.to_lowercase(),
        _ => word.chars().enumerate().map(|(i, ch)| if i % 2 == 0 { ch.to_ascii_lowercase() } else { ch }).collect(),
    }
}

fn quote_string(text: &str, how: &Index) -> String {
    let backslashes = text.replace('\\', "\\\\");
    match how.index(4) {
        0 => format!("'{}'", backslashes.replace('\'', "''")),
        1 => format!("'{}'", backslashes.replace('\'', "\\'")),
        2 => format!("\"{}\"", backslashes.replace('"', "\"\"")),
        _ => format!("\"{}\"", backslashes.replace('"', "\\\"")),
    }
}

fn is_bare_key(key: &str) -> bool {
    key.split('.').all(|seg| !seg.is_empty() && seg.chars().all(|ch| ch.is_alphanumeric() || "_-/:".contains(ch)))
}

/// A name after a prefix (or alone): bare when it can be, else quoted.
fn quote_name(name: &str, how: &Index, bare_ok: bool) -> String {
    match how.index(3) {
        0 if bare_ok => name.to_owned(),
        0 | 1 => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\"\"")),
    }
}

fn prefixed(prefix: &str, name: String) -> String {
    if prefix.is_empty() { name } else { format!("{prefix}.{name}") }
}

fn number(v: f64, how: &Index) -> String {
    match how.index(3) {
        0 => format!("{v}"),
        1 => format!("{v:e}"),
        _ => format!("{v:E}"),
    }
}

/// Renders an identifier for one of the entity's fields, with what it must
/// resolve to, whether it is numeric and the comparators it takes.
pub(super) fn render_ident(entity: Entity, p: &Pick) -> (String, Field, bool, &'static [C]) {
    let (gens, attr_prefixes) = gens(entity);
    let g = gens[p.field.index(gens.len())];
    let pick_from = |names: &[&'static str]| names[p.spelling.index(names.len())];
    let key = || quote_name(&p.key, &p.quoting, is_bare_key(&p.key));
    match g {
        Gen::Metric => (prefixed(pick_from(METRIC), key()), Field::Metric(p.key.clone()), true, NUM),
        Gen::Param(cmps) => (prefixed(pick_from(PARAM), key()), Field::Param(p.key.clone()), false, cmps),
        Gen::Tag(cmps) => (prefixed(pick_from(TAG), key()), Field::Tag(p.key.clone()), false, cmps),
        Gen::Attr(names, attr, numeric, cmps) => {
            let name = names[p.case.index(names.len())];
            let ident = prefixed(pick_from(attr_prefixes), quote_name(name, &p.quoting, !name.contains(' ')));
            (ident, Field::Attr(attr), numeric, cmps)
        }
        Gen::Dataset(name, field) => {
            (prefixed(pick_from(DATASET), quote_name(name, &p.quoting, true)), Field::Dataset(field), false, STR_LIST)
        }
    }
}

/// Renders one clause and says what it must parse to.
pub(super) fn render(entity: Entity, p: &Pick) -> (String, Clause) {
    let (ident, field, numeric, cmps) = render_ident(entity, p);
    let cmp = cmps[p.cmp.index(cmps.len())];
    let [s0, s1, s2] = &p.space;
    let word = |w: &str| recase(w, &p.case);
    let (cmp_text, value_text, value) = match cmp {
        C::IsNull => (format!("{}{}{}", word("is"), space(s1, false), word("null")), String::new(), Operand::Null),
        C::IsNotNull => (
            format!("{}{}{}{}{}", word("is"), space(s1, false), word("not"), space(s2, false), word("null")),
            String::new(),
            Operand::Null,
        ),
        C::In | C::NotIn => {
            let items: Vec<String> = p.items.iter().map(|i| quote_string(i, &p.quoting)).collect();
            let sep = format!(",{}", space(s2, true));
            let kw =
                if cmp == C::In { word("in") } else { format!("{}{}{}", word("not"), space(s1, false), word("in")) };
            (kw, format!("({})", items.join(&sep)), Operand::List(p.items.clone()))
        }
        C::Like | C::ILike => {
            let kw = if cmp == C::Like { word("like") } else { word("ilike") };
            (kw, quote_string(&p.text, &p.quoting), Operand::Str(p.text.clone()))
        }
        C::Eq | C::Ne | C::Gt | C::Ge | C::Lt | C::Le => {
            let op = super::typing::comparator_str(cmp).to_owned();
            if numeric {
                (op, number(p.num, &p.case), Operand::Num(p.num))
            } else {
                (op, quote_string(&p.text, &p.quoting), Operand::Str(p.text.clone()))
            }
        }
    };
    let symbolic = matches!(cmp, C::Eq | C::Ne | C::Gt | C::Ge | C::Lt | C::Le);
    let text = format!("{ident}{}{cmp_text}{}{value_text}", space(s0, symbolic), space(s2, symbolic));
    (text, Clause { field, cmp, value })
}
