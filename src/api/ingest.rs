//! `POST /ingest`: start an ingest job; `POST /jobs/{id}/resume`: run a stopped one again.

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppJson, AppPath, AppQuery, WaitParams};
use super::idempotency::IdempotencyKey;
use super::problem::{ApiError, Problem};
use super::started::{job_response, spawned_response};
use crate::ingest::{self, IngestRequest};
use crate::jobs::JobView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_ingest)).routes(routes!(resume_job))
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
    let plan = request.plan(state.default_concurrency, &state.ingest.sources)?;
    let spawned = ingest::start(&state.ingest, plan, &request, key).await?;
    spawned_response(&state, spawned, wait.wait).await
}

/// Resume a stopped ingest job: fetches only the pages it has not committed, under the same id.
#[utoipa::path(post, path = "/jobs/{id}/resume", tag = "jobs",
    params(("id" = String, Path, description = "The job id"), WaitParams),
    responses(
        (status = 202, description = "The job runs again", body = JobView,
            headers(("Location" = String, description = "The job: /jobs/{id}"))),
        (status = 200, description = "With wait=true: the finished job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is running, succeeded, or is not an ingest", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Shutting down, or the database is being reopened", body = Problem, content_type = "application/problem+json"),
    ))]
async fn resume_job(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    AppQuery(wait): AppQuery<WaitParams>,
) -> Result<Response, ApiError> {
    let job = ingest::resume(&state.ingest, &id, state.default_concurrency, false).await?;
    job_response(&state, job, wait.wait).await
}
