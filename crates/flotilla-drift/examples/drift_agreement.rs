//! Drift of generated columns for `tests/drift/test_drift_agreement.py` to compare with SciPy and
//! Evidently: for each column of `DIR/columns.json` (`[{"id": "c0", "kind": "numeric"}, ...]`),
//! profiles `DIR/<id>.ref.csv` and `DIR/<id>.cur.csv` (one column `x`) with flotilla-profile, and
//! prints one JSON object per column: the default verdict, method and score, and the KS,
//! normalised Wasserstein and Jensen–Shannon scores, each from the current profile and from the
//! window counts of the current values.
//!
//! Usage: `cargo run -p flotilla-drift --example drift_agreement -- DIR`

use std::path::PathBuf;

use flotilla_drift::{DriftConfig, FeatureDrift, Method, Reference, Window, feature_from_profile, feature_from_window};
use flotilla_profile::{ContentType, Profile, Profiler};

#[derive(serde::Deserialize)]
struct Column {
    id: String,
    kind: String,
}

fn profile(path: &std::path::Path) -> Profile {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Profiler::default().profile_file(file, ContentType::Csv).expect("profiling a generated CSV")
}

fn window(reference: &Reference, path: &std::path::Path, numeric: bool) -> Window {
    let mut window = Window::new(reference);
    let mut reader = csv::Reader::from_path(path).expect("reading a generated CSV");
    for record in reader.records() {
        let record = record.expect("a CSV record");
        let value = record.get(0).unwrap_or_default();
        if value.is_empty() {
            window.record_null(0);
        } else if numeric {
            match value.parse::<f64>() {
                Ok(v) => window.record_number(reference, 0, v),
                Err(_) => window.record_category(reference, 0, value),
            }
        } else {
            window.record_category(reference, 0, value);
        }
    }
    window
}

fn json(d: &FeatureDrift) -> serde_json::Value {
    serde_json::json!({
        "method": d.method, "score": d.score, "statistic": d.statistic, "verdict": d.verdict,
        "new_category_share": d.new_category_share,
    })
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: drift_agreement DIR"));
    let columns: Vec<Column> =
        serde_json::from_slice(&std::fs::read(dir.join("columns.json")).expect("columns.json")).expect("its JSON");
    let defaults = DriftConfig::default();
    let forced = |m: Method| DriftConfig {
        numeric_method: Some(m),
        categorical_method: Some(m),
        min_sample_size: 1,
        ..DriftConfig::default()
    };
    for column in columns {
        let numeric = column.kind == "numeric";
        let reference_profile = profile(&dir.join(format!("{}.ref.csv", column.id)));
        let current = profile(&dir.join(format!("{}.cur.csv", column.id)));
        let reference = Reference::from_profile(&reference_profile);
        let window = window(&reference, &dir.join(format!("{}.cur.csv", column.id)), numeric);
        let (r, c, w) = (&reference.features[0], &current.features[0], &window.features[0]);
        let mut out = serde_json::json!({
            "id": column.id,
            "profile": json(&feature_from_profile(r, c, &defaults)),
            "window": json(&feature_from_window(r, w, &defaults)),
            "window_bytes": window.to_bytes().len(),
        });
        let methods: &[(&str, Method)] = if numeric {
            &[("ks", Method::Ks), ("wasserstein", Method::Wasserstein)]
        } else {
            &[("jensen_shannon", Method::JensenShannon)]
        };
        for &(name, method) in methods {
            let config = forced(method);
            let (p, w) = (feature_from_profile(r, c, &config), feature_from_window(r, w, &config));
            // KS agreement is on the statistic D; the distances are the scores.
            let pick = |d: &FeatureDrift| if method == Method::Ks { d.statistic } else { d.score };
            out[name] = serde_json::json!({"profile": pick(&p), "window": pick(&w)});
        }
        println!("{out}");
    }
}
