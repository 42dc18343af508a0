//! DuckDB: the database file, its connections, the batch writer and snapshots.
//!
//! All DuckDB calls happen off the async runtime: data pages on the writer's own thread
//! (`writer`), queries (`Store::read`) and bookkeeping writes (`Store::record`, each in one
//! transaction) on `spawn_blocking` with a connection cloned from the open instance
//! (`database`). Every write goes one of those two ways. What a failed call means is decided
//! once, into a `StoreError` (`error`).

pub mod database;
pub mod disk;
pub mod error;
pub mod evolution;
pub mod groups;
pub mod health;
pub mod inspect;
pub mod records;
pub mod schema;
pub mod settings;
pub mod snapshot;
pub mod source_tables;
pub mod tables;
pub mod transaction;
pub mod views;
pub mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use duckdb::Connection;
use tokio::sync::watch;

use crate::metrics::Metrics;

use database::{Database, Instance};

pub use database::{temp_dir, wal_path};
pub use disk::{Disk, DiskFull};
pub use error::StoreError;
pub use health::{StoreHealth, Unavailable};
pub(crate) use settings::memory_limit_sql;
pub use settings::{
    CHECKPOINT_MEMORY_CAP, CHECKPOINT_WAL_FLOOR, DEFAULT_MEMORY_LIMIT, StoreSettings, checkpoint_memory_limit,
    checkpoint_wal_bytes,
};
pub use source_tables::SourceTable;
pub use tables::TableStats;
pub use writer::{GroupFile, GroupLoad, NextPage, PageWrite, Writer};

/// The DuckDB database: cheap to clone, shared by the writer, the jobs and the API.
#[derive(Clone)]
pub struct Store {
    database: Arc<Database>,
    /// SQL views waiting for a table they read (see `views`).
    waiting_views: Arc<Mutex<Vec<views::ViewDef>>>,
}

impl Store {
    /// Opens (creating if needed) the database file, creates duckhaul's tables and starts the
    /// writer thread.
    pub fn open(path: &Path, settings: &StoreSettings) -> anyhow::Result<Store> {
        Ok(Store { database: Database::open(path, settings)?, waiting_views: Arc::default() })
    }

    pub fn path(&self) -> &Path {
        self.database.path()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.database.settings().metrics
    }

    /// The disk the database is on.
    pub fn disk(&self) -> &Disk {
        self.database.disk()
    }

    /// The writer of the open database. Hold it for one call only: a reopen waits for every
    /// handle of the old database to be gone.
    pub fn writer(&self) -> anyhow::Result<Writer> {
        Ok(self.database.instance()?.writer())
    }

    /// Runs the query `f` with its own connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        self.on_instance(move |_, conn| f(conn)).await
    }

    /// Runs the bookkeeping write `f` (job and export records, views, settings) in one
    /// transaction, with its own connection on the blocking pool. Data pages go through the
    /// writer instead; every other write comes here.
    pub async fn record<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        self.on_instance(move |instance, conn| {
            let written = transaction::in_transaction(conn, f)?;
            // A view may read what was written here: its row count is taken again.
            instance.rows.changed();
            Ok(written)
        })
        .await
    }

    /// Runs `f` with the open instance and a connection of its own on the blocking pool,
    /// carrying the tracing span.
    async fn on_instance<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Instance, &Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let database = self.database.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            database.run(f)
        })
        .await
        .context("a DuckDB task panicked")?
    }

    /// Gives DuckDB the configured memory limit once per running job. Each job brings its own
    /// working set (an ingest's commits pin a block of every column of its table, an export
    /// buffers a row group): two nested ingests and an export shared one 48 MB limit, a commit
    /// could not allocate, and the rollback left DuckDB's in-memory row group corrupt (the next
    /// checkpoint invalidated the database). Memory stays bounded: by the setting times
    /// `DUCKHAUL_MAX_RUNNING_JOBS`.
    pub async fn share_memory(&self, running_jobs: usize) {
        let Some(limit) = self.database.share_memory(running_jobs) else { return };
        // A lower limit DuckDB cannot reach yet is reached at the writer's next checkpoint.
        if let Err(e) = self.record(move |conn| Ok(conn.execute_batch(&memory_limit_sql(limit))?)).await {
            tracing::debug!(error = %format!("{e:#}"), limit, "memory limit not changed yet");
        }
    }

    /// The database's state now (see `database`).
    pub fn health(&self) -> StoreHealth {
        self.database.health()
    }

    /// Follows the database's state (recovery waits here for a fatal error).
    pub fn watch_health(&self) -> watch::Receiver<StoreHealth> {
        self.database.watch_health()
    }

    /// Closes the invalidated database and opens the file again (DuckDB replays the WAL, so
    /// every committed page is back). Waits up to `wait` for calls still holding the old
    /// instance; new calls fail with `Unavailable` meanwhile. On failure the store is `Lost`.
    pub async fn reopen(&self, wait: Duration) -> anyhow::Result<()> {
        self.database.reopen(wait).await
    }
}
