//! Reading the profiles kept on datasets (SQLite: `sqlite/profiles.rs`),
//! and who a profile concerns: the experiments whose runs used the dataset
//! (writing one needs EDIT on one of them). Profiles are written through
//! [`crate::DatasetStore::set_dataset_profile`].

use crate::error::StoreResult;

/// A dataset's kept profile: the bytes `flotilla-profile` wrote (opaque
/// here) and their JSON summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProfile {
    pub bytes: Vec<u8>,
    pub summary: String,
}

/// Experiments listed for a permission check at most (a dataset used in
/// more has a permitted one among the first, or the caller is refused).
pub const MAX_PROFILE_EXPERIMENTS: usize = 1000;

pub trait DatasetProfileStore: Send + Sync {
    /// The profile kept on `(name, digest)`; `None` when the dataset has
    /// none, not found when there is no such dataset.
    fn dataset_profile(&self, name: &str, digest: &str) -> StoreResult<Option<StoredProfile>>;
    /// The experiments whose runs used `(name, digest)`, at most
    /// [`MAX_PROFILE_EXPERIMENTS`]; not found when there is no such dataset.
    fn dataset_experiments(&self, name: &str, digest: &str) -> StoreResult<Vec<String>>;
}
