//! Failed loads, remembered for a while so a broken model is not read and
//! parsed again by every request for it. An entry is keyed by the version
//! and holds the identity of its artifacts (the directory and each file's
//! name and size): a changed file, a re-registration under a new version or
//! the expiry ends it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flotilla_artifacts::{ArtifactPath, FileInfo};
use flotilla_core::VersionNumber;

use crate::ServingError;

/// How long a failed load is answered from memory.
pub const FAILURE_TTL: Duration = Duration::from_secs(30);

/// The deterministic part of a failure: what the model's files say, which
/// another attempt would only repeat. Transient failures (budget full,
/// storage errors) are not remembered.
#[derive(Debug, Clone)]
enum Remembered {
    Unservable(String),
    TooLarge { model: String, needed: usize, budget: usize },
}

impl Remembered {
    fn of(e: &ServingError) -> Option<Self> {
        match e {
            ServingError::Unservable(m) => Some(Self::Unservable(m.clone())),
            ServingError::TooLarge { model, needed, budget } => {
                Some(Self::TooLarge { model: model.clone(), needed: *needed, budget: *budget })
            }
            ServingError::NotFound(_)
            | ServingError::BadRequest(_)
            | ServingError::OverBudget
            | ServingError::Store(_)
            | ServingError::Artifacts(_)
            | ServingError::Internal(_) => None,
        }
    }

    fn error(&self) -> ServingError {
        match self {
            Self::Unservable(m) => ServingError::Unservable(m.clone()),
            Self::TooLarge { model, needed, budget } => {
                ServingError::TooLarge { model: model.clone(), needed: *needed, budget: *budget }
            }
        }
    }
}

/// The files of a model directory as they were when the load failed.
pub type Identity = (ArtifactPath, Vec<(String, Option<u64>)>);

pub fn identity(dir: &ArtifactPath, files: &[FileInfo]) -> Identity {
    (dir.clone(), files.iter().map(|f| (f.path.as_str().to_string(), f.size)).collect())
}

struct Entry {
    identity: Identity,
    error: Remembered,
    at: Instant,
}

type Key = (String, VersionNumber);

#[derive(Default)]
pub struct Failures {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Failures {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a failure is remembered for this version (identity unchecked).
    pub fn contains(&self, key: &Key) -> bool {
        let mut entries = self.entries();
        match entries.get(key) {
            Some(e) if e.at.elapsed() < FAILURE_TTL => true,
            Some(_) => {
                entries.remove(key);
                false
            }
            None => false,
        }
    }

    /// The remembered error if the files are still the ones that failed;
    /// otherwise forgets the entry.
    pub fn get(&self, key: &Key, now: &Identity) -> Option<ServingError> {
        let mut entries = self.entries();
        let entry = entries.get(key)?;
        if entry.at.elapsed() < FAILURE_TTL && entry.identity == *now {
            return Some(entry.error.error());
        }
        entries.remove(key);
        None
    }

    /// Remembers `error` if another attempt would only repeat it.
    pub fn remember(&self, key: Key, identity: Identity, error: &ServingError) {
        if let Some(error) = Remembered::of(error) {
            let mut entries = self.entries();
            entries.retain(|_, e| e.at.elapsed() < FAILURE_TTL);
            entries.insert(key, Entry { identity, error, at: Instant::now() });
        }
    }

    /// Forgets the failures of `name` (of one version when given).
    pub fn forget(&self, name: &str, version: Option<VersionNumber>) {
        self.entries().retain(|(n, v), _| !(n == name && version.is_none_or(|want| want == *v)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(sizes: &[(&str, u64)]) -> Identity {
        let dir = ArtifactPath::parse("0/m/v1").unwrap();
        let infos: Vec<FileInfo> = sizes
            .iter()
            .map(|(name, size)| FileInfo { path: dir.child(name).unwrap(), is_dir: false, size: Some(*size) })
            .collect();
        identity(&dir, &infos)
    }

    #[test]
    fn remembered_until_the_files_or_the_version_change() {
        let v = |n| VersionNumber::new(n).unwrap();
        let key = ("m".to_string(), v(1));
        let before = files(&[("MLmodel", 10), ("model.lgb", 300)]);
        let cases: Vec<(ServingError, Identity, (String, VersionNumber), bool)> = vec![
            (ServingError::Unservable("bad".into()), before.clone(), key.clone(), true),
            (ServingError::TooLarge { model: "m/1".into(), needed: 9, budget: 8 }, before.clone(), key.clone(), true),
            (ServingError::Unservable("bad".into()), files(&[("MLmodel", 11), ("model.lgb", 300)]), key.clone(), false),
            (ServingError::Unservable("bad".into()), files(&[("MLmodel", 10)]), key.clone(), false),
            (ServingError::Unservable("bad".into()), before.clone(), ("m".to_string(), v(2)), false),
            (ServingError::OverBudget, before.clone(), key.clone(), false),
            (ServingError::Internal("io".into()), before.clone(), key.clone(), false),
        ];
        for (error, now, asked, want) in cases {
            let failures = Failures::default();
            failures.remember(key.clone(), before.clone(), &error);
            let got = failures.get(&asked, &now);
            assert_eq!(got.is_some(), want, "{error:?} asked {asked:?}");
            if let Some(got) = got {
                assert_eq!(got.to_string(), error.to_string());
            }
        }
        let failures = Failures::default();
        failures.remember(key.clone(), before.clone(), &ServingError::Unservable("bad".into()));
        failures.forget("m", None);
        assert!(!failures.contains(&key));
    }
}
