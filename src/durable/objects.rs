//! The durable log's JSON objects (see `layout` for where each lives).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `job.json`: what a fresh instance needs to show the job, find it by its idempotency key,
/// create its table and resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobObject {
    pub id: String,
    pub kind: String,
    /// The job's spec as saved (`JobSpec::to_stored`).
    pub spec: String,
    pub table: String,
    pub base_seed: Option<i64>,
    pub pages_total: u64,
    pub created_at: DateTime<Utc>,
    pub idempotency: Option<KeyObject>,
    pub table_def: TableDef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyObject {
    pub key: String,
    /// The request as the client sent it (a retry must send the same).
    pub request: String,
}

/// The data table's definition, as `duckhaul_tables` (and a source's recorded columns) hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub resource: String,
    pub ddl: String,
    /// A described source's table: its source, resource and record columns.
    pub source: Option<SourceDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDef {
    pub source: String,
    pub resource: String,
    pub columns: Vec<(String, String)>,
}

/// A group's manifest, written after its data: the group is durable once it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupManifest {
    pub group: String,
    pub job_id: String,
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
    pub crc32c: u32,
    pub pages: Vec<GroupPage>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPage {
    pub page: u32,
    pub rows: u64,
    /// A followed page (cursor, next URL): it says where the next page is…
    #[serde(default)]
    pub followed: bool,
    /// …here (`None`: it was the last).
    #[serde(default)]
    pub next: Option<String>,
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndObject {
    pub state: String,
    pub error: Option<String>,
    pub pages_done: u64,
    pub rows: u64,
    pub finished_at: DateTime<Utc>,
}

/// The pages of one job an export holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedPages {
    pub export_id: String,
    pub table: String,
    pub pages: Vec<u32>,
}

/// What an export is about to write, recorded before it writes anything: a fresh instance
/// that finds it unsettled completes it (the data is there) or drops it (it is not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportIntent {
    pub export_id: String,
    pub table: String,
    pub object_key: String,
    pub manifest_key: String,
    /// The manifest, as it is to be written.
    pub manifest: String,
    /// The pages it holds, by job.
    pub jobs: Vec<(String, Vec<u32>)>,
}

/// How an export intent ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSettled {
    pub export_id: String,
    /// `false`: its data was never written, so it holds no page.
    pub written: bool,
}
