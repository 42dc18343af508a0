//! DuckDB: the database file, its connections, the batch writer and snapshots.
//!
//! All DuckDB calls happen off the async runtime: writes on the writer's own thread
//! (`writer`), reads on `spawn_blocking` with a connection cloned from the shared database.

pub mod inspect;
pub mod records;
pub mod schema;
pub mod snapshot;
pub mod views;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use duckdb::{Connection, params};

use crate::metrics::Metrics;

pub use writer::{PageWrite, Writer};

/// Settings the database is opened with.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// DuckDB's `memory_limit`, in bytes.
    pub memory_limit: u64,
    /// DuckDB worker threads.
    pub threads: u32,
    /// Where the writer counts rows, pages and commits.
    pub metrics: Metrics,
}

impl Default for StoreSettings {
    /// The service's defaults (see `config`): measured on a 2-core machine, they keep the
    /// process at ~120 MB peak however many rows are ingested.
    fn default() -> Self {
        StoreSettings { memory_limit: 48_000_000, threads: 1, metrics: Metrics::default() }
    }
}

/// The DuckDB database: cheap to clone, shared by the writer, the jobs and the API.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The application's metrics; the writer, jobs and exports count into them.
    metrics: Metrics,
    /// Every other connection is cloned from this one, so all share one database instance
    /// (DuckDB allows a single process to hold the file).
    base: Mutex<Connection>,
    /// `None` only while dropping.
    writer: Option<Writer>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// SQL views waiting for a table they read (see `views`).
    waiting_views: Mutex<Vec<views::ViewDef>>,
}

impl Drop for Inner {
    /// Closes the writer's queue and waits for its thread, so that once the last handle is
    /// gone every connection is closed and the file can be opened again (by a restart).
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

/// A data table and its row count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TableStats {
    pub name: String,
    /// The resource the table holds (`custom` for request-named tables).
    pub resource: String,
    pub rows: u64,
}

impl Store {
    /// Opens (creating if needed) the database file, creates duckhaul's tables and starts the
    /// writer thread.
    pub fn open(path: &Path, settings: &StoreSettings) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
        }
        // Extensions are built in (parquet); never try to download one at run time.
        let config = duckdb::Config::default()
            .enable_autoload_extension(false)
            .and_then(|c| c.max_memory(&format!("{}KiB", settings.memory_limit.div_ceil(1024))))
            .and_then(|c| c.threads(settings.threads as i64))
            .context("invalid DuckDB settings")?;
        let conn = Connection::open_with_flags(path, config).map_err(|e| open_error(path, e))?;
        // Commits never checkpoint on their own below this size: the writer checkpoints
        // deliberately between jobs, where it costs no ingest latency (DESIGN.md: a commit
        // that crosses the default 16 MB threshold takes ~3x longer).
        conn.execute_batch("SET checkpoint_threshold = '1GB';")
            .context("cannot configure DuckDB")?;
        conn.execute_batch(schema::META_DDL).context("cannot create duckhaul's tables")?;
        let writer_conn = conn.try_clone().context("cannot open the writer's connection")?;
        let (writer, thread) = Writer::start(writer_conn, settings.metrics.clone()).context("cannot start the writer")?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                metrics: settings.metrics.clone(),
                base: Mutex::new(conn),
                writer: Some(writer),
                writer_thread: Some(thread),
                waiting_views: Mutex::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn writer(&self) -> &Writer {
        self.inner.writer.as_ref().expect("the writer runs while the store is open")
    }

    /// A fresh connection to the shared database, for use on a blocking thread.
    pub fn connection(&self) -> anyhow::Result<Connection> {
        let base = self.inner.base.lock().expect("store lock poisoned");
        base.try_clone().context("cannot open a DuckDB connection")
    }

    /// Runs `f` with its own connection on the blocking pool, carrying the tracing span.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let store = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let conn = store.connection()?;
            f(&conn)
        })
        .await
        .context("a DuckDB task panicked")?
    }

    /// Creates the SQL views `defs` and drops recorded views that are not among them. Views
    /// over tables that do not exist yet wait: `tables()` tries them again.
    pub async fn apply_views(&self, defs: Vec<views::ViewDef>) -> anyhow::Result<()> {
        let applied = self.read(move |conn| views::apply(conn, &defs)).await?;
        self.note_views(applied);
        Ok(())
    }

    async fn create_waiting_views(&self) {
        let waiting = std::mem::take(&mut *self.inner.waiting_views.lock().expect("views lock poisoned"));
        if waiting.is_empty() {
            return;
        }
        match self.read(move |conn| views::create_all(conn, &waiting)).await {
            Ok(applied) => self.note_views(applied),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "a waiting view cannot be created"),
        }
    }

    fn note_views(&self, applied: views::Applied) {
        for name in &applied.created {
            tracing::info!(view = name, "view created");
        }
        for (def, reason) in &applied.waiting {
            tracing::warn!(view = def.name, reason, "view waits for a table it reads");
        }
        *self.inner.waiting_views.lock().expect("views lock poisoned") = applied.waiting.into_iter().map(|(d, _)| d).collect();
    }

    /// Every data table and view with its row count.
    pub async fn tables(&self) -> anyhow::Result<Vec<TableStats>> {
        self.create_waiting_views().await;
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT name, resource FROM duckhaul_tables ORDER BY name")?;
            let tables: Vec<(String, String)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            tables
                .into_iter()
                .map(|(name, resource)| {
                    let sql = format!("SELECT count(*) FROM {}", crate::catalog::quote_ident(&name));
                    let rows: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
                    Ok(TableStats { name, resource, rows: rows as u64 })
                })
                .collect()
        })
        .await
    }

    /// The last successful export of each table.
    pub async fn last_exports(&self) -> anyhow::Result<Vec<records::ExportRow>> {
        self.read(|conn| Ok(records::last_exports(conn)?)).await
    }

    /// The DDL a data table was created with, if it exists.
    pub async fn table_ddl(&self, table: &str) -> anyhow::Result<Option<(String, String)>> {
        let table = table.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare("SELECT resource, ddl FROM duckhaul_tables WHERE name = ?")?;
            let mut rows = stmt.query(params![table])?;
            Ok(match rows.next()? {
                Some(r) => Some((r.get(0)?, r.get(1)?)),
                None => None,
            })
        })
        .await
    }
}

fn open_error(path: &Path, e: duckdb::Error) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("lock") {
        anyhow::anyhow!(
            "the database {} is in use by another process (DuckDB allows one process per file): {text}",
            path.display()
        )
    } else {
        anyhow::anyhow!("cannot open the database {}: {text}", path.display())
    }
}
