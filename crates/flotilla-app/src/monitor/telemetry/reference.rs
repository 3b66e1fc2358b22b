//! The reference a version's serving data is binned against: the profile of
//! the dataset it was trained on, found through lineage (the upstream
//! datasets in the `training` context, else any with a profile), prepared
//! once per active version as a `flotilla_drift::Reference`. Also how the
//! version's columns map onto the reference's features: by name, else (a
//! wide input named by position) the reference's columns in order, when
//! their count is the input's width once the label columns (`target`,
//! `label`, `y` and the outputs' names) are left out; the columns then take
//! the training data's names.

use flotilla_core::VersionNumber;
use flotilla_drift::Reference;
use flotilla_store::{Readable, Store, StoreResult};

/// Columns of the training data taken for the label, never an input.
const LABEL_NAMES: [&str; 3] = ["target", "label", "y"];

/// The version's training reference, `None` when no upstream dataset has a
/// profile (or the profile does not decode).
pub fn training_reference(store: &dyn Store, model: &str, version: VersionNumber) -> StoreResult<Option<Reference>> {
    let upstream = store.upstream(model, version, &Readable::everything())?;
    let mut datasets = upstream.datasets;
    // Training data first.
    datasets.sort_by_key(|d| d.context.as_deref() != Some("training"));
    for d in datasets {
        if let Some(kept) = store.dataset_profile(&d.name, &d.digest)? {
            match flotilla_profile::Profile::from_bytes(&kept.bytes) {
                Ok(profile) => return Ok(Some(Reference::from_profile(&profile))),
                Err(error) => tracing::warn!(dataset = %d.name, %error, "kept profile unreadable"),
            }
        }
    }
    Ok(None)
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
