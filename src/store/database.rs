//! The database file and the one DuckDB instance open on it: opening it (replaying a WAL that
//! needs more memory than the limit), its health, replacing an instance DuckDB invalidated
//! (`reopen`), the memory limit shared by the running jobs, and the calls made on it.
//!
//! The instance is replaceable: once DuckDB invalidates it every call fails fast with
//! `Unavailable` until `reopen` has closed every connection and opened the file again, which
//! replays the WAL. Callers hold an instance only for one call, never across calls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use duckdb::Connection;
use tokio::sync::watch;

use super::disk::Disk;
use super::error::StoreError;
use super::health::{StoreHealth, Unavailable};
use super::settings::{REPLAY_MEMORY_FLOOR, StoreSettings, memory_limit_sql, temp_dir_limit};
use super::tables::RowCounts;
use super::writer::{self, Writer};

/// The database file, and its open instance.
pub(super) struct Database {
    path: PathBuf,
    settings: StoreSettings,
    disk: Disk,
    /// DuckDB's memory limit now: the setting times the jobs running (`share_memory`).
    memory_limit: Arc<AtomicU64>,
    /// `None` while it is being reopened.
    instance: RwLock<Option<Arc<Instance>>>,
    health: watch::Sender<StoreHealth>,
}

/// One open DuckDB instance of the file.
pub(super) struct Instance {
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
    calls: Mutex<HashMap<u64, Arc<duckdb::InterruptHandle>>>,
    next_call: AtomicU64,
    /// The rows of every data table, kept by the writer (see `tables`).
    pub(super) rows: Arc<RowCounts>,
}

impl Instance {
    /// The writer of this instance.
    pub(super) fn writer(&self) -> Writer {
        self.writer.clone().expect("the writer runs while the database is open")
    }

    fn interrupt_calls(&self) {
        for handle in self.calls.lock().expect("store lock poisoned").values() {
            handle.interrupt();
        }
    }
}

impl Drop for Instance {
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

impl Database {
    /// Opens (creating if needed) the database file, creates duckhaul's tables and starts the
    /// writer thread.
    pub(super) fn open(path: &Path, settings: &StoreSettings) -> anyhow::Result<Arc<Database>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
        }
        let (health, _) = watch::channel(StoreHealth::Ready);
        let database = Arc::new(Database {
            path: path.to_path_buf(),
            settings: settings.clone(),
            disk: Disk::of(path),
            memory_limit: Arc::new(AtomicU64::new(settings.memory_limit)),
            instance: RwLock::new(None),
            health,
        });
        let instance = database.open_instance(1)?;
        *database.instance.write().expect("store lock poisoned") = Some(Arc::new(instance));
        Ok(database)
    }

    fn open_instance(self: &Arc<Self>, generation: u64) -> anyhow::Result<Instance> {
        let (path, settings) = (&self.path, &self.settings);
        let conn = match open_connection(path, settings, settings.memory_limit).map_err(|e| StoreError::opening(&e)) {
            Err(StoreError::OutOfMemory(e)) => {
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
                let conn =
                    open_connection(path, settings, roomier).map_err(|e| StoreError::opening(&e).opening_file(path))?;
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
                let conn = other.map_err(|e| e.opening_file(path))?;
                conn.execute_batch(&memory_limit_sql(self.memory_limit.load(Ordering::Relaxed)))
                    .context("cannot set DuckDB's memory limit after opening")?;
                conn
            }
        };
        conn.execute_batch(super::schema::META_DDL).context("cannot create duckhaul's tables")?;
        let writer_conn = conn.try_clone().context("cannot open the writer's connection")?;
        let rows = Arc::new(RowCounts::count(&writer_conn)?);
        let weak = Arc::downgrade(self);
        let on_fatal: writer::OnFatal = Arc::new(move |reason: &str| {
            if let Some(database) = weak.upgrade() {
                database.report_fatal(generation, reason);
            }
        });
        let options = writer::WriterOptions {
            metrics: settings.metrics.clone(),
            disk: self.disk.clone(),
            wal: wal_path(path),
            checkpoint_wal_bytes: settings.checkpoint_wal_bytes,
            memory_limit: self.memory_limit.clone(),
            checkpoint_memory_limit: settings.checkpoint_memory_limit,
            rows: rows.clone(),
            on_fatal,
        };
        let (writer, thread) = Writer::start(writer_conn, options).context("cannot start the writer")?;
        Ok(Instance {
            generation,
            base: Mutex::new(conn),
            writer: Some(writer),
            writer_thread: Some(thread),
            checkpoint_memory_limit: settings.checkpoint_memory_limit,
            calls: Mutex::default(),
            next_call: AtomicU64::new(0),
            rows,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    pub(super) fn disk(&self) -> &Disk {
        &self.disk
    }

    /// The open instance, or why there is none.
    pub(super) fn instance(&self) -> Result<Arc<Instance>, Unavailable> {
        // Once a fatal error is reported the old instance only fails: say why at once.
        if let Some(problem) = self.health().problem() {
            return Err(Unavailable(problem));
        }
        match self.instance.read().expect("store lock poisoned").as_ref() {
            Some(instance) => Ok(instance.clone()),
            None => Err(Unavailable("the database is not open".into())),
        }
    }

    /// Runs `f` with a connection of its own to the open instance, on this (blocking) thread.
    /// A fatal DuckDB error in `f` is reported, so the database gets reopened.
    pub(super) fn run<T>(&self, f: impl FnOnce(&Instance, &Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let instance = self.instance()?;
        let conn = instance
            .base
            .lock()
            .expect("store lock poisoned")
            .try_clone()
            .context("cannot open a DuckDB connection")?;
        let call = instance.next_call.fetch_add(1, Ordering::Relaxed);
        instance.calls.lock().expect("store lock poisoned").insert(call, conn.interrupt_handle());
        let result = f(&instance, &conn);
        instance.calls.lock().expect("store lock poisoned").remove(&call);
        if let Err(e) = &result
            && let fatal @ StoreError::Fatal(_) = StoreError::classify(e)
        {
            self.report_fatal(instance.generation, fatal.message());
        }
        result
    }

    /// Gives DuckDB the configured memory limit once per running job (see
    /// `Store::share_memory`); the new limit, if it changed.
    pub(super) fn share_memory(&self, running_jobs: usize) -> Option<u64> {
        let limit = self.settings.memory_limit.saturating_mul(running_jobs.max(1) as u64);
        let before = self.memory_limit.swap(limit, Ordering::Relaxed);
        (before != limit).then_some(limit)
    }

    /// The database's state now. A writer thread that has ended (it only ends with its
    /// instance, or by a panic) leaves a database nothing can be written to: that is reported
    /// like a fatal error, so the database is reopened with a new writer rather than every
    /// ingest failing while the health check stays green.
    pub(super) fn health(&self) -> StoreHealth {
        let stopped = self.instance.read().expect("store lock poisoned").as_ref().and_then(|instance| {
            instance.writer_thread.as_ref().is_some_and(|t| t.is_finished()).then_some(instance.generation)
        });
        if let Some(generation) = stopped {
            self.report_fatal(generation, "the DuckDB writer thread stopped");
        }
        self.health.borrow().clone()
    }

    pub(super) fn watch_health(&self) -> watch::Receiver<StoreHealth> {
        self.health.subscribe()
    }

    /// Records that DuckDB invalidated the instance `generation`; the first report of the
    /// current instance marks the store `Reopening` (see `crate::recovery`).
    fn report_fatal(&self, generation: u64, reason: &str) {
        let current = self.instance.read().expect("store lock poisoned").as_ref().map(|i| i.generation);
        if current != Some(generation) {
            return;
        }
        let reported = self.health.send_if_modified(|h| {
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

    /// Closes the invalidated instance and opens the file again (DuckDB replays the WAL, so
    /// every committed page is back). Waits up to `wait` for calls still holding the old
    /// instance; new calls fail with `Unavailable` meanwhile. On failure the store is `Lost`.
    pub(super) async fn reopen(self: &Arc<Self>, wait: Duration) -> anyhow::Result<()> {
        let database = self.clone();
        let result = tokio::task::spawn_blocking(move || database.reopen_blocking(wait))
            .await
            .context("reopening the database panicked")
            .and_then(|r| r);
        match &result {
            Ok(()) => tracing::info!(path = %self.path.display(), "database reopened"),
            Err(e) => {
                self.health.send_replace(StoreHealth::Lost { reason: format!("{e:#}"), since: Utc::now() });
            }
        }
        result
    }

    fn reopen_blocking(self: &Arc<Self>, wait: Duration) -> anyhow::Result<()> {
        let old = self.instance.write().expect("store lock poisoned").take();
        let generation = match old {
            Some(mut instance) => {
                instance.interrupt_calls();
                // Two instances of one file in one process would corrupt it: the old one must
                // be wholly closed (every connection dropped) before the new one opens.
                let started = Instant::now();
                let instance = loop {
                    match Arc::try_unwrap(instance) {
                        Ok(instance) => break instance,
                        Err(shared) if started.elapsed() < wait => {
                            instance = shared;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(_) => anyhow::bail!(
                            "the invalidated database was still in use after {} s; a fresh process must open it",
                            wait.as_secs()
                        ),
                    }
                };
                let generation = instance.generation;
                drop(instance);
                generation
            }
            None => 0,
        };
        let instance = self.open_instance(generation + 1)?;
        let mut slot = self.instance.write().expect("store lock poisoned");
        *slot = Some(Arc::new(instance));
        // Under the lock: a fatal error the new instance reports must find it `Ready`.
        self.health.send_replace(StoreHealth::Ready);
        Ok(())
    }
}

fn open_connection(path: &Path, settings: &StoreSettings, memory_limit: u64) -> duckdb::Result<Connection> {
    // Extensions are built in (parquet); never try to download one at run time.
    // Only the writer checkpoints: by the WAL's size and between jobs (see
    // `checkpoint_wal_bytes`), never inside a hot commit, and with the memory a checkpoint
    // needs. DuckDB's own automatic checkpoint would run inside a commit at the small limit,
    // which is what invalidated the database on nested tables: it is off (a threshold no WAL
    // reaches; a WAL the writer cannot fold, for want of disk, waits for room). The temp
    // folder is named so that rows spilled past the memory limit go beside the database (the
    // disk the free-space checks watch), and set before the WAL replay, which may already
    // spill (it cannot change once used).
    let config = duckdb::Config::default()
        .enable_autoload_extension(false)?
        .max_memory(&format!("{}KiB", memory_limit.div_ceil(1024)))?
        .threads(settings.threads as i64)?
        .with("temp_directory", temp_dir(path).display().to_string())?
        .with("checkpoint_threshold", "10TB")?
        .with("max_temp_directory_size", format!("{}B", temp_dir_limit(settings)))?;
    Connection::open_with_flags(path, config)
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
