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
    /// Parquet row groups of exports, in bytes before compression.
    pub export_row_group_bytes: u64,
    /// Where the writer counts rows, pages and commits.
    pub metrics: Metrics,
}

impl Default for StoreSettings {
    /// The service's defaults (see `config`): measured on a 2-core machine, they keep ingest
    /// at ~120 MB peak however many rows, and make BigQuery-sized row groups.
    fn default() -> Self {
        StoreSettings { memory_limit: 48_000_000, threads: 1, export_row_group_bytes: 128_000_000, metrics: Metrics::default() }
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
    settings: StoreSettings,
    /// Snapshots being written; DuckDB's memory limit is raised for them (see
    /// `write_snapshot`). The lock also orders the `SET memory_limit`s.
    snapshots_running: Mutex<u64>,
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
                settings: settings.clone(),
                snapshots_running: Mutex::new(0),
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

    /// Writes a consistent Parquet snapshot of `table` to `out` (see `snapshot`).
    ///
    /// DuckDB's Parquet writer buffers a whole row group, uncompressed, inside its memory
    /// limit, so the limit is raised while snapshots run, to what their row groups need, and
    /// put back after: the rest of the time a low limit keeps ingest's memory flat (DuckDB
    /// otherwise keeps every block it reads or writes cached up to the limit).
    pub async fn write_snapshot(&self, table: &str, range: snapshot::SnapshotRange, out: &Path) -> anyhow::Result<snapshot::Snapshot> {
        let (store, table, out) = (self.clone(), table.to_string(), out.to_path_buf());
        self.read(move |conn| {
            let _raised = SnapshotMemory::raise(&store);
            snapshot::write_parquet(conn, &table, range, &out, store.inner.settings.export_row_group_bytes)
        })
        .await
    }

    /// DuckDB's memory limit for `snapshots` snapshots at once: each holds a row group per
    /// DuckDB thread, and room for as much again plus 16 MB for the blocks it scans (measured,
    /// 1M users in 128 MB groups: 1.2x the group is enough to finish, but evicting and
    /// rereading blocks then makes the export 2.5x slower); never below the configured limit.
    fn memory_limit_for(&self, snapshots: u64) -> u64 {
        let s = &self.inner.settings;
        let per_snapshot = s.export_row_group_bytes * u64::from(s.threads) * 2 + 16_000_000;
        s.memory_limit.max(snapshots * per_snapshot)
    }

    fn set_memory_limit(&self, bytes: u64) {
        let result = self
            .connection()
            .and_then(|c| Ok(c.execute_batch(&format!("SET memory_limit = '{}KiB'", bytes.div_ceil(1024)))?));
        match result {
            Ok(()) => tracing::debug!(bytes, "DuckDB memory limit set"),
            // Lowering fails while DuckDB cannot evict enough; the next change tries again.
            Err(e) => tracing::warn!(bytes, error = %format!("{e:#}"), "cannot change DuckDB's memory limit"),
        }
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

/// Holds DuckDB's memory limit raised for one running snapshot.
struct SnapshotMemory<'a>(&'a Store);

impl<'a> SnapshotMemory<'a> {
    fn raise(store: &'a Store) -> Self {
        let mut running = store.inner.snapshots_running.lock().expect("snapshot lock poisoned");
        let (before, after) = (store.memory_limit_for(*running), store.memory_limit_for(*running + 1));
        *running += 1;
        if after != before {
            store.set_memory_limit(after);
        }
        SnapshotMemory(store)
    }
}

impl Drop for SnapshotMemory<'_> {
    fn drop(&mut self) {
        let store = self.0;
        let mut running = store.inner.snapshots_running.lock().expect("snapshot lock poisoned");
        let (before, after) = (store.memory_limit_for(*running), store.memory_limit_for(*running - 1));
        *running -= 1;
        if after != before {
            store.set_memory_limit(after);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB's memory limit as it reports it (e.g. `45.7 MiB`), in bytes.
    fn memory_limit(store: &Store) -> f64 {
        let conn = store.connection().unwrap();
        let text: String = conn.query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0)).unwrap();
        crate::config::parse_size(&text).unwrap() as f64
    }

    fn assert_near(actual: f64, expected: f64) {
        assert!((actual - expected).abs() / expected < 0.01, "{actual} is not {expected}");
    }

    #[test]
    fn snapshots_raise_the_memory_limit_only_while_they_run() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings { export_row_group_bytes: 64_000_000, ..StoreSettings::default() };
        let store = Store::open(&dir.path().join("t.duckdb"), &settings).unwrap();
        assert_near(memory_limit(&store), 48e6);
        let first = SnapshotMemory::raise(&store);
        // Two 64 MB row groups' worth and 16 MB for the scan.
        assert_near(memory_limit(&store), 144e6);
        let second = SnapshotMemory::raise(&store);
        assert_near(memory_limit(&store), 288e6);
        drop(first);
        assert_near(memory_limit(&store), 144e6);
        drop(second);
        assert_near(memory_limit(&store), 48e6);
    }

    #[test]
    fn small_row_groups_fit_the_configured_limit() {
        let dir = tempfile::tempdir().unwrap();
        let settings = StoreSettings { export_row_group_bytes: 16_000_000, ..StoreSettings::default() };
        let store = Store::open(&dir.path().join("t.duckdb"), &settings).unwrap();
        let raised = SnapshotMemory::raise(&store);
        assert_near(memory_limit(&store), 48e6);
        drop(raised);
    }
}
