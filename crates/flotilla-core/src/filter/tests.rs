//! Table tests for the grammar shared by every entity (quoting, numbers,
//! lists, `AND`, keyword case, errors); the helpers are reused by the
//! per-entity and `order_by` tables.

use super::{Attr, Clause, Comparator as C, Entity, Field, Operand, OrderBy, parse_filter, parse_order_by};

pub(super) fn metric(k: &str) -> Field {
    Field::Metric(k.into())
}
pub(super) fn param(k: &str) -> Field {
    Field::Param(k.into())
}
pub(super) fn tag(k: &str) -> Field {
    Field::Tag(k.into())
}
pub(super) fn s(v: &str) -> Operand {
    Operand::Str(v.into())
}
pub(super) fn n(v: f64) -> Operand {
    Operand::Num(v)
}
pub(super) fn list(items: &[&str]) -> Operand {
    Operand::List(items.iter().map(|i| (*i).to_owned()).collect())
}
pub(super) fn c(field: Field, cmp: C, value: Operand) -> Clause {
    Clause { field, cmp, value }
}
pub(super) fn asc(field: Field) -> OrderBy {
    OrderBy { field, ascending: true }
}
pub(super) fn desc(field: Field) -> OrderBy {
    OrderBy { field, ascending: false }
}

/// Each filter parses to exactly the clauses given.
pub(super) fn check_ok(entity: Entity, cases: Vec<(&str, Vec<Clause>)>) {
    for (input, expected) in cases {
        match parse_filter(entity, input) {
            Ok(got) => assert_eq!(got, expected, "{entity:?}: {input:?}"),
            Err(e) => panic!("{entity:?}: {input:?} failed: {e}"),
        }
    }
}

/// Each filter fails with a message containing the given text.
pub(super) fn check_err(entity: Entity, cases: &[(&str, &str)]) {
    for (input, wanted) in cases {
        match parse_filter(entity, input) {
            Ok(got) => panic!("{entity:?}: {input:?} parsed to {got:?}, wanted error {wanted:?}"),
            Err(e) => assert!(e.0.contains(wanted), "{entity:?}: {input:?}: {:?} lacks {wanted:?}", e.0),
        }
    }
}

pub(super) fn check_order(entity: Entity, cases: Vec<(&str, OrderBy)>) {
    for (input, expected) in cases {
        match parse_order_by(entity, input) {
            Ok(got) => assert_eq!(got, expected, "{entity:?}: {input:?}"),
            Err(e) => panic!("{entity:?}: {input:?} failed: {e}"),
        }
    }
}

pub(super) fn check_order_err(entity: Entity, cases: &[(&str, &str)]) {
    for (input, wanted) in cases {
        match parse_order_by(entity, input) {
            Ok(got) => panic!("{entity:?}: {input:?} parsed to {got:?}, wanted error {wanted:?}"),
            Err(e) => assert!(e.0.contains(wanted), "{entity:?}: {input:?}: {:?} lacks {wanted:?}", e.0),
        }
    }
}

#[test]
fn blank_filters_are_no_clauses() {
    check_ok(Entity::Runs, vec![("", vec![]), ("   ", vec![]), (" \n\t ", vec![])]);
}

#[test]
fn quoting_styles() {
    check_ok(
        Entity::Runs,
        vec![
            ("params.p = 'x'", vec![c(param("p"), C::Eq, s("x"))]),
            ("params.p = \"x\"", vec![c(param("p"), C::Eq, s("x"))]),
            ("params.p = ''", vec![c(param("p"), C::Eq, s(""))]),
            ("params.p = 'it''s'", vec![c(param("p"), C::Eq, s("it's"))]),
            (r"params.p = 'it\'s'", vec![c(param("p"), C::Eq, s("it's"))]),
            (r#"params.p = "say ""hi""""#, vec![c(param("p"), C::Eq, s("say \"hi\""))]),
            (r#"params.p = "a\"b""#, vec![c(param("p"), C::Eq, s("a\"b"))]),
            (r"params.p = 'a\\b'", vec![c(param("p"), C::Eq, s(r"a\b"))]),
            (r"params.p LIKE '%a\_b%'", vec![c(param("p"), C::Like, s(r"%a\_b%"))]),
            ("params.p = 'AND x OR (y)'", vec![c(param("p"), C::Eq, s("AND x OR (y)"))]),
            ("params.p = 'ключ ✓'", vec![c(param("p"), C::Eq, s("ключ ✓"))]),
            ("metrics.`my metric` > 1", vec![c(metric("my metric"), C::Gt, n(1.0))]),
            ("metrics.\"my.metric\" > 1", vec![c(metric("my.metric"), C::Gt, n(1.0))]),
            ("metrics.a.b > 1", vec![c(metric("a.b"), C::Gt, n(1.0))]),
            ("metrics.`a``b` > 1", vec![c(metric("a`b"), C::Gt, n(1.0))]),
            ("`metrics`.a > 1", vec![c(metric("a"), C::Gt, n(1.0))]),
            ("params.lr-rate = '1'", vec![c(param("lr-rate"), C::Eq, s("1"))]),
            ("params.a/b:c = '1'", vec![c(param("a/b:c"), C::Eq, s("1"))]),
            ("params.1st = '1'", vec![c(param("1st"), C::Eq, s("1"))]),
            ("tags.ключ = 'v'", vec![c(tag("ключ"), C::Eq, s("v"))]),
            ("tags.\"a b\".c = 'v'", vec![c(tag("a b.c"), C::Eq, s("v"))]),
            ("tag.`mlflow.prompt.is_prompt` != 'true'", vec![c(tag("mlflow.prompt.is_prompt"), C::Ne, s("true"))]),
        ],
    );
}

#[test]
fn numbers() {
    let cases = [
        ("1", 1.0),
        ("-1", -1.0),
        ("+2", 2.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("1E+3", 1000.0),
        ("-2.5e-3", -0.0025),
        ("1700000000000", 1_700_000_000_000.0),
    ];
    for (text, value) in cases {
        let input = format!("metrics.m = {text}");
        check_ok(Entity::Runs, vec![(&input, vec![c(metric("m"), C::Eq, n(value))])]);
        let tight = format!("metrics.m>={text}");
        check_ok(Entity::Runs, vec![(&tight, vec![c(metric("m"), C::Ge, n(value))])]);
    }
}

#[test]
fn and_joins_case_insensitively() {
    let expected = vec![c(metric("a"), C::Lt, n(1.0)), c(param("b"), C::Eq, s("x")), c(tag("c"), C::Ne, s("y"))];
    for joined in [
        "metrics.a < 1 AND params.b = 'x' AND tags.c != 'y'",
        "metrics.a<1 and params.b='x' aNd tags.c!='y'",
        "  metrics.a <\t1\nAND\n params.b = 'x'   And tags.c != \"y\"  ",
    ] {
        check_ok(Entity::Runs, vec![(joined, expected.clone())]);
    }
}

#[test]
fn comparator_keywords_are_case_insensitive() {
    check_ok(
        Entity::Runs,
        vec![
            ("params.p like 'a%'", vec![c(param("p"), C::Like, s("a%"))]),
            ("params.p ILike 'a%'", vec![c(param("p"), C::ILike, s("a%"))]),
            ("tags.t IS NULL", vec![c(tag("t"), C::IsNull, Operand::Null)]),
            ("tags.t is not null", vec![c(tag("t"), C::IsNotNull, Operand::Null)]),
            ("params.p Is  Not\tNull", vec![c(param("p"), C::IsNotNull, Operand::Null)]),
            ("run_id in ('a')", vec![c(Field::Attr(Attr::RunId), C::In, list(&["a"]))]),
            ("run_id NOT IN ('a', \"b\")", vec![c(Field::Attr(Attr::RunId), C::NotIn, list(&["a", "b"]))]),
            ("run_id nOt In('a','b' , 'c')", vec![c(Field::Attr(Attr::RunId), C::NotIn, list(&["a", "b", "c"]))]),
        ],
    );
}

#[test]
fn syntax_errors() {
    check_err(
        Entity::Runs,
        &[
            ("metrics.a > 1 OR metrics.b < 2", "Invalid clause(s) in filter string: 'OR metrics.b < 2'"),
            ("metrics.a > 1 or metrics.b < 2", "Invalid clause(s) in filter string"),
            ("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
            ("metrics.a > 1 AND (metrics.b < 2)", "Invalid clause(s) in filter string"),
            ("metrics.a > 1 AND", "Invalid clause(s) in filter string"),
            ("AND metrics.a > 1", "Invalid clause(s) in filter string"),
            ("metrics.a > 1 AND AND metrics.b > 1", "Invalid clause(s) in filter string"),
            ("metrics.a = 1 metrics.b = 2", "Invalid clause(s) in filter string: 'metrics.b = 2'"),
            ("NOT metrics.a = 1", "Invalid clause(s) in filter string"),
            ("metrics.a", "expected a comparator"),
            ("metrics.a >", "expected a value"),
            ("metrics.a > )", "expected a value after 'metrics.a'"),
            ("Run Name = 'x'", "expected a comparator after 'Run', found 'Name'"),
            ("'x' = 'y'", "expected an identifier, found ''x''"),
            ("1 = metrics.a", "expected an identifier"),
            ("metrics. = 1", "expected a name after '.'"),
            ("metrics.a = 1;", "unexpected character ';'"),
            ("metrics.a = 1abc", "invalid number '1abc'"),
            ("metrics.a = 1.2.3", "invalid number"),
            ("params.a = 'x", "unterminated quoted string"),
            ("params.a = \"x", "unterminated quoted string"),
            ("metrics.`a = 1", "unterminated quoted string"),
            ("params.a = x", "Parameter value is either not quoted"),
            ("params.a = NULL", "Parameter value is either not quoted"),
            ("tags.t IS 'x'", "only IS NULL and IS NOT NULL are supported"),
            ("tags.t IS NOT", "expected NULL"),
            ("tags.t NOT LIKE 'x'", "Invalid comparator 'NOT LIKE'"),
            ("tags.`` = 'x'", "the key is empty"),
            ("run_id IN ()", "expected a non-empty list of string values, but got empty list"),
            ("run_id IN ('a',)", "ill-formed list"),
            ("run_id IN ('a' 'b')", "ill-formed list"),
            ("run_id IN ('a'", "ill-formed list"),
            ("run_id IN ('a', 1)", "but got different type in list: 1"),
            ("run_id IN 'a'", "Expected a list of quoted string values"),
            ("run_id = ('a')", "Only IN and NOT IN compare"),
        ],
    );
}

#[test]
fn comparator_and_value_errors() {
    check_err(
        Entity::Runs,
        &[
            ("metrics.a <<< 1", "Invalid comparator '<<<' not one of '{'=', '!=', '>', '>=', '<', '<='}'"),
            ("metrics.a == 1", "Invalid comparator '=='"),
            ("metrics.a <> 1", "Invalid comparator '<>'"),
            ("metrics.a LIKE 1", "Invalid comparator 'LIKE'"),
            ("metrics.a IS NULL", "Invalid comparator 'IS NULL'"),
            ("metrics.a = 'x'", "Expected numeric value type for metric. Found 'x'"),
            ("params.a = 1", "Expected a quoted string value for param (e.g. 'my-value'). Got value 1"),
            (
                "params.a > 'x'",
                "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}'",
            ),
            ("params.a IN ('x')", "Invalid comparator 'IN'"),
            ("tags.a < 'x'", "Invalid comparator '<'"),
            ("foo.a = 1", "Invalid entity type 'foo'. Valid values are {'metric', 'metrics'"),
            ("Metrics.a = 1", "Invalid entity type 'Metrics'"),
            ("foo = 1", "Invalid attribute key 'foo' specified. Valid keys are '{'run_id'"),
        ],
    );
}

#[test]
fn limits_hold_at_the_edge_and_refuse_past_it() {
    use super::{
        MAX_FILTER_CLAUSES, MAX_FILTER_LENGTH, MAX_FILTER_VALUES, MAX_LIKE_PATTERN_LENGTH, MAX_ORDER_BY,
        check_order_by_count,
    };
    use crate::validation::MAX_ENTITY_KEY_LENGTH;
    let ands = |n: usize| vec!["metrics.a > 1"; n].join(" AND ");
    let in_list = |n: usize| format!("run_id IN ({})", vec!["'r'"; n].join(","));
    let key = |n: usize| format!("tags.`{}` = 'x'", "k".repeat(n));
    let like = |n: usize| format!("tags.k LIKE '{}'", "%".repeat(n));
    // (filter at the limit, filter just past it, the number the refusal names)
    let table: Vec<(String, String, usize)> = vec![
        (ands(MAX_FILTER_CLAUSES), ands(MAX_FILTER_CLAUSES + 1), MAX_FILTER_CLAUSES),
        (in_list(MAX_FILTER_VALUES), in_list(MAX_FILTER_VALUES + 1), MAX_FILTER_VALUES),
        (key(MAX_ENTITY_KEY_LENGTH), key(MAX_ENTITY_KEY_LENGTH + 1), MAX_ENTITY_KEY_LENGTH),
        (like(MAX_LIKE_PATTERN_LENGTH), like(MAX_LIKE_PATTERN_LENGTH + 1), MAX_LIKE_PATTERN_LENGTH),
        (
            format!("tags.k = '{}'", "v".repeat(MAX_FILTER_LENGTH - 11)),
            format!("tags.k = '{}'", "v".repeat(MAX_FILTER_LENGTH - 10)),
            MAX_FILTER_LENGTH,
        ),
    ];
    for (at, past, limit) in &table {
        assert!(parse_filter(Entity::Runs, at).is_ok(), "{}", excerpt(at));
        let err = parse_filter(Entity::Runs, past).unwrap_err();
        assert!(err.0.contains(&limit.to_string()), "{}: {}", excerpt(past), err.0);
    }
    for entity in [Entity::Experiments, Entity::RegisteredModels, Entity::ModelVersions, Entity::LoggedModels] {
        let many = vec!["name = 'x'"; MAX_FILTER_CLAUSES + 1].join(" AND ");
        assert!(parse_filter(entity, &many).unwrap_err().0.contains(&MAX_FILTER_CLAUSES.to_string()));
    }
    assert!(check_order_by_count(MAX_ORDER_BY).is_ok());
    assert!(check_order_by_count(MAX_ORDER_BY + 1).unwrap_err().0.contains(&MAX_ORDER_BY.to_string()));
    for nul in ["tags.`a\0b`", "params.`a\u{1}`", "metrics.\"x\ny\""] {
        assert!(parse_order_by(Entity::Runs, nul).unwrap_err().0.contains("control characters"), "{nul:?}");
        assert!(parse_filter(Entity::Runs, &format!("{nul} = '1'")).is_err(), "{nul:?}");
    }
}

fn excerpt(s: &str) -> &str {
    &s[..s.len().min(60)]
}

#[test]
fn huge_and_odd_inputs_do_not_panic() {
    let deep = "(".repeat(100_000);
    assert!(parse_filter(Entity::Runs, &deep).is_err());
    let long_bad = format!("{} = 1", "x".repeat(1_000_000));
    let err = parse_filter(Entity::Runs, &long_bad).unwrap_err();
    assert!(err.0.len() < 1_000, "messages quote an excerpt, not the whole input");
    for odd in ["\0", "é", "`", "\"", "'", "\\", "-", ".", "+.", "1e", "ç = 'x'", "\u{1F600}.x = 1"] {
        let _ = parse_filter(Entity::Runs, odd);
        let _ = parse_order_by(Entity::Runs, odd);
    }
}
