//! Exports: for each table, a consistent snapshot staged as a Parquet file, streamed to the
//! sink create-only, then its manifest, then its record in DuckDB.
//!
//! `request` says what is exported, `job` runs it table by table, `staging` writes and cleans
//! up the local files, `upload` writes them to the `sink`.

pub mod bigquery;
mod job;
pub mod manifest;
pub mod naming;
pub mod regroup;
mod request;
mod staging;
mod upload;

pub use crate::destination::Sink;
pub use job::{ExportContext, start, start_part};
pub use request::{ExportMode, ExportRequest, Part};
pub use staging::clear_staging;
