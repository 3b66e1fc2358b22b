//! Property tests: parsing never panics, and random valid clause lists,
//! rendered with random spellings, quoting, spacing and case, parse back to
//! the clauses they were rendered from.

use proptest::prelude::*;
use proptest::sample::Index;

use super::proptest_render::{pick, recase, render, render_ident, space};
use super::{Attr, Entity, Field, OrderBy, parse_filter, parse_order_by};

fn entity() -> impl Strategy<Value = Entity> {
    prop::sample::select(vec![
        Entity::Runs,
        Entity::Experiments,
        Entity::RegisteredModels,
        Entity::ModelVersions,
        Entity::LoggedModels,
    ])
}

/// Characters that reach the parser's deeper paths more often than arbitrary text.
const GRAMMAR_ALPHABET: &str = "[a-z .`\"'\\\\()<>=!,_0-9eE+-]{0,60}|(metrics|params|tags|name|run_id)[.a-z`\"' ]{0,10} ?(=|!=|<|>|LIKE|IN|IS|NOT|AND|OR)[ a-z0-9'\"(),.-]{0,20}";

proptest! {
    #[test]
    fn parsing_never_panics(e in entity(), input in any::<String>()) {
        let _ = parse_filter(e, &input);
        let _ = parse_order_by(e, &input);
    }

    #[test]
    fn parsing_grammar_like_noise_never_panics(e in entity(), input in GRAMMAR_ALPHABET) {
        let _ = parse_filter(e, &input);
        let _ = parse_order_by(e, &input);
    }

    #[test]
    fn rendered_clauses_parse_back(
        e in entity(),
        picks in prop::collection::vec(pick(), 1..6),
        joins in prop::collection::vec((any::<Index>(), any::<Index>()), 6),
        edges in any::<(Index, Index)>(),
    ) {
        let mut text = space(&edges.0, true).to_owned();
        let mut expected = Vec::new();
        for (i, p) in picks.iter().enumerate() {
            let (clause_text, clause) = render(e, p);
            if i > 0 {
                let (s, case) = &joins[i];
                text.push_str(&format!("{}{}{}", space(s, false), recase("and", case), space(case, false)));
            }
            text.push_str(&clause_text);
            expected.push(clause);
        }
        text.push_str(space(&edges.1, true));
        prop_assert_eq!(parse_filter(e, &text), Ok(expected), "{}", text);
    }

    #[test]
    fn rendered_order_by_parses_back(e in entity(), p in pick(), dir in any::<Index>()) {
        let (ident, field, _, _) = render_ident(e, &p);
        let direction = ["", " ASC", " desc", " Desc"][dir.index(4)];
        let result = parse_order_by(e, &format!("{ident}{direction}"));
        let orderable = match &field {
            Field::Metric(_) => matches!(e, Entity::Runs | Entity::LoggedModels),
            Field::Param(_) | Field::Tag(_) => e == Entity::Runs,
            Field::Dataset(_) => false,
            Field::Attr(a) => !matches!((e, a), (Entity::ModelVersions, Attr::RunId | Attr::SourcePath)),
        };
        if orderable {
            let want = OrderBy { field, ascending: !direction.to_lowercase().contains("desc") };
            prop_assert_eq!(result, Ok(want));
        } else {
            prop_assert!(result.is_err());
        }
    }
}
