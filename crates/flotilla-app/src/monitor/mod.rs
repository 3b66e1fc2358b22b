//! Monitoring a fleet in deployment (issue 15): serving telemetry
//! ([`telemetry`]); drift, health and alerts stand beside it.

pub mod alerts;
pub mod alerts_delivery;
pub mod drift;
pub mod drift_read;
pub mod health;
pub mod telemetry;
