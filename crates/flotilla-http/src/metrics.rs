//! `GET /metrics`: the model cache's and authentication's counters in
//! Prometheus' text format, so hit rates, load times, evictions and
//! credential verifications can be scraped like any server's.

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
    let mut body = s.serving.as_ref().map(|serving| render(&serving.cache.stats())).unwrap_or_default();
    if let Some(auth) = &s.auth {
        body.push_str(&render_auth(&auth.stats()));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
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
}
