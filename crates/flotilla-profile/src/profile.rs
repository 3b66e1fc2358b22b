//! A dataset's profile: one [`FeatureProfile`] per column, mergeable and stored as bytes.

use std::collections::{HashMap, HashSet};

use crate::ProfileError;
use crate::feature::{FeatureProfile, FeatureType};

/// The profile of a dataset (or of a part of one: profiles of parts merge into the whole's).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Rows profiled.
    pub rows: u64,
    /// One profile per column, in the input's column order.
    pub features: Vec<FeatureProfile>,
}

impl Profile {
    /// An empty profile with these columns.
    pub fn with_columns(columns: impl IntoIterator<Item = (String, FeatureType)>) -> Profile {
        Profile { rows: 0, features: columns.into_iter().map(|(name, t)| FeatureProfile::new(name, t)).collect() }
    }

    /// The profile of the column with this name.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Folds another profile of the same columns (a later part of the same data) into this one.
    /// An empty profile (no columns) merges with anything.
    pub fn merge(&mut self, other: &Profile) -> Result<(), ProfileError> {
        if other.features.is_empty() && other.rows == 0 {
            return Ok(());
        }
        if self.features.is_empty() && self.rows == 0 {
            *self = other.clone();
            return Ok(());
        }
        let theirs: HashMap<&str, &FeatureProfile> = other.features.iter().map(|f| (f.name.as_str(), f)).collect();
        let ours: HashSet<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        if let Some(f) = other.features.iter().find(|f| !ours.contains(f.name.as_str())) {
            return Err(ProfileError::MergeColumnMismatch { column: f.name.clone() });
        }
        // Checked column by column before any change, so a failed merge leaves `self` whole.
        let mut merged = self.features.clone();
        for feature in &mut merged {
            let Some(other_feature) = theirs.get(feature.name.as_str()) else {
                return Err(ProfileError::MergeColumnMismatch { column: feature.name.clone() });
            };
            feature.merge(other_feature)?;
        }
        self.features = merged;
        self.rows += other.rows;
        Ok(())
    }
}
