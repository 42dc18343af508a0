//! The export job: each table in turn, one at a time per table, staged, uploaded and then
//! recorded in DuckDB.
//!
//! A failed export writes no record of success, so the watermark for incremental exports does
//! not move and the rows are simply exported again by the next run; the tables are only read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use super::request::{ExportMode, ExportRequest, Part, Scope};
use super::staging::{self, StagedSnapshot};
use super::upload::{self, upload};
use crate::destination::Sink;
use crate::durable::Durable;
use crate::jobs::{ExportedObject, IdempotentRequest, Job, Jobs, NewJob, Outcome, Spawned, StartError};
use crate::spec::{JobSpec, PartOf};
use crate::store::Store;
use crate::store::groups;
use crate::store::records::{self, ExportRow, ExportState};
use crate::store::snapshot::SnapshotRange;
use crate::store::views::VIEW_RESOURCE;

/// What an export needs from the application.
#[derive(Clone)]
pub struct ExportContext {
    pub store: Store,
    pub sink: Arc<Sink>,
    pub jobs: Jobs,
    /// The destination's durable log: an export takes only durable pages, a lost instance's
    /// among them, and records which it holds.
    pub durable: Durable,
    /// Where snapshots are staged before upload.
    pub staging: PathBuf,
    /// Row groups of the exported files: at least this many compressed bytes (but the last).
    pub row_group_bytes: u64,
    /// One export of a table at a time, so two incremental exports cannot take the same rows.
    pub table_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl ExportContext {
    pub fn new(
        store: Store,
        sink: Arc<Sink>,
        jobs: Jobs,
        durable: Durable,
        staging: PathBuf,
        row_group_bytes: u64,
    ) -> ExportContext {
        ExportContext { store, sink, jobs, durable, staging, row_group_bytes, table_locks: Arc::default() }
    }

    fn table_lock(&self, table: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.table_locks.lock().expect("lock poisoned").entry(table.to_string()).or_default().clone()
    }
}

/// Validates the request against the tables that exist and starts the job (or, for an
/// idempotency key seen before with this request, returns the job it started).
pub async fn start(
    ctx: &ExportContext,
    request: ExportRequest,
    idempotency_key: Option<String>,
) -> Result<Spawned, StartError> {
    let existing: Vec<String> = ctx.store.tables().await?.into_iter().map(|t| t.name).collect();
    let tables = request.tables_to_export(&existing)?;
    let accepted = ExportRequest { tables: Some(tables.clone()), mode: request.mode };
    let new = NewJob {
        spec: JobSpec::Export { request: accepted, part: None },
        table: None,
        pages_total: tables.len() as u64,
        idempotency: idempotency_key.map(|key| IdempotentRequest {
            key,
            request: serde_json::to_string(&request).expect("a request serialises"),
        }),
        resumable: false,
        after_run: None,
    };
    let run_ctx = ctx.clone();
    let scope = Scope::from(request.mode);
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &tables, &scope, &job).await }).await?)
}

/// Starts an export of the rows one ingest job wrote to `table`, as the object
/// `{run}-part-{index}-of-{count}.parquet`: a task's part of a job split across processes
/// (`duckhaul run` on Cloud Run Jobs). A part does not move the table's incremental watermark.
pub async fn start_part(ctx: &ExportContext, table: &str, ingest_job: &str, part: Part) -> Result<Spawned, StartError> {
    let request = ExportRequest { tables: Some(vec![table.to_string()]), mode: ExportMode::Snapshot };
    let spec =
        JobSpec::Export { request, part: Some(PartOf { ingest_job: ingest_job.to_string(), part: part.clone() }) };
    let new = NewJob { spec, table: None, pages_total: 1, idempotency: None, resumable: false, after_run: None };
    let run_ctx = ctx.clone();
    let tables = vec![table.to_string()];
    let scope = Scope::Part { ingest_job: ingest_job.to_string(), part };
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &tables, &scope, &job).await }).await?)
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
async fn export_table(
    ctx: &ExportContext,
    table: &str,
    scope: &Scope,
    job: &Arc<Job>,
) -> anyhow::Result<Option<ExportedObject>> {
    let lock = ctx.table_lock(table);
    let _guard = lock.lock().await;
    let started = std::time::Instant::now();
    let exported = stage_upload_and_record(ctx, table, scope, &job.id).await;
    let metrics = ctx.store.metrics();
    match &exported {
        Ok(Some(object)) => metrics.table_exported(table, object.rows, object.bytes, started.elapsed()),
        Ok(None) => metrics.table_exported(table, 0, 0, started.elapsed()),
        Err(_) => metrics.table_export_failed(table, started.elapsed()),
    }
    exported
}

async fn stage_upload_and_record(
    ctx: &ExportContext,
    table: &str,
    scope: &Scope,
    export_id: &str,
) -> anyhow::Result<Option<ExportedObject>> {
    let upto = match durable_first(ctx, table).await {
        Ok(upto) => upto,
        Err(e) => {
            // Recorded like a failed upload, so `/status` shows it with its reason.
            let record = unstaged_failure(export_id, table, scope, &e);
            ctx.store
                .record(move |conn| records::save_export(conn, &record).context("cannot record the export"))
                .await?;
            return Err(e);
        }
    };
    let range = scope.range();
    let full = range == SnapshotRange::Full;
    let Some(staged) = staging::stage(ctx, export_id, table, range, upto).await? else { return Ok(None) };
    let uploaded = match scope {
        // A part (one task's job) is not the table's export: it moves no watermark, and its
        // rows stay to be exported with the table's.
        Scope::Part { .. } => upload(&ctx.sink, scope, &staged).await,
        _ => {
            let from = (!full).then_some(staged.snapshot.commit_from);
            exactly_once(ctx, scope, &staged, (from, staged.snapshot.commit_to)).await
        }
    };
    let record = export_record(scope, &staged, &uploaded);
    ctx.store.record(move |conn| records::save_export(conn, &record).context("cannot record the export")).await?;
    uploaded.map(Some)
}

/// What an export does before it takes its snapshot: the groups a lost instance shipped come
/// here, then every page committed up to now is made durable; answers the last commit the
/// export may take (so it holds only durable pages).
async fn durable_first(ctx: &ExportContext, table: &str) -> anyhow::Result<Option<i64>> {
    let is_view = ctx.store.table_ddl(table).await?.is_some_and(|(resource, _)| resource == VIEW_RESOURCE);
    if is_view {
        // A view may read any table.
        ctx.durable.load_all().await.context("cannot load the pages a lost instance made durable")?;
    } else {
        ctx.durable.load_table(table).await.context("cannot load the pages a lost instance made durable")?;
    }
    let t = table.to_string();
    let upto = ctx.store.read(move |conn| Ok(groups::last_commit(conn, &t)?)).await?;
    ctx.durable.ship_table(table).await.context("cannot make the table's pages durable before exporting them")?;
    Ok(upto)
}

/// The record of an export that failed before it had a snapshot.
fn unstaged_failure(export_id: &str, table: &str, scope: &Scope, error: &anyhow::Error) -> ExportRow {
    ExportRow {
        export_id: export_id.to_string(),
        table_name: table.to_string(),
        mode: scope.kind(),
        state: ExportState::Failed,
        uri: None,
        manifest_uri: None,
        rows: None,
        bytes: None,
        crc32c: None,
        commit_from: 0,
        commit_to: 0,
        error: Some(format!("{error:#}")),
        created_at: chrono::Utc::now(),
    }
}

/// The table's export, recorded in the durable log before its objects are written and after
/// (see `crate::durable`), so no instance exports its pages again, even one that finds it
/// half done.
async fn exactly_once(
    ctx: &ExportContext,
    scope: &Scope,
    staged: &StagedSnapshot,
    range: (Option<i64>, i64),
) -> anyhow::Result<ExportedObject> {
    let planned = upload::plan(&ctx.sink, scope, staged)?;
    let (id, table) = (&staged.export_id, &staged.table);
    let pages =
        ctx.durable.export_begins(id, table, range, &planned.key, &planned.manifest_key, &planned.manifest).await?;
    let object = upload::put(&ctx.sink, staged, &planned).await?;
    ctx.durable
        .export_written(&pages)
        .await
        .context("cannot record in the destination which pages the export holds")?;
    Ok(object)
}

/// The export's record, whether the upload worked or not.
fn export_record(scope: &Scope, staged: &StagedSnapshot, uploaded: &anyhow::Result<ExportedObject>) -> ExportRow {
    let snap = &staged.snapshot;
    let mut record = ExportRow {
        export_id: staged.export_id.clone(),
        table_name: staged.table.clone(),
        mode: scope.kind(),
        state: ExportState::Failed,
        uri: None,
        manifest_uri: None,
        rows: Some(snap.rows),
        bytes: Some(staged.bytes),
        crc32c: Some(staged.crc32c),
        commit_from: snap.commit_from,
        commit_to: snap.commit_to,
        error: None,
        created_at: staged.created_at,
    };
    match uploaded {
        Ok(object) => {
            record.state = ExportState::Succeeded;
            record.uri = Some(object.uri.clone());
            record.manifest_uri = Some(object.manifest_uri.clone());
            // The object's own (an earlier attempt's part may differ from this file).
            record.bytes = Some(object.bytes);
            record.crc32c = Some(object.crc32c);
        }
        Err(e) => record.error = Some(format!("{e:#}")),
    }
    record
}
