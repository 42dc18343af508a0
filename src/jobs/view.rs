//! A job as the API shows it, and the details ingests and exports add to it. They live here,
//! not in `ingest` or `export`, so that jobs never imports its own callers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{JobKind, JobState};

/// A page that could not be fetched or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PageFailure {
    pub page: u32,
    /// The seed the page is fetched with, where a source's pages have seeds (Faker's);
    /// absent for a described source, whose pages are named in `error` by their position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    pub error: String,
}

/// A change a source's page made to its table: a column (or a member of a `STRUCT`,
/// `column.member`) added, widened (`BIGINT` to `DOUBLE`, `DATE` to `TIMESTAMPTZ`, a `STRUCT`'s
/// new members) or typed (a column that had held only nulls took its first value's type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TableChange {
    /// The first page that needed it.
    pub page: u32,
    pub column: String,
    /// `added`, `widened` or `typed`.
    pub change: String,
    /// The type before; absent for a column added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
}

/// One object an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExportedObject {
    pub table: String,
    /// Where the Parquet file is: `gs://bucket/…` or a local path.
    pub uri: String,
    pub manifest_uri: String,
    pub rows: u64,
    pub bytes: u64,
    /// CRC32C of the object (as GCS computes it), as an unsigned integer.
    // int64 in the spec: a u32 passes 2^31, where an int32 client (Java `Integer`) overflows.
    #[schema(format = Int64, maximum = 4294967295u32)]
    pub crc32c: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobLinks {
    /// This job: `/jobs/{id}`.
    #[serde(rename = "self")]
    pub self_: String,
}

impl JobLinks {
    pub fn of(id: &str) -> JobLinks {
        JobLinks { self_: format!("/jobs/{id}") }
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47", "kind": "ingest", "state": "succeeded",
    "request": {"resource": "users", "quantity": 5000, "locale": "en_US", "seed": 42, "page_size": 1000, "concurrency": 8},
    "table": "users", "base_seed": 42, "rows": 5000, "pages_done": 5, "pages_total": 5, "error": null, "auto_resumes": 0,
    "retries": 0, "throttled": 0, "pace_per_minute": 30.0,
    "failed_pages": [], "objects": [],
    "created_at": "2026-11-27T03:00:00Z", "started_at": "2026-11-27T03:00:00.012Z", "finished_at": "2026-11-27T03:00:01.250Z",
    "links": {"self": "/jobs/019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47"}
}))]
pub struct JobView {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    /// The request that started the job, as accepted (after defaults).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// The table an ingest writes to.
    pub table: Option<String>,
    /// The seed of page 0 (page i uses base_seed + i), so any page can be fetched again.
    pub base_seed: Option<i64>,
    pub rows: u64,
    pub pages_done: u64,
    pub pages_total: u64,
    /// Rows per second over this run (pages a resumed job had already done are left out);
    /// for a finished job, its average.
    pub rows_per_second: Option<f64>,
    /// Seconds until the last page at this run's pace; only while the job runs.
    pub eta_seconds: Option<f64>,
    /// Transient upstream faults retried so far (429s included).
    pub retries: u64,
    /// Ingest: answers 429 Too Many Requests the upstream gave this job. Each slowed its path's
    /// pace and the page waited its turn again; none spent a page's attempts.
    pub throttled: u64,
    /// Ingest: requests per minute its upstream path is paced at (shared by every job on that
    /// path): the configured rate, lower after 429s; null when unlimited.
    pub pace_per_minute: Option<f64>,
    /// The latest fault seen: a retried request, a failed page or a failed table.
    pub last_error: Option<String>,
    /// Why the job failed or stopped.
    pub error: Option<String>,
    /// Times duckhaul resumed this job by itself, after a restart or a database recovery
    /// (at most `MAX_AUTO_RESUMES`: a job that crashes the process each time must not loop).
    pub auto_resumes: u32,
    /// Ingest: the pages that failed, with their reasons.
    pub failed_pages: Vec<PageFailure>,
    /// Ingest of a source: records that fit no widening of the table, stored whole in
    /// `{table}__quarantine` (the records read are `rows` + this); absent for Faker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<u64>,
    /// Ingest of a source under the contract `discard_value`: values left out of the rows
    /// loaded because they did not fit their column; absent when none were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded_values: Option<u64>,
    /// Ingest of a source: the changes its pages made to the table, in the order made.
    #[serde(default)]
    pub schema_changes: Vec<TableChange>,
    /// Export: every object written.
    pub objects: Vec<ExportedObject>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub links: JobLinks,
}
