//! Webhook delivery of alert events: a background task claims due events,
//! posts each (at most [`DeliveryConfig::concurrency`] at once, every post
//! under the sender's connect and total timeouts, so a hanging receiver
//! holds one slot for a bounded time and blocks nothing else), records
//! every attempt, and retries failures with exponential back-off up to a
//! cap and a number of attempts. The body is signed with HMAC-SHA256 over
//! `timestamp.body` with the rule's secret, sent as
//! `X-Flotilla-Signature: t=<timestamp>,v1=<hex>`; the event's dedup key
//! (rule, model, window, kind) rides in `X-Flotilla-Dedup-Key` so a
//! receiver can drop a repeat. This layer knows no HTTP: the post itself is
//! a [`WebhookSender`] (the server's is `flotilla-http`'s).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_store::Store;
use flotilla_store::alerts::{Attempt, DueEvent, Outcome};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-flotilla-signature";
/// The header carrying the event's dedup key.
pub const DEDUP_HEADER: &str = "x-flotilla-dedup-key";

/// A webhook's answer: its status, or why there was none.
pub type Sent = Result<u16, String>;

/// Posts a JSON body with headers; implemented where HTTP is known.
pub trait WebhookSender: Send + Sync {
    fn post(
        &self,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Sent> + Send>>;
}

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Posts in flight at once.
    pub concurrency: usize,
    /// Attempts before an event is given up.
    pub max_attempts: i64,
    /// The first retry's delay, doubled each time up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            max_attempts: 8,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// `hex(HMAC-SHA256(secret, "{timestamp}.{body}"))`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The delay before attempt `attempts + 1` after `attempts` failed ones.
pub fn backoff(config: &DeliveryConfig, attempts: i64) -> Duration {
    let factor = 1u32.checked_shl(attempts.saturating_sub(1).clamp(0, 30) as u32).unwrap_or(u32::MAX);
    config.backoff.saturating_mul(factor).min(config.max_backoff)
}

fn body_of(e: &DueEvent) -> Vec<u8> {
    json!({
        "event_id": e.event_id, "rule_id": e.rule_id, "rule": e.rule_name, "model": e.model,
        "check": e.check, "kind": e.kind, "status": e.status, "value": e.value,
        "window_end": e.window_end, "dedup_key": e.dedup_key,
    })
    .to_string()
    .into_bytes()
}

async fn deliver(store: Arc<dyn Store>, sender: Arc<dyn WebhookSender>, config: DeliveryConfig, e: DueEvent) {
    let body = body_of(&e);
    let timestamp = now_ms() / 1000;
    let headers = vec![
        ("content-type", "application/json".to_string()),
        (SIGNATURE_HEADER, format!("t={timestamp},v1={}", signature(e.secret.as_bytes(), timestamp, &body))),
        (DEDUP_HEADER, e.dedup_key.clone()),
    ];
    let started = std::time::Instant::now();
    let sent = sender.post(e.url.clone(), headers, body).await;
    let time = now_ms();
    let attempts = e.attempts + 1;
    let failed = |_: ()| {
        if attempts >= config.max_attempts {
            Outcome::Failed
        } else {
            Outcome::Retrying { next_at: time + backoff(&config, attempts).as_millis() as i64 }
        }
    };
    let (status_code, error, outcome) = match sent {
        Ok(code) if (200..300).contains(&code) => (Some(code), None, Outcome::Delivered),
        Ok(code) => (Some(code), None, failed(())),
        Err(why) => (None, Some(why), failed(())),
    };
    tracing::debug!(event = e.event_id, model = %e.model, outcome = outcome.as_str(), "alert delivery attempt");
    let attempt = Attempt {
        event_id: e.event_id,
        time,
        status_code,
        error,
        outcome,
        duration_ms: started.elapsed().as_millis() as i64,
    };
    let written = tokio::task::spawn_blocking(move || store.record_attempt(&attempt)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!(event = e.event_id, "could not record an alert delivery attempt");
    }
}

/// Runs the delivery loop until the runtime stops. `wake` is notified when
/// new events may be due (after health is recorded).
pub fn spawn(
    store: Arc<dyn Store>,
    sender: Arc<dyn WebhookSender>,
    wake: Arc<Notify>,
    config: DeliveryConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
        loop {
            let s = Arc::clone(&store);
            let due = tokio::task::spawn_blocking(move || s.due_events(now_ms(), 256)).await;
            let due = match due {
                Ok(Ok(due)) => due,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "could not read due alert events");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
            for e in due {
                if !in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(e.event_id) {
                    continue;
                }
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&e.event_id);
                    break;
                };
                let (store, sender, config) = (Arc::clone(&store), Arc::clone(&sender), config.clone());
                let (in_flight, wake) = (Arc::clone(&in_flight), Arc::clone(&wake));
                tokio::spawn(async move {
                    let id = e.event_id;
                    deliver(store, sender, config, e).await;
                    in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                    drop(permit);
                    wake.notify_one();
                });
            }
            // Sleep until the next event is due (at most a second), or new ones are made.
            let s = Arc::clone(&store);
            let next = tokio::task::spawn_blocking(move || s.next_due()).await.ok().and_then(Result::ok).flatten();
            let wait = next.map_or(1000, |t| (t - now_ms()).clamp(10, 1000)) as u64;
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let c = DeliveryConfig::default();
        let secs: Vec<u64> = (1..=11).map(|a| backoff(&c, a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(&c, 1_000_000), c.max_backoff);
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // echo -n '1700000000.{}' | openssl dgst -sha256 -hmac s
        assert_eq!(
            signature(b"s", 1_700_000_000, b"{}"),
            "e9232c9945da8456c2dea6b39da7786c07b00bca7a64d5dd1283674713a7b72a"
        );
        assert_ne!(signature(b"s", 1, b"{}"), signature(b"s", 2, b"{}"));
    }
}
