//! `GET /metrics`: request counts and latency histograms by route class
//! and status class (`route_metrics.rs`), the model cache's and
//! authentication's counters, and the gauge families other parts add
//! ([`extra_gauges`]), in Prometheus' text format.
//!
//! Invariant: no label names a model, a version, a user or a path; every
//! label value comes from a small fixed set, so the number of series does
//! not grow with the fleet (`crates/flotilla/tests/metrics.rs` holds it).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use flotilla_app::auth::AuthStats;
use flotilla_serving::CacheStats;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut body = crate::route_metrics::render();
    if let Some(serving) = &s.serving {
        body.push_str(&render(&serving.cache.stats()));
    }
    if let Some(auth) = &s.auth {
        body.push_str(&render_auth(&auth.stats()));
    }
    body.push_str(&render_gauges(&extra_gauges(&s).await));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// A family of gauges another part of the server adds to `/metrics` (the
/// fleet health engine's counts by check, say). Its label values must come
/// from a small fixed set (check names, states; at most a family name when
/// families are few): never a model, version, user or path.
pub struct GaugeFamily {
    /// `flotilla_…`, unique among the families.
    pub name: &'static str,
    pub help: &'static str,
    /// Each sample's labels (name, value) and value.
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// The gauge families beyond requests, the model cache and authentication:
/// the fleet's health counts by check and status (issue 15, point 6), read
/// from the roll-up counters the health job keeps (a constant number of rows,
/// whatever the fleet's size). A failed read leaves them out and is logged.
async fn extra_gauges(state: &AppState) -> Vec<GaugeFamily> {
    use flotilla_store::health::{Check, HealthScope, Status};
    let read = state.call(|st| st.health_counts(&HealthScope::Fleet, &flotilla_core::visible::Visible::everything()));
    let counts = match read.await {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(%error, "health counts left out of /metrics");
            return Vec::new();
        }
    };
    let mut samples = Vec::with_capacity(Check::ALL.len() * Status::ALL.len());
    for check in Check::ALL {
        for status in Status::ALL {
            let models = counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models);
            samples.push((
                vec![("check", check.as_str().to_string()), ("status", status.as_str().to_string())],
                models as f64,
            ));
        }
    }
    vec![GaugeFamily {
        name: "flotilla_health_models",
        help: "Models of the fleet by health check and status (fleet roll-up of the last judged windows).",
        samples,
    }]
}

/// The exposition text of gauge families (label values escaped).
pub fn render_gauges(families: &[GaugeFamily]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for family in families {
        let name = family.name;
        let _ = write!(out, "# HELP {name} {}\n# TYPE {name} gauge\n", family.help);
        for (labels, value) in &family.samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
            }
        }
    }
    out
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The exposition text for one snapshot of the counters.
pub fn render(stats: &CacheStats) -> String {
    let families: [(&str, &str, &str, f64); 9] = [
        (
            "flotilla_model_cache_hits_total",
            "counter",
            "Requests served by a model already in memory.",
            stats.hits as f64,
        ),
        ("flotilla_model_cache_misses_total", "counter", "Requests that found their model cold.", stats.misses as f64),
        ("flotilla_model_loads_total", "counter", "Models loaded into memory.", stats.loads as f64),
        ("flotilla_model_load_failures_total", "counter", "Loads that failed.", stats.load_failures as f64),
        (
            "flotilla_model_load_seconds_total",
            "counter",
            "Time spent loading models.",
            stats.load_time_micros as f64 / 1e6,
        ),
        ("flotilla_model_evictions_total", "counter", "Models evicted to stay in budget.", stats.evictions as f64),
        ("flotilla_models_loaded", "gauge", "Models in memory now.", stats.loaded_models as f64),
        ("flotilla_model_memory_bytes", "gauge", "Measured bytes held by loaded models.", stats.loaded_bytes as f64),
        ("flotilla_model_memory_budget_bytes", "gauge", "The --model-memory budget.", stats.budget_bytes as f64),
    ];
    exposition(&families)
}

/// The exposition text of authentication's counters.
pub fn render_auth(stats: &AuthStats) -> String {
    exposition(&[
        (
            "flotilla_auth_cache_hits_total",
            "counter",
            "Requests whose credential was already verified.",
            stats.cache_hits as f64,
        ),
        (
            "flotilla_auth_password_verifications_total",
            "counter",
            "Passwords verified with Argon2id.",
            stats.password_verifications as f64,
        ),
        (
            "flotilla_auth_token_verifications_total",
            "counter",
            "Tokens looked up in the store.",
            stats.token_verifications as f64,
        ),
        (
            "flotilla_auth_cache_resets_total",
            "counter",
            "Times every cached credential was dropped because credentials changed.",
            stats.cache_resets as f64,
        ),
    ])
}

fn exposition(families: &[(&str, &str, &str, f64)]) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in families {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter() {
        let stats = CacheStats { hits: 7, load_time_micros: 1_500_000, budget_bytes: 1 << 30, ..CacheStats::default() };
        let text = render(&stats);
        assert!(text.contains("\nflotilla_model_cache_hits_total 7\n"), "{text}");
        assert!(text.contains("\nflotilla_model_load_seconds_total 1.5\n"), "{text}");
        assert!(text.contains("\nflotilla_model_memory_budget_bytes 1073741824\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 9);
    }

    #[test]
    fn gauge_families_render_with_escaped_labels() {
        let family = GaugeFamily {
            name: "flotilla_health_models",
            help: "Models by check and state.",
            samples: vec![(vec![("check", "drift".into()), ("state", "a\"b\\c\nd".into())], 3.0)],
        };
        let text = render_gauges(&[family]);
        assert_eq!(
            text,
            "# HELP flotilla_health_models Models by check and state.\n# TYPE flotilla_health_models gauge\n\
             flotilla_health_models{check=\"drift\",state=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }
}
