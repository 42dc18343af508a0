//! The limits around every route, each answering problem+json: a request body limit (413,
//! from the JSON extractor), a request timeout (503) that gives `?wait=true` requests
//! DUCKHAUL_MAX_WAIT_SECS more, and panics caught as a 500 that says nothing of the cause.
//! (The cap on running jobs, 429, is the job registry's: see `Jobs::limit_running`.)

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use super::problem::ApiError;
use crate::config::HttpConfig;

pub fn apply(router: Router, http: &HttpConfig) -> Router {
    let deadlines = Deadlines { request: http.request_timeout, max_wait: http.max_wait };
    router
        .layer(DefaultBodyLimit::max(http.body_limit_bytes))
        .layer(middleware::from_fn_with_state(deadlines, deadline))
        .layer(CatchPanicLayer::custom(panic_response))
}

#[derive(Clone, Copy)]
struct Deadlines {
    request: Duration,
    max_wait: Duration,
}

async fn deadline(State(d): State<Deadlines>, request: Request, next: Next) -> Response {
    // `wait=true` holds until the job ends, up to max_wait (then answers 202): allow for that.
    let waits = request.uri().query().is_some_and(|q| q.split('&').any(|pair| pair == "wait=true"));
    let limit = if waits { d.request + d.max_wait } else { d.request };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(format!("the request took longer than {limit:?}")).into_response(),
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    // Logged by ApiError's IntoResponse; the body stays generic.
    ApiError::Unexpected(anyhow::anyhow!("a handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    async fn panicking() -> &'static str {
        panic!("secret internals")
    }

    fn app(http: &HttpConfig) -> Router {
        let router = Router::new().route("/panic", axum::routing::get(panicking)).route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(3600 * 24)).await;
                "done"
            }),
        );
        apply(router, http)
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem_without_internals() {
        let response =
            app(&HttpConfig::default()).oneshot(Request::get("/panic").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem = body(response).await;
        assert_eq!(problem["type"], "/problems/internal");
        assert!(!problem.to_string().contains("secret"), "{problem}");
    }

    #[tokio::test]
    async fn slow_requests_time_out_and_waiting_ones_get_longer() {
        let http = HttpConfig {
            request_timeout: Duration::from_millis(50),
            max_wait: Duration::from_millis(100),
            ..HttpConfig::default()
        };
        let response = app(&http).oneshot(Request::post("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(response).await["detail"], "the request took longer than 50ms");
        let response = app(&http).oneshot(Request::post("/slow?wait=true").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(response).await["detail"], "the request took longer than 150ms");
    }
}
