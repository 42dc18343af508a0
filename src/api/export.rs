//! `POST /export`: start an export job.

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppJson, AppQuery, WaitParams};
use super::idempotency::IdempotencyKey;
use super::problem::{ApiError, Problem};
use super::started::spawned_response;
use crate::export::{self, ExportRequest};
use crate::jobs::JobView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_export))
}

/// Start an export job.
///
/// Writes each table (default: all) as zstd Parquet to
/// `{destination}/{table}/dt=YYYY-MM-DD/{export_id}.parquet`, with a manifest beside it. Each
/// table is read in one transaction, so its row count is exact while ingests go on. Objects
/// are created, never overwritten. `incremental` takes only rows committed since the table's
/// last successful export.
#[utoipa::path(post, path = "/export", tag = "export", request_body = ExportRequest,
    params(WaitParams,
        ("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body returns the job it started (200) instead of starting another")),
    responses(
        (status = 200, description = "The job this Idempotency-Key started before", body = JobView),
        (status = 202, description = "The job was accepted", body = JobView,
            headers(("Location" = String, description = "The job: /jobs/{id}"))),
        (status = 400, description = "Malformed JSON, query or header", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid or names no table", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Unexpected error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Shutting down", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_export(
    State(state): State<AppState>,
    AppQuery(wait): AppQuery<WaitParams>,
    IdempotencyKey(key): IdempotencyKey,
    AppJson(request): AppJson<ExportRequest>,
) -> Result<Response, ApiError> {
    let spawned = export::start(&state.export, request, key).await?;
    spawned_response(&state, spawned, wait.wait).await
}
