//! The drift configuration a family carries: methods, thresholds, the minimum sample and the
//! schema checks' tolerances, with Evidently's defaults.

use serde::{Deserialize, Serialize};

/// A drift statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov test (numbers); the score is its p-value.
    Ks,
    /// Wasserstein distance divided by the reference's standard deviation (numbers).
    Wasserstein,
    /// Chi-square goodness of fit of the current counts to the reference shares (categories);
    /// the score is its p-value.
    ChiSquare,
    /// Two-proportion z-test (two categories); the score is its p-value.
    ZTest,
    /// Jensen–Shannon distance (natural log) between the category shares.
    JensenShannon,
}

impl Method {
    /// Whether the score is a p-value (drift when at or below the threshold) rather than a
    /// distance (drift when at or above it).
    pub fn is_test(self) -> bool {
        match self {
            Method::Ks | Method::ChiSquare | Method::ZTest => true,
            Method::Wasserstein | Method::JensenShannon => false,
        }
    }

    /// Whether the method applies to numbers.
    pub fn is_numeric(self) -> bool {
        match self {
            Method::Ks | Method::Wasserstein => true,
            Method::ChiSquare | Method::ZTest | Method::JensenShannon => false,
        }
    }
}

/// How drift is computed and judged. `Default` is Evidently's: KS (p ≤ 0.05) for numbers and
/// chi-square, or the z-test for two categories (p < 0.05), up to 1,000 reference rows;
/// normalised Wasserstein and Jensen–Shannon (≥ 0.1) above; the dataset drifts when half its
/// columns do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// The numeric method; `None` picks by reference size as Evidently does.
    pub numeric_method: Option<Method>,
    /// The categorical method; `None` picks by reference size as Evidently does.
    pub categorical_method: Option<Method>,
    /// References with at most this many values use the tests, larger ones the distances.
    pub small_reference_rows: u64,
    /// Significance level of the tests.
    pub p_value: f64,
    /// Threshold of the normalised Wasserstein distance.
    pub wasserstein: f64,
    /// Threshold of the Jensen–Shannon distance.
    pub jensen_shannon: f64,
    /// Fewer current values than this: "not enough data", never drift.
    pub min_sample_size: u64,
    /// The dataset drifts when at least this share of its judged columns drift.
    pub drift_share: f64,
    /// Completeness (non-null share) may fall this much below the reference's before it is a
    /// violation.
    pub completeness_tolerance: f64,
    /// New categories (absent from the reference) above this share of a column are a violation.
    pub new_category_share: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            numeric_method: None,
            categorical_method: None,
            small_reference_rows: 1000,
            p_value: 0.05,
            wasserstein: 0.1,
            jensen_shannon: 0.1,
            min_sample_size: 30,
            drift_share: 0.5,
            completeness_tolerance: 0.02,
            new_category_share: 0.0,
        }
    }
}

impl DriftConfig {
    /// The threshold a method's score is judged against.
    pub fn threshold(&self, method: Method) -> f64 {
        match method {
            Method::Ks | Method::ChiSquare | Method::ZTest => self.p_value,
            Method::Wasserstein => self.wasserstein,
            Method::JensenShannon => self.jensen_shannon,
        }
    }

    /// Whether a score is drift under `method` (Evidently: KS at p ≤ α, chi-square and z at
    /// p < α, distances at ≥ the threshold).
    pub fn drifted(&self, method: Method, score: f64) -> bool {
        let threshold = self.threshold(method);
        match method {
            Method::Ks => score <= threshold,
            Method::ChiSquare | Method::ZTest => score < threshold,
            Method::Wasserstein | Method::JensenShannon => score >= threshold,
        }
    }

    /// The numeric method for a reference of `rows` values.
    pub fn numeric_for(&self, rows: u64) -> Method {
        match self.numeric_method {
            Some(m) if m.is_numeric() => m,
            Some(_) | None if rows <= self.small_reference_rows => Method::Ks,
            Some(_) | None => Method::Wasserstein,
        }
    }

    /// The categorical method for a reference of `rows` values and `distinct` categories seen in
    /// the reference and current data together.
    pub fn categorical_for(&self, rows: u64, distinct: usize) -> Method {
        match self.categorical_method {
            Some(m) if !m.is_numeric() => m,
            Some(_) | None if rows > self.small_reference_rows => Method::JensenShannon,
            Some(_) | None if distinct > 2 => Method::ChiSquare,
            Some(_) | None => Method::ZTest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_evidentlys() {
        let c = DriftConfig::default();
        assert_eq!(c.numeric_for(1000), Method::Ks);
        assert_eq!(c.numeric_for(1001), Method::Wasserstein);
        assert_eq!(c.categorical_for(1000, 3), Method::ChiSquare);
        assert_eq!(c.categorical_for(1000, 2), Method::ZTest);
        assert_eq!(c.categorical_for(5000, 2), Method::JensenShannon);
        assert!(c.drifted(Method::Ks, 0.05) && !c.drifted(Method::ChiSquare, 0.05));
        assert!(c.drifted(Method::Wasserstein, 0.1) && !c.drifted(Method::JensenShannon, 0.099));
    }

    #[test]
    fn a_family_config_reads_from_json_with_defaults() {
        let c: DriftConfig = serde_json::from_str(r#"{"numeric_method": "ks", "wasserstein": 0.2}"#).unwrap();
        assert_eq!(c.numeric_for(1_000_000), Method::Ks);
        assert_eq!(c.wasserstein, 0.2);
        assert_eq!(c.p_value, 0.05);
        assert!(serde_json::from_str::<DriftConfig>(r#"{"nope": 1}"#).is_err());
        // A categorical method given for numbers is ignored, not misapplied.
        let c = DriftConfig { numeric_method: Some(Method::JensenShannon), ..DriftConfig::default() };
        assert_eq!(c.numeric_for(10), Method::Ks);
    }
}
