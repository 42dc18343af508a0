//! duckhaul's bookkeeping rows: job records, committed pages and export records. Plain
//! functions over a connection, called on a blocking thread (see `Store::read` and `Store::record`).

use chrono::{DateTime, Utc};
use duckdb::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use duckdb::{Connection, OptionalExt, Row, params};
use serde::{Deserialize, Serialize};

/// A job as stored in `duckhaul_jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    /// The request as JSON.
    pub request: String,
    pub target_table: Option<String>,
    pub base_seed: Option<i64>,
    pub pages_total: u64,
    pub pages_done: u64,
    pub rows: u64,
    pub error: Option<String>,
    /// Kind-specific details as JSON (failed pages, exported objects).
    pub details: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str = "id, kind, state, request, target_table, base_seed, pages_total, pages_done, rows, error, details, created_at, started_at, finished_at";

fn job_from_row(r: &Row<'_>) -> duckdb::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        state: r.get(2)?,
        request: r.get(3)?,
        target_table: r.get(4)?,
        base_seed: r.get(5)?,
        pages_total: r.get::<_, i64>(6)? as u64,
        pages_done: r.get::<_, i64>(7)? as u64,
        rows: r.get::<_, i64>(8)? as u64,
        error: r.get(9)?,
        details: r.get::<_, Option<String>>(10)?.unwrap_or_else(|| "{}".into()),
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
    })
}

/// Inserts or replaces a job record.
pub fn save_job(conn: &Connection, job: &JobRow) -> duckdb::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO duckhaul_jobs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        params![
            job.id,
            job.kind,
            job.state,
            job.request,
            job.target_table,
            job.base_seed,
            job.pages_total as i64,
            job.pages_done as i64,
            job.rows as i64,
            job.error,
            job.details,
            job.created_at,
            job.started_at,
            job.finished_at
        ],
    )?;
    Ok(())
}

/// Saves a new job together with the idempotency key that started it. Called in one
/// transaction (`Store::record`), so a crash cannot leave a job without its key (and a
/// retried request start a second one).
pub fn save_job_with_key(conn: &Connection, job: &JobRow, key: &str, request: &str) -> duckdb::Result<()> {
    save_job(conn, job)?;
    conn.execute(
        "INSERT INTO duckhaul_idempotency (kind, key, request, job_id, created_at) VALUES (?, ?, ?, ?, now())",
        params![job.kind, key, request, job.id],
    )?;
    Ok(())
}

/// The job an idempotency key started, with the request it came with.
pub fn find_key(conn: &Connection, kind: &str, key: &str) -> duckdb::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT job_id, request FROM duckhaul_idempotency WHERE kind = ? AND key = ?",
        params![kind, key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The idempotency key a job was started with, and the request it came with.
pub fn key_of_job(conn: &Connection, job_id: &str) -> duckdb::Result<Option<(String, String)>> {
    conn.query_row("SELECT key, request FROM duckhaul_idempotency WHERE job_id = ?", params![job_id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// The ids of every job this database knows.
pub fn job_ids(conn: &Connection) -> duckdb::Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare("SELECT id FROM duckhaul_jobs")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

pub fn get_job(conn: &Connection, id: &str) -> duckdb::Result<Option<JobRow>> {
    conn.query_row(&format!("SELECT {JOB_COLUMNS} FROM duckhaul_jobs WHERE id = ?"), params![id], job_from_row)
        .optional()
}

/// The most recent jobs, newest first.
pub fn recent_jobs(conn: &Connection, limit: usize) -> duckdb::Result<Vec<JobRow>> {
    let mut stmt =
        conn.prepare(&format!("SELECT {JOB_COLUMNS} FROM duckhaul_jobs ORDER BY created_at DESC, id DESC LIMIT ?"))?;
    stmt.query_map(params![limit as i64], job_from_row)?.collect()
}

/// Marks jobs that were queued or running when the process last stopped as `interrupted`,
/// filling in what their committed pages say; returns how many there were.
pub fn mark_unfinished_interrupted(conn: &Connection) -> duckdb::Result<usize> {
    conn.execute(
        "UPDATE duckhaul_jobs j SET state = 'interrupted',
             pages_done = (SELECT count(*) FROM duckhaul_pages p WHERE p.job_id = j.id),
             rows = (SELECT coalesce(sum(rows), 0) FROM duckhaul_pages p WHERE p.job_id = j.id),
             error = 'the process stopped while this job was running'
         WHERE state IN ('queued', 'running')",
        [],
    )
}

/// Interrupted ingest jobs, oldest first: resumed at start (see `crate::recovery`).
pub fn interrupted_ingests(conn: &Connection) -> duckdb::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT id FROM duckhaul_jobs WHERE kind = 'ingest' AND state = 'interrupted' ORDER BY id")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// The pages of a job already committed (with their rows), for resuming it.
pub fn committed_pages(conn: &Connection, job_id: &str) -> duckdb::Result<Vec<(u32, u64)>> {
    let mut stmt = conn.prepare("SELECT page, rows FROM duckhaul_pages WHERE job_id = ? ORDER BY page")?;
    stmt.query_map(params![job_id], |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u64)))?.collect()
}

/// The last page a followed job (cursor, next URL) committed, with where it said the next page
/// is (`None`: it was the last); `None` when the job has committed no page.
pub fn last_followed_page(conn: &Connection, job_id: &str) -> duckdb::Result<Option<(u32, Option<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT page, next_position FROM duckhaul_page_positions WHERE job_id = ? ORDER BY page DESC LIMIT 1",
    )?;
    stmt.query_map(params![job_id], |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?)))?.next().transpose()
}

/// Which rows an export took, as `duckhaul_exports.mode` and the manifest spell it: every row,
/// the rows since the table's last export, or the rows of one ingest job (a task's part of a
/// split run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    Snapshot,
    Incremental,
    Part,
}

/// Whether one table's export reached its destination, as `duckhaul_exports.state` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    Succeeded,
    Failed,
}

impl ExportKind {
    const ALL: [ExportKind; 3] = [ExportKind::Snapshot, ExportKind::Incremental, ExportKind::Part];

    /// The word stored (older databases hold it too: it never changes).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Snapshot => "snapshot",
            ExportKind::Incremental => "incremental",
            ExportKind::Part => "part",
        }
    }
}

impl ExportState {
    const ALL: [ExportState; 2] = [ExportState::Succeeded, ExportState::Failed];

    /// The word stored (older databases hold it too: it never changes).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Succeeded => "succeeded",
            ExportState::Failed => "failed",
        }
    }
}

impl ToSql for ExportKind {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExportKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        stored_word(value, &ExportKind::ALL, |k| k.as_str())
    }
}

impl ToSql for ExportState {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExportState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        stored_word(value, &ExportState::ALL, |s| s.as_str())
    }
}

/// The one of `all` stored as `value`. An unknown word is an error, not a guess: a newer
/// duckhaul wrote the row.
fn stored_word<T: Copy>(value: ValueRef<'_>, all: &[T], word: fn(T) -> &'static str) -> FromSqlResult<T> {
    let stored = value.as_str()?;
    all.iter()
        .copied()
        .find(|t| word(*t) == stored)
        .ok_or_else(|| FromSqlError::Other(format!("unknown word {stored:?} in duckhaul_exports").into()))
}

/// One table's part of an export, as stored in `duckhaul_exports`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub export_id: String,
    pub table_name: String,
    pub mode: ExportKind,
    pub state: ExportState,
    pub uri: Option<String>,
    pub manifest_uri: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub crc32c: Option<u32>,
    pub commit_from: i64,
    pub commit_to: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

const EXPORT_COLUMNS: &str = "export_id, table_name, mode, state, uri, manifest_uri, rows, bytes, crc32c, commit_from, commit_to, error, created_at";

fn export_from_row(r: &Row<'_>) -> duckdb::Result<ExportRow> {
    Ok(ExportRow {
        export_id: r.get(0)?,
        table_name: r.get(1)?,
        mode: r.get(2)?,
        state: r.get(3)?,
        uri: r.get(4)?,
        manifest_uri: r.get(5)?,
        rows: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        bytes: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        crc32c: r.get(8)?,
        commit_from: r.get(9)?,
        commit_to: r.get(10)?,
        error: r.get(11)?,
        created_at: r.get(12)?,
    })
}

pub fn save_export(conn: &Connection, e: &ExportRow) -> duckdb::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO duckhaul_exports ({EXPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        params![
            e.export_id,
            e.table_name,
            e.mode,
            e.state,
            e.uri,
            e.manifest_uri,
            e.rows.map(|v| v as i64),
            e.bytes.map(|v| v as i64),
            e.crc32c,
            e.commit_from,
            e.commit_to,
            e.error,
            e.created_at
        ],
    )?;
    Ok(())
}

/// An export recorded here as failed whose objects were written after all (its intent was
/// settled: see `crate::durable`) is recorded succeeded, so its rows are not exported again.
pub fn mark_export_written(
    conn: &Connection,
    export_id: &str,
    table: &str,
    uri: &str,
    manifest_uri: &str,
) -> duckdb::Result<usize> {
    conn.execute(
        "UPDATE duckhaul_exports SET state = ?, uri = ?, manifest_uri = ?, error = NULL          WHERE export_id = ? AND table_name = ?",
        params![ExportState::Succeeded, uri, manifest_uri, export_id, table],
    )
}

/// The commit sequence up to which `table` has been exported successfully (0: never).
pub fn export_watermark(conn: &Connection, table: &str) -> duckdb::Result<i64> {
    conn.query_row(
        // A part (one job's rows) says nothing about the other rows below its commit_to.
        "SELECT coalesce(max(commit_to), 0) FROM duckhaul_exports WHERE table_name = ? AND state = ? AND mode <> ?",
        params![table, ExportState::Succeeded, ExportKind::Part],
        |r| r.get(0),
    )
}

/// The last successful export of each table.
pub fn last_exports(conn: &Connection) -> duckdb::Result<Vec<ExportRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EXPORT_COLUMNS} FROM duckhaul_exports WHERE state = ?
         QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY created_at DESC) = 1
         ORDER BY table_name"
    ))?;
    stmt.query_map(params![ExportState::Succeeded], export_from_row)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_kinds_and_states_keep_their_stored_words() {
        let conn = Connection::open_in_memory().unwrap();
        let read =
            |sql: &str| conn.query_row(sql, [], |r| Ok((r.get::<_, ExportKind>(0)?, r.get::<_, ExportState>(1)?)));
        assert_eq!(read("SELECT 'part', 'succeeded'").unwrap(), (ExportKind::Part, ExportState::Succeeded));
        assert_eq!(read("SELECT 'incremental', 'failed'").unwrap(), (ExportKind::Incremental, ExportState::Failed));
        let written: String =
            conn.query_row("SELECT ? || ?", params![ExportKind::Snapshot, ExportState::Failed], |r| r.get(0)).unwrap();
        assert_eq!(written, "snapshotfailed");
        assert_eq!(serde_json::to_value(ExportKind::Part).unwrap(), "part");
        // A word this build does not know is an error, not a guess.
        assert!(read("SELECT 'snapshot', 'cancelled'").is_err());
        assert!(read("SELECT 'full', 'succeeded'").is_err());
    }
}
