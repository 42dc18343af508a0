//! `GET /healthz`: liveness and startup probe. Cheap on purpose: it runs no query, but it
//! tells the truth about the database: while DuckDB's database is being reopened after a fatal
//! error it answers 503, saying why (`crate::recovery`), so a probe never sees a healthy
//! process that cannot serve its purpose.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// Liveness: `ok` while the process serves requests and its database is usable.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "The service is up", body = String, content_type = "text/plain", example = json!("ok")),
        (status = 503, description = "The database is being reopened after a fatal DuckDB error, or could not be", body = Problem, content_type = "application/problem+json"),
    ))]
async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.health().problem() {
        None => "ok".into_response(),
        Some(problem) => ApiError::Unavailable(problem).into_response(),
    }
}
