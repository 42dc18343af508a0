//! Which committed pages are durable in the destination: `duckhaul_groups` and
//! `duckhaul_group_pages` (see `crate::durable`). A page committed here and in no group is
//! pending: it is shipped next. A page in a group whose rows are not here (a lost instance
//! shipped it) counts as done for its job's resume, and is loaded when an export needs it.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use duckdb::{Connection, params};

use crate::catalog::quote_ident;

/// A committed page no group holds yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPage {
    pub job_id: String,
    pub table: String,
    pub page: u32,
    pub rows: u64,
    /// A followed page (cursor, next URL) says where the next one is: `Some(None)` when it was
    /// the last.
    pub next: Option<Option<String>>,
}

/// A group as recorded here.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub group_id: String,
    pub job_id: String,
    pub table: String,
    pub loaded: bool,
    /// Its pages and their rows.
    pub pages: Vec<(u32, u64)>,
}

/// Pending pages, of one job or of one table, in page order per job.
pub fn pending_pages(conn: &Connection, job: Option<&str>, table: Option<&str>) -> duckdb::Result<Vec<PendingPage>> {
    let mut stmt = conn.prepare(
        "SELECT p.job_id, p.table_name, p.page, p.rows, pos.page IS NOT NULL, pos.next_position
         FROM duckhaul_pages p
         LEFT JOIN duckhaul_page_positions pos ON pos.job_id = p.job_id AND pos.page = p.page
         WHERE NOT EXISTS (SELECT 1 FROM duckhaul_group_pages g WHERE g.job_id = p.job_id AND g.page = p.page)
           AND (?::VARCHAR IS NULL OR p.job_id = ?) AND (?::VARCHAR IS NULL OR p.table_name = ?)
         ORDER BY p.job_id, p.page",
    )?;
    stmt.query_map(params![job, job, table, table], |r| {
        let followed: bool = r.get(4)?;
        Ok(PendingPage {
            job_id: r.get(0)?,
            table: r.get(1)?,
            page: r.get::<_, i64>(2)? as u32,
            rows: r.get::<_, i64>(3)? as u64,
            next: followed.then(|| r.get::<_, Option<String>>(5)).transpose()?,
        })
    })?
    .collect()
}

/// Records a group and its pages.
pub fn record_group(conn: &Connection, group: &GroupRecord) -> duckdb::Result<()> {
    let rows: u64 = group.pages.iter().map(|(_, rows)| rows).sum();
    conn.execute(
        "INSERT INTO duckhaul_groups (group_id, job_id, table_name, rows, loaded, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![group.group_id, group.job_id, group.table, rows as i64, group.loaded, Utc::now()],
    )?;
    let mut stmt = conn.prepare(
        "INSERT INTO duckhaul_group_pages (job_id, page, group_id, rows) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )?;
    for (page, rows) in &group.pages {
        stmt.execute(params![group.job_id, *page as i64, group.group_id, *rows as i64])?;
    }
    Ok(())
}

/// Records that a group's rows are here: marks it loaded if it is recorded (a lost
/// instance's, recovered at start), records it loaded otherwise.
pub fn record_loaded(conn: &Connection, group: &GroupRecord) -> duckdb::Result<()> {
    let recorded: bool =
        conn.query_row("SELECT count(*) > 0 FROM duckhaul_groups WHERE group_id = ?", params![group.group_id], |r| {
            r.get(0)
        })?;
    if recorded {
        conn.execute("UPDATE duckhaul_groups SET loaded = true WHERE group_id = ?", params![group.group_id])?;
        Ok(())
    } else {
        record_group(conn, &GroupRecord { loaded: true, ..group.clone() })
    }
}

/// The groups recorded here, with whether their rows are here.
pub fn known_groups(conn: &Connection, table: &str) -> duckdb::Result<Vec<(String, bool)>> {
    let mut stmt = conn.prepare("SELECT group_id, loaded FROM duckhaul_groups WHERE table_name = ?")?;
    stmt.query_map(params![table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// The pages of a job whose rows are here.
pub fn local_pages(conn: &Connection, job_id: &str) -> duckdb::Result<HashSet<u32>> {
    let mut stmt = conn.prepare("SELECT page FROM duckhaul_pages WHERE job_id = ?")?;
    stmt.query_map(params![job_id], |r| Ok(r.get::<_, i64>(0)? as u32))?.collect()
}

/// The pages of a job that are done: committed here, or durable in a group (whoever shipped
/// it), with their rows.
pub fn done_pages(conn: &Connection, job_id: &str) -> duckdb::Result<Vec<(u32, u64)>> {
    let mut stmt = conn.prepare(
        "SELECT page, max(rows) FROM (
             SELECT page, rows FROM duckhaul_pages WHERE job_id = ?
             UNION ALL SELECT page, rows FROM duckhaul_group_pages WHERE job_id = ?)
         GROUP BY page ORDER BY page",
    )?;
    stmt.query_map(params![job_id, job_id], |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u64)))?.collect()
}

/// The highest commit of `table`'s pages (`None`: it has none, or it is a view).
pub fn last_commit(conn: &Connection, table: &str) -> duckdb::Result<Option<i64>> {
    conn.query_row("SELECT max(commit_seq) FROM duckhaul_pages WHERE table_name = ?", params![table], |r| r.get(0))
}

/// The pages of `table` committed in `from < commit_seq <= to` (`from` = `None`: every page up
/// to `to`), by job: what an export of that range holds.
pub fn pages_in_range(
    conn: &Connection,
    table: &str,
    from: Option<i64>,
    to: i64,
) -> duckdb::Result<Vec<(String, Vec<u32>)>> {
    let mut stmt = conn.prepare(
        "SELECT job_id, string_agg(page::VARCHAR, ',' ORDER BY page) FROM duckhaul_pages
         WHERE table_name = ? AND (?::BIGINT IS NULL OR commit_seq > ?) AND commit_seq <= ?
         GROUP BY job_id ORDER BY job_id",
    )?;
    stmt.query_map(params![table, from, from, to], |r| {
        let pages: String = r.get(1)?;
        Ok((r.get(0)?, pages.split(',').filter_map(|p| p.parse().ok()).collect()))
    })?
    .collect()
}

/// Rows of a row group in a group's file (see `write_pages`).
const GROUP_FILE_ROW_GROUP: usize = 2048;

/// Writes the rows of `pages` of job `job_id` in `table` to a Parquet file: a group's data.
/// Returns the rows written.
pub fn write_pages(conn: &Connection, table: &str, job_id: &str, pages: &[u32], out: &Path) -> anyhow::Result<u64> {
    let path = out.to_str().context("the group's path is not UTF-8")?.replace('\'', "''");
    let list: Vec<String> = pages.iter().map(u32::to_string).collect();
    // Small row groups, counted in rows: the file is a transfer format, read back whole by a
    // load, and a row group is what DuckDB buffers, uncompressed, while writing it. Its byte
    // cap applies only without insertion order, a database-wide setting left alone (below);
    // 10,000 companies in one group took the buffer pool from the writer's commits at the
    // 48 MB default.
    let sql = format!(
        "COPY (SELECT * FROM {} WHERE _job_id = '{}' AND _page IN ({})) TO '{path}' \
         (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {GROUP_FILE_ROW_GROUP})",
        quote_ident(table),
        job_id.replace('\'', "''"),
        list.join(", ")
    );
    // `preserve_insertion_order` stays as it is: the setting is the database's, and turning
    // it off while the writer appends changes how DuckDB inserts (measured: users 100k took
    // twice the CPU). A group is small, so the row group DuckDB buffers for it is too.
    let written = conn.execute(&sql, []).with_context(|| format!("cannot write pages of job {job_id} of {table}"))?;
    Ok(written as u64)
}
