//! Reading source files: one file into a `Source`, or every `*.toml` of `DUCKHAUL_SOURCES_DIR`.
//! Each value is checked here, once, so that the rest of the service can use it as it is; the
//! first thing wrong stops the load with its file, key and reason.

use std::fs;
use std::path::{Path, PathBuf};

use url::Url;

use super::auth::{Auth, Secret};
use super::error::{SourceError, SourceErrorKind};
use super::file::{AuthKind, AuthTable, PaginationKind, PaginationTable, ResourceTable, SourceFile};
use super::pagination::{Cursors, Offsets, PageNumbers, Pagination, Total};
use super::{DeclaredColumn, Source, SourceResource};
use crate::catalog::is_identifier;

/// The built-in Faker source's name, which no file may take.
pub const BUILTIN_SOURCE: &str = "faker";
/// Requests per minute per path when the file does not say.
const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 30;
/// The bounds of `DUCKHAUL_CONCURRENCY`, which a source's `concurrency` replaces.
const CONCURRENCY: std::ops::RangeInclusive<u32> = 1..=64;
/// Headers that carry credentials: a file holding them would hold a secret.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "proxy-authorization"];
const IDENTIFIER_RULE: &str = "lower-case letters, digits and _, starting with a letter, at most 63 characters";

/// Loads every `*.toml` file of `dir`, in name order, resolving secrets from the process's
/// environment. The first bad file stops the load with its error.
pub fn load_dir(dir: &Path) -> Result<Vec<Source>, SourceError> {
    load_dir_with(dir, &process_environment)
}

/// `load_dir`, with secrets looked up by `env` (tests give their own).
pub fn load_dir_with(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Source>, SourceError> {
    let unreadable = |e| SourceError::new(dir, "", SourceErrorKind::Unreadable(e));
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        // `is_file` follows symbolic links, as a Kubernetes ConfigMap mounts its files.
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files.iter().map(|file| load_file_with(file, env)).collect()
}

/// Loads one source file, resolving secrets from the process's environment.
pub fn load_file(path: &Path) -> Result<Source, SourceError> {
    load_file_with(path, &process_environment)
}

/// `load_file`, with secrets looked up by `env`. The source is named after the file's stem,
/// which must be an identifier and not the built-in source's name.
pub fn load_file_with(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Source, SourceError> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if stem == BUILTIN_SOURCE {
        return Err(SourceError::new(path, "", SourceErrorKind::ReservedName(stem)));
    }
    if !is_identifier(&stem) {
        let reason = format!("the file name `{stem}` is not a valid source name: {IDENTIFIER_RULE}");
        return Err(SourceError::new(path, "", SourceErrorKind::Invalid(reason)));
    }
    let text = fs::read_to_string(path).map_err(|e| SourceError::new(path, "", SourceErrorKind::Unreadable(e)))?;
    parse(&stem, path, &text, env)
}

/// Parses and validates a source's text; `file` only names it in errors. No name is reserved
/// here, so the built-in source can be described by the same format.
pub fn parse(name: &str, file: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Source, SourceError> {
    let syntax = |key: String, error: toml::de::Error| {
        let line = error.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        SourceError::new(file, key, SourceErrorKind::Syntax { message: error.message().trim().to_owned(), line })
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| syntax(String::new(), e))?;
    let raw: SourceFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        // The path of the document itself prints as ".".
        syntax(if key == "." { String::new() } else { key }, e.into_inner())
    })?;
    Check { file, env }.source(name, raw)
}

fn process_environment(variable: &str) -> Option<String> {
    std::env::var(variable).ok()
}

/// The checks of one file, each failure naming its key.
struct Check<'a> {
    file: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Check<'_> {
    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> SourceError {
        SourceError::new(self.file, key, SourceErrorKind::Invalid(reason.into()))
    }

    fn source(&self, name: &str, raw: SourceFile) -> Result<Source, SourceError> {
        let base_url = self.base_url(raw.base_url)?;
        let concurrency = match raw.concurrency {
            Some(n) if !CONCURRENCY.contains(&n) => {
                let (low, high) = (CONCURRENCY.start(), CONCURRENCY.end());
                return Err(self.invalid("concurrency", format!("must be between {low} and {high}, not {n}")));
            }
            n => n,
        };
        let auth = raw.auth.map(|table| self.auth(table)).transpose()?;
        let headers = self.headers(raw.headers.0, auth.as_ref())?;
        if raw.resources.0.is_empty() {
            return Err(self.invalid(
                "resources",
                "a source needs at least one resource: a [resources.NAME] table with its path and records",
            ));
        }
        let mut resources: Vec<SourceResource> = Vec::with_capacity(raw.resources.0.len());
        for (resource_name, table) in raw.resources.0 {
            let resource = self.resource(resource_name, table, auth.as_ref())?;
            if let Some(other) = resources.iter().find(|r| r.table == resource.table) {
                let key = format!("resources.{}", key_part(&resource.name));
                let reason =
                    format!("its table `{}` is already the table of resource `{}`", resource.table, other.name);
                return Err(self.invalid(key, reason));
            }
            resources.push(resource);
        }
        Ok(Source {
            name: name.to_owned(),
            file: self.file.to_owned(),
            base_url,
            rate_limit_per_minute: raw.rate_limit_per_minute.unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
            concurrency,
            headers,
            auth,
            resources,
        })
    }

    fn base_url(&self, given: Option<String>) -> Result<String, SourceError> {
        let key = "base_url";
        let given =
            given.ok_or_else(|| self.invalid(key, "is required: the API's URL, e.g. https://api.example.com/v2"))?;
        let url = Url::parse(&given).map_err(|e| self.invalid(key, format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.invalid(key, format!("must be an http or https URL, not {}", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.invalid(key, "must not hold credentials: give them in [auth], from the environment"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(
                self.invalid(key, "must not have a query or a fragment: fixed parameters go in a resource's params")
            );
        }
        Ok(url.as_str().trim_end_matches('/').to_owned())
    }

    fn headers(&self, given: Vec<(String, String)>, auth: Option<&Auth>) -> Result<Vec<(String, String)>, SourceError> {
        let mut headers: Vec<(String, String)> = Vec::with_capacity(given.len());
        for (name, value) in given {
            let key = format!("headers.{}", key_part(&name));
            if !is_token(&name) {
                return Err(self.invalid(key, "is not a valid header name"));
            }
            if CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(self
                    .invalid(key, "would put a secret in the file: use [auth], which reads it from the environment"));
            }
            if auth.and_then(Auth::header_name).is_some_and(|h| h.eq_ignore_ascii_case(&name)) {
                return Err(self.invalid(key, "is the header [auth] sets"));
            }
            if headers.iter().any(|(other, _)| other.eq_ignore_ascii_case(&name)) {
                return Err(self.invalid(key, "is given twice (header names ignore case)"));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(self.invalid(key, "holds a control character (a line break?)"));
            }
            headers.push((name, value));
        }
        Ok(headers)
    }

    fn auth(&self, table: AuthTable) -> Result<Auth, SourceError> {
        let kind =
            table.kind.ok_or_else(|| self.invalid("auth.kind", "is required: bearer, header, query or basic"))?;
        let (kind_name, takes): (&str, &[&str]) = match kind {
            AuthKind::Bearer => ("bearer", &["token_env"]),
            AuthKind::Header => ("header", &["header", "token_env"]),
            AuthKind::Query => ("query", &["param", "token_env"]),
            AuthKind::Basic => ("basic", &["username_env", "password_env"]),
        };
        let given = [
            ("token_env", table.token_env.is_some()),
            ("header", table.header.is_some()),
            ("param", table.param.is_some()),
            ("username_env", table.username_env.is_some()),
            ("password_env", table.password_env.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(key, is_given)| *is_given && !takes.contains(key)) {
            let reason = format!("is not a key of auth kind \"{kind_name}\" (it takes {})", takes.join(", "));
            return Err(self.invalid(format!("auth.{key}"), reason));
        }
        let required = |key: &str, value: Option<String>| {
            value.ok_or_else(|| {
                self.invalid(format!("auth.{key}"), format!("is required for auth kind \"{kind_name}\""))
            })
        };
        Ok(match kind {
            AuthKind::Bearer => {
                let (token_env, token) = self.secret("token_env", required("token_env", table.token_env)?)?;
                Auth::Bearer { token_env, token }
            }
            AuthKind::Header => {
                let header = required("header", table.header)?;
                if !is_token(&header) {
                    return Err(self.invalid("auth.header", "is not a valid header name"));
                }
                let (token_env, token) = self.secret("token_env", required("token_env", table.token_env)?)?;
                Auth::Header { header, token_env, token }
            }
            AuthKind::Query => {
                let param = self.param_name("auth.param", required("param", table.param)?)?;
                let (token_env, token) = self.secret("token_env", required("token_env", table.token_env)?)?;
                Auth::Query { param, token_env, token }
            }
            AuthKind::Basic => {
                let (username_env, username) =
                    self.secret("username_env", required("username_env", table.username_env)?)?;
                let (password_env, password) =
                    self.secret("password_env", required("password_env", table.password_env)?)?;
                Auth::Basic { username_env, password_env, username, password }
            }
        })
    }

    /// Reads the variable a `*_env` key names. Errors name the variable, never a value.
    fn secret(&self, key: &str, variable: String) -> Result<(String, Secret), SourceError> {
        let key = format!("auth.{key}");
        let mut chars = variable.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(self.invalid(key, "is not an environment variable name (letters, digits and _)"));
        }
        match (self.env)(&variable) {
            None => Err(SourceError::new(self.file, key, SourceErrorKind::MissingSecret { variable })),
            Some(value) if value.is_empty() => {
                Err(SourceError::new(self.file, key, SourceErrorKind::EmptySecret { variable }))
            }
            Some(value) => Ok((variable, Secret::new(value))),
        }
    }

    fn resource(&self, name: String, table: ResourceTable, auth: Option<&Auth>) -> Result<SourceResource, SourceError> {
        let at = format!("resources.{}", key_part(&name));
        if !is_identifier(&name) {
            return Err(self.invalid(&at, format!("`{name}` is not a valid resource name: {IDENTIFIER_RULE}")));
        }
        let key = |k: &str| format!("{at}.{k}");

        let path = table.path.ok_or_else(|| self.invalid(key("path"), "is required, e.g. \"/orders\""))?;
        if !path.starts_with('/')
            || path.contains(['?', '#'])
            || path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(self.invalid(
                key("path"),
                "must start with / and hold no query, fragment or space (fixed parameters go in params)",
            ));
        }

        let records = table.records.ok_or_else(|| {
            self.invalid(
                key("records"),
                "is required: a JSON Pointer to the array of records (\"\" when the body is the array)",
            )
        })?;
        check_pointer(&records).map_err(|reason| self.invalid(key("records"), reason))?;

        let table_name = table.table.unwrap_or_else(|| name.clone());
        if !is_identifier(&table_name) {
            return Err(
                self.invalid(key("table"), format!("`{table_name}` is not a valid table name: {IDENTIFIER_RULE}"))
            );
        }

        let pagination = match table.pagination {
            None => Pagination::None,
            Some(pagination) => self.pagination(&key("pagination"), pagination)?,
        };

        let mut params: Vec<(String, String)> = Vec::with_capacity(table.params.0.len());
        for (param, value) in table.params.0 {
            let param_key = format!("{at}.params.{}", key_part(&param));
            let param = self.param_name(&param_key, param)?;
            if pagination.params().contains(&param.as_str()) {
                return Err(self.invalid(param_key, format!("is sent by pagination (kind \"{}\")", pagination.kind())));
            }
            if auth.and_then(Auth::query_param) == Some(param.as_str()) {
                return Err(self.invalid(param_key, "is the parameter [auth] sends"));
            }
            params.push((param, value.into_text()));
        }

        let mut columns = Vec::with_capacity(table.columns.0.len());
        for (column, duckdb_type) in table.columns.0 {
            let column_key = format!("{at}.columns.{}", key_part(&column));
            if column.is_empty() {
                return Err(self.invalid(column_key, "a column needs a name"));
            }
            let duckdb_type = duckdb_type.trim();
            if duckdb_type.is_empty() {
                return Err(self.invalid(column_key, "needs a DuckDB type, e.g. \"VARCHAR\" or \"TIMESTAMPTZ\""));
            }
            columns.push(DeclaredColumn { name: column, duckdb_type: duckdb_type.to_owned() });
        }

        let contract = table.contract.unwrap_or_default();
        Ok(SourceResource { name, table: table_name, path, params, records, pagination, columns, contract })
    }

    fn pagination(&self, at: &str, table: PaginationTable) -> Result<Pagination, SourceError> {
        let key = |k: &str| format!("{at}.{k}");
        let kind = table.kind.ok_or_else(|| {
            self.invalid(key("kind"), "is required: none, page, offset, cursor, next_url or link_header")
        })?;
        let (kind_name, takes): (&str, &[&str]) = match kind {
            PaginationKind::None => ("none", &[]),
            PaginationKind::Page => ("page", &["page_param", "size_param", "page_size", "first_page", "total"]),
            PaginationKind::Offset => ("offset", &["offset_param", "limit_param", "page_size", "total"]),
            PaginationKind::Cursor => ("cursor", &["cursor", "cursor_param"]),
            PaginationKind::NextUrl => ("next_url", &["next_url"]),
            PaginationKind::LinkHeader => ("link_header", &[]),
        };
        if let Some(extra) = table.given().into_iter().find(|k| !takes.contains(k)) {
            let its = if takes.is_empty() {
                "it takes no other key".to_owned()
            } else {
                format!("it takes {}", takes.join(", "))
            };
            return Err(self.invalid(key(extra), format!("is not a key of pagination kind \"{kind_name}\" ({its})")));
        }
        let required = |k: &str, value: Option<String>| {
            value.ok_or_else(|| self.invalid(key(k), format!("is required for pagination kind \"{kind_name}\"")))
        };
        let page_size = |value: Option<u32>| match value {
            None => Err(self.invalid(key("page_size"), format!("is required for pagination kind \"{kind_name}\""))),
            Some(0) => Err(self.invalid(key("page_size"), "must be at least 1")),
            Some(n) => Ok(n),
        };
        let param = |k: &str, value: String| self.param_name(&key(k), value);
        let optional_param = |k: &str, value: Option<String>| value.map(|v| param(k, v)).transpose();
        let total = |value: Option<String>| value.map(|v| self.total(&key("total"), v)).transpose();
        let pointer = |k: &str, value: String| {
            if value.is_empty() {
                return Err(self.invalid(key(k), "must point into the body: a JSON Pointer such as \"/meta/next\""));
            }
            check_pointer(&value).map(|()| value).map_err(|reason| self.invalid(key(k), reason))
        };
        let distinct = |first: (&str, &str), second: (&str, Option<&String>)| match second.1 {
            Some(value) if value == first.1 => {
                Err(self.invalid(key(second.0), format!("is the same parameter as {}", first.0)))
            }
            _ => Ok(()),
        };

        Ok(match kind {
            PaginationKind::None => Pagination::None,
            PaginationKind::LinkHeader => Pagination::LinkHeader,
            PaginationKind::Page => {
                let page_param = param("page_param", required("page_param", table.page_param)?)?;
                let size_param = optional_param("size_param", table.size_param)?;
                distinct(("page_param", &page_param), ("size_param", size_param.as_ref()))?;
                Pagination::Page(PageNumbers {
                    page_param,
                    size_param,
                    page_size: page_size(table.page_size)?,
                    first_page: table.first_page.unwrap_or(1),
                    total: total(table.total)?,
                })
            }
            PaginationKind::Offset => {
                let offset_param = param("offset_param", required("offset_param", table.offset_param)?)?;
                let limit_param = optional_param("limit_param", table.limit_param)?;
                distinct(("offset_param", &offset_param), ("limit_param", limit_param.as_ref()))?;
                Pagination::Offset(Offsets {
                    offset_param,
                    limit_param,
                    page_size: page_size(table.page_size)?,
                    total: total(table.total)?,
                })
            }
            PaginationKind::Cursor => Pagination::Cursor(Cursors {
                cursor: pointer("cursor", required("cursor", table.cursor)?)?,
                cursor_param: param("cursor_param", required("cursor_param", table.cursor_param)?)?,
            }),
            PaginationKind::NextUrl => {
                Pagination::NextUrl { next_url: pointer("next_url", required("next_url", table.next_url)?)? }
            }
        })
    }

    /// `header:NAME`, or a JSON Pointer into the body.
    fn total(&self, key: &str, value: String) -> Result<Total, SourceError> {
        if let Some(header) = value.strip_prefix("header:") {
            let header = header.trim();
            if !is_token(header) {
                return Err(self.invalid(key, format!("`{header}` is not a valid header name")));
            }
            return Ok(Total::Header(header.to_owned()));
        }
        if value.is_empty() {
            return Err(self.invalid(key, "must be a JSON Pointer into the body (\"/meta/total\") or \"header:NAME\""));
        }
        check_pointer(&value).map_err(|reason| self.invalid(key, reason))?;
        Ok(Total::Pointer(value))
    }

    fn param_name(&self, key: &str, name: String) -> Result<String, SourceError> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.invalid(key, "is not a usable query parameter name (empty, or with a space)"));
        }
        Ok(name)
    }
}

/// RFC 6901: `""` or `/`-separated tokens, where `~` is only ever `~0` or `~1`.
fn check_pointer(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!("`{pointer}` is not a JSON Pointer: it must be \"\" or start with /, e.g. \"/data\""));
    }
    let mut rest = pointer;
    while let Some(at) = rest.find('~') {
        rest = &rest[at + 1..];
        if !rest.starts_with(['0', '1']) {
            return Err(format!("`{pointer}` is not a JSON Pointer: write ~ as ~0 and / inside a name as ~1"));
        }
    }
    Ok(())
}

/// An HTTP field name (RFC 9110's token).
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A key as TOML would write it in a dotted path: bare when it can be, quoted otherwise.
fn key_part(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}
