//! `POST /ingest`: start an ingest job.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppJson, AppQuery, WaitParams};
use super::idempotency::IdempotencyKey;
use super::jobs::{spawn_error, spawned_response};
use super::problem::{ApiError, Problem};
use crate::ingest::{self, IngestRequest, StartError};
use crate::jobs::JobView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_ingest))
}

/// Start an ingest job.
///
/// Splits `quantity` into pages of at most `page_size` records, fetches them concurrently
/// (page i with seed `seed + i`) and commits each page with its rows as it arrives. Answers
/// at once with the queued job and its `Location`, or with the finished job when `wait=true`
/// (200). A repeated `Idempotency-Key` (or Cloud Scheduler job name and schedule time)
/// returns the job it started instead of starting another.
#[utoipa::path(post, path = "/ingest", tag = "ingest", request_body = IngestRequest,
    params(WaitParams,
        ("Idempotency-Key" = Option<String>, Header, description = "The same key with the same body returns the job it started (200) instead of starting another")),
    responses(
        (status = 200, description = "The job this Idempotency-Key started before", body = JobView),
        (status = 202, description = "The job was accepted", body = JobView,
            headers(("Location" = String, description = "The job: /jobs/{id}"))),
        (status = 400, description = "Malformed JSON, query or header", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The custom table exists with other columns, or the Idempotency-Key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Unexpected error", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Shutting down", body = Problem, content_type = "application/problem+json"),
    ))]
async fn start_ingest(
    State(state): State<AppState>,
    AppQuery(wait): AppQuery<WaitParams>,
    IdempotencyKey(key): IdempotencyKey,
    AppJson(request): AppJson<IngestRequest>,
) -> Result<Response, ApiError> {
    let plan = request.validate(state.default_concurrency)?;
    let spawned = ingest::start(&state.ingest, plan, &request, key).await.map_err(|e| match e {
        StartError::TableConflict(m) => ApiError::Conflict(m),
        StartError::Spawn(e) => spawn_error(e),
        StartError::Unexpected(e) => ApiError::Unexpected(e),
    })?;
    spawned_response(&state, spawned, wait.wait).await
}

/// 202 with `Location`, the response every job-starting route gives.
pub(super) fn accepted(view: JobView) -> Response {
    let location = view.links.self_.clone();
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(view)).into_response()
}
