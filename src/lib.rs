//! duckhaul: hauls records from the Faker REST API into an embedded DuckDB database and
//! exports consistent Parquet snapshots to a local folder or Google Cloud Storage.
//!
//! Arrows run one way, top to bottom: `run → app → {api, recovery} → {ingest, export} →
//! {jobs, source} → store → catalog`, with `metrics`, `validation`, `telemetry` and `config` as
//! leaves. One arrow points back: handlers take `app::AppState` (see ARCHITECTURE.md, "Arrows").

pub mod api;
pub mod app;
pub mod catalog;
pub mod config;
pub mod export;
pub mod fake_api;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod recovery;
pub mod run;
pub mod source;
pub mod spec;
pub mod store;
pub mod telemetry;
pub mod validation;
