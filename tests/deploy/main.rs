//! The deployment surface through the real binary and the files operators use: the container
//! files checked against the CLI, Cloud Run's log format, task-split one-shot runs,
//! BigQuery-ready Parquet and SQL views.

mod bigquery;
mod cli;
mod cloudrun;
mod containers;
mod logs;
mod tasks;
mod views;
