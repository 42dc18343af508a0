//! `GET /`: the status page. One self-contained HTML document, compiled into the binary, that
//! refreshes itself from `/status`: no external assets, so it works offline and behind any
//! proxy, and its content security policy lets it talk to nothing but this service.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

const PAGE: &str = include_str!("status_page.html");

/// Inline script and style only; fetches only from this origin.
const POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status_page))
}

/// The status page: running jobs with progress, recent jobs and exports, tables; for people.
#[utoipa::path(get, path = "/", tag = "service",
    responses((status = 200, description = "An HTML page that refreshes itself from /status", body = String, content_type = "text/html")))]
async fn status_page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        PAGE,
    )
}
