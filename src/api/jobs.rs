//! `GET /jobs` (the list, a page at a time), `GET /jobs/{id}` and `POST /jobs/{id}/cancel`
//! (resuming an ingest is in `ingest`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{AppPath, AppQuery};
use super::problem::{ApiError, Problem};
use crate::jobs::{JobKind, JobListing, JobPage, JobState, JobView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_jobs)).routes(routes!(get_job)).routes(routes!(cancel_job))
}

/// What `GET /jobs` reads from its query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Jobs on the page, from 1 to 1000.
    #[param(minimum = 1, maximum = 1000, default = 50)]
    limit: Option<u32>,
    /// Where the page starts: the `next` of the page before (the `Link` header carries it too).
    /// Leave it out for the newest jobs.
    cursor: Option<String>,
    /// Only jobs in this state.
    #[param(inline)]
    state: Option<JobState>,
    /// Only jobs of this kind.
    #[param(inline)]
    kind: Option<JobKind>,
}

/// Jobs, newest first, a page at a time.
///
/// Every job this service has a record of, running ones with their live progress. Follow `next`
/// (or the `Link: rel="next"` header, which keeps the filters) until it is null: each job is
/// on exactly one page, however many jobs start meanwhile (they are newer than the first page).
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListParams),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage,
            headers(("Link" = String, description = "`</jobs?…&cursor=…>; rel=\"next\"` while another page follows"))),
        (status = 400, description = "A query parameter that cannot be read (not a number, an unknown state or kind, an unknown parameter)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range, or a `cursor` this service did not give", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_jobs(
    State(state): State<AppState>,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Response, ApiError> {
    let listing = JobListing::new(params.limit, params.cursor.as_deref(), params.state, params.kind)?;
    let page = state.jobs.list(&listing).await?;
    let link = page.next.as_deref().map(|next| next_link(&listing, next));
    let mut response = axum::Json(page).into_response();
    if let Some(link) = link {
        response.headers_mut().insert(header::LINK, link.parse().map_err(anyhow::Error::from)?);
    }
    Ok(response)
}

/// The RFC 8288 link to the page after `listing`'s, with the same size and filters. Every
/// value is a number, an enum's word or a job id: nothing to escape.
fn next_link(listing: &JobListing, next: &str) -> String {
    let mut query = format!("limit={}", listing.limit);
    if let Some(state) = listing.state {
        query.push_str(&format!("&state={}", state.as_str()));
    }
    if let Some(kind) = listing.kind {
        query.push_str(&format!("&kind={}", kind.as_str()));
    }
    format!("</jobs?{query}&cursor={next}>; rel=\"next\"")
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
