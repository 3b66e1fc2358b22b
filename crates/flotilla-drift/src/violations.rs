//! SageMaker Model Monitor's kinds of constraint violation: a missing or extra column, a changed
//! data type, completeness dropped, new category values.

use std::collections::HashSet;

use flotilla_profile::{FeatureType, Profile};
use serde::{Deserialize, Serialize};

use crate::config::DriftConfig;
use crate::reference::{FeatureReference, Reference, ReferenceValues, completeness};
use crate::window::{Window, WindowCounts};

/// One violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// A reference column absent from the current data.
    MissingColumn { feature: String },
    /// A current column the reference does not have.
    ExtraColumn { feature: String },
    /// The values are of another type than the reference's (`integer`, `float`, `boolean`,
    /// `string`, `other`).
    DataTypeChanged { feature: String, reference: String, current: String },
    /// The share of values present fell below the reference's (less the tolerance).
    CompletenessDropped { feature: String, reference: f64, current: f64 },
    /// Values in categories the reference never had, above the configured share.
    NewCategories { feature: String, share: f64 },
}

fn type_name(t: FeatureType) -> &'static str {
    match t {
        FeatureType::Null => "null",
        FeatureType::Integer => "integer",
        FeatureType::Float => "float",
        FeatureType::Boolean => "boolean",
        FeatureType::String => "string",
        FeatureType::Other => "other",
    }
}

/// Whether values of type `current` break a reference of type `reference` (integers may become
/// floats' values, not the other way round; null on either side says nothing).
fn type_changed(reference: FeatureType, current: FeatureType) -> bool {
    use FeatureType::{Boolean, Float, Integer, Null, Other, String};
    match (reference, current) {
        (Null, _) | (_, Null) => false,
        (Float, Integer | Float) | (Integer, Integer) | (Boolean, Boolean) | (String, String) | (Other, Other) => false,
        (Integer | Float | Boolean | String | Other, _) => true,
    }
}

/// The violations of a current profile.
pub fn of_profile(reference: &Reference, current: &Profile, config: &DriftConfig) -> Vec<Violation> {
    let mut out = Vec::new();
    let names: HashSet<&str> = reference.features.iter().map(|f| f.name.as_str()).collect();
    for r in &reference.features {
        let Some(c) = current.feature(&r.name) else {
            out.push(Violation::MissingColumn { feature: r.name.clone() });
            continue;
        };
        if type_changed(r.feature_type, c.feature_type) {
            out.push(Violation::DataTypeChanged {
                feature: r.name.clone(),
                reference: type_name(r.feature_type).to_owned(),
                current: type_name(c.feature_type).to_owned(),
            });
        }
        check_completeness(&mut out, &r.name, r.completeness(), completeness(c.rows, c.nulls + c.nans), config);
    }
    for c in &current.features {
        if !names.contains(c.name.as_str()) {
            out.push(Violation::ExtraColumn { feature: c.name.clone() });
        }
    }
    out
}

/// The violations of a window. A feature every row lacked is missing; values mostly of the other
/// kind are a type change. New categories come from the drift results (see [`new_categories`]).
pub fn of_window(reference: &Reference, window: &Window, config: &DriftConfig) -> Vec<Violation> {
    let expected: Vec<f64> = reference.features.iter().map(FeatureReference::completeness).collect();
    of_window_against(reference, &expected, window, config)
}

/// The violations of a window against a baseline window (both recorded against `reference`):
/// completeness is the baseline's, not the reference's.
pub fn of_window_against_baseline(
    reference: &Reference,
    baseline: &Window,
    window: &Window,
    config: &DriftConfig,
) -> Vec<Violation> {
    let expected: Vec<f64> = baseline.features.iter().map(|b| completeness(b.rows(), b.nulls + b.nans)).collect();
    of_window_against(reference, &expected, window, config)
}

/// As [`of_window`], with each feature's expected completeness given.
fn of_window_against(reference: &Reference, expected: &[f64], window: &Window, config: &DriftConfig) -> Vec<Violation> {
    let mut out = Vec::new();
    let rows = window.features.iter().map(|w| w.rows()).max().unwrap_or(0);
    for ((r, w), &expected) in reference.features.iter().zip(&window.features).zip(expected) {
        if rows > 0 && w.nulls == rows && expected > 0.0 {
            out.push(Violation::MissingColumn { feature: r.name.clone() });
            continue;
        }
        let present = w.rows() - w.nulls - w.nans;
        if present > 0 && w.mismatched * 2 > present {
            let current = match (&w.counts, &r.values) {
                (WindowCounts::Numeric(_), _) => "string",
                (WindowCounts::Categorical { .. } | WindowCounts::Plain { .. }, ReferenceValues::Categorical(_)) => {
                    "float"
                }
                (
                    WindowCounts::Categorical { .. } | WindowCounts::Plain { .. },
                    ReferenceValues::Numeric(_) | ReferenceValues::None,
                ) => "other",
            };
            out.push(Violation::DataTypeChanged {
                feature: r.name.clone(),
                reference: type_name(r.feature_type).to_owned(),
                current: current.to_owned(),
            });
        }
        check_completeness(&mut out, &r.name, expected, completeness(w.rows(), w.nulls + w.nans), config);
    }
    out
}

fn check_completeness(out: &mut Vec<Violation>, feature: &str, reference: f64, current: f64, config: &DriftConfig) {
    if current < reference - config.completeness_tolerance {
        out.push(Violation::CompletenessDropped { feature: feature.to_owned(), reference, current });
    }
}

/// New-category violations from features' drift results.
pub fn new_categories(features: &[crate::FeatureDrift], config: &DriftConfig) -> Vec<Violation> {
    features
        .iter()
        .filter_map(|f| {
            let share = f.new_category_share?;
            (share > config.new_category_share).then(|| Violation::NewCategories { feature: f.feature.clone(), share })
        })
        .collect()
}
