//! The one error type at the HTTP boundary. Every error leaves as RFC 9457
//! `application/problem+json`; a 500 says nothing of its cause (the log keeps it).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ingest::ResumeError;
use crate::jobs::{CancelError, SpawnError, StartError};
use crate::validation::{FieldError, Invalid};

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "/problems/invalid-request", "title": "Invalid request", "status": 422,
    "detail": "quantity: must be from 1 to 10000000, got 0",
    "errors": [{"field": "quantity", "message": "must be from 1 to 10000000, got 0"}]}))]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid requests: each bad field and what is wrong with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fields that parse but are not acceptable (422).
    #[error("{0}")]
    Invalid(Invalid),
    /// A body or query that cannot be read (malformed JSON, wrong content type, too large).
    #[error("{detail}")]
    Unreadable { status: StatusCode, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the configured limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// No valid bearer token while tokens are configured (401, `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(String),
    /// As many jobs as allowed run already (429, `Retry-After`).
    #[error("{0}")]
    TooManyJobs(String),
    /// The request took longer than the configured timeout (503).
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        ApiError::Invalid(i)
    }
}

impl From<SpawnError> for ApiError {
    fn from(e: SpawnError) -> Self {
        match e {
            SpawnError::KeyReused(_) | SpawnError::AlreadyRunning(_) => ApiError::Conflict(e.to_string()),
            SpawnError::ShuttingDown => ApiError::Unavailable("duckhaul is shutting down; try again shortly".into()),
            SpawnError::Busy(_) => ApiError::TooManyJobs(e.to_string()),
            SpawnError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Invalid(i) => ApiError::Invalid(i),
            StartError::Conflict(m) => ApiError::Conflict(m),
            StartError::Spawn(e) => e.into(),
            StartError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<ResumeError> for ApiError {
    fn from(e: ResumeError) -> Self {
        match e {
            ResumeError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ResumeError::NotResumable(m) => ApiError::Conflict(m),
            ResumeError::Spawn(e) => e.into(),
            ResumeError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::NotFound(_) => ApiError::NotFound(e.to_string()),
            CancelError::Finished { .. } => ApiError::Conflict(e.to_string()),
            CancelError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl ApiError {
    /// The database is being reopened (or lost): a 503 that says so, not a 500.
    fn store_unavailable(&self) -> Option<&crate::store::Unavailable> {
        match self {
            ApiError::Unexpected(e) => e.chain().find_map(|c| c.downcast_ref::<crate::store::Unavailable>()),
            _ => None,
        }
    }

    fn problem(&self) -> Problem {
        if let Some(unavailable) = self.store_unavailable() {
            return Problem {
                type_: "/problems/unavailable".into(),
                title: "Service unavailable".into(),
                status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
                detail: unavailable.to_string(),
                errors: Vec::new(),
            };
        }
        let (status, slug, title) = match self {
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", "Invalid request"),
            ApiError::Unreadable { status, .. } => (*status, "unreadable-request", "Unreadable request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
            }
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Request body too large"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::TooManyJobs(_) => (StatusCode::TOO_MANY_REQUESTS, "too-many-jobs", "Too many jobs"),
            ApiError::TimedOut(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Request timed out"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            ApiError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        };
        let detail = match self {
            ApiError::Unexpected(_) => "something went wrong on our side; the server log has the details".to_string(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::Invalid(i) => i.0.clone(),
            _ => Vec::new(),
        };
        Problem { type_: format!("/problems/{slug}"), title: title.into(), status: status.as_u16(), detail, errors }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Unexpected(e) = &self
            && self.store_unavailable().is_none()
        {
            tracing::error!(error = %format!("{e:#}"), "request failed");
        }
        let mut response = problem_response(self.problem());
        let status = response.status();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"duckhaul\""));
            }
            ApiError::TooManyJobs(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_JOBS_AFTER_SECS));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECS));
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` (seconds) when the job cap is reached: long enough for a page or two.
pub const RETRY_JOBS_AFTER_SECS: u32 = 10;

/// `Retry-After` (seconds) while the database is reopened: a WAL replay takes seconds.
pub const RETRY_UNAVAILABLE_AFTER_SECS: u32 = 5;

pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(problem)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}
