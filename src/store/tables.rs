//! The data tables (and views) `duckhaul_tables` lists: creating one, the DDL it was made
//! with, and listing them with their row counts.
//!
//! The status page lists the tables every second, so the counts are not taken by scanning:
//! the writer, the only one that writes data tables, counts each table once when the instance
//! opens and adds every page it commits (`RowCounts`). A view's rows are counted when asked,
//! and kept until anything is written again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use duckdb::{Connection, OptionalExt, params};

use crate::catalog::quote_ident;

use super::Store;
use super::records;
use super::source_tables::{self, SourceTable};
use super::views::VIEW_RESOURCE;

/// A data table and its row count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TableStats {
    pub name: String,
    /// The resource the table holds (`custom` for request-named tables).
    pub resource: String,
    pub rows: u64,
}

/// The row counts of one open instance's tables and views.
#[derive(Debug, Default)]
pub struct RowCounts {
    tables: Mutex<HashMap<String, u64>>,
    /// A view's rows, with the `writes` they were counted at.
    views: Mutex<HashMap<String, (u64, u64)>>,
    /// Bumped by every commit and bookkeeping write: a view counted before is counted again.
    writes: AtomicU64,
}

impl RowCounts {
    /// Counts every data table of the database, once, as an instance opens (before its writer
    /// takes any page). A table that cannot be counted is counted when listed instead.
    pub(super) fn count(conn: &Connection) -> anyhow::Result<RowCounts> {
        let names: Vec<String> = conn
            .prepare("SELECT name FROM duckhaul_tables WHERE resource <> ?")?
            .query_map(params![VIEW_RESOURCE], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let counts = RowCounts::default();
        for name in names {
            match count_rows(conn, &name) {
                Ok(rows) => counts.set(&name, rows),
                Err(e) => tracing::warn!(table = name, error = %e, "the table cannot be counted"),
            }
        }
        Ok(counts)
    }

    /// `table` holds `rows` rows (it was just created, or counted).
    pub(super) fn set(&self, table: &str, rows: u64) {
        self.tables.lock().expect("row counts poisoned").insert(table.to_owned(), rows);
        self.changed();
    }

    /// `rows` more rows were committed to `table`.
    pub(super) fn add(&self, table: &str, rows: u64) {
        if let Some(count) = self.tables.lock().expect("row counts poisoned").get_mut(table) {
            *count += rows;
        }
    }

    /// Something was written: views are counted again.
    pub(super) fn changed(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    fn table(&self, name: &str) -> Option<u64> {
        self.tables.lock().expect("row counts poisoned").get(name).copied()
    }

    /// The rows of view `name`, counted again if anything was written since.
    fn view(&self, conn: &Connection, name: &str) -> duckdb::Result<u64> {
        let writes = self.writes.load(Ordering::Relaxed);
        if let Some(&(at, rows)) = self.views.lock().expect("row counts poisoned").get(name)
            && at == writes
        {
            return Ok(rows);
        }
        let rows = count_rows(conn, name)?;
        self.views.lock().expect("row counts poisoned").insert(name.to_owned(), (writes, rows));
        Ok(rows)
    }
}

fn count_rows(conn: &Connection, name: &str) -> duckdb::Result<u64> {
    let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", quote_ident(name)), [], |r| r.get(0))?;
    Ok(rows as u64)
}

impl Store {
    /// Every data table and view with its row count.
    pub async fn tables(&self) -> anyhow::Result<Vec<TableStats>> {
        self.on_instance(|instance, conn| {
            let mut stmt = conn.prepare("SELECT name, resource FROM duckhaul_tables ORDER BY name")?;
            let tables: Vec<(String, String)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            tables
                .into_iter()
                .map(|(name, resource)| {
                    let rows = match instance.rows.table(&name) {
                        Some(rows) => rows,
                        None if resource == VIEW_RESOURCE => instance.rows.view(conn, &name)?,
                        None => count_rows(conn, &name)?,
                    };
                    Ok(TableStats { name, resource, rows })
                })
                .collect()
        })
        .await
    }

    /// The DDL a data table was created with, if it exists.
    pub async fn table_ddl(&self, table: &str) -> anyhow::Result<Option<(String, String)>> {
        let table = table.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT resource, ddl FROM duckhaul_tables WHERE name = ?", params![table], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?)
        })
        .await
    }

    /// Creates the data table `name` for `resource` with `ddl` unless it exists with it (it
    /// fails if it exists with other columns), through the writer, then the views that were
    /// waiting for a table.
    pub async fn ensure_table(&self, name: &str, resource: &str, ddl: &str) -> anyhow::Result<()> {
        self.writer()?.ensure_table(name, resource, ddl, None).await?;
        self.create_waiting_views().await;
        Ok(())
    }

    /// `ensure_table` for a described source's table, recording its columns with it (in the
    /// same transaction) for the pages, resumes and schema commands after.
    pub async fn ensure_source_table(&self, table: SourceTable, ddl: &str) -> anyhow::Result<()> {
        let (name, label) = (table.name.clone(), table.label());
        self.writer()?.ensure_table(&name, &label, ddl, Some(table)).await?;
        self.create_waiting_views().await;
        Ok(())
    }

    /// The table `name` if a described source's ingest created it, with its recorded columns.
    pub async fn source_table(&self, name: &str) -> anyhow::Result<Option<SourceTable>> {
        let name = name.to_owned();
        self.read(move |conn| source_tables::get(conn, &name)).await
    }

    /// The last successful export of each table.
    pub async fn last_exports(&self) -> anyhow::Result<Vec<records::ExportRow>> {
        self.read(|conn| Ok(records::last_exports(conn)?)).await
    }
}

/// Creates a data table in one transaction with its `duckhaul_tables` row (and a source's
/// columns), unless it exists with exactly this DDL; fails if it exists with another (a custom
/// table asked for with different fields). Run by the writer, which counts its rows from here.
pub(super) fn ensure(
    conn: &Connection,
    rows: &RowCounts,
    name: &str,
    resource: &str,
    ddl: &str,
    source: Option<&SourceTable>,
) -> anyhow::Result<()> {
    let existing: Option<String> =
        conn.query_row("SELECT ddl FROM duckhaul_tables WHERE name = ?", params![name], |r| r.get(0)).optional()?;
    match existing {
        Some(d) if d == ddl => Ok(()),
        Some(_) => anyhow::bail!("table {name} already exists with different columns"),
        None => {
            let count = super::transaction::in_transaction(conn, |conn| {
                conn.execute_batch(ddl)?;
                conn.execute(
                    "INSERT INTO duckhaul_tables (name, resource, ddl, created_at) VALUES (?, ?, ?, now())",
                    params![name, resource, ddl],
                )?;
                if let Some(table) = source {
                    source_tables::insert(conn, table)?;
                }
                count_rows(conn, name)
            })
            .with_context(|| format!("cannot create table {name}"))?;
            rows.set(name, count);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use duckdb::arrow::array::Int64Array;
    use duckdb::arrow::datatypes::{DataType, Field, Schema};
    use duckdb::arrow::record_batch::RecordBatch;

    use super::*;
    use crate::store::writer::{Committed, OnCommit};
    use crate::store::{PageWrite, StoreError, StoreSettings, views};

    #[test]
    fn counts_follow_commits_and_views_are_counted_again_after_a_write() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::store::schema::META_DDL).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);
             INSERT INTO duckhaul_tables VALUES ('t', 'custom', 'CREATE TABLE t (x INTEGER)', now());
             CREATE VIEW v AS SELECT * FROM t WHERE x > 1",
        )
        .unwrap();
        let counts = RowCounts::count(&conn).unwrap();
        assert_eq!(counts.table("t"), Some(2));
        assert_eq!(counts.view(&conn, "v").unwrap(), 1);

        conn.execute_batch("INSERT INTO t VALUES (3)").unwrap();
        counts.add("t", 1);
        // Not counted again until a write is noted: the count is kept, not taken.
        assert_eq!(counts.view(&conn, "v").unwrap(), 1);
        counts.changed();
        assert_eq!((counts.table("t"), counts.view(&conn, "v").unwrap()), (Some(3), 2));

        ensure(&conn, &counts, "u", "custom", "CREATE TABLE u (y INTEGER)", None).unwrap();
        assert_eq!(counts.table("u"), Some(0));
        ensure(&conn, &counts, "u", "custom", "CREATE TABLE u (y INTEGER)", None).unwrap();
        let other = ensure(&conn, &counts, "u", "custom", "CREATE TABLE u (z INTEGER)", None).unwrap_err();
        assert_eq!(other.to_string(), "table u already exists with different columns");
    }

    fn page(job: &str, page: u32, values: Vec<i64>, on_commit: OnCommit) -> PageWrite {
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(Int64Array::from(values))]).unwrap();
        PageWrite { job_id: job.into(), table: "t".into(), page, batch, next: None, side: Vec::new(), on_commit }
    }

    async fn commit(store: &Store, page_no: u32, values: Vec<i64>) -> Committed {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_commit = Box::new(move |r| {
            let _ = tx.send(r);
        });
        store.writer().unwrap().write(page("j", page_no, values, on_commit)).await.unwrap();
        rx.await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_store_lists_its_tables_with_the_rows_the_writer_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.duckdb");
        let store = Store::open(&path, &StoreSettings::default()).unwrap();
        // A view over a table not there yet waits for it.
        let view =
            views::parse(std::path::Path::new("v/big.sql"), "CREATE VIEW big AS SELECT * FROM t WHERE x > 1").unwrap();
        store.apply_views(vec![view]).await.unwrap();
        assert_eq!(store.tables().await.unwrap(), []);
        let ddl = "CREATE TABLE t (x BIGINT, _job_id VARCHAR NOT NULL, _page INTEGER NOT NULL, \
                   _ingested_at TIMESTAMPTZ NOT NULL, _commit BIGINT NOT NULL)";
        store.ensure_table("t", "custom", ddl).await.unwrap();
        let listed = |rows_t: u64, rows_big: u64| {
            vec![
                TableStats { name: "big".into(), resource: VIEW_RESOURCE.into(), rows: rows_big },
                TableStats { name: "t".into(), resource: "custom".into(), rows: rows_t },
            ]
        };
        assert_eq!(store.tables().await.unwrap(), listed(0, 0));

        assert_eq!(commit(&store, 0, vec![1, 2, 3]).await.rows, 3);
        assert_eq!(store.tables().await.unwrap(), listed(3, 2));
        commit(&store, 1, vec![5]).await;
        assert_eq!(store.tables().await.unwrap(), listed(4, 3));
        // A page committed twice fails and counts nothing.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_commit = Box::new(move |r| {
            let _ = tx.send(r);
        });
        store.writer().unwrap().write(page("j", 1, vec![9], on_commit)).await.unwrap();
        let refused = rx.await.unwrap().unwrap_err();
        assert!(matches!(refused, StoreError::Other(_)), "{refused:?}");
        assert!(!refused.holds_for_every_page());
        assert_eq!(store.tables().await.unwrap(), listed(4, 3));

        // A view whose file is gone is dropped, with its row; a new instance counts the rows again.
        store.apply_views(vec![]).await.unwrap();
        drop(store);
        let store = Store::open(&path, &StoreSettings::default()).unwrap();
        assert_eq!(store.tables().await.unwrap(), listed(4, 0)[1..]);
    }
}
