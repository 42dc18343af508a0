//! duckhaul: hauls records from REST APIs (Faker's, or any a source file describes) into an
//! embedded DuckDB database and exports consistent Parquet snapshots to a local folder or Google
//! Cloud Storage.
//!
//! Arrows run one way, top to bottom: `run → app → {api, recovery} → {ingest, export} →
//! durable → {jobs, source} → store → catalog`, `spec` (what a job is asked, as it is saved)
//! between `jobs` and `catalog`, with `config` under `app` and `run` (it checks a `gs://`
//! destination through `destination`), and `destination` (a folder or a bucket), `metrics`,
//! `validation` and `telemetry` as leaves.
//! None points back (ARCHITECTURE.md, "Arrows"; `tests/readme.rs` holds the code to it).

pub mod api;
pub mod app;
pub mod catalog;
pub mod config;
pub mod destination;
pub mod durable;
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
