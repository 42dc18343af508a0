//! `GET /sources`: the sources an ingest can name, as configured (the built-in `faker`, then the
//! files of `DUCKHAUL_SOURCES_DIR`), each resource with its pagination, declared columns and the
//! schema its table was created with. Credentials are shown by kind and variable name only.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::ApiError;
use crate::catalog::sources::{self, Auth, Pagination, Source, SourceResource};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_sources))
}

/// A source and its resources.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "shop", "builtin": false, "base_url": "https://api.example.com/v2", "rate_limit_per_minute": 60,
    "concurrency": 4, "headers": ["User-Agent"], "auth": {"kind": "bearer", "variables": ["EXAMPLE_TOKEN"]},
    "resources": [{"name": "orders", "table": "orders", "path": "/orders", "params": {"status": "all"},
        "records": "/data",
        "pagination": {"kind": "page", "page_param": "page", "size_param": "per_page", "page_size": 100,
            "first_page": 1, "total": "/meta/total"},
        "columns": [{"name": "created_at", "type": "TIMESTAMPTZ"}],
        "schema": [{"name": "id", "type": "BIGINT"}, {"name": "created_at", "type": "TIMESTAMPTZ"}],
        "contract": "evolve", "schema_history": []}]
}))]
pub struct SourceView {
    /// What `source` names in `POST /ingest`: `faker`, or a file's stem.
    pub name: String,
    /// Whether it is compiled in (`faker`) rather than read from a file.
    pub builtin: bool,
    pub base_url: String,
    /// Requests per minute to each path; 0 = unlimited. For `faker` the service's
    /// `DUCKHAUL_UPSTREAM_RATE_LIMIT` applies.
    pub rate_limit_per_minute: u32,
    /// Pages fetched at once; absent = the service's `DUCKHAUL_CONCURRENCY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// The names of the headers sent with every request (their values are not shown).
    pub headers: Vec<String>,
    /// How requests authenticate; absent when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthView>,
    pub resources: Vec<ResourceView>,
}

/// A source's credentials, without them: where they go and which variables hold them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthView {
    /// `bearer`, `header`, `query` or `basic`.
    pub kind: String,
    /// The environment variables the secrets are read from (names only).
    pub variables: Vec<String>,
    /// `header`: the header that carries the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `query`: the query parameter that carries the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// One resource: the endpoint, where its records are, how its pages are addressed, its table.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    pub name: String,
    /// The DuckDB table its records go to.
    pub table: String,
    /// Under the source's `base_url`.
    pub path: String,
    /// Fixed query parameters.
    pub params: BTreeMap<String, String>,
    /// JSON Pointer to the array of records; `""` = the body is the array.
    pub records: String,
    pub pagination: PaginationView,
    /// The fields whose DuckDB type is declared, in the file's order; the others are inferred.
    pub columns: Vec<ColumnView>,
    /// The table's columns as recorded when a source ingest created it and as its pages widened
    /// it since (declared and inferred types, lineage columns excluded); `null` until then.
    pub schema: Option<Vec<ColumnView>>,
    /// What the table does with records that do not fit it: `evolve` (columns added and
    /// widened), `freeze`, `discard_value` or `discard_row`.
    pub contract: String,
    /// Every change the table went through as the API changed, oldest first.
    pub schema_history: Vec<SchemaHistoryView>,
}

/// One change of a table's schema: which job's page first needed it, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaHistoryView {
    pub job_id: String,
    pub page: u32,
    /// The column, members of a `STRUCT` after a `.`.
    pub column: String,
    /// `added`, `widened` or `typed` (a column that had held only nulls took its first value's type).
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

/// A resource's pagination, with the keys of its kind as the file writes them.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct PaginationView {
    /// `none`, `page`, `offset`, `cursor`, `next_url` or `link_header`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_page: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_param: Option<String>,
    /// Where the total count is read: a JSON Pointer, or `header:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// JSON Pointer to the next page's cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor_param: Option<String>,
    /// JSON Pointer to the next page's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
}

/// A column and its DuckDB type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnView {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
}

/// Every source: `faker` first, then the files of `DUCKHAUL_SOURCES_DIR` by name.
#[utoipa::path(get, path = "/sources", tag = "sources",
    responses((status = 200, description = "The sources, each with its resources", body = Vec<SourceView>)))]
async fn list_sources(State(state): State<AppState>) -> Result<axum::Json<Vec<SourceView>>, ApiError> {
    let builtin = sources::faker::describe(&state.info.upstream_url);
    let all = std::iter::once((&builtin, true)).chain(state.sources.iter().map(|s| (s.as_ref(), false)));
    // While the database is reopened the sources are still listed, without recorded schemas.
    let database_ready = state.store.health().is_ready();
    let mut views = Vec::new();
    for (source, is_builtin) in all {
        let mut resources = Vec::with_capacity(source.resources.len());
        for resource in &source.resources {
            let schema = match database_ready {
                // Only what this resource recorded: another source may fill a table of that name.
                true => state
                    .store
                    .source_table(&resource.table)
                    .await?
                    .filter(|t| t.source == source.name && t.resource == resource.name)
                    .map(|t| t.columns),
                false => None,
            };
            let history = match &schema {
                Some(_) => state.store.schema_history(&resource.table).await?,
                None => Vec::new(),
            };
            let mut view = resource_view(resource, schema);
            view.schema_history = history
                .into_iter()
                .map(|h| SchemaHistoryView {
                    job_id: h.job_id,
                    page: h.page,
                    column: h.change.column,
                    change: h.change.change,
                    from: h.change.from,
                    to: h.change.to,
                    changed_at: h.changed_at,
                })
                .collect();
            resources.push(view);
        }
        views.push(source_view(source, is_builtin, resources));
    }
    Ok(axum::Json(views))
}

fn source_view(source: &Source, builtin: bool, resources: Vec<ResourceView>) -> SourceView {
    SourceView {
        name: source.name.clone(),
        builtin,
        base_url: source.base_url.clone(),
        rate_limit_per_minute: source.rate_limit_per_minute,
        concurrency: source.concurrency,
        headers: source.headers.iter().map(|(name, _)| name.clone()).collect(),
        auth: source.auth.as_ref().map(auth_view),
        resources,
    }
}

/// Names only: a `Secret` has no way out here but its `Display`, which is `***`, and none is used.
fn auth_view(auth: &Auth) -> AuthView {
    let (header, param) = match auth {
        Auth::Header { header, .. } => (Some(header.clone()), None),
        Auth::Query { param, .. } => (None, Some(param.clone())),
        Auth::Bearer { .. } | Auth::Basic { .. } => (None, None),
    };
    AuthView {
        kind: auth.kind().to_owned(),
        variables: auth.variables().into_iter().map(str::to_owned).collect(),
        header,
        param,
    }
}

fn resource_view(resource: &SourceResource, schema: Option<Vec<(String, String)>>) -> ResourceView {
    let column = |(name, type_): (String, String)| ColumnView { name, type_ };
    ResourceView {
        name: resource.name.clone(),
        table: resource.table.clone(),
        path: resource.path.clone(),
        params: resource.params.iter().cloned().collect(),
        records: resource.records.clone(),
        pagination: pagination_view(&resource.pagination),
        columns: resource.columns.iter().map(|c| column((c.name.clone(), c.duckdb_type.clone()))).collect(),
        schema: schema.map(|columns| columns.into_iter().map(column).collect()),
        contract: resource.contract.as_str().to_owned(),
        schema_history: Vec::new(),
    }
}

fn pagination_view(pagination: &Pagination) -> PaginationView {
    let kind = pagination.kind().to_owned();
    let total = pagination.total().map(|t| t.spelling());
    match pagination {
        Pagination::None | Pagination::LinkHeader => PaginationView { kind, ..Default::default() },
        Pagination::Page(p) => PaginationView {
            kind,
            page_param: Some(p.page_param.clone()),
            size_param: p.size_param.clone(),
            page_size: Some(p.page_size),
            first_page: Some(p.first_page),
            total,
            ..Default::default()
        },
        Pagination::Offset(o) => PaginationView {
            kind,
            offset_param: Some(o.offset_param.clone()),
            limit_param: o.limit_param.clone(),
            page_size: Some(o.page_size),
            total,
            ..Default::default()
        },
        Pagination::Cursor(c) => PaginationView {
            kind,
            cursor: Some(c.cursor.clone()),
            cursor_param: Some(c.cursor_param.clone()),
            ..Default::default()
        },
        Pagination::NextUrl { next_url } => {
            PaginationView { kind, next_url: Some(next_url.clone()), ..Default::default() }
        }
    }
}
