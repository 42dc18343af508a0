//! `POST /export`: start an export job.

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppJson, AppQuery, WaitParams};
use super::jobs::job_response;
use super::problem::{ApiError, Problem};
use crate::export::{self, ExportRequest, StartError};
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
#[utoipa::path(post, path = "/export", tag = "export", params(WaitParams), request_body = ExportRequest,
    responses(
        (status = 202, description = "The job was accepted", body = JobView,
            headers(("Location" = String, description = "The job: /jobs/{id}"))),
        (status = 200, description = "With wait=true: the finished job", body = JobView),
        (status = 400, description = "Malformed JSON or query", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid or names no table", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Unexpected error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Shutting down", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_export(
    State(state): State<AppState>,
    AppQuery(wait): AppQuery<WaitParams>,
    AppJson(request): AppJson<ExportRequest>,
) -> Result<Response, ApiError> {
    if state.jobs.is_shutting_down() {
        return Err(ApiError::Unavailable("duckhaul is shutting down; try again shortly".into()));
    }
    let job = export::start(&state.export, request).await.map_err(|e| match e {
        StartError::Invalid(i) => ApiError::Invalid(i),
        StartError::Unexpected(e) => ApiError::Unexpected(e),
    })?;
    job_response(job, wait.wait).await
}
