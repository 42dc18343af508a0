//! The answers every job-starting route gives (`POST /ingest`, `POST /export`,
//! `POST /jobs/{id}/resume`): 202 with `Location` at once, or with `wait=true` the finished
//! job (200).

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::problem::ApiError;
use crate::jobs::{Job, JobView, Spawned};

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

/// 202 with `Location`.
fn accepted(view: JobView) -> Response {
    let location = view.links.self_.clone();
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(view)).into_response()
}
