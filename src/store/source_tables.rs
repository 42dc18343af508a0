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

/// Records the columns of an existing table after it evolved.
pub(super) fn update_columns(conn: &Connection, table: &SourceTable) -> duckdb::Result<()> {
    let columns = serde_json::to_string(&table.columns).expect("pairs of strings serialise");
    conn.execute("UPDATE duckhaul_source_tables SET columns = ? WHERE name = ?", params![columns, table.name])?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::infer::infer_schema;
    use crate::catalog::pointer::JsonPointer;

    #[test]
    fn a_recorded_table_gives_back_the_schema_it_was_created_with() {
        let body = br#"{"data": [
            {"id": 1, "odd name": "x", "at": "2026-01-02T03:04:05+01:00", "day": "2026-01-02", "price": 1.5,
             "customer": {"name": "A", "tags": ["a"], "address": {"zip": "10100"}}, "lines": [{"qty": 2}],
             "mixed": 1, "nothing": null, "ok": true},
            {"id": 2, "odd name": "y", "at": "2026-01-02T03:04:05Z", "day": "2026-01-03", "price": 2,
             "customer": {"name": "B", "tags": []}, "lines": [], "mixed": "one", "nothing": null, "ok": false}
        ]}"#;
        let schema = infer_schema(body, &JsonPointer::parse("/data").unwrap(), &[]).unwrap();
        let table = SourceTable::new("orders", "shop", "orders", &schema);
        assert_eq!(table.label(), "shop/orders");
        assert_eq!(table.columns[1], ("odd name".to_owned(), "VARCHAR".to_owned()));
        // Which columns have held only nulls is the table's to say (`evolution::layout`), not
        // the recorded types'.
        assert_eq!(table.schema().unwrap(), crate::catalog::evolve::Contract::Freeze.shaped(schema));

        let bad = SourceTable { columns: vec![("id".into(), "DECIMAL(10,2)".into())], ..table };
        assert!(bad.schema().unwrap_err().to_string().contains("the recorded type of id"));
    }
}
