//! The monitoring background tasks a server runs beside telemetry's
//! flusher: the health job (after each window closes) and alert delivery.

use std::sync::Arc;
use std::time::Duration;

use flotilla_app::monitor::alerts_delivery::{self, DeliveryConfig};
use flotilla_app::monitor::health::job::{self, Objectives};
use flotilla_store::Store;
use tokio::sync::Notify;

/// Spawns both; they run until the runtime ends.
pub fn spawn(store: &Arc<dyn Store>, window_ms: i64) {
    let wake = Arc::new(Notify::new());
    // After the flusher (20 ms past the boundary) has written the window.
    let grace = Duration::from_millis(300);
    job::spawn(Arc::clone(store), window_ms, grace, Objectives::default(), Arc::clone(&wake));
    let sender = Arc::new(flotilla_http::HyperSender::default());
    alerts_delivery::spawn(Arc::clone(store), sender, wake, DeliveryConfig::default());
}
