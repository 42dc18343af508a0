//! `GET /jobs/{id}` and `POST /jobs/{id}/cancel`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::ingest::accepted;
use super::problem::{ApiError, Problem};
use crate::jobs::{Job, JobView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_job)).routes(routes!(cancel_job))
}

/// Answers for a job just started: 202 at once, or 200 with the finished job when waiting.
pub(super) async fn job_response(job: Arc<Job>, wait: bool) -> Result<Response, ApiError> {
    if !wait {
        return Ok(accepted(job.view()));
    }
    job.finished().await;
    Ok(axum::Json(job.view()).into_response())
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
async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<JobView>, ApiError> {
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
async fn cancel_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<JobView>, ApiError> {
    let Some(job) = state.jobs.live(&id) else {
        let view = found(&id, state.jobs.get(&id).await?)?;
        return Err(ApiError::Conflict(format!("job {id} has already finished ({:?})", view.state)));
    };
    job.cancel.cancel();
    job.finished().await;
    Ok(axum::Json(job.view()))
}
