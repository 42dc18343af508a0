//! A described source's table as its API changes (`catalog::evolve`): the ALTER statements of a
//! widening, run by the writer between two group commits so that no page is appended half under
//! the old shape, in one transaction with the table's recorded columns and its history
//! (`duckhaul_schema_changes`); and the layout a job needs to conform its pages to the table.

use anyhow::Context;
use duckdb::{Connection, params};

use super::source_tables::{self, SourceTable};
use super::transaction::in_transaction;
use crate::catalog::evolve::SchemaChange;
use crate::catalog::{ColumnType, quote_ident};

/// One widening of a source's table.
#[derive(Debug, Clone)]
pub struct TableEvolution {
    /// The table with its columns after the change.
    pub table: SourceTable,
    /// `schema::evolve_ddl`'s statements.
    pub statements: Vec<String>,
    /// The job and page that first needed it, and what changed, for the history.
    pub job_id: String,
    pub page: u32,
    pub changes: Vec<SchemaChange>,
}

/// Runs the statements and records the columns and the history, all or nothing.
pub(super) fn apply(conn: &Connection, evolution: &TableEvolution) -> anyhow::Result<()> {
    let name = &evolution.table.name;
    in_transaction(conn, |conn| {
        for statement in &evolution.statements {
            conn.execute_batch(statement).with_context(|| format!("cannot evolve table {name}: {statement}"))?;
        }
        source_tables::update_columns(conn, &evolution.table)?;
        for change in &evolution.changes {
            conn.execute(
                "INSERT INTO duckhaul_schema_changes (table_name, job_id, page, column_name, change, from_type, to_type, \
                 changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                params![name, evolution.job_id, evolution.page, change.column, change.change, change.from, change.to],
            )?;
        }
        Ok(())
    })
}

/// Where a source table's lineage columns are, and which of its columns have held only nulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    /// Record columns before the lineage columns (those added later come after them).
    pub lineage_at: usize,
    /// Top-level `VARCHAR` columns without a value: an evolving table types them by their
    /// first value (members of a `STRUCT` are not looked into).
    pub null_columns: Vec<String>,
}

pub(super) fn layout(conn: &Connection, table: &SourceTable) -> anyhow::Result<TableLayout> {
    let lineage_at: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_index < \
         (SELECT column_index FROM duckdb_columns() WHERE table_name = ? AND column_name = '_job_id')",
        params![table.name, table.name],
        |r| r.get(0),
    )?;
    let text = ColumnType::Text.duckdb_sql();
    let varchar: Vec<&String> = table.columns.iter().filter(|(_, ty)| *ty == text).map(|(name, _)| name).collect();
    let mut null_columns = Vec::new();
    if !varchar.is_empty() {
        // One scan for every column at once.
        let counts: Vec<String> = varchar.iter().map(|c| format!("count({})", quote_ident(c))).collect();
        let sql = format!("SELECT {} FROM {}", counts.join(", "), quote_ident(&table.name));
        let values: Vec<i64> =
            conn.query_row(&sql, [], |r| (0..varchar.len()).map(|i| r.get::<_, i64>(i)).collect())?;
        null_columns = varchar.into_iter().zip(values).filter(|(_, n)| *n == 0).map(|(c, _)| c.clone()).collect();
    }
    Ok(TableLayout { lineage_at: lineage_at as usize, null_columns })
}

/// One change in a source table's history (`duckhaul_schema_changes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub job_id: String,
    pub page: u32,
    pub change: SchemaChange,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

fn history(conn: &Connection, table: &str) -> anyhow::Result<Vec<HistoryEntry>> {
    let mut stmt = conn.prepare(
        "SELECT job_id, page, column_name, change, from_type, to_type, changed_at FROM duckhaul_schema_changes \
         WHERE table_name = ? ORDER BY changed_at, rowid",
    )?;
    let entries = stmt
        .query_map(params![table], |r| {
            Ok(HistoryEntry {
                job_id: r.get(0)?,
                page: r.get(1)?,
                change: SchemaChange { column: r.get(2)?, change: r.get(3)?, from: r.get(4)?, to: r.get(5)? },
                changed_at: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(entries)
}

/// What job `job_id` already did to `table` in earlier runs (a resume): its records in the
/// quarantine, and the changes its pages made, from the database, where they were committed
/// with their pages (a killed process saved no count of them).
fn job_evolution(conn: &Connection, table: &str, job_id: &str) -> anyhow::Result<(u64, Vec<HistoryEntry>)> {
    let quarantine = crate::catalog::evolve::quarantine_table(table);
    let exists: i64 =
        conn.query_row("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", params![quarantine], |r| r.get(0))?;
    let quarantined: i64 = match exists {
        0 => 0,
        _ => conn.query_row(
            &format!("SELECT count(*) FROM {} WHERE _job_id = ?", quote_ident(&quarantine)),
            params![job_id],
            |r| r.get(0),
        )?,
    };
    let changes = history(conn, table)?.into_iter().filter(|h| h.job_id == job_id).collect();
    Ok((quarantined as u64, changes))
}

impl super::Store {
    /// What job `job_id` did to `table` before this run: records quarantined, changes made.
    pub async fn job_evolution(&self, table: &str, job_id: &str) -> anyhow::Result<(u64, Vec<HistoryEntry>)> {
        let (table, job_id) = (table.to_owned(), job_id.to_owned());
        self.read(move |conn| job_evolution(conn, &table, &job_id)).await
    }

    /// Every change `table` went through as its source's API changed, oldest first.
    pub async fn schema_history(&self, table: &str) -> anyhow::Result<Vec<HistoryEntry>> {
        let table = table.to_owned();
        self.read(move |conn| history(conn, &table)).await
    }

    /// Widens a source's table through the writer (see `Writer::evolve_table`).
    pub async fn evolve_source_table(&self, evolution: TableEvolution) -> anyhow::Result<()> {
        Ok(self.writer()?.evolve_table(evolution).await?)
    }

    /// Where `table`'s lineage columns are and which of its columns have held only nulls.
    pub async fn source_table_layout(&self, table: SourceTable) -> anyhow::Result<TableLayout> {
        self.read(move |conn| layout(conn, &table)).await
    }
}

#[cfg(test)]
mod tests {
    use duckdb::arrow::record_batch::RecordBatch;

    use super::*;
    use crate::catalog::decode::decode_fitting_records_at;
    use crate::catalog::evolve::{Contract, changes, conform, evolve_page};
    use crate::catalog::infer::infer_schema;
    use crate::catalog::pointer::JsonPointer;
    use crate::store::schema::{evolve_ddl, table_ddl};
    use crate::store::{PageWrite, Store, StoreSettings};

    async fn commit(store: &Store, page: u32, batch: RecordBatch) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_commit = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let write =
            PageWrite { job_id: "j".into(), table: "t".into(), page, batch, next: None, side: Vec::new(), on_commit };
        store.writer().unwrap().write(write).await.unwrap();
        rx.await.unwrap().unwrap();
    }

    /// Widening in DuckDB: columns added after the lineage, a BIGINT made DOUBLE, a DATE made
    /// TIMESTAMPTZ, a null-only VARCHAR typed, STRUCT members added inside a list and at the
    /// top; a page decoded before the change conforms and commits after it; every value kept.
    #[tokio::test]
    async fn a_widened_table_keeps_its_rows_and_takes_pages_of_either_shape() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.duckdb"), &StoreSettings::default()).unwrap();
        let root = JsonPointer::parse("").unwrap();
        let first = br#"[{"id": 1, "n": 2, "day": "2026-01-02", "none": null, "c": {"a": 1},
                          "lines": [{"sku": "x"}]}]"#;
        let schema = infer_schema(first, &root, &[]).unwrap();
        let table = SourceTable::new("t", "s", "r", &schema);
        store.ensure_source_table(table.clone(), &table_ddl("t", &schema)).await.unwrap();
        let old_page = decode_fitting_records_at(&schema, first, &root).unwrap().batch;
        commit(&store, 0, conform(old_page.clone(), &schema, 6).unwrap()).await;

        let body =
            br#"[{"id": 2, "n": 2.5, "day": "2026-01-03T04:05:06Z", "none": {"k": true}, "c": {"a": 2, "b": "y"},
                         "lines": [{"sku": "y", "qty": 3}], "new": [1, 2]}]"#;
        let evolved = evolve_page(&schema, &[], body, &root, Contract::Evolve).unwrap();
        let statements = evolve_ddl("t", &schema, &evolved.schema);
        let widened = SourceTable::new("t", "s", "r", &evolved.schema);
        let evolution = TableEvolution {
            table: widened.clone(),
            statements,
            job_id: "j".into(),
            page: 1,
            changes: changes(&schema, &evolved.schema),
        };
        store.evolve_source_table(evolution).await.unwrap();
        let layout = store.source_table_layout(widened.clone()).await.unwrap();
        assert_eq!(layout, TableLayout { lineage_at: 6, null_columns: vec![] });
        commit(&store, 1, conform(evolved.batch, &evolved.schema, 6).unwrap()).await;
        // A page decoded under the old shape, committed after the change.
        commit(&store, 2, conform(old_page, &evolved.schema, 6).unwrap()).await;

        let recorded = store.source_table("t").await.unwrap().unwrap();
        assert_eq!(recorded.columns, widened.columns);
        let rows: Vec<String> = store
            .read(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT concat_ws(' | ', id, n, epoch_ms(day), none, c, CAST(lines AS VARCHAR), CAST(new AS VARCHAR), \
                     _page) FROM t ORDER BY _page",
                )?;
                Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                "1 | 2.0 | 1767312000000 | {'a': 1, 'b': NULL} | [{'sku': x, 'qty': NULL}] | 0",
                "2 | 2.5 | 1767413106000 | {'k': true} | {'a': 2, 'b': y} | [{'sku': y, 'qty': 3}] | [1, 2] | 1",
                "1 | 2.0 | 1767312000000 | {'a': 1, 'b': NULL} | [{'sku': x, 'qty': NULL}] | 2",
            ]
        );
        let history: i64 = store
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM duckhaul_schema_changes", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(history, 6);
    }
}
