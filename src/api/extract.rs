//! Extractors whose rejections are problem+json like every other error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;

use super::problem::ApiError;

/// `axum::Json`, but a bad body answers with a problem document naming what is wrong.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query`, with problem+json rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(format!("{} (the limit is DUCKHAUL_BODY_LIMIT_BYTES)", r.body_text()));
        }
        let status = match &r {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            JsonRejection::JsonSyntaxError(_) => StatusCode::BAD_REQUEST,
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            other => other.status(),
        };
        ApiError::Unreadable { status, detail: r.body_text() }
    }
}

/// `axum::extract::Path`, with problem+json rejections (e.g. a segment that is not UTF-8).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::Unreadable { status: StatusCode::BAD_REQUEST, detail: r.body_text() }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::Unreadable { status: StatusCode::BAD_REQUEST, detail: r.body_text() }
    }
}

/// `?wait=true` holds the request until the job has finished.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitParams {
    /// Answer only when the job has finished (for Cloud Scheduler, or request-based billing
    /// on Cloud Run, where background work gets no CPU). Holds up to DUCKHAUL_MAX_WAIT_SECS:
    /// give the client a timeout longer than the job, or poll `GET /jobs/{id}` instead.
    #[serde(default)]
    pub wait: bool,
}
