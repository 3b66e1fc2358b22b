//! On PostgreSQL, the fleet-wide background jobs (the health job, alert
//! delivery, the report scheduler) run in one replica at a time: the one
//! holding the database's jobs lock (`flotilla_store::postgres::Leadership`).
//! Every replica records its own serving telemetry; a replica waits here,
//! trying every few seconds, until it holds the lock, and keeps it for its
//! life on a thread of its own (the synchronous client must not block an
//! async worker). A replica whose lock connection breaks takes the lock
//! again before it could run them beside another (it keeps trying; the
//! jobs it started keep running, logged as an error).

use std::time::Duration;

use flotilla_store::postgres::Leadership;

/// How often a waiting replica tries the lock, and a leader checks it still holds it.
const RETRY: Duration = Duration::from_secs(5);

/// Returns once this process holds the jobs lock of the database at `url`.
pub async fn wait_until_leading(url: String) {
    let (taken, leading) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new().name("jobs-leader".into()).spawn(move || {
        let mut taken = Some(taken);
        loop {
            match Leadership::try_take(&url) {
                Ok(Some(mut lead)) => {
                    tracing::info!("this replica runs the health job, alert delivery and report schedules");
                    if let Some(taken) = taken.take() {
                        let _ = taken.send(());
                    }
                    while lead.holds() {
                        std::thread::sleep(RETRY);
                    }
                    tracing::error!("the connection holding the jobs lock broke; taking it again");
                }
                Ok(None) => std::thread::sleep(RETRY),
                Err(e) => {
                    tracing::warn!(error = %e, "could not try the jobs lock");
                    std::thread::sleep(RETRY);
                }
            }
        }
    });
    match spawned {
        Ok(_) => {
            let _ = leading.await;
        }
        // No thread: run the jobs rather than never.
        Err(e) => tracing::error!(error = %e, "could not start the jobs-lock thread; running the jobs here"),
    }
}
