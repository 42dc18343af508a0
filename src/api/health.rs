//! `GET /healthz`: liveness and startup probe. Cheap on purpose: it touches nothing.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// Liveness: answers `ok` while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The service is up", body = String, content_type = "text/plain", example = json!("ok"))))]
async fn healthz() -> &'static str {
    "ok"
}
