//! Integration tests through HTTP, each against its own DuckDB file, its own bundled Faker
//! server on loopback and, for GCS, its own real fake-gcs-server.

mod helpers;

#[path = "../support/gcs.rs"]
mod gcs;

#[path = "../support/browser.rs"]
mod browser;

mod concurrency;
mod contract;
mod export;
mod ingest;
mod job_list;
mod metrics;
mod progress;
mod recovery;
mod reliability;
mod source_ingest;
mod sources;
mod status;
mod status_page;
mod throttle;
mod validation;
