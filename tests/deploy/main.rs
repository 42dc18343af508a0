//! The deployment surface through the real binary and the files operators use: the container
//! files checked against the CLI (and the compose pipeline run as local processes), the Cloud
//! Run definitions, Cloud Run's log format, task-split one-shot runs, BigQuery-ready Parquet
//! and SQL views.

mod bigquery;
mod cli;
mod cloudrun;
mod compose_run;
mod containers;
#[path = "../support/files.rs"]
mod files;
#[path = "../support/gcs.rs"]
mod gcs;
mod logs;
mod schema_evolution;
mod source_ingest;
mod sources;
mod tasks;
mod views;
