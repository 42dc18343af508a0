//! Sources described in files: one TOML file per REST API in `DUCKHAUL_SOURCES_DIR`, named by
//! its stem, saying where the API is, how to authenticate, and per resource its path, fixed
//! parameters, where the records are in a body, how its pages are addressed and the DuckDB
//! types of some or all of its fields.
//!
//! `file` is the format as written (a misspelt key is refused), `load` turns it into the
//! validated `Source` below or a `SourceError` naming the file, the key and the reason. Secrets
//! are read from the environment at load and held as `auth::Secret`, which never prints.
//! `faker` describes the built-in source in the same model.

mod auth;
mod error;
pub mod faker;
mod file;
mod load;
mod pagination;
mod registry;

pub use auth::{Auth, Secret};
pub use error::{SourceError, SourceErrorKind};
pub use load::{BUILTIN_SOURCE, load_dir, load_dir_with, load_file, load_file_with, parse};
pub use pagination::{Cursors, Offsets, PageNumbers, Pagination, Total};
pub use registry::Sources;

use std::num::NonZeroU32;

use crate::catalog::evolve::Contract;
use std::path::PathBuf;

/// A source, validated: every value usable as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file's stem; an identifier (`catalog::is_identifier`).
    pub name: String,
    pub file: PathBuf,
    /// `http` or `https`, without a trailing `/`, a query or credentials; a resource's URL is
    /// this followed by its path.
    pub base_url: String,
    /// Requests per minute for each path; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Pages fetched at once; `None` = the service's `DUCKHAUL_CONCURRENCY`.
    pub concurrency: Option<u32>,
    /// Sent with every request, in file order.
    pub headers: Vec<(String, String)>,
    pub auth: Option<Auth>,
    /// In file order; at least one.
    pub resources: Vec<SourceResource>,
}

/// One resource of a source: an endpoint whose records fill one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceResource {
    /// An identifier, unique in its source.
    pub name: String,
    /// An identifier: the resource's name unless the file says otherwise; unique in its source.
    pub table: String,
    /// Starts with `/`; without a query.
    pub path: String,
    /// Fixed query parameters, in file order.
    pub params: Vec<(String, String)>,
    /// JSON Pointer to the records array; `""` = the body is the array.
    pub records: String,
    pub pagination: Pagination,
    /// Fields whose DuckDB type is declared, in file order; the others are inferred.
    pub columns: Vec<DeclaredColumn>,
    /// What the table does with records that do not fit it (`evolve` unless the file says).
    pub contract: Contract,
}

/// `name = "DuckDB type"` under `[resources.NAME.columns]`. The type is kept as written (trimmed):
/// parsing it is the schema's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredColumn {
    /// The field's name in the records, as the API spells it.
    pub name: String,
    pub duckdb_type: String,
}

impl Source {
    pub fn resource(&self, name: &str) -> Option<&SourceResource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// The pace per path, `None` when unlimited.
    pub fn rate_limit(&self) -> Option<NonZeroU32> {
        NonZeroU32::new(self.rate_limit_per_minute)
    }

    /// The URL of a resource's first page, before its query.
    pub fn url_of(&self, resource: &SourceResource) -> String {
        format!("{}{}", self.base_url, resource.path)
    }
}

#[cfg(test)]
mod tests;
