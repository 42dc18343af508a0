//! What changed between two versions of a table's schema, column by column, as a job reports
//! it (`schema_changes`) and the ALTER statements follow it.

use crate::catalog::{ColumnType, Fake, Field, Schema};

/// One column (or member of a `STRUCT`, named `column.member`) added or retyped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaChange {
    /// The column, members of a `STRUCT` after a `.` (`customer.vip`).
    pub column: String,
    /// `added`, `widened`, or `typed` (a column that had held only nulls took its first value's type).
    pub change: String,
    /// The type before (absent for an added column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
}

/// The changes from `old` to `new` (a widening of it), in `new`'s order; members of a `STRUCT`
/// are reported one by one.
pub fn changes(old: &Schema, new: &Schema) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    fields(&old.fields, &new.fields, "", &mut out);
    out
}

fn fields(old: &[Field], new: &[Field], prefix: &str, out: &mut Vec<SchemaChange>) {
    for field in new {
        let column = format!("{prefix}{}", field.name);
        let Some(before) = old.iter().find(|f| f.name == field.name) else {
            out.push(SchemaChange { column, change: "added".into(), from: None, to: field.ty.duckdb_sql() });
            continue;
        };
        match (&before.ty, &field.ty) {
            _ if before.fake == Fake::Null && field.fake != Fake::Null => out.push(SchemaChange {
                column,
                change: "typed".into(),
                from: Some(before.ty.duckdb_sql()),
                to: field.ty.duckdb_sql(),
            }),
            (ColumnType::Struct(a), ColumnType::Struct(b)) => fields(a, b, &format!("{column}."), out),
            (a, b) if a.duckdb_sql() != b.duckdb_sql() => out.push(SchemaChange {
                column,
                change: "widened".into(),
                from: Some(a.duckdb_sql()),
                to: b.duckdb_sql(),
            }),
            _ => {}
        }
    }
}
