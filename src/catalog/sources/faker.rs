//! The built-in source `faker`, described by the same model as a source file: one resource per
//! catalogue resource, at its upstream path, with every field declared. `GET /sources` lists it
//! so, and `tests/fixtures/sources/fakerusers.toml` writes its users as a file (tested equal
//! below), which the benchmark ingests through the generic path to compare with the built-in one.
//!
//! `custom` is not among its resources: its fields come from each request.

use std::path::PathBuf;

use super::load::BUILTIN_SOURCE;
use super::pagination::{PageNumbers, Pagination};
use super::{DeclaredColumn, Source, SourceResource};
use crate::catalog::evolve::Contract;
use crate::catalog::{ApiVersion, Resource};

/// The public Faker API's throttle, per path: what `DUCKHAUL_UPSTREAM_RATE_LIMIT` defaults to.
const RATE_LIMIT_PER_MINUTE: u32 = 30;
/// The upstream's cap on records per request.
const PAGE_SIZE: u32 = 1000;

/// `faker` at `base_url` (e.g. `https://fakerapi.it/api/v2`, whose last segment picks the
/// version's paths). Its `file` is empty: it is compiled in.
pub fn describe(base_url: &str) -> Source {
    let version = ApiVersion::of_base_url(base_url);
    let resources = Resource::ALL
        .into_iter()
        .filter_map(|resource| resource.schema().map(|schema| (resource, schema)))
        .map(|(resource, schema)| SourceResource {
            name: resource.name().to_owned(),
            table: resource.name().to_owned(),
            path: format!("/{}", resource.upstream_path(version)),
            params: Vec::new(),
            records: "/data".to_owned(),
            // Faker pages are addressed by seed: page i of a job is `_seed = base seed + i`, the
            // same records whenever it is fetched again. Its `total` is the page's count, not
            // the resource's: a job's quantity says how many pages there are.
            pagination: Pagination::Page(PageNumbers {
                page_param: "_seed".to_owned(),
                size_param: Some("_quantity".to_owned()),
                page_size: PAGE_SIZE,
                first_page: 1,
                total: None,
            }),
            columns: schema
                .fields
                .iter()
                .map(|field| DeclaredColumn { name: field.name.clone(), duckdb_type: field.ty.duckdb_sql() })
                .collect(),
            // Faker's tables keep the catalogue's columns: its pages are decoded by them alone.
            contract: Contract::Freeze,
        })
        .collect();
    Source {
        name: BUILTIN_SOURCE.to_owned(),
        file: PathBuf::new(),
        base_url: base_url.trim_end_matches('/').to_owned(),
        rate_limit_per_minute: RATE_LIMIT_PER_MINUTE,
        concurrency: None,
        headers: Vec::new(),
        auth: None,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::types::parse_column_type;
    use crate::catalog::{ColumnType, Field};

    /// Equal as stored: the same types and member names, whatever Faker kind or list length the
    /// generator gives them (a parsed type has none).
    fn same_storage(a: &ColumnType, b: &ColumnType) -> bool {
        let same_field = |a: &Field, b: &Field| a.name == b.name && same_storage(&a.ty, &b.ty);
        match (a, b) {
            (ColumnType::Struct(a), ColumnType::Struct(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_field(a, b))
            }
            (ColumnType::List { element: a, .. }, ColumnType::List { element: b, .. }) => same_storage(&a.ty, &b.ty),
            (a, b) => a == b,
        }
    }

    #[test]
    fn every_resource_but_custom_is_described_with_its_path_and_every_field() {
        let v2 = describe("https://fakerapi.it/api/v2/");
        assert_eq!((v2.name.as_str(), v2.base_url.as_str()), ("faker", "https://fakerapi.it/api/v2"));
        let names: Vec<&str> = v2.resources.iter().map(|r| r.name.as_str()).collect();
        let expected: Vec<&str> = Resource::ALL.iter().filter(|r| **r != Resource::Custom).map(|r| r.name()).collect();
        assert_eq!(names, expected);
        assert_eq!(v2.resource("credit_cards").unwrap().path, "/creditCards");
        assert_eq!(describe("http://127.0.0.1:8081/api/v1").resource("credit_cards").unwrap().path, "/credit_cards");
        let users = v2.resource("users").unwrap();
        assert_eq!((users.table.as_str(), users.path.as_str(), users.records.as_str()), ("users", "/users", "/data"));
        assert_eq!(users.pagination.params(), ["_seed", "_quantity"]);
        assert_eq!(users.columns.len(), Resource::Users.schema().unwrap().fields.len());
    }

    #[test]
    fn every_declared_type_parses_back_to_the_catalogues_column_type() {
        let source = describe("https://fakerapi.it/api/v2");
        for resource in &source.resources {
            let schema = Resource::from_name(&resource.name).and_then(Resource::schema).unwrap();
            for (column, field) in resource.columns.iter().zip(&schema.fields) {
                assert_eq!(column.name, field.name);
                let parsed = parse_column_type(&column.duckdb_type)
                    .unwrap_or_else(|e| panic!("{}.{}: {e}", resource.name, column.name));
                assert!(
                    same_storage(&parsed, &field.ty),
                    "{}.{}: {} parses as {parsed:?}, not {:?}",
                    resource.name,
                    column.name,
                    column.duckdb_type,
                    field.ty
                );
            }
        }
    }

    #[test]
    fn the_users_fixture_is_the_builtin_users_as_a_source_file() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources/fakerusers.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let source = super::super::parse("fakerusers", &file, &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let builtin = describe(&source.base_url);
        let (written, builtin) = (&source.resources[0], builtin.resource("users").unwrap());
        assert_eq!(source.resources.len(), 1);
        assert_eq!((&written.name, &written.path, &written.records), (&builtin.name, &builtin.path, &builtin.records));
        assert_eq!(written.pagination, builtin.pagination);
        let parsed = |columns: &[DeclaredColumn]| -> Vec<(String, String)> {
            columns.iter().map(|c| (c.name.clone(), parse_column_type(&c.duckdb_type).unwrap().duckdb_sql())).collect()
        };
        assert_eq!(parsed(&written.columns), parsed(&builtin.columns));
    }
}
