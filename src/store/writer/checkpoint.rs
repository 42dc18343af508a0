//! The writer's checkpoints: when the WAL has grown enough (or a job asks, between jobs), with
//! room on the disk for it, and with memory by the width of the tables it folds.

use std::sync::atomic::Ordering;
use std::time::Instant;

use duckdb::arrow::datatypes::DataType;

use super::commit::WriterLoop;
use crate::store::error::StoreError;
use crate::store::memory_limit_sql;

impl WriterLoop {
    pub(super) fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.options.wal).map(|m| m.len()).unwrap_or(0)
    }

    pub(super) fn checkpoint(&mut self) -> Result<(), StoreError> {
        if let Some(reason) = &self.dead {
            return Err(reason.clone());
        }
        // Folding the WAL into the file writes about the WAL's size of new blocks before the
        // old ones are freed: without that room, wait (the WAL keeps every row safe).
        let wal = self.wal_bytes();
        self.options.disk.ensure(wal).map_err(|full| StoreError::from(full).context("checkpoint postponed"))?;
        let started = Instant::now();
        // A checkpoint needs memory by the width of the tables it folds (see
        // `checkpoint_memory_limit`): raised for it alone, and only as far as they need.
        let steady = self.options.memory_limit.load(Ordering::Relaxed);
        let limit = checkpoint_memory(self.dirty_leaves, steady, self.options.checkpoint_memory_limit);
        let raised = limit > steady;
        let sql = if raised { format!("{}; CHECKPOINT", memory_limit_sql(limit)) } else { "CHECKPOINT".into() };
        let result = self.conn.execute_batch(&sql);
        // Back to the small block cache (after a raise here, or a WAL replay that needed more);
        // blocks above it are evicted, and what cannot be yet is at the next checkpoint.
        let steady = self.options.memory_limit.load(Ordering::Relaxed);
        if let Err(e) = self.conn.execute_batch(&memory_limit_sql(steady)) {
            tracing::debug!(error = %e, "memory limit not lowered yet");
        }
        release_freed_memory();
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            wal_bytes = wal,
            memory_limit = limit,
            ok = result.is_ok(),
            "checkpoint"
        );
        match result {
            Ok(()) => {
                self.dirty_leaves = 0;
                Ok(())
            }
            Err(e) => Err(self.note(StoreError::from_duckdb_on(&e, &self.options.disk))),
        }
    }
}

/// Hands the memory a checkpoint freed back to the system. glibc keeps freed blocks in its
/// arenas, so without this each checkpoint's peak stays in the process's resident size and
/// the next one adds to it: a long job would grow with its length, not with its settings.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The lineage columns the writer adds to every page.
pub(super) const LINEAGE_COLUMNS: usize = 4;

/// Memory a checkpoint is given per leaf column of the widest table it folds. DuckDB
/// compresses a row group column by column, keeping a partial block and the analysis state
/// of each: measured, companies (41 leaf columns) failed within 48 MB and succeeded within
/// 64 MB (1.6 MB a column); 2.5 MB a column leaves half again as much. Flat tables stay at the
/// plain limit (users, 17 columns, checkpoint within 48 MB), so their memory does not grow.
const CHECKPOINT_BYTES_PER_LEAF: u64 = 2_500_000;

/// The memory limit a checkpoint runs with: by the width of what it folds, never below the
/// plain limit nor above the checkpoint's.
fn checkpoint_memory(leaves: usize, memory_limit: u64, checkpoint_memory_limit: u64) -> u64 {
    (leaves as u64 * CHECKPOINT_BYTES_PER_LEAF).clamp(memory_limit, checkpoint_memory_limit.max(memory_limit))
}

/// Columns that hold values (a STRUCT's fields, a LIST's items, recursively): what DuckDB
/// stores and compresses one by one.
pub(super) fn leaf_columns(fields: &duckdb::arrow::datatypes::Fields) -> usize {
    fields.iter().map(|f| leaves_of(f.data_type())).sum()
}

fn leaves_of(data_type: &DataType) -> usize {
    match data_type {
        DataType::Struct(fields) => leaf_columns(fields),
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            leaves_of(item.data_type())
        }
        DataType::Map(entries, _) => leaves_of(entries.data_type()),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use duckdb::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn a_checkpoint_gets_memory_by_the_width_of_its_widest_table() {
        let address = DataType::Struct(
            (0..10).map(|i| Field::new(format!("a{i}"), DataType::Utf8, true)).collect::<Vec<_>>().into(),
        );
        let fields: duckdb::arrow::datatypes::Fields = vec![
            Field::new("id", DataType::Int64, true),
            Field::new("addresses", DataType::List(Arc::new(Field::new("item", address.clone(), true))), true),
            Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), true),
            Field::new(
                "contact",
                DataType::Struct(
                    vec![Field::new("name", DataType::Utf8, true), Field::new("address", address, true)].into(),
                ),
                true,
            ),
        ]
        .into();
        assert_eq!(leaf_columns(&fields), 1 + 10 + 1 + 11);
        // Flat tables keep the plain limit; wide ones get more, up to the checkpoint's.
        assert_eq!(checkpoint_memory(17, 48_000_000, 160_000_000), 48_000_000);
        assert_eq!(checkpoint_memory(41, 48_000_000, 160_000_000), 102_500_000);
        assert_eq!(checkpoint_memory(500, 48_000_000, 160_000_000), 160_000_000);
        assert_eq!(checkpoint_memory(41, 512_000_000, 512_000_000), 512_000_000);
    }
}
