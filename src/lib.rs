//! duckhaul: hauls records from the Faker REST API into an embedded DuckDB database and
//! exports consistent Parquet snapshots to a local folder or Google Cloud Storage.
//!
//! Arrows run one way: `app → api → {ingest, export} → {jobs, source, store, sink} → catalog`.

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
pub mod store;
pub mod telemetry;
pub mod validation;
