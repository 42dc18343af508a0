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
//! It keeps the row count of every table it commits to (`tables::RowCounts`).
//!
//! Every answer is a `StoreError`: one group commit answers many pages, so it is cloned.

mod checkpoint;
mod commit;
mod load;

use std::sync::Arc;

use anyhow::Context;
use duckdb::Connection;
use duckdb::arrow::record_batch::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::disk::Disk;
use crate::store::error::StoreError;
use crate::store::evolution::TableEvolution;
use crate::store::source_tables::SourceTable;
use crate::store::tables::RowCounts;

use commit::WriterLoop;
pub use load::{GroupFile, GroupLoad};

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
pub type OnCommit = Box<dyn FnOnce(Result<Committed, StoreError>) + Send>;

/// One decoded page for a data table.
pub struct PageWrite {
    pub job_id: Arc<str>,
    pub table: Arc<str>,
    pub page: u32,
    /// The record columns, in table order, without lineage (the writer adds it).
    pub batch: RecordBatch,
    /// For a followed page (cursor, next URL): where the next page is, committed with this one.
    pub next: Option<NextPage>,
    /// Rows for other tables, committed with the page's (a source's quarantined records), each
    /// with the page's lineage.
    pub side: Vec<(Arc<str>, RecordBatch)>,
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
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A group of durable pages another instance shipped (see `crate::durable`).
    Load {
        load: Box<GroupLoad>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// A described source's table widened (`store::evolution`), between two group commits.
    EvolveTable {
        evolution: Box<TableEvolution>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A group of committed pages written to a Parquet file to ship (see `crate::durable`).
    WriteGroup {
        file: Box<GroupFile>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// The database is closing: fail what is queued and end the thread.
    Stop,
}

/// Told, on the writer's thread, the DuckDB error that invalidated the database.
pub type OnFatal = Arc<dyn Fn(&str) + Send + Sync>;

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
    /// The row counts the writer keeps.
    pub rows: Arc<RowCounts>,
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
    fn done(self, result: Result<Committed, StoreError>) {
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
                WriterLoop::new(conn, next_seq, rx, options).run()
            })
            .context("cannot spawn the writer thread")?;
        Ok((Writer { tx, budget }, thread))
    }

    /// Queues a page; waits while the queue is full.
    pub async fn write(&self, page: PageWrite) -> Result<(), StoreError> {
        let kib = (page.batch.get_array_memory_size() >> 10).clamp(1, QUEUE_BYTES >> 10) as u32;
        let permit = self.budget.clone().acquire_many_owned(kib).await.expect("the budget is never closed");
        self.send(Op::Page(Queued { write: page, _permit: permit })).await
    }

    /// Creates a data table unless it exists with exactly this DDL; fails if it exists with
    /// another (a custom table asked for with different fields).
    pub async fn ensure_table(
        &self,
        name: &str,
        resource: &str,
        ddl: &str,
        source: Option<SourceTable>,
    ) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::EnsureTable { name: name.into(), resource: resource.into(), ddl: ddl.into(), source, reply })
            .await?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Widens a source's table, after every page sent before it has committed (under the old
    /// shape) and before any page sent after it.
    pub async fn evolve_table(&self, evolution: TableEvolution) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::EvolveTable { evolution: Box::new(evolution), reply }).await?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues a checkpoint behind every page sent before it, without waiting for it: a job
    /// need not wait for the WAL to be folded into the file before it reports done.
    pub async fn request_checkpoint(&self) -> anyhow::Result<()> {
        let (reply, _) = oneshot::channel();
        Ok(self.send(Op::Checkpoint { reply }).await?)
    }

    /// Checkpoints the WAL into the database file. Queued behind every page sent before it.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::Checkpoint { reply }).await?;
        Ok(rx.await.unwrap_or_else(|_| Err(stopped()))?)
    }

    /// Loads a group of durable pages (rows, marks and record in one transaction), queued
    /// behind every page sent before it; answers the rows loaded.
    pub async fn load_group(&self, load: GroupLoad) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::Load { load: Box::new(load), reply }).await?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Writes a group of committed pages to a Parquet file, between two commits: on the
    /// writer's thread, so that the file's buffers never take DuckDB's memory from a commit
    /// (10,000 companies written beside the commits of a 300,000 ingest failed them at the
    /// 48 MB default). Answers the rows written.
    pub async fn write_group(&self, file: GroupFile) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Op::WriteGroup { file: Box::new(file), reply }).await?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    async fn send(&self, op: Op) -> Result<(), StoreError> {
        self.tx.send(op).await.map_err(|_| stopped())
    }
}

/// What the writer answers once its thread has ended.
fn stopped() -> StoreError {
    StoreError::Closed("the writer has stopped".into())
}
