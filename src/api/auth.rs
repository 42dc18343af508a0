//! Optional bearer-token auth. With DUCKHAUL_API_TOKENS set, every route but `/healthz` needs
//! `Authorization: Bearer <one of the tokens>`, else 401 problem+json with
//! `WWW-Authenticate: Bearer`. Tokens are compared in constant time. Without tokens nothing is
//! checked here: on Cloud Run, IAM (`roles/run.invoker`) guards the service instead.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::problem::ApiError;

/// Paths answered without a token: Cloud Run's probes carry none.
const PUBLIC_PATHS: &[&str] = &["/healthz"];

/// Wraps `router` so it checks tokens; returns it unchanged when there are none.
pub fn require_bearer(router: Router, tokens: Arc<[String]>) -> Router {
    if tokens.is_empty() {
        return router;
    }
    router.layer(middleware::from_fn_with_state(tokens, check))
}

async fn check(State(tokens): State<Arc<[String]>>, request: Request, next: Next) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| bearer(v.as_bytes()));
    match presented {
        Some(token) if is_known(&tokens, token) => next.run(request).await,
        Some(_) => ApiError::Unauthorized("the bearer token is not valid".into()).into_response(),
        None => {
            ApiError::Unauthorized("a bearer token is required: Authorization: Bearer <token>".into()).into_response()
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case(b"bearer ")).then(|| rest.trim_ascii()).filter(|t| !t.is_empty())
}

/// Compares against every token without stopping early, so timing tells nothing of which
/// token, or how much of one, matched.
fn is_known(tokens: &[String], presented: &[u8]) -> bool {
    let mut found = subtle::Choice::from(0);
    for token in tokens {
        found |= token.as_bytes().ct_eq(presented);
    }
    found.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_parse() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    #[test]
    fn only_known_tokens_pass() {
        let tokens = vec!["first-token-0123456".to_string(), "second-token-012345".to_string()];
        assert!(is_known(&tokens, b"second-token-012345"));
        assert!(!is_known(&tokens, b"second-token-01234"));
        assert!(!is_known(&tokens, b""));
    }
}
