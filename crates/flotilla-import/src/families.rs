//! Family rules (`--family-rule 'demand-(?P<store>\d+)=demand'`): a
//! registered model whose whole name matches joins the family, its named
//! groups the partition (`store=17`), so a flat MLflow registry arrives as
//! a navigable fleet.

use flotilla_core::model::RegisteredModel;
use regex::Regex;

use crate::report::Report;
use crate::{ImportError, ImportResult};

/// One `REGEX=FAMILY` rule.
#[derive(Debug, Clone)]
pub struct FamilyRule {
    pub pattern: Regex,
    pub family: String,
}

impl FamilyRule {
    /// Parses `REGEX=FAMILY` (the last `=` splits, so the pattern may hold one);
    /// the pattern must name at least one group, each a partition level.
    pub fn parse(rule: &str) -> ImportResult<Self> {
        let bad = |why: &str| ImportError::Usage(format!("--family-rule {rule:?}: {why}"));
        let (pattern, family) = rule.rsplit_once('=').ok_or_else(|| bad("expected REGEX=FAMILY"))?;
        if family.is_empty() {
            return Err(bad("the family name is empty"));
        }
        let pattern = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| bad(&e.to_string()))?;
        if pattern.capture_names().flatten().next().is_none() {
            return Err(bad("the pattern names no group; name each partition level, e.g. (?P<store>\\d+)"));
        }
        Ok(Self { pattern, family: family.to_string() })
    }

    /// The partition of `name` under this rule, level by level, if it matches.
    pub fn partition(&self, name: &str) -> Option<Vec<(String, String)>> {
        let captures = self.pattern.captures(name)?;
        Some(
            self.pattern
                .capture_names()
                .flatten()
                .filter_map(|level| captures.name(level).map(|v| (level.to_string(), v.as_str().to_string())))
                .collect(),
        )
    }
}

/// Files each matching model (the first rule that matches) into its family.
pub fn apply(
    store: &dyn crate::run::Destination,
    models: &[RegisteredModel],
    rules: &[FamilyRule],
    report: &mut Report,
) -> ImportResult<()> {
    for rule in rules {
        if store.get_family(&rule.family).is_err() {
            let levels = rule.pattern.capture_names().flatten().map(str::to_string).collect();
            let family = flotilla_store::fleet::NewFamily { name: rule.family.clone(), levels, description: None };
            store.create_family(&family)?;
        }
    }
    for model in models {
        let Some((rule, partition)) = rules.iter().find_map(|r| r.partition(&model.name).map(|p| (r, p))) else {
            continue;
        };
        report.kind("family_members").source += 1;
        let outcome = store.join_family(&model.name, &rule.family, &partition)?;
        report.record("family_members", &model.name, &outcome);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FamilyRule;

    #[test]
    fn rules_parse_and_match_whole_names() {
        let rule = FamilyRule::parse(r"demand-(?P<store>\d+)=demand").unwrap();
        assert_eq!(rule.partition("demand-17"), Some(vec![("store".into(), "17".into())]));
        assert_eq!(rule.partition("demand-17-old"), None);
        assert_eq!(rule.partition("x-demand-17"), None);
        assert!(FamilyRule::parse("demand-\\d+=demand").is_err());
        assert!(FamilyRule::parse("demand").is_err());
        assert!(FamilyRule::parse("(?P<s>[=demand").is_err());
    }
}
