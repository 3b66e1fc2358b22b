//! Columns of a batch profiled on several threads: each column's sketches are its own, so
//! threads share nothing but the read-only batch.

use crate::feature::FeatureProfile;

/// Calls `f(column index, feature, scratch)` for every feature, spread round-robin over up to
/// `threads` scoped threads (none when 1). The first error in column order wins.
pub(crate) fn each_feature<E: Send>(
    features: &mut [FeatureProfile],
    threads: usize,
    f: impl Fn(usize, &mut FeatureProfile, &mut Vec<f64>) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let threads = threads.clamp(1, features.len().max(1));
    if threads == 1 {
        let mut scratch = Vec::new();
        for (i, feature) in features.iter_mut().enumerate() {
            f(i, feature, &mut scratch)?;
        }
        return Ok(());
    }
    // Round-robin, so a run of costly columns (numbers, say) is shared out.
    let mut parts: Vec<Vec<(usize, &mut FeatureProfile)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, feature) in features.iter_mut().enumerate() {
        parts[i % threads].push((i, feature));
    }
    let f = &f;
    let results: Vec<Result<(), (usize, E)>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    let mut scratch = Vec::new();
                    for (i, feature) in part {
                        f(i, feature, &mut scratch).map_err(|e| (i, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    match results.into_iter().filter_map(Result::err).min_by_key(|(i, _)| *i) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}
