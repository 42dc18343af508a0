//! The HTTP API: axum handlers with utoipa docs, one file per endpoint group. Handlers parse,
//! call a domain function and map its result; nothing here touches SQL, the upstream or GCS.

pub mod auth;
pub mod docs;
pub mod export;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod problem;
pub mod sources;
pub mod spec;
mod started;
pub mod state;
pub mod status;
pub mod status_page;

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use problem::ApiError;
pub use state::{AppState, ServiceInfo};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "duckhaul",
        description = "Hauls records from the Faker REST API into DuckDB and exports consistent Parquet snapshots to a folder or Google Cloud Storage."
    ),
    tags(
        (name = "ingest", description = "Fetch records from the upstream into DuckDB"),
        (name = "sources", description = "The REST APIs records can be ingested from"),
        (name = "export", description = "Write Parquet snapshots of tables"),
        (name = "jobs", description = "Follow and control ingest and export jobs"),
        (name = "service", description = "Health, status and the API description"),
    )
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ingest::router())
        .merge(sources::router())
        .merge(export::router())
        .merge(jobs::router())
        .merge(status::router())
        .merge(health::router())
        .merge(docs::router())
        .routes(utoipa_axum::routes!(openapi_json))
        .merge(metrics::router())
        .merge(status_page::router())
}

/// The OpenAPI description of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut spec = api().split_for_parts().1;
    spec::complete(&mut spec);
    spec
}

/// This API's OpenAPI 3.1 description (the same as `openapi/openapi.json`).
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI description", body = Object)))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// The whole HTTP surface, inside the auth, limit, timeout and panic layers.
pub fn router(state: AppState) -> Router {
    let http = state.http.clone();
    let (router, _) = api().split_for_parts();
    let router = router.fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(state);
    let router = auth::require_bearer(router, http.api_tokens.clone());
    limits::apply(router, &http)
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{} does not answer {method}", uri.path()))
}
