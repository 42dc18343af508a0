//! Staging: a table's consistent snapshot written to a local Parquet file with BigQuery-sized
//! row groups, hashed, and removed however the export ends; and the clean-up at start of the
//! files a process that died mid-export left behind.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::ExportContext;
use super::regroup;
use crate::destination::file_crc32c;
use crate::store::Disk;
use crate::store::snapshot::{self, Snapshot, SnapshotRange};

/// A table's snapshot staged as one Parquet file, ready to upload. The file is removed when
/// this is dropped.
pub(super) struct StagedSnapshot {
    pub export_id: String,
    pub table: String,
    /// When the export of the table began; it dates the objects' folder.
    pub created_at: DateTime<Utc>,
    /// The rows in the file, their commit bounds and columns.
    pub snapshot: Snapshot,
    /// Size and CRC32C of the file.
    pub bytes: u64,
    pub crc32c: u32,
    file: StagedFile,
}

impl StagedSnapshot {
    /// The snapshot in `file`, with the file's size and CRC32C (read in full: call it off the
    /// async runtime).
    pub(super) fn hashed(
        export_id: String,
        table: String,
        created_at: DateTime<Utc>,
        snapshot: Snapshot,
        file: StagedFile,
    ) -> anyhow::Result<StagedSnapshot> {
        let (bytes, crc32c) = file_crc32c(&file.0)?;
        Ok(StagedSnapshot { export_id, table, created_at, snapshot, bytes, crc32c, file })
    }

    pub fn path(&self) -> &Path {
        &self.file.0
    }
}

/// Stages the `range` rows of `table`; `None` when an incremental export finds nothing new.
pub(super) async fn stage(
    ctx: &ExportContext,
    export_id: &str,
    table: &str,
    range: SnapshotRange,
    upto: Option<i64>,
) -> anyhow::Result<Option<StagedSnapshot>> {
    let created_at = Utc::now();
    std::fs::create_dir_all(&ctx.staging).with_context(|| format!("cannot create {}", ctx.staging.display()))?;
    let written = StagedFile(ctx.staging.join(format!("{export_id}-{table}.groups.parquet")));
    let staged = StagedFile(ctx.staging.join(format!("{export_id}-{table}.parquet")));

    // A snapshot that cannot be staged fails the export cleanly (the rows stay in DuckDB), and
    // says so in the words of a full disk rather than of whichever write hit it.
    let disk = Disk::of(&ctx.staging);
    disk.ensure(0)?;
    let since_last_export = range == SnapshotRange::SinceLastExport;
    let (t, path) = (table.to_string(), written.0.clone());
    let snapshot = ctx
        .store
        .read(move |conn| snapshot::write_parquet(conn, &t, range, upto, &path))
        .await
        .map_err(|e| staging_error(&disk, e))?;
    if since_last_export && snapshot.rows == 0 {
        tracing::info!(table, "no rows since the last export");
        return Ok(None);
    }
    // DuckDB writes small row groups (its writer holds one uncompressed); BigQuery wants
    // large ones: merge them, copying pages (see `regroup`).
    let (from, to, target) = (written.0.clone(), staged.0.clone(), ctx.row_group_bytes);
    let snapshot_bytes = std::fs::metadata(&from).map(|m| m.len()).unwrap_or(0);
    disk.ensure(snapshot_bytes)?;
    let regrouped = tokio::task::spawn_blocking(move || regroup::merge_row_groups(&from, &to, target))
        .await?
        .with_context(|| format!("cannot regroup the Parquet snapshot of {table}"))
        .map_err(|e| staging_error(&disk, e))?;
    tracing::debug!(
        table,
        groups_in = regrouped.groups_in,
        groups_out = regrouped.groups_out,
        merged = regrouped.merged(),
        "row groups"
    );
    // Gone already (merged or moved); the guard only mattered had the merge failed.
    drop(written);
    let (export_id, table) = (export_id.to_string(), table.to_string());
    let staged =
        tokio::task::spawn_blocking(move || StagedSnapshot::hashed(export_id, table, created_at, snapshot, staged))
            .await??;
    Ok(Some(staged))
}

/// Removes the Parquet files an export left in `staging` when the process died mid-way (each
/// is as large as a table's snapshot). Only at start, after the database is open: the folder
/// is that database's own (see `app::staging_dir`) and DuckDB's lock on the file makes this
/// process its only user; no export runs yet. Returns how many there were.
pub fn clear_staging(staging: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(staging) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// A staging file, removed however the export ends.
pub(super) struct StagedFile(pub(super) PathBuf);

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An error while staging a snapshot; ENOSPC becomes `disk full: …`.
fn staging_error(disk: &Disk, e: anyhow::Error) -> anyhow::Error {
    match disk.explain(&e) {
        Some(full) => anyhow::Error::new(full),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_the_staging_folder_removes_only_parquet_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a-users.parquet", "a-users.groups.parquet", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(clear_staging(dir.path()), 2);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["notes.txt"]);
        assert_eq!(clear_staging(&dir.path().join("missing")), 0);
    }
}
