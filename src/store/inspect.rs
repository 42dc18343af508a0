//! Reading a database without serving it: a read-only connection (for CLI commands that look
//! at a file no process is serving) and the Arrow schema of a table or view.

use std::path::Path;

use anyhow::Context;
use duckdb::arrow::datatypes::SchemaRef;
use duckdb::{AccessMode, Connection};

use crate::catalog::quote_ident;

use super::error::StoreError;

/// Opens `path` read-only; fails if it does not exist or another process holds it.
pub fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    anyhow::ensure!(path.exists(), "there is no database at {}", path.display());
    let config = duckdb::Config::default()
        .access_mode(AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false))
        .context("invalid DuckDB settings")?;
    Ok(Connection::open_with_flags(path, config).map_err(|e| StoreError::opening(&e).opening_file(path))?)
}

/// Whether `name` is a table or view of the database.
pub fn relation_exists(conn: &Connection, name: &str) -> anyhow::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM (SELECT table_name FROM duckdb_tables() WHERE table_name = ?1 \
         UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name = ?1 AND NOT internal)",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The Arrow schema of `SELECT * FROM name`, as DuckDB hands its rows out.
pub fn arrow_schema(conn: &Connection, name: &str) -> anyhow::Result<SchemaRef> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {} LIMIT 0", quote_ident(name)))
        .with_context(|| format!("cannot read {name}"))?;
    let arrow = stmt.query_arrow([])?;
    Ok(arrow.get_schema())
}
