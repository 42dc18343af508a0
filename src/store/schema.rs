//! DuckDB DDL: duckhaul's own bookkeeping tables, and one typed table per resource derived
//! from the catalogue.

use crate::catalog::{ColumnType, Fake, Field, LINEAGE_COLUMNS, Schema, quote_ident};

/// duckhaul's own tables. Their names start with `duckhaul_`, which data tables may not use.
pub const META_DDL: &str = "
CREATE TABLE IF NOT EXISTS duckhaul_jobs (
    id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    target_table VARCHAR,
    base_seed BIGINT,
    pages_total INTEGER NOT NULL DEFAULT 0,
    pages_done INTEGER NOT NULL DEFAULT 0,
    rows BIGINT NOT NULL DEFAULT 0,
    error VARCHAR,
    details VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS duckhaul_pages (
    job_id VARCHAR NOT NULL,
    page INTEGER NOT NULL,
    table_name VARCHAR NOT NULL,
    rows INTEGER NOT NULL,
    commit_seq BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, page)
);
-- What a followed page (cursor, next URL, link header) says comes after it, committed with
-- it: a resume continues from the last page's. NULL: it was the last page.
CREATE TABLE IF NOT EXISTS duckhaul_page_positions (
    job_id VARCHAR NOT NULL,
    page INTEGER NOT NULL,
    next_position VARCHAR,
    PRIMARY KEY (job_id, page)
);
-- Groups of committed pages shipped to the destination (see `crate::durable`): a page is
-- durable once its group is. `loaded`: its rows are in this database (a group a lost instance
-- shipped is loaded when an export needs it).
CREATE TABLE IF NOT EXISTS duckhaul_groups (
    group_id VARCHAR PRIMARY KEY,
    job_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    loaded BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS duckhaul_group_pages (
    job_id VARCHAR NOT NULL,
    page INTEGER NOT NULL,
    group_id VARCHAR NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (job_id, page)
);
CREATE TABLE IF NOT EXISTS duckhaul_exports (
    export_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    uri VARCHAR,
    manifest_uri VARCHAR,
    rows BIGINT,
    bytes BIGINT,
    crc32c UINTEGER,
    commit_from BIGINT NOT NULL,
    commit_to BIGINT NOT NULL,
    error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (export_id, table_name)
);
CREATE TABLE IF NOT EXISTS duckhaul_idempotency (
    kind VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
-- The tables described sources fill, with the columns (JSON [[name, DuckDB type], ...]) their
-- first page gave them.
CREATE TABLE IF NOT EXISTS duckhaul_source_tables (
    name VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    resource VARCHAR NOT NULL,
    columns VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- Every change an evolving source table went through (column added, widened, typed), with the
-- job and page that first needed it: GET /sources shows a table's history from here.
CREATE TABLE IF NOT EXISTS duckhaul_schema_changes (
    table_name VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    page INTEGER NOT NULL,
    column_name VARCHAR NOT NULL,
    change VARCHAR NOT NULL,
    from_type VARCHAR,
    to_type VARCHAR NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS duckhaul_tables (
    name VARCHAR PRIMARY KEY,
    resource VARCHAR NOT NULL,
    ddl VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
";

/// Prefix reserved for duckhaul's own tables.
pub const META_PREFIX: &str = "duckhaul_";

/// The `CREATE TABLE` statement of a data table: the record fields, then the lineage columns.
pub fn table_ddl(table: &str, schema: &Schema) -> String {
    let mut columns: Vec<String> =
        schema.fields.iter().map(|f| format!("    {} {}", quote_ident(&f.name), f.ty.duckdb_sql())).collect();
    columns.extend(LINEAGE_COLUMNS.iter().map(|(name, ty)| format!("    {name} {ty} NOT NULL")));
    format!("CREATE TABLE {} (\n{}\n)", quote_ident(table), columns.join(",\n"))
}

/// The statements that take `table` from `old` to `new`, a widening of it (`catalog::evolve`):
/// a column added (after the others, so after the lineage columns), or retyped in place with
/// every value it holds converted (a `STRUCT` rebuilt with its new members null).
pub fn evolve_ddl(table: &str, old: &Schema, new: &Schema) -> Vec<String> {
    let table = quote_ident(table);
    new.fields
        .iter()
        .filter_map(|field| {
            let name = quote_ident(&field.name);
            match old.fields.iter().find(|f| f.name == field.name) {
                None => Some(format!("ALTER TABLE {table} ADD COLUMN {name} {}", field.ty.duckdb_sql())),
                Some(before) if before.ty.duckdb_sql() == field.ty.duckdb_sql() => None,
                Some(before) => Some(format!(
                    "ALTER TABLE {table} ALTER COLUMN {name} SET DATA TYPE {} USING {}",
                    field.ty.duckdb_sql(),
                    converted(&name, before, field, 0)
                )),
            }
        })
        .collect()
}

/// `expr`, a value of `from`, as a value of `to`.
fn converted(expr: &str, from: &Field, to: &Field, depth: usize) -> String {
    if from.ty.duckdb_sql() == to.ty.duckdb_sql() {
        return expr.to_string();
    }
    if from.fake == Fake::Null {
        // It has held only nulls.
        return format!("CAST(NULL AS {})", to.ty.duckdb_sql());
    }
    match (&from.ty, &to.ty) {
        (ColumnType::Struct(before), ColumnType::Struct(after)) => {
            let members: Vec<String> = after
                .iter()
                .map(|member| {
                    let value = match before.iter().find(|b| b.name == member.name) {
                        Some(b) => {
                            let inner = format!("struct_extract({expr}, '{}')", member.name.replace('\'', "''"));
                            converted(&inner, b, member, depth)
                        }
                        None => format!("CAST(NULL AS {})", member.ty.duckdb_sql()),
                    };
                    format!("{} := {value}", quote_ident(&member.name))
                })
                .collect();
            format!("CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({}) END", members.join(", "))
        }
        (ColumnType::List { element: before, .. }, ColumnType::List { element: after, .. }) => {
            let x = format!("x{depth}");
            format!("list_transform({expr}, lambda {x}: {})", converted(&x, before, after, depth + 1))
        }
        (_, to_ty) => format!("CAST({expr} AS {})", to_ty.duckdb_sql()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Resource;

    #[test]
    fn ddl_lists_fields_then_lineage() {
        let ddl = table_ddl("places", Resource::Places.schema().unwrap());
        assert_eq!(
            ddl,
            "CREATE TABLE \"places\" (\n    \"latitude\" DOUBLE,\n    \"longitude\" DOUBLE,\n    _job_id VARCHAR NOT NULL,\n    _page INTEGER NOT NULL,\n    _ingested_at TIMESTAMPTZ NOT NULL,\n    _commit BIGINT NOT NULL\n)"
        );
    }
}
