//! The tables described sources fill, and the schema each was created with: a source's schema
//! is inferred from its first page, so it is recorded (`duckhaul_source_tables`) for the later
//! pages, resumes and runs to decode with, and for `GET /sources` and `bigquery-schema` to show.

use duckdb::{Connection, OptionalExt, params};

use crate::catalog::types::parse_column_type;
use crate::catalog::{Fake, Field, Schema};

/// A table a described source's resource fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    pub name: String,
    pub source: String,
    pub resource: String,
    /// Its record columns in order, each with its DuckDB type as the DDL spells it.
    pub columns: Vec<(String, String)>,
}

impl SourceTable {
    pub fn new(name: &str, source: &str, resource: &str, schema: &Schema) -> SourceTable {
        SourceTable {
            name: name.to_owned(),
            source: source.to_owned(),
            resource: resource.to_owned(),
            columns: schema.fields.iter().map(|f| (f.name.clone(), f.ty.duckdb_sql())).collect(),
        }
    }

    /// What `duckhaul_tables.resource` says of the table: `source/resource`.
    pub fn label(&self) -> String {
        label(&self.source, &self.resource)
    }

    /// The schema pages are decoded with, from the recorded types.
    pub fn schema(&self) -> anyhow::Result<Schema> {
        let fields = self
            .columns
            .iter()
            .map(|(name, ty)| {
                let ty = parse_column_type(ty)
                    .map_err(|e| anyhow::anyhow!("table {}: the recorded type of {name} ({ty}): {e}", self.name))?;
                Ok(Field::new(name, ty, Fake::Generic))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Schema { fields })
    }
}

/// `source/resource`: how `duckhaul_tables.resource` names a source's resource (no Faker
/// resource has a `/`).
pub fn label(source: &str, resource: &str) -> String {
    format!("{source}/{resource}")
}

pub(super) fn insert(conn: &Connection, table: &SourceTable) -> duckdb::Result<()> {
    let columns = serde_json::to_string(&table.columns).expect("pairs of strings serialise");
    conn.execute(
        "INSERT OR REPLACE INTO duckhaul_source_tables (name, source, resource, columns, created_at) \
         VALUES (?, ?, ?, ?, now())",
        params![table.name, table.source, table.resource, columns],
    )?;
    Ok(())
}

/// The source table `name`, if a source's ingest created it.
pub fn get(conn: &Connection, name: &str) -> anyhow::Result<Option<SourceTable>> {
    let row: Option<(String, String, String)> = conn
        .query_row("SELECT source, resource, columns FROM duckhaul_source_tables WHERE name = ?", params![name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((source, resource, columns)) = row else { return Ok(None) };
    let columns = serde_json::from_str(&columns)
        .map_err(|e| anyhow::anyhow!("table {name}: its recorded columns do not parse: {e}"))?;
    Ok(Some(SourceTable { name: name.to_owned(), source, resource, columns }))
}
