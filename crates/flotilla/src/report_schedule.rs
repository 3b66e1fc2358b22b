//! Scheduled reports (issue 16, point 4) in a running server: the
//! `--report` rules are kept in the store at start (by name, so a restart
//! keeps their next run), and a background task makes every due rule's
//! report — computed over the whole scope on the blocking pool, rendered
//! by the web crate's document renderer, put into the artifact store under
//! `reports/schedule-<id>/` — records it, and tells the rule's webhook its
//! link, signed like alert deliveries (`flotilla_app::report::schedule`),
//! through the same sender with its connect and total timeouts, retried a
//! few times. The period between two reports is injectable
//! (`--report-every`, hidden) so a test does not wait a day.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flotilla_app::monitor::alerts_delivery::{Sent, WebhookSender, now_ms};
use flotilla_app::report::schedule::{self, Every};
use flotilla_artifacts::{ArtifactPath, ArtifactStore, ByteStream};
use flotilla_store::report::{ReportRun, Schedule};
use flotilla_store::{Store, Visible};

/// How often due rules are looked for at most.
const TICK: Duration = Duration::from_secs(30);
/// Webhook attempts per report, and the first pause between two (doubled).
const ATTEMPTS: u32 = 3;
const RETRY: Duration = Duration::from_secs(1);

/// `--report` rules and what their reports need.
#[derive(Clone, Default)]
pub struct ScheduleConfig {
    pub rules: Vec<String>,
    pub secret: String,
    /// The server's URL for links; `None`: the listening address.
    pub base_url: Option<String>,
    /// Tests: the period between two reports, instead of a day or a week.
    pub every: Option<Duration>,
}

impl std::fmt::Debug for ScheduleConfig {
    // Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleConfig")
            .field("rules", &self.rules)
            .field("base_url", &self.base_url)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl ScheduleConfig {
    fn period(&self, every: Every) -> i64 {
        self.every.map_or(every.period_ms(), |d| (d.as_millis() as i64).max(100))
    }
}

/// Keeps the `--report` rules; a malformed one stops the server with its message.
pub fn keep_flag_rules(store: &dyn Store, config: &ScheduleConfig) -> anyhow::Result<()> {
    let now = now_ms();
    for text in &config.rules {
        let rule = schedule::parse_flag(text, now).map_err(|e| anyhow::anyhow!("--report '{text}': {e}"))?;
        // A family made later is fine; until then each report is recorded as failed, with why.
        let next = now + config.period(rule.every);
        let new = schedule::new_schedule(&schedule::flag_name(&rule), &rule, &config.secret, "flag", "", next)
            .map_err(|e| anyhow::anyhow!("--report '{text}': {e}"))?;
        store.upsert_flag_schedule(&new).map_err(|e| anyhow::anyhow!("--report '{text}': {e}"))?;
    }
    Ok(())
}

/// Makes one rule's report: the run recorded (made or failed).
async fn make(store: &Arc<dyn Store>, artifacts: &Arc<dyn ArtifactStore>, s: &Schedule, now: i64) -> ReportRun {
    let every = Every::parse(&s.every).unwrap_or(Every::Weekly);
    let query = format!("{}&last={}", s.query, every.last());
    let st = Arc::clone(store);
    let built = tokio::task::spawn_blocking(move || {
        let req = flotilla_app::report::report_query(&query, now)?;
        let report = flotilla_app::report::build(st.as_ref(), &req, Visible::everything(), now)?;
        Ok::<_, flotilla_store::StoreError>(flotilla_web::report_document(&report))
    })
    .await;
    let mut run = ReportRun {
        id: 0,
        schedule_id: Some(s.id),
        name: s.name.clone(),
        query: s.query.clone(),
        family: s.family.clone(),
        time: now,
        path: String::new(),
        bytes: 0,
        error: None,
        notified: None,
    };
    let html = match built {
        Ok(Ok(html)) => html,
        Ok(Err(e)) => {
            run.error = Some(e.to_string());
            return run;
        }
        Err(e) => {
            run.error = Some(format!("the report task failed: {e}"));
            return run;
        }
    };
    let path = schedule::artifact_path(s.id, now);
    let put = match ArtifactPath::parse(&path) {
        Ok(p) => {
            let len = html.len() as i64;
            let body: ByteStream = Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(html)) }));
            artifacts.put(&p, body).await.map(|_| len).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match put {
        Ok(len) => {
            run.path = path;
            run.bytes = len;
        }
        Err(e) => run.error = Some(format!("could not store the report: {e}")),
    }
    run
}

/// Tells the rule's webhook; what it answered, in words.
async fn notify(sender: &Arc<dyn WebhookSender>, s: &Schedule, run: &ReportRun, base_url: &str) -> String {
    let mut pause = RETRY;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let (headers, body) = schedule::notification(s, run, base_url, now_ms() / 1000);
        let sent: Sent = sender.post(s.webhook_url.clone(), headers, body).await;
        match sent {
            Ok(code) if (200..300).contains(&code) => return format!("delivered {code}"),
            Ok(code) => last = format!("answered {code}"),
            Err(why) => last = why,
        }
        tracing::debug!(schedule = s.id, attempt, outcome = %last, "report webhook attempt");
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    format!("failed after {ATTEMPTS} attempts: {last}")
}

async fn run_due(
    store: &Arc<dyn Store>,
    artifacts: &Arc<dyn ArtifactStore>,
    sender: &Arc<dyn WebhookSender>,
    config: &ScheduleConfig,
    base_url: &str,
) {
    let st = Arc::clone(store);
    let due = match tokio::task::spawn_blocking(move || st.due_schedules(now_ms(), 16)).await {
        Ok(Ok(due)) => due,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not read due report schedules");
            return;
        }
        Err(_) => return,
    };
    for s in due {
        let now = now_ms();
        let every = Every::parse(&s.every).unwrap_or(Every::Weekly);
        let mut run = make(store, artifacts, &s, now).await;
        let next = now + config.period(every);
        let (st, recorded) = (Arc::clone(store), run.clone());
        let id = match tokio::task::spawn_blocking(move || st.record_report_run(&recorded, next)).await {
            Ok(Ok(id)) => id,
            _ => {
                tracing::error!(schedule = s.id, "could not record a scheduled report");
                continue;
            }
        };
        run.id = id;
        tracing::info!(
            schedule = s.id,
            run = id,
            bytes = run.bytes,
            failed = run.error.is_some(),
            "scheduled report made"
        );
        if s.webhook_url.is_empty() || run.path.is_empty() {
            continue;
        }
        let (store, sender, base_url) = (Arc::clone(store), Arc::clone(sender), base_url.to_string());
        tokio::spawn(async move {
            let outcome = notify(&sender, &s, &run, &base_url).await;
            let written = tokio::task::spawn_blocking(move || store.set_report_notified(id, &outcome)).await;
            if !matches!(written, Ok(Ok(()))) {
                tracing::error!(run = id, "could not record a report webhook's answer");
            }
        });
    }
}

/// Runs the schedule loop until the runtime stops.
pub fn spawn(
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    sender: Arc<dyn WebhookSender>,
    config: ScheduleConfig,
    base_url: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tick = config.every.map_or(TICK, |d| d.clamp(Duration::from_millis(100), TICK) / 2);
        loop {
            run_due(&store, &artifacts, &sender, &config, &base_url).await;
            tokio::time::sleep(tick).await;
        }
    })
}
