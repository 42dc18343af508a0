//! DuckDB DDL: duckhaul's own bookkeeping tables, and one typed table per resource derived
//! from the catalogue.

use crate::catalog::{LINEAGE_COLUMNS, Schema, quote_ident};

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
