//! The batch writer: one thread that owns DuckDB's write path for data tables.
//!
//! Ingest jobs hand it decoded pages through a bounded channel (backpressure: a slow disk slows
//! fetching, memory stays flat). It takes every page waiting in the channel and commits them in
//! one transaction together with their `duckhaul_pages` marks (group commit: each commit to a
//! file costs a WAL flush, so fewer, larger commits are much cheaper). A page's rows and its
//! "done" mark are always in the same transaction, so after a crash a page is either wholly
//! there and marked, or absent and unmarked.
//!
//! It also decides when to checkpoint (by the WAL's size, so the rows DuckDB holds
//! uncheckpointed stay bounded by the memory limit), checks free disk space before each commit
//! (DuckDB invalidates the database on ENOSPC), and reports a fatal DuckDB error to the store,
//! failing everything queued behind it at once instead of feeding statements to a dead instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use duckdb::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::disk::Disk;
use crate::store::health;
use crate::store::source_tables::{self, SourceTable};
use crate::store::transaction::in_transaction;

/// Pages queued for the writer at most.
const QUEUE_PAGES: usize = 64;

/// Bytes (Arrow) of pages queued or being committed at most: with the fetch concurrency this
/// bounds the memory an ingest holds, whatever its size, and whatever the size of its pages
/// (1,000 users are ~0.3 MB, 1,000 products ~1.5 MB). Each committed group is at most this big.
/// Measured (bench): 16 MiB let 300,000 products peak at 211 MB, 8 MiB at 200 MB, with no
/// measurable cost to 100,000 users (whose 8 MiB is ~16 pages a commit).
const QUEUE_BYTES: usize = 8 << 20;

/// What became of a committed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub rows: usize,
    pub commit_seq: i64,
}

/// Called once per page, on the writer's thread, right after its transaction ends.
pub type OnCommit = Box<dyn FnOnce(Result<Committed, String>) + Send>;

/// One decoded page for a data table.
pub struct PageWrite {
    pub job_id: Arc<str>,
    pub table: Arc<str>,
    pub page: u32,
    /// The record columns, in table order, without lineage (the writer adds it).
    pub batch: RecordBatch,
    /// For a followed page (cursor, next URL): where the next page is, committed with this one.
    pub next: Option<NextPage>,
    pub on_commit: OnCommit,
}

/// What a followed page says comes after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    /// The next page's position, as JSON (`source::paging::Position`).
    At(String),
    /// This was the last page.
    End,
}

enum Op {
    Page(Queued),
    EnsureTable {
        name: String,
        resource: String,
        ddl: String,
        /// A described source's table: recorded with its columns.
        source: Option<SourceTable>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The database is closing: fail what is queued and end the thread.
    Stop,
}

/// Told, on the writer's thread, the DuckDB error that invalidated the database.
pub type OnFatal = Arc<dyn Fn(String) + Send + Sync>;

/// What the writer is started with.
pub(super) struct WriterOptions {
    pub metrics: Metrics,
    pub disk: Disk,
    /// The database's WAL file, whose size decides when to checkpoint.
    pub wal: std::path::PathBuf,
    pub checkpoint_wal_bytes: u64,
    /// DuckDB's memory limit now (the setting times the jobs running: see
    /// `Store::share_memory`), and the highest one a checkpoint runs with.
    pub memory_limit: Arc<std::sync::atomic::AtomicU64>,
    pub checkpoint_memory_limit: u64,
    pub on_fatal: OnFatal,
}

/// A handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
    /// Permits of 1 KiB for the bytes of queued pages (`QUEUE_BYTES`).
    budget: Arc<tokio::sync::Semaphore>,
}

/// A page and its share of the queue's byte budget, given back once it is committed.
struct Queued {
    write: PageWrite,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Queued {
    /// Tells the page's job how its commit ended; the page's budget is freed after.
    fn done(self, result: Result<Committed, String>) {
        (self.write.on_commit)(result);
    }
}

impl std::ops::Deref for Queued {
    type Target = PageWrite;
    fn deref(&self) -> &PageWrite {
        &self.write
    }
}

impl Writer {
    /// Asks the thread to stop once what is queued ahead has been answered. Called while the
    /// database is dropped, possibly with the queue full of pages failing fast: waits a little
    /// for room rather than blocking a runtime thread.
    pub(super) fn stop(&self) {
        for _ in 0..500 {
            match self.tx.try_send(Op::Stop) {
                Err(mpsc::error::TrySendError::Full(_)) => std::thread::sleep(std::time::Duration::from_millis(10)),
                _ => return,
            }
        }
    }

    pub(super) fn start(
        conn: Connection,
        options: WriterOptions,
    ) -> anyhow::Result<(Writer, std::thread::JoinHandle<()>)> {
        let next_seq: i64 = conn
            .query_row("SELECT coalesce(max(commit_seq), 0) + 1 FROM duckhaul_pages", [], |r| r.get(0))
            .context("cannot read the last commit sequence")?;
        let (tx, rx) = mpsc::channel(QUEUE_PAGES);
        let budget = Arc::new(tokio::sync::Semaphore::new(QUEUE_BYTES >> 10));
        let span = tracing::info_span!("writer");
        let thread = std::thread::Builder::new()
            .name("duckhaul-writer".into())
            .spawn(move || {
                let _entered = span.enter();
                WriterLoop { conn, next_seq, rx, options, dead: None, dirty_leaves: 0 }.run()
            })
            .context("cannot spawn the writer thread")?;
        Ok((Writer { tx, budget }, thread))
    }

    /// Queues a page; waits while the queue is full.
    pub async fn write(&self, page: PageWrite) -> anyhow::Result<()> {
        let kib = (page.batch.get_array_memory_size() >> 10).clamp(1, QUEUE_BYTES >> 10) as u32;
        let permit = self.budget.clone().acquire_many_owned(kib).await.expect("the budget is never closed");
        self.tx
            .send(Op::Page(Queued { write: page, _permit: permit }))
            .await
            .map_err(|_| anyhow::anyhow!("the writer has stopped"))
    }

    /// Creates a data table unless it exists with exactly this DDL; fails if it exists with
    /// another (a custom table asked for with different fields).
    pub async fn ensure_table(
        &self,
        name: &str,
        resource: &str,
        ddl: &str,
        source: Option<SourceTable>,
    ) -> anyhow::Result<()> {
        let (reply, rx) = oneshot::channel();
        let op = Op::EnsureTable { name: name.into(), resource: resource.into(), ddl: ddl.into(), source, reply };
        self.tx.send(op).await.map_err(|_| anyhow::anyhow!("the writer has stopped"))?;
        rx.await.context("the writer has stopped")?.map_err(anyhow::Error::msg)
    }

    /// Queues a checkpoint behind every page sent before it, without waiting for it: a job
    /// need not wait for the WAL to be folded into the file before it reports done.
    pub async fn request_checkpoint(&self) -> anyhow::Result<()> {
        let (reply, _) = oneshot::channel();
        self.tx.send(Op::Checkpoint { reply }).await.map_err(|_| anyhow::anyhow!("the writer has stopped"))
    }

    /// Checkpoints the WAL into the database file. Queued behind every page sent before it.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Op::Checkpoint { reply }).await.map_err(|_| anyhow::anyhow!("the writer has stopped"))?;
        rx.await.context("the writer has stopped")?.map_err(anyhow::Error::msg)
    }
}

struct WriterLoop {
    conn: Connection,
    next_seq: i64,
    rx: mpsc::Receiver<Op>,
    options: WriterOptions,
    /// Set once DuckDB invalidated the database: every later op fails with it, untried.
    dead: Option<String>,
    /// Leaf columns of the widest table committed to since the last checkpoint.
    dirty_leaves: usize,
}

impl WriterLoop {
    fn run(mut self) {
        let mut group: Vec<Queued> = Vec::new();
        let mut stopping = false;
        while let Some(op) = self.rx.blocking_recv() {
            let mut pending = Some(op);
            // Take everything already waiting: pages join one commit; any other op first
            // flushes the pages queued ahead of it, so order is kept.
            loop {
                match pending.take() {
                    Some(Op::Page(p)) => group.push(p),
                    Some(Op::Stop) => {
                        stopping = true;
                        self.rx.close();
                    }
                    Some(other) => {
                        self.commit_group(std::mem::take(&mut group));
                        self.handle(other);
                    }
                    None => break,
                }
                pending = self.rx.try_recv().ok();
            }
            self.commit_group(std::mem::take(&mut group));
            if stopping {
                self.dead.get_or_insert_with(|| "the database is closing".into());
            }
        }
        tracing::debug!("writer stopped");
    }

    fn handle(&mut self, op: Op) {
        match op {
            Op::Page(_) | Op::Stop => unreachable!("pages are grouped by run, stop ends the run"),
            Op::EnsureTable { name, resource, ddl, source, reply } => {
                let result = match &self.dead {
                    Some(reason) => Err(reason.clone()),
                    None => self
                        .ensure_table(&name, &resource, &ddl, source.as_ref())
                        .map_err(|e| self.failed(format!("{e:#}"))),
                };
                let _ = reply.send(result);
            }
            Op::Checkpoint { reply } => {
                let _ = reply.send(self.checkpoint());
            }
        }
    }

    /// Notes a DuckDB error: a fatal one kills this writer and is reported to the store.
    /// Returns the error's text, as callers should see it.
    fn failed(&mut self, text: String) -> String {
        if self.dead.is_none() && health::is_fatal(&text) {
            tracing::error!(error = %text, "DuckDB invalidated the database");
            self.dead = Some(text.clone());
            (self.options.on_fatal)(text.clone());
        }
        match self.options.disk.explain(&text) {
            Some(full) => format!("{full} ({text})"),
            None => text,
        }
    }

    fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.options.wal).map(|m| m.len()).unwrap_or(0)
    }

    fn checkpoint(&mut self) -> Result<(), String> {
        if let Some(reason) = &self.dead {
            return Err(reason.clone());
        }
        // Folding the WAL into the file writes about the WAL's size of new blocks before the
        // old ones are freed: without that room, wait (the WAL keeps every row safe).
        let wal = self.wal_bytes();
        self.options.disk.ensure(wal).map_err(|full| format!("checkpoint postponed: {full}"))?;
        let started = Instant::now();
        // A checkpoint needs memory by the width of the tables it folds (see
        // `checkpoint_memory_limit`): raised for it alone, and only as far as they need.
        let steady = self.options.memory_limit.load(std::sync::atomic::Ordering::Relaxed);
        let limit = checkpoint_memory(self.dirty_leaves, steady, self.options.checkpoint_memory_limit);
        let raised = limit > steady;
        let sql = if raised { format!("{}; CHECKPOINT", super::memory_limit_sql(limit)) } else { "CHECKPOINT".into() };
        let result = self.conn.execute_batch(&sql).map_err(|e| e.to_string());
        // Back to the small block cache (after a raise here, or a WAL replay that needed more);
        // blocks above it are evicted, and what cannot be yet is at the next checkpoint.
        let steady = self.options.memory_limit.load(std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = self.conn.execute_batch(&super::memory_limit_sql(steady)) {
            tracing::debug!(error = %e, "memory limit not lowered yet");
        }
        release_freed_memory();
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            wal_bytes = wal,
            memory_limit = limit,
            ok = result.is_ok(),
            "checkpoint"
        );
        if result.is_ok() {
            self.dirty_leaves = 0;
        }
        result.map_err(|e| self.failed(e))
    }

    fn ensure_table(&self, name: &str, resource: &str, ddl: &str, source: Option<&SourceTable>) -> anyhow::Result<()> {
        let existing: Option<String> = self
            .conn
            .prepare("SELECT ddl FROM duckhaul_tables WHERE name = ?")?
            .query_map(params![name], |r| r.get(0))?
            .next()
            .transpose()?;
        match existing {
            Some(d) if d == ddl => Ok(()),
            Some(_) => anyhow::bail!("table {name} already exists with different columns"),
            None => in_transaction(&self.conn, |conn| {
                conn.execute_batch(ddl)?;
                conn.execute(
                    "INSERT INTO duckhaul_tables (name, resource, ddl, created_at) VALUES (?, ?, ?, now())",
                    params![name, resource, ddl],
                )?;
                if let Some(table) = source {
                    source_tables::insert(conn, table)?;
                }
                Ok::<_, duckdb::Error>(())
            })
            .with_context(|| format!("cannot create table {name}")),
        }
    }

    fn commit_group(&mut self, group: Vec<Queued>) {
        if group.is_empty() {
            return;
        }
        if let Some(reason) = &self.dead {
            let reason = format!("not stored: {reason}");
            for p in group {
                p.done(Err(reason.clone()));
            }
            return;
        }
        let mut wal = self.wal_bytes();
        if wal >= self.options.checkpoint_wal_bytes {
            // Between commits, never inside one; a failure (another transaction holds the
            // database, or no room yet) only postpones it.
            if let Err(e) = self.checkpoint() {
                tracing::warn!(error = %e, "checkpoint postponed");
            }
            if self.dead.is_some() {
                return self.commit_group(group);
            }
            wal = self.wal_bytes();
        }
        // The WAL gets about the pages' size, and a later checkpoint needs room to fold the
        // WAL into the file: refuse the pages now rather than let DuckDB hit ENOSPC.
        let bytes: u64 = group.iter().map(|p| p.batch.get_array_memory_size() as u64).sum();
        if let Err(full) = self.options.disk.ensure(bytes + wal) {
            tracing::warn!(error = %full, pages = group.len(), "pages refused: disk full");
            self.metrics().commit(false, std::time::Duration::ZERO);
            let reason = full.to_string();
            for p in group {
                p.done(Err(reason.clone()));
            }
            return;
        }
        let started = Instant::now();
        let seq = self.take_seq();
        let committed = self.try_commit(&group, seq);
        self.metrics().commit(committed.is_ok(), started.elapsed());
        match committed {
            Ok(()) => {
                let widest = group.iter().map(|p| leaf_columns(p.batch.schema().fields()) + LINEAGE_COLUMNS).max();
                self.dirty_leaves = self.dirty_leaves.max(widest.unwrap_or(0));
                let rows: usize = group.iter().map(|p| p.batch.num_rows()).sum();
                tracing::debug!(
                    pages = group.len(),
                    rows,
                    seq,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "committed"
                );
                for p in group {
                    let rows = p.batch.num_rows();
                    self.metrics().page_written(&p.table, rows);
                    p.done(Ok(Committed { rows, commit_seq: seq }));
                }
            }
            Err(e) => {
                let text = format!("{e:#}");
                let shown = self.failed(text.clone());
                if group.len() == 1 || self.dead.is_some() || shown != text {
                    // One page, or fatal, or disk full: page by page would fail the same way.
                    for p in group {
                        p.done(Err(shown.clone()));
                    }
                } else {
                    self.commit_one_by_one(group, &text);
                }
            }
        }
    }

    /// One bad page must not sink the pages it happened to share a commit with.
    fn commit_one_by_one(&mut self, group: Vec<Queued>, error: &str) {
        tracing::warn!(error, pages = group.len(), "group commit failed, committing pages one by one");
        for p in group {
            if let Some(reason) = &self.dead {
                p.done(Err(format!("not stored: {reason}")));
                continue;
            }
            let seq = self.take_seq();
            let started = Instant::now();
            let result = self.try_commit(std::slice::from_ref(&p), seq);
            self.metrics().commit(result.is_ok(), started.elapsed());
            let rows = p.batch.num_rows();
            if result.is_ok() {
                self.metrics().page_written(&p.table, rows);
            }
            let result = result.map_err(|e| self.failed(format!("{e:#}")));
            p.done(result.map(|_| Committed { rows, commit_seq: seq }));
        }
    }

    fn metrics(&self) -> &Metrics {
        &self.options.metrics
    }

    fn take_seq(&mut self) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn try_commit(&self, pages: &[Queued], seq: i64) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut appended = Duration::ZERO;
        in_transaction(&self.conn, |_| {
            let result = self.append_all(pages, seq);
            appended = started.elapsed();
            result
        })?;
        tracing::trace!(
            append_ms = appended.as_millis() as u64,
            commit_ms = (started.elapsed() - appended).as_millis() as u64,
            "append and commit"
        );
        Ok(())
    }

    fn append_all(&self, pages: &[Queued], seq: i64) -> anyhow::Result<()> {
        let now = Utc::now();
        // The marks go first, all in one statement: a page committed twice fails on the
        // primary key before any rows are appended (and the group is then retried page by
        // page, where the error names the page). One statement, not one per page: DuckDB
        // plans every statement, and planning cost as much as the inserts themselves.
        let mut values: Vec<Box<dyn duckdb::ToSql>> = Vec::with_capacity(pages.len() * 6);
        for p in pages {
            values.push(Box::new(p.job_id.to_string()));
            values.push(Box::new(p.page));
            values.push(Box::new(p.table.to_string()));
            values.push(Box::new(p.batch.num_rows() as i64));
            values.push(Box::new(seq));
            values.push(Box::new(now));
        }
        let sql = format!(
            "INSERT INTO duckhaul_pages (job_id, page, table_name, rows, commit_seq, committed_at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; pages.len()].join(", ")
        );
        self.conn.execute(&sql, duckdb::params_from_iter(values)).with_context(|| match pages {
            [p] => format!("page {} of job {} is already committed", p.page, p.job_id),
            _ => format!("cannot mark {} pages committed", pages.len()),
        })?;
        let followed: Vec<&Queued> = pages.iter().filter(|p| p.next.is_some()).collect();
        if !followed.is_empty() {
            let mut values: Vec<Box<dyn duckdb::ToSql>> = Vec::with_capacity(followed.len() * 3);
            for p in &followed {
                values.push(Box::new(p.job_id.to_string()));
                values.push(Box::new(p.page));
                values.push(Box::new(match &p.next {
                    Some(NextPage::At(position)) => Some(position.clone()),
                    _ => None,
                }));
            }
            let sql = format!(
                "INSERT INTO duckhaul_page_positions (job_id, page, next_position) VALUES {}",
                vec!["(?, ?, ?)"; followed.len()].join(", ")
            );
            self.conn.execute(&sql, duckdb::params_from_iter(values)).context("cannot record the next pages")?;
        }
        // One appender (so one flush, which DuckDB runs as one planned INSERT) per table,
        // in the order the tables first appear.
        let mut tables: Vec<&str> = Vec::new();
        for p in pages {
            if !tables.contains(&&*p.table) {
                tables.push(&p.table);
            }
        }
        for table in tables {
            let mut appender = self.conn.appender(table).with_context(|| format!("no table {table}"))?;
            let mut count = 0;
            for p in pages.iter().filter(|p| &*p.table == table) {
                count += 1;
                let batch = with_lineage(&p.batch, &p.job_id, p.page, now.timestamp_micros(), seq)?;
                appender
                    .append_record_batch(batch)
                    .with_context(|| format!("cannot append page {} of job {} to {table}", p.page, p.job_id))?;
            }
            appender.flush().with_context(|| format!("cannot append {count} pages to {table}"))?;
        }
        Ok(())
    }
}

/// Hands the memory a checkpoint freed back to the system. glibc keeps freed blocks in its
/// arenas, so without this each checkpoint's peak stays in the process's resident size and
/// the next one adds to it: a long job would grow with its length, not with its settings.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The lineage columns the writer adds to every page.
const LINEAGE_COLUMNS: usize = 4;

/// Memory a checkpoint is given per leaf column of the widest table it folds. DuckDB
/// compresses a row group column by column, keeping a partial block and the analysis state
/// of each: measured, companies (41 leaf columns) failed within 48 MB and succeeded within
/// 64 MB (1.6 MB a column); 2.5 MB a column leaves half again as much. Flat tables stay at the
/// plain limit (users, 17 columns, checkpoint within 48 MB), so their memory does not grow.
const CHECKPOINT_BYTES_PER_LEAF: u64 = 2_500_000;

/// The memory limit a checkpoint runs with: by the width of what it folds, never below the
/// plain limit nor above the checkpoint's.
fn checkpoint_memory(leaves: usize, memory_limit: u64, checkpoint_memory_limit: u64) -> u64 {
    (leaves as u64 * CHECKPOINT_BYTES_PER_LEAF).clamp(memory_limit, checkpoint_memory_limit.max(memory_limit))
}

/// Columns that hold values (a STRUCT's fields, a LIST's items, recursively): what DuckDB
/// stores and compresses one by one.
fn leaf_columns(fields: &duckdb::arrow::datatypes::Fields) -> usize {
    fields.iter().map(|f| leaves_of(f.data_type())).sum()
}

fn leaves_of(data_type: &DataType) -> usize {
    match data_type {
        DataType::Struct(fields) => leaf_columns(fields),
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            leaves_of(item.data_type())
        }
        DataType::Map(entries, _) => leaves_of(entries.data_type()),
        _ => 1,
    }
}

/// Appends the lineage columns (`_job_id`, `_page`, `_ingested_at`, `_commit`).
fn with_lineage(
    batch: &RecordBatch,
    job_id: &str,
    page: u32,
    now_micros: i64,
    seq: i64,
) -> anyhow::Result<RecordBatch> {
    let n = batch.num_rows();
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("_job_id", DataType::Utf8, false));
    fields.push(Field::new("_page", DataType::Int32, false));
    fields.push(Field::new("_ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false));
    fields.push(Field::new("_commit", DataType::Int64, false));
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(job_id, n))));
    columns.push(Arc::new(Int32Array::from(vec![page as i32; n])));
    columns.push(Arc::new(TimestampMicrosecondArray::from(vec![now_micros; n]).with_timezone("UTC")));
    columns.push(Arc::new(Int64Array::from(vec![seq; n])));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_gets_memory_by_the_width_of_its_widest_table() {
        let address = DataType::Struct(
            (0..10).map(|i| Field::new(format!("a{i}"), DataType::Utf8, true)).collect::<Vec<_>>().into(),
        );
        let fields: duckdb::arrow::datatypes::Fields = vec![
            Field::new("id", DataType::Int64, true),
            Field::new("addresses", DataType::List(Arc::new(Field::new("item", address.clone(), true))), true),
            Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), true),
            Field::new(
                "contact",
                DataType::Struct(
                    vec![Field::new("name", DataType::Utf8, true), Field::new("address", address, true)].into(),
                ),
                true,
            ),
        ]
        .into();
        assert_eq!(leaf_columns(&fields), 1 + 10 + 1 + 11);
        // Flat tables keep the plain limit; wide ones get more, up to the checkpoint's.
        assert_eq!(checkpoint_memory(17, 48_000_000, 160_000_000), 48_000_000);
        assert_eq!(checkpoint_memory(41, 48_000_000, 160_000_000), 102_500_000);
        assert_eq!(checkpoint_memory(500, 48_000_000, 160_000_000), 160_000_000);
        assert_eq!(checkpoint_memory(41, 512_000_000, 512_000_000), 512_000_000);
    }
}
