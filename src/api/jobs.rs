//! `GET /jobs/{id}` and `POST /jobs/{id}/cancel`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppPath, AppQuery, WaitParams};
use crate::ingest::{self, ResumeError};
use super::ingest::accepted;
use super::problem::{ApiError, Problem};
use crate::jobs::{Job, JobView, SpawnError, Spawned};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_job)).routes(routes!(cancel_job)).routes(routes!(resume_job))
}

/// Answers for a job-starting request: a job started before under the same idempotency key
/// is 200 (or, waiting, 200 once it has finished); a new one 202, or 200 when waiting.
pub(super) async fn spawned_response(state: &AppState, spawned: Spawned, wait: bool) -> Result<Response, ApiError> {
    match spawned {
        Spawned::New(job) => job_response(state, job, wait).await,
        Spawned::Existing(view) => match state.jobs.live(&view.id) {
            Some(job) if wait => job_response(state, job, true).await,
            _ => Ok(axum::Json(view).into_response()),
        },
    }
}

/// Maps why a job could not start.
pub(super) fn spawn_error(e: SpawnError) -> ApiError {
    match e {
        SpawnError::KeyReused(_) => ApiError::Conflict(e.to_string()),
        SpawnError::ShuttingDown => ApiError::Unavailable("duckhaul is shutting down; try again shortly".into()),
        SpawnError::Busy(_) => ApiError::TooManyJobs(e.to_string()),
        SpawnError::Unexpected(e) => ApiError::Unexpected(e),
    }
}

/// Answers for a job just started: 202 at once, or 200 with the finished job when waiting.
/// A wait longer than DUCKHAUL_MAX_WAIT_SECS answers 202 with the job still running.
pub(super) async fn job_response(state: &AppState, job: Arc<Job>, wait: bool) -> Result<Response, ApiError> {
    if !wait {
        return Ok(accepted(job.view()));
    }
    // Through a database recovery too: an interrupted job resumes under its id, and the
    // caller wants the outcome of the whole job.
    match tokio::time::timeout(state.http.max_wait, state.jobs.settled(&job)).await {
        Err(_) => Ok(accepted(state.jobs.live(&job.id).map(|j| j.view()).unwrap_or_else(|| job.view()))),
        Ok(view) => Ok(axum::Json(view).into_response()),
    }
}

fn found(id: &str, view: Option<JobView>) -> Result<JobView, ApiError> {
    view.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// One job: its request, state, progress, errors and (for exports) the objects written.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_job(State(state): State<AppState>, AppPath(id): AppPath<String>) -> Result<axum::Json<JobView>, ApiError> {
    Ok(axum::Json(found(&id, state.jobs.get(&id).await?)?))
}

/// Cancel a running job. Pages already committed stay; the job ends `cancelled`.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job after it stopped", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has already finished", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_job(State(state): State<AppState>, AppPath(id): AppPath<String>) -> Result<axum::Json<JobView>, ApiError> {
    let Some(job) = state.jobs.live(&id) else {
        let view = found(&id, state.jobs.get(&id).await?)?;
        return Err(ApiError::Conflict(format!("job {id} has already finished ({:?})", view.state)));
    };
    job.cancel.cancel();
    job.finished().await;
    Ok(axum::Json(job.view()))
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
        (status = 503, description = "Shutting down", body = Problem, content_type = "application/problem+json"),
    ))]
async fn resume_job(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
    AppQuery(wait): AppQuery<WaitParams>,
) -> Result<Response, ApiError> {
    let job = ingest::resume(&state.ingest, &id, state.default_concurrency, false).await.map_err(|e| match e {
        ResumeError::NotFound(_) => ApiError::NotFound(e.to_string()),
        ResumeError::NotResumable(m) => ApiError::Conflict(m),
        ResumeError::Spawn(e) => spawn_error(e),
        ResumeError::Unexpected(e) => ApiError::Unexpected(e),
    })?;
    job_response(&state, job, wait.wait).await
}
