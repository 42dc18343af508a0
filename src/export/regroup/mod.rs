//! Merges a Parquet file's small row groups into large ones without decoding anything.
//!
//! Why: BigQuery loads fastest from row groups of 16 MiB and more (of compressed data), but
//! DuckDB's Parquet writer buffers a whole row group uncompressed before writing it, so groups
//! that large cost ~100 MB of memory per export (measured: 1,000,000 users in 128 MB groups
//! grew the process by ~280 MB). So DuckDB writes small groups (16 MB before compression,
//! ~3 MiB of zstd) and this module concatenates consecutive groups' column chunks page by
//! page into groups of the target size: a copy of compressed bytes, in constant memory.
//!
//! A column chunk may hold one dictionary page only, at its start, so the input must be
//! written without dictionaries (DuckDB's `DICTIONARY_SIZE_LIMIT 0`); data pages are
//! self-contained (their headers hold no file offsets), so they can follow one another.

mod ranges;
mod statistics;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use parquet::basic::EncodingMask;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{ColumnChunkMetaData, KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use ranges::Ranges;
use statistics::merged_statistics;

/// How a file was regrouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regrouped {
    pub groups_in: usize,
    pub groups_out: usize,
}

impl Regrouped {
    /// False when the file was kept as written (moved to `output`): nothing to merge, or
    /// dictionary pages.
    pub fn merged(&self) -> bool {
        self.groups_out < self.groups_in
    }
}

/// Writes `input`'s rows to `output` in row groups of at least `target_bytes` of compressed
/// data each (all but the last), by concatenating the column chunks of consecutive groups;
/// `input` is consumed either way.
pub fn merge_row_groups(input: &Path, output: &Path, target_bytes: u64) -> anyhow::Result<Regrouped> {
    let file = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .with_context(|| format!("cannot read the Parquet footer of {}", input.display()))?;
    let plan = plan_groups(&metadata, target_bytes);
    let groups_in = metadata.num_row_groups();
    // A dictionary page must open its column chunk, so chunks with one cannot follow each
    // other (DuckDB writes one for ENUM columns whatever it is told). The file as written is
    // valid Parquet, only with smaller groups.
    let dictionaries =
        metadata.row_groups().iter().flat_map(|g| g.columns()).any(|c| c.dictionary_page_offset().is_some());
    if plan.len() == groups_in || dictionaries {
        drop(file);
        std::fs::rename(input, output)
            .with_context(|| format!("cannot move {} to {}", input.display(), output.display()))?;
        return Ok(Regrouped { groups_in, groups_out: groups_in });
    }
    let file_meta = metadata.file_metadata();
    // The footer and the statistics are this writer's; the pages are DuckDB's, and say so.
    let mut key_values = file_meta.key_value_metadata().cloned().unwrap_or_default();
    if let Some(by) = file_meta.created_by() {
        key_values.push(KeyValue::new("duckhaul.pages_created_by".into(), by.to_string()));
    }
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(key_values))
        .set_created_by(format!("duckhaul version {} (parquet-rs 60.1, row groups merged)", env!("CARGO_PKG_VERSION")))
        .build();
    let out = File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    let mut writer = SerializedFileWriter::new(
        BufWriter::new(out),
        file_meta.schema_descr().root_schema_ptr(),
        Arc::new(properties),
    )?;
    for group in &plan {
        let mut row_group = writer.next_row_group()?;
        let rows: i64 = group.iter().map(|&g| metadata.row_group(g).num_rows()).sum();
        for column in 0..file_meta.schema_descr().num_columns() {
            let chunks: Vec<&ColumnChunkMetaData> =
                group.iter().map(|&g| metadata.row_group(g).column(column)).collect();
            let (reader, close) = concatenated(&file, &chunks, rows)
                .with_context(|| format!("cannot merge column {}", chunks[0].column_path()))?;
            row_group.append_column(&reader, close)?;
        }
        row_group.close()?;
    }
    let mut out = writer.into_inner()?;
    std::io::Write::flush(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    drop(file);
    std::fs::remove_file(input).with_context(|| format!("cannot remove {}", input.display()))?;
    Ok(Regrouped { groups_in, groups_out: plan.len() })
}

/// Consecutive input groups, gathered until each output group reaches `target_bytes`.
fn plan_groups(metadata: &ParquetMetaData, target_bytes: u64) -> Vec<Vec<usize>> {
    let mut plan: Vec<Vec<usize>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0u64;
    for (i, group) in metadata.row_groups().iter().enumerate() {
        current.push(i);
        bytes += group.compressed_size().max(0) as u64;
        if bytes >= target_bytes {
            plan.push(std::mem::take(&mut current));
            bytes = 0;
        }
    }
    if !current.is_empty() {
        plan.push(current);
    }
    plan
}

/// One column chunk made of `chunks` laid end to end: the bytes to copy and their metadata
/// (offsets relative to the start of the concatenation, which the writer then moves).
fn concatenated(
    file: &File,
    chunks: &[&ColumnChunkMetaData],
    rows: i64,
) -> anyhow::Result<(Ranges, ColumnCloseResult)> {
    let first = chunks[0];
    let mut ranges = Vec::with_capacity(chunks.len());
    let mut encodings = 0i32;
    let (mut values, mut compressed, mut uncompressed) = (0i64, 0i64, 0i64);
    // No chunk has a dictionary page: `merge_row_groups` keeps such files as written.
    for chunk in chunks {
        anyhow::ensure!(chunk.compression_codec() == first.compression_codec(), "column chunks use different codecs");
        ranges.push((chunk.data_page_offset() as u64, chunk.compressed_size() as u64));
        encodings |= chunk.encodings_mask().as_i32();
        values += chunk.num_values();
        compressed += chunk.compressed_size();
        uncompressed += chunk.uncompressed_size();
    }
    let mut builder = ColumnChunkMetaData::builder(first.column_descr_ptr())
        .set_compression_codec(first.compression_codec())
        .set_encodings_mask(EncodingMask::try_new(encodings)?)
        .set_num_values(values)
        .set_total_compressed_size(compressed)
        .set_total_uncompressed_size(uncompressed)
        .set_data_page_offset(0);
    if let Some(stats) = merged_statistics(first.column_descr().sort_order(), chunks) {
        builder = builder.set_statistics(stats);
    }
    let close = ColumnCloseResult {
        bytes_written: compressed as u64,
        rows_written: rows as u64,
        metadata: builder.build()?,
        bloom_filter: None,
        // Page indexes would name the pages' old positions; readers do without them.
        column_index: None,
        offset_index: None,
    };
    Ok((Ranges { file: file.try_clone()?, ranges }, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::Connection;

    /// A temporary folder with the paths of an input and an output file, and a database.
    fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in.parquet"), dir.path().join("out.parquet"));
        (dir, input, output, Connection::open_in_memory().unwrap())
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Nested and nullable columns of every kind duckhaul writes, in many small row groups.
    fn small_groups(conn: &Connection, path: &Path, dictionaries: bool) {
        conn.execute_batch(
            "CREATE OR REPLACE TABLE t AS SELECT i AS id, 'name-' || i AS name,
                 {'a': i, 'b': [i, i + 1]} AS s, ['x' || i, NULL] AS l,
                 CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 END::DOUBLE AS d, i * 0.25 AS price,
                 DATE '2020-01-01' + (i % 1000)::INTEGER AS day, i % 2 = 0 AS flag,
                 to_timestamp(1700000000 + i) AS seen_at, CASE WHEN i >= 30000 THEN i END AS late,
                 CASE WHEN i % 3 = 0 THEN 0.0 ELSE 2.5 END::DOUBLE AS z
             FROM range(200000) r(i)",
        )
        .unwrap();
        let dict = if dictionaries { "" } else { ", DICTIONARY_SIZE_LIMIT 0" };
        conn.execute_batch(&format!(
            "COPY t TO '{}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 10000000, ROW_GROUP_SIZE_BYTES '1MB'{dict})",
            path.display()
        ))
        .unwrap();
    }

    #[test]
    fn merged_groups_hold_the_same_rows_in_fewer_larger_groups() {
        let (_dir, input, output, conn) = setup();
        small_groups(&conn, &input, false);
        let target = 256 << 10;
        let done = merge_row_groups(&input, &output, target).unwrap();
        assert!(done.merged() && done.groups_in >= 8, "{done:?}");
        assert!(done.groups_out >= 2 && done.groups_out < done.groups_in / 2, "{done:?}");
        assert!(!input.exists());

        let out = output.display().to_string();
        assert_eq!(count(&conn, &format!("SELECT count(*) FROM read_parquet('{out}')")), 200_000);
        let file = format!("read_parquet('{out}')");
        for (a, b) in [("t", file.as_str()), (file.as_str(), "t")] {
            assert_eq!(
                count(&conn, &format!("SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})")),
                0,
                "{a} minus {b}"
            );
        }
        let sizes: Vec<i64> = conn
            .prepare(&format!(
                "SELECT sum(total_compressed_size)::BIGINT FROM parquet_metadata('{out}') GROUP BY row_group_id ORDER BY row_group_id"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(sizes.len(), done.groups_out);
        assert!(sizes[..sizes.len() - 1].iter().all(|&b| b >= target as i64), "{sizes:?}");

        // The merged statistics are right: a reader prunes row groups by them, so a wrong
        // minimum or maximum would lose these rows.
        for filter in [
            "id = 0",
            "id = 199999",
            "name = 'name-123456'",
            "d = 1.5",
            "d IS NULL AND id = 7",
            "day = DATE '2020-01-01' + 999 AND id = 199999",
            "flag AND id = 199998",
            "seen_at = to_timestamp(1700000000 + 150000)",
            "late = 30000",
            "z = 0.0 AND id = 3",
        ] {
            assert_eq!(
                count(&conn, &format!("SELECT count(*) FROM read_parquet('{out}') WHERE {filter}")),
                1,
                "{filter}"
            );
        }
        let nulls = count(
            &conn,
            &format!("SELECT sum(stats_null_count)::BIGINT FROM parquet_metadata('{out}') WHERE path_in_schema = 'd'"),
        );
        assert_eq!(nulls, count(&conn, "SELECT count(*) FROM t WHERE d IS NULL"));
        // Chunks of nulls only (the first 30,000 rows of `late`) take no bounds away: a merged
        // group has bounds unless all its values are null, and the nulls add up.
        let late = |what: &str| {
            count(&conn, &format!("SELECT {what} FROM parquet_metadata('{out}') WHERE path_in_schema = 'late'"))
        };
        assert_eq!(late("count(*) FILTER (stats_min_value IS NULL AND stats_null_count <> num_values)"), 0);
        assert!(late("count(stats_min_value)") as usize >= done.groups_out - 1);
        // (DuckDB writes no statistics for a chunk of nulls only, so a group of those has none.)
        assert_eq!(
            late("sum(stats_null_count)::BIGINT")
                + late("coalesce(sum(num_values) FILTER (stats_null_count IS NULL), 0)::BIGINT"),
            30_000
        );
        // A zero bound is widened to -0.0 below: the file declares IEEE 754 total order.
        let zmin: String = conn
            .query_row(
                &format!("SELECT stats_min_value FROM parquet_metadata('{out}') WHERE path_in_schema = 'z' AND row_group_id = 0"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(zmin, "-0.0");
        // DECIMAL (fixed-length bytes, signed) is not merged: no statistics rather than wrong ones.
        let price = count(
            &conn,
            &format!("SELECT count(stats_min_value) FROM parquet_metadata('{out}') WHERE path_in_schema = 'price'"),
        );
        assert_eq!(price, 0);
    }

    #[test]
    fn a_file_with_dictionary_pages_is_kept_as_written() {
        let (_dir, input, output, conn) = setup();
        small_groups(&conn, &input, true);
        let done = merge_row_groups(&input, &output, 256 << 10).unwrap();
        assert!(!done.merged() && done.groups_out == done.groups_in && done.groups_in > 1, "{done:?}");
        assert!(!input.exists());
        let file = format!("read_parquet('{}')", output.display());
        assert_eq!(count(&conn, &format!("SELECT count(*) FROM (FROM t EXCEPT ALL FROM {file})")), 0);
        assert_eq!(count(&conn, &format!("SELECT count(*) FROM {file}")), 200_000);
    }

    #[test]
    fn a_file_without_rows_stays_valid() {
        let (_dir, input, output, conn) = setup();
        conn.execute_batch(&format!(
            "COPY (SELECT 1 AS id WHERE false) TO '{}' (FORMAT parquet, DICTIONARY_SIZE_LIMIT 0)",
            input.display()
        ))
        .unwrap();
        let done = merge_row_groups(&input, &output, 1 << 20).unwrap();
        assert_eq!(done.groups_out, 0);
        assert_eq!(count(&conn, &format!("SELECT count(*) FROM read_parquet('{}')", output.display())), 0);
    }
}
