//! `GET /docs`: interactive API docs (Swagger UI) that work offline. The UI's assets are
//! vendored from the npm package `swagger-ui-dist` (see `assets/swagger-ui/`) and embedded in
//! the binary, so no CDN and no build-time download; the page loads `/openapi.json`.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

const BUNDLE_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const UI_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

/// Relative URLs, so the page also works when the service is mounted under a path prefix.
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>duckhaul API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
    });
  </script>
</body>
</html>
"##;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(docs_page)).routes(routes!(docs_bundle_js)).routes(routes!(docs_css))
}

/// Interactive API docs (Swagger UI, served from the binary: works offline).
#[utoipa::path(get, path = "/docs", tag = "service",
    responses((status = 200, description = "The docs page", body = String, content_type = "text/html",
        example = json!("<!doctype html>…"))))]
async fn docs_page() -> Html<&'static str> {
    Html(PAGE)
}

/// The Swagger UI script the docs page loads.
#[utoipa::path(get, path = "/docs/swagger-ui-bundle.js", tag = "service",
    responses((status = 200, description = "Swagger UI's JavaScript bundle", body = String, content_type = "text/javascript")))]
async fn docs_bundle_js() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", BUNDLE_JS)
}

/// The Swagger UI stylesheet the docs page loads.
#[utoipa::path(get, path = "/docs/swagger-ui.css", tag = "service",
    responses((status = 200, description = "Swagger UI's stylesheet", body = String, content_type = "text/css")))]
async fn docs_css() -> impl IntoResponse {
    asset("text/css; charset=utf-8", UI_CSS)
}

fn asset(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    // The assets change only with the binary: let browsers keep them for a day.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body)
}
