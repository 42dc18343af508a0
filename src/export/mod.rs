//! The export job: for each table, a consistent snapshot to a staging Parquet file, streamed to
//! the sink create-only, then its manifest, then its record in DuckDB.
//!
//! A failed export writes no record of success, so the watermark for incremental exports does
//! not move and the rows are simply exported again by the next run; the tables are only read.

pub mod bigquery;
pub mod manifest;
pub mod naming;
pub mod regroup;
pub mod sink;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::jobs::{ExportedObject, IdempotentRequest, Job, JobKind, Jobs, NewJob, Outcome, Spawned, StartError};
use crate::store::{Disk, Store};
use crate::store::records::{self, ExportRow};
use crate::store::snapshot::{self, SnapshotRange};
use crate::validation::Invalid;
use manifest::Manifest;
pub use sink::Sink;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportMode {
    /// Every row of each table.
    #[default]
    Snapshot,
    /// Only rows committed since the table's last successful export.
    Incremental,
}

impl ExportMode {
    fn as_str(self) -> &'static str {
        match self {
            ExportMode::Snapshot => "snapshot",
            ExportMode::Incremental => "incremental",
        }
    }
}

/// What to export.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tables": ["users"], "mode": "snapshot"}))]
pub struct ExportRequest {
    /// Tables to export (default: every data table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    #[serde(default)]
    pub mode: ExportMode,
}

/// What an export needs from the application.
#[derive(Clone)]
pub struct ExportContext {
    pub store: Store,
    pub sink: Arc<Sink>,
    pub jobs: Jobs,
    /// Where snapshots are staged before upload.
    pub staging: PathBuf,
    /// Row groups of the exported files: at least this many compressed bytes (but the last).
    pub row_group_bytes: u64,
    /// One export of a table at a time, so two incremental exports cannot take the same rows.
    pub table_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl ExportContext {
    pub fn new(store: Store, sink: Sink, jobs: Jobs, staging: PathBuf, row_group_bytes: u64) -> ExportContext {
        ExportContext { store, sink: Arc::new(sink), jobs, staging, row_group_bytes, table_locks: Arc::default() }
    }

    fn table_lock(&self, table: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.table_locks.lock().expect("lock poisoned").entry(table.to_string()).or_default().clone()
    }
}

/// Validates the request against the tables that exist and starts the job (or, for an
/// idempotency key seen before with this request, returns the job it started).
pub async fn start(ctx: &ExportContext, request: ExportRequest, idempotency_key: Option<String>) -> Result<Spawned, StartError> {
    let existing: Vec<String> = ctx.store.tables().await?.into_iter().map(|t| t.name).collect();
    let tables = match &request.tables {
        None => existing.clone(),
        Some(list) => {
            let mut invalid = Invalid::default();
            if list.is_empty() {
                invalid.push("tables", "list at least one table, or leave tables out to export all of them");
            }
            for (i, t) in list.iter().enumerate() {
                if !existing.contains(t) {
                    let known = if existing.is_empty() { "there are no tables yet".to_string() } else { format!("tables: {}", existing.join(", ")) };
                    invalid.push(format!("tables[{i}]"), format!("no table named '{t}'; {known}"));
                }
            }
            invalid.or_ok(())?;
            let mut unique = list.clone();
            unique.sort();
            unique.dedup();
            unique
        }
    };
    if tables.is_empty() {
        return Err(StartError::Invalid(Invalid::one("tables", "there are no tables to export yet; ingest first")));
    }
    let accepted = ExportRequest { tables: Some(tables.clone()), mode: request.mode };
    let new = NewJob {
        kind: JobKind::Export,
        request: serde_json::to_value(&accepted).expect("serialises"),
        table: None,
        base_seed: None,
        pages_total: tables.len() as u64,
        idempotency: idempotency_key.map(|key| IdempotentRequest {
            key,
            request: serde_json::to_string(&request).expect("a request serialises"),
        }),
        resumable: false,
        after_run: None,
    };
    let run_ctx = ctx.clone();
    let scope = Scope::of(request.mode);
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &tables, &scope, &job).await }).await?)
}

/// Which part of a split run an export is: task `index` of `count` of the run named `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Names the whole run (a Cloud Run Jobs execution); the export's id when `None`.
    pub run: Option<String>,
    pub index: u32,
    pub count: u32,
}

/// Starts an export of the rows one ingest job wrote to `table`, as the object
/// `{run}-part-{index}-of-{count}.parquet`: a task's part of a job split across processes
/// (`duckhaul run` on Cloud Run Jobs). A part does not move the table's incremental watermark.
pub async fn start_part(ctx: &ExportContext, table: &str, ingest_job: &str, part: Part) -> Result<Spawned, StartError> {
    let new = NewJob {
        kind: JobKind::Export,
        request: serde_json::json!({
            "tables": [table], "mode": PART_MODE, "ingest_job": ingest_job,
            "run": part.run, "part": part.index, "parts": part.count,
        }),
        table: None,
        base_seed: None,
        pages_total: 1,
        idempotency: None,
        resumable: false,
        after_run: None,
    };
    let run_ctx = ctx.clone();
    let tables = vec![table.to_string()];
    let scope = Scope { range: SnapshotRange::OfJob(ingest_job.to_string()), mode: PART_MODE, part: Some(part) };
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &tables, &scope, &job).await }).await?)
}

/// The mode recorded for part exports.
const PART_MODE: &str = "part";

/// Which rows of each table an export takes, and how its objects are named.
#[derive(Debug, Clone)]
struct Scope {
    range: SnapshotRange,
    /// Recorded with the export and in its manifest.
    mode: &'static str,
    /// Names the objects as a part of a split run; by the export's id when `None`.
    part: Option<Part>,
}

impl Scope {
    fn of(mode: ExportMode) -> Scope {
        let range = match mode {
            ExportMode::Snapshot => SnapshotRange::Full,
            ExportMode::Incremental => SnapshotRange::SinceLastExport,
        };
        Scope { range, mode: mode.as_str(), part: None }
    }

    /// The objects' file name without extension.
    fn stem(&self, export_id: &str) -> String {
        match &self.part {
            None => export_id.to_string(),
            Some(p) => naming::part_stem(p.run.as_deref().unwrap_or(export_id), p.index, p.count),
        }
    }
}

async fn run(ctx: &ExportContext, tables: &[String], scope: &Scope, job: &Arc<Job>) -> Outcome {
    let mut failures = Vec::new();
    for table in tables {
        if job.cancel.is_cancelled() {
            return Outcome::Stopped;
        }
        match export_table(ctx, table, scope, job).await {
            Ok(Some(object)) => {
                job.progress.add(1, object.rows);
                job.add_object(object);
            }
            Ok(None) => job.progress.add(1, 0),
            Err(e) => {
                let reason = format!("{table}: {e:#}");
                tracing::warn!(error = %reason, "table export failed");
                job.progress.set_last_error(&reason);
                failures.push(reason);
            }
        }
    }
    if failures.is_empty() { Outcome::Succeeded } else { Outcome::Failed(failures.join("; ")) }
}

/// Exports one table; `None` when an incremental export finds nothing new.
async fn export_table(ctx: &ExportContext, table: &str, scope: &Scope, job: &Arc<Job>) -> anyhow::Result<Option<ExportedObject>> {
    let lock = ctx.table_lock(table);
    let _guard = lock.lock().await;
    let started = std::time::Instant::now();
    let exported = snapshot_and_upload(ctx, table, scope, job).await;
    let metrics = ctx.store.metrics();
    match &exported {
        Ok(Some(object)) => metrics.table_exported(table, object.rows, object.bytes, started.elapsed()),
        Ok(None) => metrics.table_exported(table, 0, 0, started.elapsed()),
        Err(_) => metrics.table_export_failed(table, started.elapsed()),
    }
    exported
}

async fn snapshot_and_upload(ctx: &ExportContext, table: &str, scope: &Scope, job: &Arc<Job>) -> anyhow::Result<Option<ExportedObject>> {
    let export_id = job.id.clone();
    let created_at = Utc::now();
    std::fs::create_dir_all(&ctx.staging).with_context(|| format!("cannot create {}", ctx.staging.display()))?;
    let written = StagedFile(ctx.staging.join(format!("{export_id}-{table}.groups.parquet")));
    let staged = StagedFile(ctx.staging.join(format!("{export_id}-{table}.parquet")));

    // A snapshot that cannot be staged fails the export cleanly (the rows stay in DuckDB), and
    // says so in the words of a full disk rather than of whichever write hit it.
    let disk = Disk::of(&ctx.staging);
    disk.ensure(0)?;
    let range = scope.range.clone();
    let (t, path) = (table.to_string(), written.0.clone());
    let snap = ctx
        .store
        .read(move |conn| snapshot::write_parquet(conn, &t, range, &path))
        .await
        .map_err(|e| staging_error(&disk, e))?;
    if scope.range == SnapshotRange::SinceLastExport && snap.rows == 0 {
        tracing::info!(table, "no rows since the last export");
        return Ok(None);
    }
    // DuckDB writes small row groups (its writer holds one uncompressed); BigQuery wants
    // large ones: merge them, copying pages (see `regroup`).
    let (from, to, target) = (written.0.clone(), staged.0.clone(), ctx.row_group_bytes);
    let snapshot_bytes = std::fs::metadata(&from).map(|m| m.len()).unwrap_or(0);
    disk.ensure(snapshot_bytes)?;
    let regrouped = tokio::task::spawn_blocking(move || regroup::merge_row_groups(&from, &to, target))
        .await?
        .with_context(|| format!("cannot regroup the Parquet snapshot of {table}"))
        .map_err(|e| staging_error(&disk, e))?;
    tracing::debug!(
        table,
        groups_in = regrouped.groups_in,
        groups_out = regrouped.groups_out,
        merged = regrouped.merged(),
        "row groups"
    );
    // Gone already (merged or moved); the guard only mattered had the merge failed.
    drop(written);
    let path = staged.0.clone();
    let (bytes, crc) = tokio::task::spawn_blocking(move || file_crc32c(&path)).await??;

    let mut record = ExportRow {
        export_id: export_id.clone(),
        table_name: table.to_string(),
        mode: scope.mode.into(),
        state: "failed".into(),
        uri: None,
        manifest_uri: None,
        rows: Some(snap.rows),
        bytes: Some(bytes),
        crc32c: Some(crc),
        commit_from: snap.commit_from,
        commit_to: snap.commit_to,
        error: None,
        created_at,
    };
    let stem = scope.stem(&export_id);
    let uploaded = upload(ctx, table, &export_id, &stem, scope.mode, &snap, &staged.0, bytes, crc, created_at).await;
    match &uploaded {
        Ok(object) => {
            record.state = "succeeded".into();
            record.uri = Some(object.uri.clone());
            record.manifest_uri = Some(object.manifest_uri.clone());
            // The object's own (an earlier attempt's part may differ from this file).
            record.bytes = Some(object.bytes);
            record.crc32c = Some(object.crc32c);
        }
        Err(e) => record.error = Some(format!("{e:#}")),
    }
    ctx.store.record(move |conn| records::save_export(conn, &record).context("cannot record the export")).await?;
    uploaded.map(Some)
}

#[allow(clippy::too_many_arguments)]
async fn upload(
    ctx: &ExportContext,
    table: &str,
    export_id: &str,
    stem: &str,
    mode: &str,
    snap: &snapshot::Snapshot,
    path: &Path,
    bytes: u64,
    crc: u32,
    created_at: chrono::DateTime<Utc>,
) -> anyhow::Result<ExportedObject> {
    let key = naming::parquet_key(table, stem, created_at);
    if mode == PART_MODE
        && let Some(earlier) = earlier_part(ctx, table, stem, created_at, snap.rows).await?
    {
        return Ok(earlier);
    }
    let written = ctx.sink.put_file(&key, path, crc, "application/vnd.apache.parquet").await?;
    anyhow::ensure!(
        written.bytes == bytes && written.crc32c == crc,
        "{} holds {} bytes with CRC32C {}, but {} bytes with CRC32C {} were sent",
        written.uri,
        written.bytes,
        written.crc32c,
        bytes,
        crc
    );
    let manifest = Manifest {
        export_id: export_id.to_string(),
        table: table.to_string(),
        mode: mode.into(),
        object: written.uri.clone(),
        rows: snap.rows,
        bytes,
        crc32c: crc,
        crc32c_base64: manifest::crc32c_base64(crc),
        commit_from: snap.commit_from,
        commit_to: snap.commit_to,
        schema: snap.columns.iter().map(|(name, ty)| manifest::Column { name: name.clone(), ty: ty.clone() }).collect(),
        created_at,
    };
    let body = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    let manifest_key = naming::manifest_key(table, stem, created_at);
    let manifest_written = ctx.sink.put_bytes(&manifest_key, body.into(), "application/json").await?;
    Ok(ExportedObject {
        table: table.to_string(),
        uri: written.uri,
        manifest_uri: manifest_written.uri,
        rows: snap.rows,
        bytes,
        crc32c: crc,
    })
}

/// The part an earlier attempt of the same task exported, if its manifest is there (it is
/// written after the data, so the data is complete). Cloud Run Jobs retries a failed task
/// from scratch: it ingests the same pages again (same seeds, so the same records), and its
/// create-only upload would fail on the object the earlier attempt left, failing every retry.
async fn earlier_part(
    ctx: &ExportContext,
    table: &str,
    stem: &str,
    created_at: chrono::DateTime<Utc>,
    rows: u64,
) -> anyhow::Result<Option<ExportedObject>> {
    // Today's folder, or yesterday's for an attempt that ran before midnight.
    let mut found = None;
    for day in [created_at, created_at - chrono::Duration::days(1)] {
        found = ctx.sink.get_bytes(&naming::manifest_key(table, stem, day)).await?;
        if found.is_some() {
            break;
        }
    }
    let Some((manifest_uri, body)) = found else { return Ok(None) };
    let manifest: Manifest =
        serde_json::from_slice(&body).with_context(|| format!("{manifest_uri} is not a duckhaul manifest"))?;
    anyhow::ensure!(
        manifest.table == table && manifest.rows == rows,
        "{manifest_uri} describes another part ({} rows of {}, where this task has {rows} rows of {table}); \
         it is left as it is",
        manifest.rows,
        manifest.table
    );
    tracing::info!(uri = %manifest.object, "this part was exported by an earlier attempt of the task");
    Ok(Some(ExportedObject {
        table: table.to_string(),
        uri: manifest.object,
        manifest_uri,
        rows: manifest.rows,
        bytes: manifest.bytes,
        crc32c: manifest.crc32c,
    }))
}

/// Size and CRC32C of a file, read in 1 MiB blocks.
fn file_crc32c(path: &Path) -> anyhow::Result<(u64, u32)> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut crc, mut len) = (0u32, 0u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, crc));
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        len += n as u64;
    }
}

/// Removes the Parquet files an export left in `staging` when the process died mid-way (each
/// is as large as a table's snapshot). Only at start, after the database is open: the folder
/// is that database's own (see `app::staging_dir`) and DuckDB's lock on the file makes this
/// process its only user; no export runs yet. Returns how many there were.
pub fn clear_staging(staging: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(staging) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// A staging file, removed however the export ends.
struct StagedFile(PathBuf);

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An error while staging a snapshot; ENOSPC becomes `disk full: …`.
fn staging_error(disk: &Disk, e: anyhow::Error) -> anyhow::Error {
    match disk.explain(&format!("{e:#}")) {
        Some(full) => anyhow::Error::new(full),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_the_staging_folder_removes_only_parquet_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a-users.parquet", "a-users.groups.parquet", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(clear_staging(dir.path()), 2);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["notes.txt"]);
        assert_eq!(clear_staging(&dir.path().join("missing")), 0);
    }
}
