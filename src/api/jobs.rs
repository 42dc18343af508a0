//! `GET /jobs/{id}` and `POST /jobs/{id}/cancel` (resuming an ingest is in `ingest`).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::AppPath;
use super::problem::{ApiError, Problem};
use crate::jobs::JobView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_job)).routes(routes!(cancel_job))
}

/// One job: its request, state, progress, errors and (for exports) the objects written.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_job(State(state): State<AppState>, AppPath(id): AppPath<String>) -> Result<axum::Json<JobView>, ApiError> {
    let view = state.jobs.get(&id).await?;
    Ok(axum::Json(view.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))?))
}

/// Cancel a running job. Pages already committed stay; the job ends `cancelled`.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job after it stopped", body = JobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has already finished", body = Problem, content_type = "application/problem+json"),
    ))]
async fn cancel_job(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<axum::Json<JobView>, ApiError> {
    Ok(axum::Json(state.jobs.cancel(&id).await?))
}
