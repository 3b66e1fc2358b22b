//! The reference a version's serving data is binned against: the model's
//! dataset baseline if one is set, else the profile of the dataset it was
//! trained on, found through lineage (the upstream datasets in the
//! `training` context, else any with a profile), prepared once per active
//! version as a `flotilla_drift::Reference` — the same one the drift read
//! judges against, so the windows' fingerprints match it. Also how the
//! version's columns map onto the reference's features: by name, else (a
//! wide input named by position) the reference's columns in order, when
//! their count is the input's width once the label columns (`target`,
//! `label`, `y` and the outputs' names) are left out; the columns then take
//! the training data's names.

use flotilla_core::VersionNumber;
use std::sync::Arc;

use flotilla_drift::Reference;
use flotilla_store::{Store, StoreResult};

/// Columns of the training data taken for the label, never an input.
const LABEL_NAMES: [&str; 3] = ["target", "label", "y"];

/// The reference the version's traffic is binned against, as the drift
/// read judges it ([`crate::monitor::drift::binning_reference`]): the
/// model's dataset baseline if set, else its training profile (a traffic
/// baseline is binned against the training profile too). `None` when it
/// has neither.
pub fn version_reference(
    store: &dyn Store,
    model: &str,
    version: VersionNumber,
) -> StoreResult<Option<Arc<Reference>>> {
    crate::monitor::drift::binning_reference(store, model, version)
}

/// How `columns` (inputs first) map onto `reference`: the reference
/// feature of each column, and new names for the inputs when they were
/// positional and the reference supplies them.
pub fn map_columns(
    inputs: usize,
    columns: &[String],
    reference: &Reference,
) -> (Vec<Option<usize>>, Option<Vec<String>>) {
    let index = |name: &str| reference.features.iter().position(|f| f.name == name);
    let by_name: Vec<Option<usize>> = columns.iter().map(|c| index(c)).collect();
    let positional = columns.iter().take(inputs).all(|c| c.starts_with("input_"));
    if !positional || by_name.iter().take(inputs).any(Option::is_some) {
        return (by_name, None);
    }
    let outputs = &columns[inputs.min(columns.len())..];
    let candidates: Vec<usize> = (0..reference.features.len())
        .filter(|i| {
            let n = reference.features[*i].name.as_str();
            !LABEL_NAMES.contains(&n) && !outputs.iter().any(|o| o == n)
        })
        .collect();
    if candidates.len() != inputs {
        return (by_name, None);
    }
    let mut map: Vec<Option<usize>> = candidates.iter().map(|i| Some(*i)).collect();
    map.extend(by_name.into_iter().skip(inputs));
    let mut names: Vec<String> = candidates.iter().map(|i| reference.features[*i].name.clone()).collect();
    names.extend(outputs.iter().cloned());
    (map, Some(names))
}
