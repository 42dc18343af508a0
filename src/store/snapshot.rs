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

/// Row groups as DuckDB writes them, before compression. DuckDB buffers a whole group,
/// uncompressed, before writing it, so this is what a snapshot costs in memory; the export
/// merges these groups into BigQuery-sized ones afterwards (`export::regroup`). Measured,
/// 1,000,000 users with a 48 MB memory limit: 16 MB groups grow the process by ~60 MB,
/// 128 MB groups by ~280 MB.
const WRITE_GROUP_BYTES: u64 = 16 << 20;

/// Writes a snapshot of `table` to `out` as zstd-compressed Parquet without dictionary pages
/// (so that its row groups can be merged), in groups of `WRITE_GROUP_BYTES`.
/// `upto`: no row of a later commit (an export takes only the pages it made durable first).
pub fn write_parquet(
    conn: &Connection,
    table: &str,
    range: SnapshotRange,
    upto: Option<i64>,
    out: &Path,
) -> anyhow::Result<Snapshot> {
    // With the ICU extension, casts to TIMESTAMPTZ use the session's zone; without it (the
    // bundled build) they are UTC already and the setting does not exist. Outside the
    // transaction, so a failure cannot abort it.
    let _ = conn.execute_batch("SET TimeZone = 'UTC'");
    // One transaction: the row count and the file see the same rows while ingests go on.
    super::transaction::in_transaction(conn, |conn| snapshot_in_transaction(conn, table, range, upto, out))
}

fn snapshot_in_transaction(
    conn: &Connection,
    table: &str,
    range: SnapshotRange,
    upto: Option<i64>,
    out: &Path,
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
            .query_row(&format!("SELECT coalesce(max(_commit), 0) FROM {qtable} WHERE true{job_filter}"), [], |r| {
                r.get(0)
            })
            .with_context(|| format!("cannot read table {table}"))?;
        let to = upto.map_or(to, |upto| to.min(upto));
        // A snapshot has every row, those loaded below every watermark (commit 0) among them.
        let lower = if range == SnapshotRange::Full { String::new() } else { format!("_commit > {commit_from} AND ") };
        (to, format!("{lower}_commit <= {to}{job_filter}"))
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
            } else if ty.starts_with("ENUM(") {
                // A view may yield an ENUM, which DuckDB always writes with a dictionary page,
                // and such row groups cannot be merged. In Parquet it is a string either way.
                *ty = "VARCHAR".into();
                format!("CAST({q} AS VARCHAR) AS {q}")
            } else {
                q
            }
        })
        .collect();
    let path = out.to_str().context("the snapshot path is not UTF-8")?.replace('\'', "''");
    // Row groups are sized in bytes: the row cap is raised so that bytes decide (the default
    // cap, 122,880 rows, would close a group of narrow rows well before its byte size). No
    // dictionary pages: a column chunk
    // may hold one only, at its start, and the groups are to be concatenated (it costs ~7% in
    // size: 1,000,000 users 64.0 -> 68.6 MB).
    let sql = format!(
        "COPY (SELECT {} FROM {qtable} WHERE {commit_filter}) \
         TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000000, \
         ROW_GROUP_SIZE_BYTES '{}KiB', DICTIONARY_SIZE_LIMIT 0)",
        select.join(", "),
        WRITE_GROUP_BYTES / 1024
    );
    // Row order within a snapshot carries no meaning, and keeping it makes DuckDB buffer whole
    // row groups per thread before writing; without it memory stays near one row group.
    conn.execute_batch("SET preserve_insertion_order = false")?;
    let written = conn.execute(&sql, []).with_context(|| format!("cannot write the Parquet snapshot of {table}"))?;
    Ok(Snapshot { rows: written as u64, commit_from, commit_to, columns })
}
