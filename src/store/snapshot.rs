//! Consistent snapshots of a data table into a local Parquet file.
//!
//! The watermark, the upper commit bound and the rows are all read in one transaction, so the
//! file holds exactly the rows the stated bounds describe, however much ingest goes on.

use std::path::Path;

use anyhow::Context;
use duckdb::Connection;

use crate::catalog::quote_ident;

use super::records::export_watermark;

/// Which rows of a table a snapshot takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRange {
    /// Every row.
    Full,
    /// Rows committed after the table's last successful export.
    SinceLastExport,
    /// The rows one ingest job wrote (a task's part of a split job).
    OfJob(String),
}

/// What a snapshot wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub rows: u64,
    /// Rows with `commit_from < _commit <= commit_to` are in the file.
    pub commit_from: i64,
    pub commit_to: i64,
    /// Column names and DuckDB types, in file order.
    pub columns: Vec<(String, String)>,
}

/// Writes a snapshot of `table` to `out` as zstd-compressed Parquet, in row groups of about
/// `row_group_bytes` before compression.
pub fn write_parquet(
    conn: &Connection,
    table: &str,
    range: SnapshotRange,
    out: &Path,
    row_group_bytes: u64,
) -> anyhow::Result<Snapshot> {
    // With the ICU extension, casts to TIMESTAMPTZ use the session's zone; without it (the
    // bundled build) they are UTC already and the setting does not exist. Outside the
    // transaction, so a failure cannot abort it.
    let _ = conn.execute_batch("SET TimeZone = 'UTC'");
    conn.execute_batch("BEGIN TRANSACTION").context("cannot start the snapshot transaction")?;
    let result = snapshot_in_transaction(conn, table, range, out, row_group_bytes);
    // Read-only: ending it either way releases the snapshot.
    let _ = conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    result
}

fn snapshot_in_transaction(
    conn: &Connection,
    table: &str,
    range: SnapshotRange,
    out: &Path,
    row_group_bytes: u64,
) -> anyhow::Result<Snapshot> {
    let qtable = quote_ident(table);
    let mut columns = Vec::new();
    let mut stmt = conn.prepare(&format!("DESCRIBE {qtable}"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        columns.push((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
    }
    // A SQL view without `_commit` has no commit range: it is exported whole in any mode.
    let has_commit = columns.iter().any(|(name, _)| name == "_commit");
    let (commit_from, job_filter) = match &range {
        _ if !has_commit => (0, String::new()),
        SnapshotRange::Full => (0, String::new()),
        SnapshotRange::SinceLastExport => (export_watermark(conn, table)?, String::new()),
        SnapshotRange::OfJob(job) => (0, format!(" AND _job_id = '{}'", job.replace('\'', "''"))),
    };
    let (commit_to, commit_filter) = if has_commit {
        let to: i64 = conn
            .query_row(&format!("SELECT coalesce(max(_commit), 0) FROM {qtable} WHERE true{job_filter}"), [], |r| r.get(0))
            .with_context(|| format!("cannot read table {table}"))?;
        (to, format!("_commit > {commit_from} AND _commit <= {to}{job_filter}"))
    } else {
        (0, "true".to_string())
    };
    // Naive timestamps (custom `dateTime` fields, which the upstream gives in UTC) are written
    // as UTC instants (TIMESTAMPTZ: Parquet's isAdjustedToUTC), so BigQuery loads them as
    // TIMESTAMP rather than DATETIME. The cast is in UTC (see write_parquet): it shifts nothing.
    let select: Vec<String> = columns
        .iter_mut()
        .map(|(name, ty)| {
            let q = quote_ident(name);
            if ty == "TIMESTAMP" {
                *ty = "TIMESTAMP WITH TIME ZONE".into();
                format!("CAST({q} AS TIMESTAMPTZ) AS {q}")
            } else {
                q
            }
        })
        .collect();
    let path = out.to_str().context("the snapshot path is not UTF-8")?.replace('\'', "''");
    // Row groups are sized in bytes (DUCKHAUL_EXPORT_ROW_GROUP_SIZE): the default 128 MB
    // before compression meets BigQuery's guidance of 16 MiB and more (1M users: groups of 24,
    // 24 and 12 MiB of zstd); a file smaller than one group is one group. The row cap is raised
    // so bytes decide (the default cap, 122,880 rows, makes 6 MiB groups of users). DuckDB
    // buffers a whole group uncompressed before writing it, so the group size is what an
    // export costs in memory (see Store::write_snapshot).
    let sql = format!(
        "COPY (SELECT {} FROM {qtable} WHERE {commit_filter}) \
         TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000000, ROW_GROUP_SIZE_BYTES '{}KiB')",
        select.join(", "),
        row_group_bytes.div_ceil(1024)
    );
    // Row order within a snapshot carries no meaning, and keeping it makes DuckDB buffer whole
    // row groups per thread before writing; without it memory stays near one row group.
    conn.execute_batch("SET preserve_insertion_order = false")?;
    let written = conn.execute(&sql, []).with_context(|| format!("cannot write the Parquet snapshot of {table}"))?;
    Ok(Snapshot { rows: written as u64, commit_from, commit_to, columns })
}
