//! The registry generation across replicas: one connection per process
//! `LISTEN`s on `flotilla_registry` (notified by migration 22's triggers after
//! every committed registry change, whichever process made it) and bumps the
//! process's generation for each notification, so serving's cached aliases
//! are dropped within milliseconds of a move on any replica.
//!
//! A dropped connection may have missed notifications: the generation is
//! bumped when it is found closed and again once listening resumes, and the
//! thread reconnects with a growing pause (up to [`MAX_PAUSE`]). While it is
//! down, serving's resolve TTL is the only bound on staleness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

/// The channel migration 22's triggers notify.
pub(crate) const CHANNEL: &str = "flotilla_registry";
/// The listener's `application_name`, so it can be told apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "flotilla-registry-listener";
/// How long the thread waits for a notification before checking that it
/// should stop, and that the connection is alive.
const WAIT: Duration = Duration::from_millis(100);
/// A quiet connection is pinged this often, so a half-open one is found.
const PING_EVERY: Duration = Duration::from_secs(5);
const MIN_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The listening thread; stopped and joined on drop (within [`WAIT`]), so its
/// connection is closed when the store is: a database can be renamed or
/// dropped right after.
pub(crate) struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Starts listening on its own connection (made from `config`); each
    /// notification, and each reconnection, adds one to `generation`.
    pub(crate) fn start(mut config: postgres::Config, generation: Arc<AtomicU64>) -> std::io::Result<Self> {
        config.application_name(APPLICATION_NAME);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name("pg-registry-listen".into()).spawn({
            let stop = Arc::clone(&stop);
            move || listen_until(&stop, &config, &generation)
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listen_until(stop: &AtomicBool, config: &postgres::Config, generation: &AtomicU64) {
    let mut pause = MIN_PAUSE;
    while !stop.load(Ordering::Acquire) {
        match connect(config) {
            Ok(mut client) => {
                // Whatever changed while no one listened is seen now.
                generation.fetch_add(1, Ordering::AcqRel);
                pause = MIN_PAUSE;
                if let Err(e) = relay(&mut client, stop, generation) {
                    tracing::warn!(error = %e, "registry listener lost its connection; reconnecting");
                }
                generation.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "registry listener cannot connect");
            }
        }
        sleep_unless_stopped(stop, pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn connect(config: &postgres::Config) -> Result<Client, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// Bumps `generation` per notification until `stop` or a connection error.
fn relay(client: &mut Client, stop: &AtomicBool, generation: &AtomicU64) -> Result<(), postgres::Error> {
    let mut pinged = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let mut heard = false;
        {
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(WAIT);
            while !stop.load(Ordering::Acquire) && waiting.next()?.is_some() {
                heard = true;
                generation.fetch_add(1, Ordering::AcqRel);
            }
        }
        if client.is_closed() {
            return client.simple_query("").map(|_| ());
        }
        if heard {
            pinged = Instant::now();
        } else if pinged.elapsed() >= PING_EVERY {
            client.simple_query("")?;
            pinged = Instant::now();
        }
    }
    Ok(())
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Acquire) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
    }
}
