//! The durable log's groups on the writer's thread: a group of committed pages written to a
//! file to ship, between two commits; and a group another (lost) instance made durable loaded
//! so that an export can take it: its rows, its pages' marks and its record in one
//! transaction, like a page's commit.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use duckdb::params;

use super::commit::WriterLoop;
use crate::catalog::quote_ident;
use crate::store::error::StoreError;
use crate::store::groups::{self, GroupRecord};
use crate::store::transaction::in_transaction;

/// A group of a job's committed pages, to write to a Parquet file.
pub struct GroupFile {
    pub table: String,
    pub job_id: String,
    pub pages: Vec<u32>,
    pub out: PathBuf,
}

/// A group's Parquet file, fetched from the destination, to load.
pub struct GroupLoad {
    /// The group, with the pages to load (those whose rows are not here yet).
    pub group: GroupRecord,
    pub file: PathBuf,
    /// Pages an export already holds: loaded below every export's watermark (commit 0), so a
    /// snapshot has them and an incremental export does not take them again.
    pub exported: HashSet<u32>,
}

impl WriterLoop {
    /// Writes the group's file; answers the rows written.
    pub(super) fn write_group(&mut self, file: &GroupFile) -> Result<u64, StoreError> {
        if let Some(reason) = &self.dead {
            return Err(reason.clone());
        }
        groups::write_pages(&self.conn, &file.table, &file.job_id, &file.pages, &file.out).map_err(|e| self.failed(&e))
    }

    /// Loads the group; answers the rows loaded.
    pub(super) fn load_group(&mut self, load: &GroupLoad) -> Result<u64, StoreError> {
        if let Some(reason) = &self.dead {
            return Err(reason.clone());
        }
        let seq = self.take_seq();
        let result = in_transaction(&self.conn, |conn| {
            let GroupLoad { group, file, exported } = load;
            let path = file.to_str().context("the group's path is not UTF-8")?.replace('\'', "''");
            let table = quote_ident(&group.table);
            let (old, new): (Vec<&(u32, u64)>, Vec<&(u32, u64)>) =
                group.pages.iter().partition(|(page, _)| exported.contains(page));
            let mut loaded = 0u64;
            for (pages, commit) in [(&new, seq), (&old, 0)] {
                if pages.is_empty() {
                    continue;
                }
                let list: Vec<String> = pages.iter().map(|(page, _)| page.to_string()).collect();
                loaded += conn.execute(
                    &format!(
                        "INSERT INTO {table} BY NAME SELECT * REPLACE ({commit}::BIGINT AS _commit) \
                         FROM read_parquet('{path}') WHERE _page IN ({})",
                        list.join(", ")
                    ),
                    [],
                )? as u64;
                let mut mark = conn.prepare(
                    "INSERT INTO duckhaul_pages (job_id, page, table_name, rows, commit_seq, committed_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )?;
                for (page, rows) in pages {
                    mark.execute(params![group.job_id, *page as i64, group.table, *rows as i64, commit, Utc::now()])?;
                }
            }
            let expected: u64 = group.pages.iter().map(|(_, rows)| rows).sum();
            anyhow::ensure!(
                loaded == expected,
                "group {} holds {loaded} rows of the pages to load, where its manifest says {expected}",
                group.group_id
            );
            groups::record_loaded(conn, group)?;
            Ok(loaded)
        });
        match result {
            Ok(rows) => {
                self.options.rows.add(&load.group.table, rows);
                self.options.rows.changed();
                Ok(rows)
            }
            Err(e) => Err(self.failed(&e)),
        }
    }
}
