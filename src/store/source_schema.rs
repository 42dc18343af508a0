//! The schema a source ingest recorded for its table: its columns as (name, DuckDB type), read
//! from the bookkeeping table `duckhaul_source_tables` that the source ingest writes.
//!
//! TEMPORARY (sources-api branch): a minimal read written against the bookkeeping the source
//! ingest keeps, until the real one (with its writer) is merged in its place.

use duckdb::{OptionalExt, params};

use super::Store;

impl Store {
    /// The columns recorded for `table` when a source ingest created it; `None` when no source
    /// ingest has (a Faker table, a table not created yet, or no source ingest ever ran).
    pub async fn source_schema(&self, table: &str) -> anyhow::Result<Option<Vec<(String, String)>>> {
        let table = table.to_owned();
        self.read(move |conn| {
            let exists: bool = conn.query_row(
                "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'duckhaul_source_tables'",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(None);
            }
            let columns: Option<String> = conn
                .query_row("SELECT columns FROM duckhaul_source_tables WHERE name = ?", params![table], |r| r.get(0))
                .optional()?;
            columns
                .map(|text| {
                    serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("the recorded schema of {table} is not [[name, type], ...]: {e}"))
                })
                .transpose()
        })
        .await
    }
}
