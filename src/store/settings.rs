//! The settings the database is opened with, and the memory and WAL sizes derived from them
//! (BENCHMARKS.md has the measurements behind each).

use crate::metrics::Metrics;

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

/// The least memory a WAL replay that failed within the configured limit is retried with:
/// enough for a WAL of several hundred MB (BENCHMARKS.md, stress matrix), within the 2 GiB
/// the Cloud Run manifests give the container.
pub(super) const REPLAY_MEMORY_FLOOR: u64 = 512 << 20;

/// The statement that sets DuckDB's memory limit to `bytes`.
pub(crate) fn memory_limit_sql(bytes: u64) -> String {
    format!("SET memory_limit = '{}KiB'", bytes.div_ceil(1024))
}

/// The most DuckDB may spill to its temp folder. What it spills is the rows not yet
/// checkpointed past the memory limit (bounded by the WAL threshold, the memory limit), a
/// checkpoint's and an export's working set: a few times the checkpoint's limit is room to
/// spare, and a bound on the disk that the free-space checks do not watch commit by commit.
pub(super) fn temp_dir_limit(settings: &StoreSettings) -> u64 {
    settings.checkpoint_memory_limit.saturating_mul(8)
}
