//! DuckDB: the database file, its connections, the batch writer and snapshots.
//!
//! All DuckDB calls happen off the async runtime: writes on the writer's own thread
//! (`writer`), reads on `spawn_blocking` with a connection cloned from the shared database.
//!
//! The open database is replaceable: when DuckDB invalidates it (`health`), every call fails
//! fast with `Unavailable` until `reopen` has closed every connection and opened the file
//! again, which replays the WAL. Callers hold a database only for one call, never across calls.

pub mod disk;
pub mod health;
pub mod inspect;
pub mod records;
pub mod schema;
pub mod snapshot;
pub mod source_tables;
pub mod transaction;
pub mod views;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use duckdb::{Connection, params};
use tokio::sync::watch;

use crate::metrics::Metrics;

pub use disk::{Disk, DiskFull};
pub use health::{StoreHealth, Unavailable};
pub use source_tables::SourceTable;
pub use writer::{NextPage, PageWrite, Writer};

/// Settings the database is opened with.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// DuckDB's `memory_limit`, in bytes, while it appends rows and answers queries.
    pub memory_limit: u64,
    /// DuckDB's `memory_limit` while the writer checkpoints, and when the database closes
    /// (see `checkpoint_memory_limit`).
    pub checkpoint_memory_limit: u64,
    /// DuckDB worker threads.
    pub threads: u32,
    /// The writer checkpoints once the WAL has grown this big (see `writer`).
    pub checkpoint_wal_bytes: u64,
    /// Where the writer counts rows, pages and commits.
    pub metrics: Metrics,
}

impl StoreSettings {
    /// The service's defaults (see `config` and BENCHMARKS.md for the measurements).
    pub fn new(memory_limit: u64, threads: u32, metrics: Metrics) -> StoreSettings {
        StoreSettings {
            memory_limit,
            checkpoint_memory_limit: checkpoint_memory_limit(memory_limit),
            threads,
            checkpoint_wal_bytes: checkpoint_wal_bytes(memory_limit),
            metrics,
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings::new(DEFAULT_MEMORY_LIMIT, 1, Metrics::default())
    }
}

/// DuckDB's memory limit when none is configured.
pub const DEFAULT_MEMORY_LIMIT: u64 = 48_000_000;

/// How big the WAL may grow before the writer checkpoints, for a memory limit.
///
/// Rows committed since the last checkpoint live in DuckDB's buffer pool as uncompressed
/// in-memory row groups, and spill to the temp folder past the memory limit; the WAL's size
/// tracks them, so this bounds them (and the time to replay the WAL after a crash: a 232 MB
/// WAL of companies replayed within 48 MB in 2.2 s, one of 777 MB did not fit, see
/// `open_database`). Not lower: a checkpoint rewrites the row group it appends to (122,880
/// rows), so checkpointing every few tens of thousands of wide rows (products: ~40,000 a
/// 48 MB WAL) compressed each row group several times over.
pub fn checkpoint_wal_bytes(memory_limit: u64) -> u64 {
    memory_limit.max(CHECKPOINT_WAL_FLOOR)
}

/// The least WAL a checkpoint waits for (see `checkpoint_wal_bytes`).
pub const CHECKPOINT_WAL_FLOOR: u64 = 128 << 20;

/// DuckDB's memory limit while a checkpoint runs (and while opening replays the WAL).
///
/// A checkpoint compresses every column of each changed row group and holds a partial block
/// per column until the group is written: its memory grows with the number of leaf columns,
/// not with the rows. Companies (STRUCT and LIST of STRUCT, ~40 leaf columns) failed to
/// checkpoint within 48 MB at any WAL size ("failed to allocate data of size 6.0 MiB
/// (41.9 MiB/45.7 MiB used)"), which invalidated the database. Raising the limit only around
/// the checkpoint keeps the block cache small the rest of the time; the limit is a ceiling,
/// and a checkpoint of narrow rows takes no more than before.
pub fn checkpoint_memory_limit(memory_limit: u64) -> u64 {
    memory_limit.max(CHECKPOINT_MEMORY_CAP)
}

/// The most memory a checkpoint is given (unless the plain limit is higher): the writer
/// gives each checkpoint what the width of its tables needs, up to this (`writer`). Companies
/// needed more than 48 MB and succeeded with 64 MB at 300,000 rows; the writer gives them
/// ~103 MB. A custom table of many fields gets up to this.
pub const CHECKPOINT_MEMORY_CAP: u64 = 160_000_000;

/// The DuckDB database: cheap to clone, shared by the writer, the jobs and the API.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    settings: StoreSettings,
    disk: Disk,
    /// DuckDB's memory limit now: the setting times the jobs running (`share_memory`).
    memory_limit: Arc<std::sync::atomic::AtomicU64>,
    /// `None` while it is being reopened.
    db: RwLock<Option<Arc<Database>>>,
    health: watch::Sender<StoreHealth>,
    /// SQL views waiting for a table they read (see `views`).
    waiting_views: Mutex<Vec<views::ViewDef>>,
}

/// One open DuckDB instance of the file.
struct Database {
    /// Counts reopenings, so a fatal error an old instance reports late is not taken for one
    /// of the instance that replaced it.
    generation: u64,
    /// Every other connection is cloned from this one, so all share one database instance
    /// (DuckDB allows a single process to hold the file).
    base: Mutex<Connection>,
    /// `None` only while dropping.
    writer: Option<Writer>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// DuckDB checkpoints the WAL when the last connection closes: with this memory limit.
    checkpoint_memory_limit: u64,
    /// Calls running now (`Store::read`, `Store::record`), to interrupt when the instance is
    /// invalidated: a long query must not hold up the reopen.
    calls: Mutex<std::collections::HashMap<u64, Arc<duckdb::InterruptHandle>>>,
    next_call: std::sync::atomic::AtomicU64,
}

impl Database {
    fn interrupt_calls(&self) {
        for handle in self.calls.lock().expect("store lock poisoned").values() {
            handle.interrupt();
        }
    }
}

impl Drop for Database {
    /// Closes the writer's queue and waits for its thread, so that once the last handle is
    /// gone every connection is closed and the file can be opened again (by a restart or a
    /// reopen).
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.stop();
        }
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
        if let Ok(conn) = self.base.lock() {
            let _ = conn.execute_batch(&memory_limit_sql(self.checkpoint_memory_limit));
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
        let (health, _) = watch::channel(StoreHealth::Ready);
        let store = Store {
            inner: Arc::new(Shared {
                path: path.to_path_buf(),
                settings: settings.clone(),
                disk: Disk::of(path),
                memory_limit: Arc::new(std::sync::atomic::AtomicU64::new(settings.memory_limit)),
                db: RwLock::new(None),
                health,
                waiting_views: Mutex::default(),
            }),
        };
        let db = store.open_database(1)?;
        *store.inner.db.write().expect("store lock poisoned") = Some(Arc::new(db));
        Ok(store)
    }

    fn open_database(&self, generation: u64) -> anyhow::Result<Database> {
        let (path, settings) = (&self.inner.path, &self.inner.settings);
        let conn = match open_connection(path, settings, settings.memory_limit) {
            Err(e) if is_out_of_memory(&e.to_string()) => {
                // Opening replays the WAL, all of it in memory, then checkpoints it. A WAL
                // written under a larger limit (another setting, an older version, a crash)
                // can need more than this one: replay it with room to spare, once, then come
                // back to the configured limit. Refusing to start would leave a database no
                // instance can open, and Cloud Run restarting it forever.
                let roomier = settings.checkpoint_memory_limit.saturating_mul(2).max(REPLAY_MEMORY_FLOOR);
                tracing::warn!(
                    error = %e,
                    memory_limit = settings.memory_limit,
                    replay_memory_limit = roomier,
                    "the WAL does not replay within the memory limit; replaying it with more"
                );
                let conn = open_connection(path, settings, roomier).map_err(|e| open_error(path, e))?;
                // Fold the replayed rows into the file while the room is there, then come back
                // to the configured limit; what cannot be freed yet is freed by the writer's
                // next checkpoint, which lowers the limit again.
                conn.execute_batch("CHECKPOINT").context("cannot checkpoint the replayed WAL")?;
                if let Err(e) = conn.execute_batch(&memory_limit_sql(settings.memory_limit)) {
                    tracing::warn!(error = %e, "DuckDB keeps the replay's memory limit until the next checkpoint");
                }
                conn
            }
            other => {
                let conn = other.map_err(|e| open_error(path, e))?;
                conn.execute_batch(&memory_limit_sql(
                    self.inner.memory_limit.load(std::sync::atomic::Ordering::Relaxed),
                ))
                .context("cannot set DuckDB's memory limit after opening")?;
                conn
            }
        };
        conn.execute_batch(schema::META_DDL).context("cannot create duckhaul's tables")?;
        let writer_conn = conn.try_clone().context("cannot open the writer's connection")?;
        let weak = Arc::downgrade(&self.inner);
        let on_fatal: writer::OnFatal = Arc::new(move |reason: String| {
            if let Some(inner) = weak.upgrade() {
                Store { inner }.report_fatal(generation, &reason);
            }
        });
        let options = writer::WriterOptions {
            metrics: settings.metrics.clone(),
            disk: self.inner.disk.clone(),
            wal: wal_path(path),
            checkpoint_wal_bytes: settings.checkpoint_wal_bytes,
            memory_limit: self.inner.memory_limit.clone(),
            checkpoint_memory_limit: settings.checkpoint_memory_limit,
            on_fatal,
        };
        let (writer, thread) = Writer::start(writer_conn, options).context("cannot start the writer")?;
        Ok(Database {
            generation,
            base: Mutex::new(conn),
            writer: Some(writer),
            writer_thread: Some(thread),
            checkpoint_memory_limit: settings.checkpoint_memory_limit,
            calls: Mutex::default(),
            next_call: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.settings.metrics
    }

    /// The disk the database is on.
    pub fn disk(&self) -> &Disk {
        &self.inner.disk
    }

    /// The open database, or why there is none.
    fn database(&self) -> Result<Arc<Database>, Unavailable> {
        // Once a fatal error is reported the old instance only fails: say why at once.
        if let Some(problem) = self.health().problem() {
            return Err(Unavailable(problem));
        }
        match self.inner.db.read().expect("store lock poisoned").as_ref() {
            Some(db) => Ok(db.clone()),
            None => Err(Unavailable("the database is not open".into())),
        }
    }

    /// The writer of the open database. Hold it for one call only: a reopen waits for every
    /// handle of the old database to be gone.
    pub fn writer(&self) -> anyhow::Result<Writer> {
        let db = self.database()?;
        Ok(db.writer.clone().expect("the writer runs while the database is open"))
    }

    /// Runs the query `f` with its own connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        self.with_connection(f).await
    }

    /// Runs the bookkeeping write `f` (job and export records, views) in one transaction, with
    /// its own connection on the blocking pool. Data pages go through the writer instead.
    pub async fn record<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        self.with_connection(move |conn| transaction::in_transaction(conn, f)).await
    }

    /// Runs `f` with its own connection on the blocking pool, carrying the tracing span. A
    /// fatal DuckDB error in `f` is reported, so the database gets reopened.
    async fn with_connection<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let store = self.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let db = store.database()?;
            let conn =
                db.base.lock().expect("store lock poisoned").try_clone().context("cannot open a DuckDB connection")?;
            let call = db.next_call.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            db.calls.lock().expect("store lock poisoned").insert(call, conn.interrupt_handle());
            let result = f(&conn);
            db.calls.lock().expect("store lock poisoned").remove(&call);
            if let Err(e) = &result {
                let text = format!("{e:#}");
                if health::is_fatal(&text) {
                    store.report_fatal(db.generation, &text);
                }
            }
            result
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
        let limit = self.inner.settings.memory_limit.saturating_mul(running_jobs.max(1) as u64);
        let before = self.inner.memory_limit.swap(limit, std::sync::atomic::Ordering::Relaxed);
        if before == limit {
            return;
        }
        // A lower limit DuckDB cannot reach yet is reached at the writer's next checkpoint.
        if let Err(e) = self.with_connection(move |conn| Ok(conn.execute_batch(&memory_limit_sql(limit))?)).await {
            tracing::debug!(error = %format!("{e:#}"), limit, "memory limit not changed yet");
        }
    }

    /// The database's state now. A writer thread that has ended (it only ends with its
    /// database, or by a panic) leaves a database nothing can be written to: that is reported
    /// like a fatal error, so the database is reopened with a new writer rather than every
    /// ingest failing while the health check stays green.
    pub fn health(&self) -> StoreHealth {
        let stopped = self
            .inner
            .db
            .read()
            .expect("store lock poisoned")
            .as_ref()
            .and_then(|db| db.writer_thread.as_ref().is_some_and(|t| t.is_finished()).then_some(db.generation));
        if let Some(generation) = stopped {
            self.report_fatal(generation, "the DuckDB writer thread stopped");
        }
        self.inner.health.borrow().clone()
    }

    /// Follows the database's state (recovery waits here for a fatal error).
    pub fn watch_health(&self) -> watch::Receiver<StoreHealth> {
        self.inner.health.subscribe()
    }

    /// Records that DuckDB invalidated the database instance `generation`; the first report
    /// of the current instance marks the store `Reopening` (see `crate::recovery`).
    pub fn report_fatal(&self, generation: u64, reason: &str) {
        let current = self.inner.db.read().expect("store lock poisoned").as_ref().map(|db| db.generation);
        if current != Some(generation) {
            return;
        }
        let reported = self.inner.health.send_if_modified(|h| {
            if h.is_ready() {
                *h = StoreHealth::Reopening { reason: reason.to_string(), since: Utc::now() };
                true
            } else {
                false
            }
        });
        if reported {
            tracing::error!(reason, "DuckDB invalidated the database; it will be reopened");
        }
    }

    /// Closes the invalidated database and opens the file again (DuckDB replays the WAL, so
    /// every committed page is back). Waits up to `wait` for calls still holding the old
    /// instance; new calls fail with `Unavailable` meanwhile. On failure the store is `Lost`.
    pub async fn reopen(&self, wait: Duration) -> anyhow::Result<()> {
        let store = self.clone();
        let result = tokio::task::spawn_blocking(move || store.reopen_blocking(wait))
            .await
            .context("reopening the database panicked")
            .and_then(|r| r);
        match &result {
            Ok(()) => tracing::info!(path = %self.inner.path.display(), "database reopened"),
            Err(e) => {
                self.inner.health.send_replace(StoreHealth::Lost { reason: format!("{e:#}"), since: Utc::now() });
            }
        }
        result
    }

    fn reopen_blocking(&self, wait: Duration) -> anyhow::Result<()> {
        let old = self.inner.db.write().expect("store lock poisoned").take();
        let generation = match old {
            Some(mut db) => {
                db.interrupt_calls();
                // Two instances of one file in one process would corrupt it: the old one must
                // be wholly closed (every connection dropped) before the new one opens.
                let started = Instant::now();
                let db = loop {
                    match Arc::try_unwrap(db) {
                        Ok(db) => break db,
                        Err(shared) if started.elapsed() < wait => {
                            db = shared;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(_) => anyhow::bail!(
                            "the invalidated database was still in use after {} s; a fresh process must open it",
                            wait.as_secs()
                        ),
                    }
                };
                let generation = db.generation;
                drop(db);
                generation
            }
            None => 0,
        };
        let db = self.open_database(generation + 1)?;
        let mut slot = self.inner.db.write().expect("store lock poisoned");
        *slot = Some(Arc::new(db));
        // Under the lock: a fatal error the new instance reports must find it `Ready`.
        self.inner.health.send_replace(StoreHealth::Ready);
        Ok(())
    }

    /// Creates the SQL views `defs` and drops recorded views that are not among them. Views
    /// over tables that do not exist yet wait: `ensure_table` tries them again when a table
    /// is created.
    pub async fn apply_views(&self, defs: Vec<views::ViewDef>) -> anyhow::Result<()> {
        let applied = self.with_connection(move |conn| views::apply(conn, &defs)).await?;
        self.note_views(applied);
        Ok(())
    }

    /// Creates the data table `name` for `resource` with `ddl` unless it exists with it (it
    /// fails if it exists with other columns), through the writer, then the views that were
    /// waiting for a table.
    pub async fn ensure_table(&self, name: &str, resource: &str, ddl: &str) -> anyhow::Result<()> {
        self.writer()?.ensure_table(name, resource, ddl, None).await?;
        self.create_waiting_views().await;
        Ok(())
    }

    /// `ensure_table` for a described source's table, recording its columns with it (in the
    /// same transaction) for the pages, resumes and schema commands after.
    pub async fn ensure_source_table(&self, table: SourceTable, ddl: &str) -> anyhow::Result<()> {
        let (name, label) = (table.name.clone(), table.label());
        self.writer()?.ensure_table(&name, &label, ddl, Some(table)).await?;
        self.create_waiting_views().await;
        Ok(())
    }

    /// The table `name` if a described source's ingest created it, with its recorded columns.
    pub async fn source_table(&self, name: &str) -> anyhow::Result<Option<SourceTable>> {
        let name = name.to_owned();
        self.read(move |conn| source_tables::get(conn, &name)).await
    }

    async fn create_waiting_views(&self) {
        let waiting = std::mem::take(&mut *self.inner.waiting_views.lock().expect("views lock poisoned"));
        if waiting.is_empty() {
            return;
        }
        match self.with_connection(move |conn| views::create_all(conn, &waiting)).await {
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
        *self.inner.waiting_views.lock().expect("views lock poisoned") =
            applied.waiting.into_iter().map(|(d, _)| d).collect();
    }

    /// Every data table and view with its row count.
    pub async fn tables(&self) -> anyhow::Result<Vec<TableStats>> {
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

/// The least memory a WAL replay that failed within the configured limit is retried with:
/// enough for a WAL of several hundred MB (BENCHMARKS.md, stress matrix), within the 2 GiB
/// the Cloud Run manifests give the container.
const REPLAY_MEMORY_FLOOR: u64 = 512 << 20;

fn open_connection(path: &Path, settings: &StoreSettings, memory_limit: u64) -> duckdb::Result<Connection> {
    // Extensions are built in (parquet); never try to download one at run time.
    // Only the writer checkpoints: by the WAL's size and between jobs (see
    // `checkpoint_wal_bytes`), never inside a hot commit, and with the memory a checkpoint
    // needs. DuckDB's own automatic checkpoint would run inside a commit at the small limit,
    // which is what invalidated the database on nested tables: it is off (a threshold no WAL
    // reaches; a WAL the writer cannot fold, for want of disk, waits for room). The temp
    // folder is named so that rows spilled
    // past the memory limit go beside the database (the disk the free-space checks watch),
    // and set before the WAL replay, which may already spill (it cannot change once used).
    let config = duckdb::Config::default()
        .enable_autoload_extension(false)?
        .max_memory(&format!("{}KiB", memory_limit.div_ceil(1024)))?
        .threads(settings.threads as i64)?
        .with("temp_directory", temp_dir(path).display().to_string())?
        .with("checkpoint_threshold", "10TB")?
        .with("max_temp_directory_size", format!("{}B", temp_dir_limit(settings)))?;
    Connection::open_with_flags(path, config)
}

/// The statement that sets DuckDB's memory limit to `bytes`.
pub(crate) fn memory_limit_sql(bytes: u64) -> String {
    format!("SET memory_limit = '{}KiB'", bytes.div_ceil(1024))
}

fn is_out_of_memory(message: &str) -> bool {
    ["could not allocate", "failed to allocate", "failed to pin", "Out of Memory"].iter().any(|w| message.contains(w))
}

fn open_error(path: &Path, e: duckdb::Error) -> anyhow::Error {
    let text = e.to_string();
    // DuckDB's words for a file another process holds ("Could not set lock on file", with
    // "Conflicting lock is held"); not any message with "block" in it.
    if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        anyhow::anyhow!(
            "the database {} is in use by another process (DuckDB allows one process per file): {text}",
            path.display()
        )
    } else {
        anyhow::anyhow!("cannot open the database {}: {text}", path.display())
    }
}

/// The most DuckDB may spill to its temp folder. What it spills is the rows not yet
/// checkpointed past the memory limit (bounded by the WAL threshold, the memory limit), a
/// checkpoint's and an export's working set: a few times the checkpoint's limit is room to
/// spare, and a bound on the disk that the free-space checks do not watch commit by commit.
fn temp_dir_limit(settings: &StoreSettings) -> u64 {
    settings.checkpoint_memory_limit.saturating_mul(8)
}

/// DuckDB's WAL beside the database file.
pub fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".wal");
    database.with_file_name(name)
}

/// Where DuckDB spills what exceeds its memory limit: beside the database, like its WAL.
pub fn temp_dir(database: &Path) -> PathBuf {
    let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    database.with_file_name(name)
}
