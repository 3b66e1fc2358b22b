//! Per-identity rate limits (`--rate-limit-searches`, `--rate-limit-writes`):
//! a token bucket per API token, per user (password or session), or per
//! client address for anonymous callers, one set of buckets for expensive
//! searches and one for writes. An empty bucket is a 429 with `Retry-After`
//! in the route's protocol (MLflow `REQUEST_LIMIT_EXCEEDED`, V2 `{"error"}`).
//!
//! Cheap per request: the buckets live in [`SHARDS`] maps, each behind its
//! own mutex held for a few arithmetic operations, so requests of different
//! identities rarely meet. Memory is bounded: each shard tracks at most its
//! share of `max_identities`; when full it forgets the identities whose
//! bucket has refilled (idle ones lose nothing), else the least recently
//! seen one.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_app::auth::Caller;
use flotilla_core::ErrorKind;

use crate::error::ApiError;
use crate::request_meta::RequestMeta;
use crate::v2::error::V2Error;

/// Maps the buckets are spread over.
const SHARDS: usize = 64;

/// A sustained rate and the burst allowed above it; a rate of 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const OFF: Rate = Rate { per_second: 0.0, burst: 0.0 };

    /// Parses `RATE` or `RATE:BURST` (requests per second; the burst defaults
    /// to twice the rate, at least 1); `0` turns the limit off.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let (rate, burst) = match s.trim().split_once(':') {
            Some((r, b)) => (r, Some(b)),
            None => (s.trim(), None),
        };
        let number =
            |t: &str| {
                t.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0).ok_or_else(|| {
                    format!("'{s}' is not a rate like 50 or 50:200 (requests per second, then the burst)")
                })
            };
        let per_second = number(rate)?;
        let burst = match burst {
            Some(b) => number(b)?.max(1.0),
            None => (per_second * 2.0).max(1.0),
        };
        Ok(Rate { per_second, burst })
    }

    fn is_off(&self) -> bool {
        self.per_second <= 0.0
    }
}

/// The limits of a server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    pub searches: Rate,
    pub writes: Rate,
    /// Identities tracked at once, per kind of limit.
    pub max_identities: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { searches: Rate::OFF, writes: Rate::OFF, max_identities: 100_000 }
    }
}

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    Token(String),
    User(i64),
    Client(IpAddr),
    /// No address known (an in-process call): one shared bucket.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One kind of limit's buckets.
struct Limiter {
    rate: Rate,
    per_shard: usize,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<Identity, Bucket>>]>,
}

impl Limiter {
    fn new(rate: Rate, max_identities: usize) -> Option<Self> {
        (!rate.is_off()).then(|| Self {
            rate,
            per_shard: max_identities.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// Takes one request from `who`'s bucket, or says how long until one is there.
    fn take(&self, who: Identity, now: Instant) -> Result<(), Duration> {
        let shard = &self.shards[self.hasher.hash_one(&who) as usize % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&who) && buckets.len() >= self.per_shard {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(who).or_insert(Bucket { tokens: self.rate.burst, last: now });
        let refilled = now.saturating_duration_since(bucket.last).as_secs_f64() * self.rate.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.rate.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate.per_second))
        }
    }

    /// Forgets the identities whose bucket is full again; if none, the least recently seen.
    fn make_room(&self, buckets: &mut HashMap<Identity, Bucket>, now: Instant) {
        let rate = self.rate;
        buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate.per_second < rate.burst
        });
        if buckets.len() >= self.per_shard {
            let oldest = buckets.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                buckets.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().len()).sum()
    }
}

/// The server's limiters, shared by every request.
#[derive(Clone)]
pub struct RateLimits(Arc<Limiters>);

struct Limiters {
    searches: Option<Limiter>,
    writes: Option<Limiter>,
}

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        Self(Arc::new(Limiters {
            searches: Limiter::new(config.searches, config.max_identities),
            writes: Limiter::new(config.writes, config.max_identities),
        }))
    }

    pub fn off() -> Self {
        Self::new(RateLimitConfig::default())
    }
}

/// What a request costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Search,
    Write,
    Other,
}

/// Expensive searches (MLflow's, the fleet's search and facets, the audit
/// log) and writes (anything else that is not a read, except inference).
fn kind_of(method: &Method, path: &str) -> Kind {
    let fleet_search =
        ["/api/fleet/v1/models", "/api/fleet/v1/versions", "/api/fleet/v1/facets", "/api/fleet/v1/audit"];
    if (path.contains("/mlflow/") && (path.ends_with("/search") || path.ends_with("/experiments/list")))
        || fleet_search.contains(&path)
    {
        return Kind::Search;
    }
    let read = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    let infer = path.starts_with("/v2/models/") && path.ends_with("/infer");
    if read || infer { Kind::Other } else { Kind::Write }
}

/// Middleware (inside authentication, which sets the [`Caller`]).
pub(crate) async fn check(State(limits): State<RateLimits>, request: Request, next: Next) -> Response {
    let limiter = match kind_of(request.method(), request.uri().path()) {
        Kind::Search => limits.0.searches.as_ref(),
        Kind::Write => limits.0.writes.as_ref(),
        Kind::Other => None,
    };
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    let who = match request.extensions().get::<Caller>() {
        Some(Caller { token_id: Some(token), .. }) => Identity::Token(token.clone()),
        Some(caller) => Identity::User(caller.user_id),
        None => {
            request.extensions().get::<RequestMeta>().and_then(|m| m.client).map_or(Identity::Unknown, Identity::Client)
        }
    };
    match limiter.take(who, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(path = request.uri().path(), retry_after_ms = wait.as_millis() as u64, "rate limited");
            refuse(request.uri().path(), wait)
        }
    }
}

fn refuse(path: &str, wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let message = format!("Too many requests from this caller; retry in {seconds} s");
    let mut response = if path == "/v2" || path.starts_with("/v2/") {
        let mut e = V2Error::of(ErrorKind::Busy, message);
        e.status = StatusCode::TOO_MANY_REQUESTS;
        e.into_response()
    } else {
        ApiError::new(ErrorKind::Busy, StatusCode::TOO_MANY_REQUESTS, "REQUEST_LIMIT_EXCEEDED", message).into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        for (s, rate) in [
            ("50", Rate { per_second: 50.0, burst: 100.0 }),
            ("50:200", Rate { per_second: 50.0, burst: 200.0 }),
            ("0.5", Rate { per_second: 0.5, burst: 1.0 }),
            ("0", Rate { per_second: 0.0, burst: 1.0 }),
        ] {
            assert_eq!(Rate::parse(s), Ok(rate), "{s}");
        }
        for bad in ["", "x", "-1", "5:x", "inf"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds() {
        for (method, path, kind) in [
            (Method::POST, "/api/2.0/mlflow/runs/search", Kind::Search),
            (Method::GET, "/ajax-api/2.0/mlflow/registered-models/search", Kind::Search),
            (Method::GET, "/api/fleet/v1/facets", Kind::Search),
            (Method::GET, "/api/fleet/v1/audit", Kind::Search),
            (Method::POST, "/api/2.0/mlflow/runs/log-batch", Kind::Write),
            (Method::PUT, "/api/2.0/mlflow-artifacts/artifacts/a", Kind::Write),
            (Method::GET, "/api/2.0/mlflow/runs/get", Kind::Other),
            (Method::POST, "/v2/models/m/infer", Kind::Other),
        ] {
            assert_eq!(kind_of(&method, path), kind, "{method} {path}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = Limiter::new(Rate { per_second: 10.0, burst: 3.0 }, 100).unwrap();
        let t0 = Instant::now();
        let who = || Identity::User(1);
        for _ in 0..3 {
            assert_eq!(limiter.take(who(), t0), Ok(()));
        }
        let wait = limiter.take(who(), t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        assert_eq!(limiter.take(Identity::User(2), t0), Ok(()), "another identity has its own bucket");
        assert_eq!(limiter.take(who(), t0 + Duration::from_millis(100)), Ok(()));
        assert!(limiter.take(who(), t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn memory_is_bounded_and_idle_identities_go_first() {
        let cap = SHARDS * 100;
        let limiter = Limiter::new(Rate { per_second: 1.0, burst: 2.0 }, cap).unwrap();
        let t0 = Instant::now();
        let client = |i: u32| Identity::Client(IpAddr::from(i.to_be_bytes()));
        for i in 0..20_000 {
            let _ = limiter.take(client(i), t0);
        }
        assert!(limiter.tracked() <= cap, "{}", limiter.tracked());
        // Ten seconds on every bucket has refilled: newcomers push those out,
        // and a caller who has just emptied theirs stays empty.
        let later = t0 + Duration::from_secs(10);
        let busy = Identity::Token("busy".into());
        let _ = limiter.take(busy.clone(), later);
        let _ = limiter.take(busy.clone(), later);
        for i in 0..1_000 {
            let _ = limiter.take(client(1_000_000 + i), later);
        }
        assert!(limiter.tracked() < 2_000, "the idle identities were forgotten: {}", limiter.tracked());
        assert!(limiter.take(busy, later).is_err(), "the busy identity's empty bucket was kept");
    }
}
