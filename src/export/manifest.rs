//! The manifest written beside each Parquet object, after it: readers that see a manifest
//! know the data object is complete and can verify it.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::records::ExportKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The DuckDB type; Parquet and BigQuery types follow from it.
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub export_id: String,
    pub table: String,
    /// `snapshot`, `incremental` or `part`.
    pub mode: ExportKind,
    pub object: String,
    pub rows: u64,
    pub bytes: u64,
    /// CRC32C of the object as an unsigned integer…
    pub crc32c: u32,
    /// …and as GCS shows it (base64 of the big-endian bytes), to compare with `gsutil hash`.
    pub crc32c_base64: String,
    /// The rows are those with `commit_from < _commit <= commit_to`.
    pub commit_from: i64,
    pub commit_to: i64,
    pub schema: Vec<Column>,
    pub created_at: DateTime<Utc>,
}

pub fn crc32c_base64(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}
