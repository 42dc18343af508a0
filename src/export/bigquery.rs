//! BigQuery's JSON schema of a table (for `bq load --schema`, `bq mk --schema` or a Terraform
//! table): what `duckhaul bigquery-schema TABLE` prints.
//!
//! The exported Parquet already describes itself, but BigQuery derives modes from one file:
//! DuckDB writes a column without NULLs as REQUIRED, so a table created from one export can
//! refuse the next. This schema says NULLABLE for every column (REPEATED for lists, RECORD for
//! structs), so every export loads into the same table. Types follow what the export writes:
//! STRING, INTEGER, FLOAT, BOOLEAN, DATE, and TIMESTAMP for every timestamp (the export writes
//! them as UTC instants). LISTs are 3-level `list`/`element`: load with
//! `--parquet_enable_list_inference` so BigQuery reads them as REPEATED fields.

use std::path::Path;

use anyhow::bail;
use duckdb::arrow::datatypes::{DataType, Field as ArrowField, Schema as ArrowSchema};
use serde::Serialize;

use crate::catalog::{ColumnType, Field, LINEAGE_COLUMNS, Resource, Schema};
use crate::store::inspect;

/// One field of a BigQuery table schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BqField {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// NULLABLE, or REPEATED for lists.
    pub mode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<BqField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl BqField {
    fn new(name: &str, ty: &str, repeated: bool, fields: Vec<BqField>) -> BqField {
        BqField {
            name: name.to_string(),
            ty: ty.to_string(),
            mode: if repeated { "REPEATED" } else { "NULLABLE" }.to_string(),
            fields,
            description: lineage_description(name).map(str::to_string),
        }
    }
}

fn lineage_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "_job_id" => "duckhaul: the ingest job that wrote the row",
        "_page" => "duckhaul: the page of that job the row came from; (_job_id, _page) identifies a page",
        "_ingested_at" => "duckhaul: when the row was committed to DuckDB",
        "_commit" => "duckhaul: the writer's commit sequence number, the watermark of incremental exports",
        _ => return None,
    })
}

/// The schema of a built-in resource's table, from the catalogue: its fields, then the
/// lineage columns.
pub fn from_catalog(schema: &Schema) -> Vec<BqField> {
    let mut fields: Vec<BqField> = schema.fields.iter().map(|f| catalog_field(f, &f.name, false)).collect();
    fields.extend(LINEAGE_COLUMNS.iter().map(|(name, sql)| {
        let ty = match *sql {
            "VARCHAR" => "STRING",
            "INTEGER" | "BIGINT" => "INTEGER",
            "TIMESTAMPTZ" => "TIMESTAMP",
            other => unreachable!("lineage column type {other}"),
        };
        BqField::new(name, ty, false, Vec::new())
    }));
    fields
}

fn catalog_field(field: &Field, name: &str, repeated: bool) -> BqField {
    let ty = match &field.ty {
        ColumnType::Text => "STRING",
        ColumnType::Integer => "INTEGER",
        ColumnType::Double => "FLOAT",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp | ColumnType::TimestampTz => "TIMESTAMP",
        ColumnType::Struct(members) => {
            let fields = members.iter().map(|m| catalog_field(m, &m.name, false)).collect();
            return BqField::new(name, "RECORD", repeated, fields);
        }
        // The catalogue has no list of lists, which BigQuery could not hold either.
        ColumnType::List { element, .. } => return catalog_field(element, name, true),
    };
    BqField::new(name, ty, repeated, Vec::new())
}

/// The schema of any table or view, from the Arrow types DuckDB gives its rows.
pub fn from_arrow(schema: &ArrowSchema) -> anyhow::Result<Vec<BqField>> {
    schema.fields().iter().map(|f| arrow_field(f, f.name(), false)).collect()
}

fn arrow_field(field: &ArrowField, name: &str, repeated: bool) -> anyhow::Result<BqField> {
    let ty = match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "INTEGER",
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "INTEGER",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "FLOAT",
        DataType::Boolean => "BOOLEAN",
        DataType::Date32 | DataType::Date64 => "DATE",
        // Naive timestamps are exported as UTC instants too (see store::snapshot).
        DataType::Timestamp(_, _) => "TIMESTAMP",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => "BYTES",
        DataType::Decimal128(p, s) if *s >= 0 && *s <= 9 && i16::from(*p) - i16::from(*s) <= 29 => "NUMERIC",
        DataType::Decimal128(..) | DataType::Decimal256(..) => "BIGNUMERIC",
        DataType::Struct(members) => {
            let fields = members.iter().map(|m| arrow_field(m, m.name(), false)).collect::<anyhow::Result<_>>()?;
            return Ok(BqField::new(name, "RECORD", repeated, fields));
        }
        DataType::List(element) | DataType::LargeList(element) | DataType::FixedSizeList(element, _) => {
            if repeated {
                bail!("{name} is a list of lists, which BigQuery cannot hold; wrap the inner list in a STRUCT");
            }
            return arrow_field(element, name, true);
        }
        other => bail!("{name} has the type {other}, which has no BigQuery equivalent here; cast it in a view"),
    };
    Ok(BqField::new(name, ty, repeated, Vec::new()))
}

/// The schema of `table`: read from the database when it holds the table (custom tables and
/// views need that), else from the catalogue for a built-in resource, which needs no database
/// (before the first load, or while a running service holds the file).
pub fn table_schema(database: &Path, table: &str) -> anyhow::Result<Vec<BqField>> {
    let builtin = Resource::from_name(table).and_then(Resource::schema);
    match inspect::open_read_only(database) {
        Ok(conn) => {
            if inspect::relation_exists(&conn, table)? {
                from_arrow(inspect::arrow_schema(&conn, table)?.as_ref())
            } else if let Some(schema) = builtin {
                Ok(from_catalog(schema))
            } else {
                bail!("{} has no table or view named {table}", database.display())
            }
        }
        Err(e) => match builtin {
            Some(schema) => {
                tracing::debug!(error = %format!("{e:#}"), "schema from the catalogue");
                Ok(from_catalog(schema))
            }
            None => Err(e.context(format!("{table} is not a built-in resource: its schema comes from the database"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_repeated_and_structs_are_records() {
        let fields = from_catalog(Resource::Companies.schema().unwrap());
        let addresses = fields.iter().find(|f| f.name == "addresses").unwrap();
        assert_eq!((addresses.ty.as_str(), addresses.mode.as_str()), ("RECORD", "REPEATED"));
        assert_eq!(addresses.fields.len(), 10);
        let contact = fields.iter().find(|f| f.name == "contact").unwrap();
        let birthday = contact.fields.iter().find(|f| f.name == "birthday").unwrap();
        assert_eq!((birthday.ty.as_str(), birthday.mode.as_str()), ("DATE", "NULLABLE"));
        let last = fields.last().unwrap();
        assert_eq!((last.name.as_str(), last.ty.as_str()), ("_commit", "INTEGER"));
        let products = from_catalog(Resource::Products.schema().unwrap());
        let tags = products.iter().find(|f| f.name == "tags").unwrap();
        assert_eq!((tags.ty.as_str(), tags.mode.as_str()), ("STRING", "REPEATED"));
    }
}
