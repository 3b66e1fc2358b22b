//! The resilience suite: a real `flotilla server` process per test, attacked
//! the way a hostile or careless client would, one test per class of defect
//! (oversized claims, request memory, idle and slow connections, shutdown,
//! hostile model files, limits on what a request may carry, races, load and
//! kill -9).
//!
//! Each module owns one class; `flotilla_testkit::TestServer` starts servers and
//! speaks raw HTTP/1.1 over TCP so a test controls every byte and every socket.

use flotilla_testkit::{TestServer, options};

mod connections;
mod decoders;
mod limits;
mod load;
mod model_files;

#[test]
fn a_server_starts_answers_and_reports_its_memory() {
    let server = TestServer::start(options!());
    assert!(server.health_latency() < std::time::Duration::from_secs(1));
    let reply = server.post_json("/api/2.0/mlflow/experiments/create", &serde_json::json!({"name": "e"}));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(server.peak_rss_kib() >= server.rss_kib() / 2);
}
