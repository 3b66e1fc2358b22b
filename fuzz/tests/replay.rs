//! Replays every seed and regression input of every fuzz target through its
//! harness, uninstrumented: a past crash that comes back fails here.

use std::path::Path;

#[test]
fn corpus_replays_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for (name, harness) in flotilla_fuzz::TARGETS {
        let mut files = 0;
        for dir in [root.join("corpus").join(name), root.join("regressions").join(name)] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut paths: Vec<_> = entries.map(|e| e.expect("corpus entry").path()).collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).expect("corpus file");
                let outcome = std::panic::catch_unwind(|| harness(&data));
                assert!(outcome.is_ok(), "{name}: {} fails its harness", path.display());
                files += 1;
            }
        }
        assert!(files > 0, "{name}: no corpus");
        replayed += files;
    }
    assert!(replayed > 0);
}

/// The model seeds are models the engines load, so the fuzzer starts past
/// the format checks rather than at the first byte.
#[test]
fn model_seeds_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    type Loader = fn(&[u8]) -> bool;
    let loaders: [(&str, Loader); 4] = [
        ("xgboost_json", |d| flotilla_infer::xgboost::load(d, "json").is_ok()),
        ("ubjson", |d| flotilla_infer::xgboost::load(d, "ubj").is_ok()),
        ("lightgbm", |d| flotilla_infer::lightgbm::load(d).is_ok()),
        ("onnx", |d| flotilla_infer::onnx::load(d).is_ok()),
    ];
    for (target, loads) in loaders {
        let mut loaded = 0;
        for entry in std::fs::read_dir(root.join(target)).expect("corpus folder") {
            let path = entry.expect("corpus entry").path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")) {
                loaded += usize::from(loads(&std::fs::read(&path).expect("seed")));
            }
        }
        assert!(loaded >= 3, "{target}: only {loaded} seeds load");
    }
}
