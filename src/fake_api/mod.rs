//! The bundled Faker-compatible server (`duckhaul fake-api`): serves every resource of the
//! upstream at `/api/v2/{resource}` and `/api/v1/{resource}` with the upstream's envelope,
//! record shapes, caps, parameters and error bodies (see `FAKERAPI.md`), generated from the
//! catalogue schemas. It is the upstream for tests and offline use, so it can also misbehave
//! on purpose ([`FakeApiOptions`]) and report what it answered (`GET /__fake/stats`).
//!
//! Files: `request` reads a request, `generate` renders bodies (with `words` and `rng`),
//! `faults` decides injected failures, `throttle` applies rate limits, `cache` keeps recent
//! seeded bodies, `stats` counts.

mod cache;
mod faults;
mod generate;
mod generic;
mod request;
mod rng;
mod stats;
mod throttle;
// Word lists stay packed by hand; rustfmt would put one word per line.
#[rustfmt::skip]
mod words;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use cache::BodyCache;
use faults::{Delivery, FaultInjector, Verdict};
use generate::{push_json_str, render_body};
use request::{PageRequest, RequestError, parse_request};
use stats::StatsRecorder;
use throttle::{Standing, Throttles};

use crate::catalog::ApiVersion;

pub use generate::{MAX_QUANTITY, render_page};
pub use stats::FakeApiStats;

/// How the fake server misbehaves. Everything defaults to off: a well-behaved upstream.
#[derive(Debug, Clone, clap::Args)]
pub struct FakeApiOptions {
    /// Fraction (0..1) of requests answered 500 {"message":"Server Error"} or 503.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub error_rate: f64,

    /// Fraction (0..1) of requests answered 429 with `Retry-After: --retry-after`.
    #[arg(long = "rate-429", value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub rate_429: f64,

    /// Seconds sent in `Retry-After` with the 429s of `--rate-429`.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,

    /// At most N requests per minute per client and path, like the upstream's
    /// `throttle:30,1` (a window: the first N of a quiet minute pass at once); past it 429
    /// with `Retry-After` = seconds until a slot frees, and `X-RateLimit-Limit/Remaining` on
    /// every answer, as Laravel sends. 0 = off.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub throttle_per_minute: u32,

    /// The window of --throttle-per-minute, in milliseconds: a minute, or shorter to run the
    /// same shape faster (N per this many milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub throttle_window_ms: u64,

    /// A token bucket per client and path refilled at N requests per minute, like nginx's
    /// `limit_req rate=Nr/m burst=B nodelay`; past it 429 with `Retry-After` = seconds until
    /// the next token. 0 = off. With --throttle-per-minute too, the bucket stands in front.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bucket_per_minute: u32,

    /// Tokens the bucket of --bucket-per-minute holds: requests that pass at once.
    #[arg(long, value_name = "B", default_value_t = 5)]
    pub bucket_burst: u32,

    /// Also send the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining` and
    /// `RateLimit-Reset` (seconds until more are allowed) from the throttle (the bucket's if
    /// there is one).
    #[arg(long)]
    pub rate_limit_headers: bool,

    /// Delay added before answering each API request, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,

    /// Fraction (0..1) of 200 bodies cut in half (invalid JSON, consistent Content-Length).
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub truncate_rate: f64,

    /// Fraction (0..1) of 200 responses whose connection drops mid-body.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    pub reset_rate: f64,

    /// Seed for the fault draws, so the n-th request meets the same fault on every run.
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,

    /// The token the generic mode (`/generic/…`, for source files) asks for, as a bearer
    /// token, an `X-Api-Key` header or an `api_key` parameter; none: it asks for none.
    #[arg(long, value_name = "TOKEN")]
    pub generic_token: Option<String>,
}

/// Same as the command line's defaults (hence not derived: `--retry-after` defaults to 1).
impl Default for FakeApiOptions {
    fn default() -> Self {
        FakeApiOptions {
            error_rate: 0.0,
            rate_429: 0.0,
            retry_after: 1,
            throttle_per_minute: 0,
            throttle_window_ms: 60_000,
            bucket_per_minute: 0,
            bucket_burst: 5,
            rate_limit_headers: false,
            latency_ms: 0,
            truncate_rate: 0.0,
            reset_rate: 0.0,
            fault_seed: None,
            generic_token: None,
        }
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("expected a fraction from 0 to 1, got '{s}'")),
    }
}

/// Cached bodies: a few dozen pages of 1,000 records.
const CACHE_ENTRIES: usize = 64;
const CACHE_BYTES: usize = 64 << 20;
/// Pages larger than this render on the blocking pool rather than on a runtime worker.
const INLINE_RENDER_MAX_QUANTITY: usize = 100;
/// How long a reset response stalls after its first half before the connection drops.
const RESET_AFTER: Duration = Duration::from_millis(5);
/// How long in-flight responses may take to finish once shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The fake server's shared state: one per router.
#[derive(Clone)]
struct FakeApi {
    inner: Arc<FakeApiInner>,
}

struct FakeApiInner {
    options: FakeApiOptions,
    faults: FaultInjector,
    throttles: Throttles,
    stats: StatsRecorder,
    cache: BodyCache,
}

/// The fake server's routes. Per-client throttling needs the peer address, which
/// [`serve`] provides; a router driven without it (e.g. `oneshot` in tests) treats every
/// request as coming from 127.0.0.1.
pub fn router(options: FakeApiOptions) -> Router {
    let api = FakeApi {
        inner: Arc::new(FakeApiInner {
            faults: FaultInjector::new(&options),
            throttles: Throttles::new(&options),
            stats: StatsRecorder::default(),
            cache: BodyCache::new(CACHE_ENTRIES, CACHE_BYTES),
            options,
        }),
    };
    Router::new()
        .route("/api/{version}/{resource}", get(page))
        .route("/generic/{paging}/{resource}", get(generic::page))
        .route("/__fake/stats", get(stats_handler))
        .fallback(not_found)
        .with_state(api)
}

/// Serves [`router`] on `listener` until `shutdown` is cancelled, then lets in-flight
/// responses finish (for at most a few seconds).
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: FakeApiOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::debug!(%addr, ?options, "fake Faker API listening");
    }
    let app = router(options).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tokio::select! {
        result = server => result,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("fake Faker API: connections still open after the shutdown grace period");
            Ok(())
        }
    }
}

type Peer = Result<ConnectInfo<SocketAddr>, ExtensionRejection>;

async fn page(
    State(api): State<FakeApi>,
    Path((version, resource)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
    peer: Peer,
) -> Response {
    let version = match version.as_str() {
        "v2" => ApiVersion::V2,
        "v1" => ApiVersion::V1,
        _ => return not_found().await,
    };
    api.answer(version, &resource, query.as_deref(), uri.path(), client_ip(peer)).await
}

async fn stats_handler(State(api): State<FakeApi>) -> Json<FakeApiStats> {
    Json(api.inner.stats.snapshot())
}

async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, Bytes::from_static(br#"{"message":"Resource not found"}"#))
}

fn client_ip(peer: Peer) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ConnectInfo(addr)| addr.ip())
}

impl FakeApi {
    async fn answer(
        &self,
        version: ApiVersion,
        segment: &str,
        query: Option<&str>,
        path: &str,
        client: IpAddr,
    ) -> Response {
        let (response, fault) = self.decide(version, segment, query, path, client).await;
        self.inner.stats.record(path, response.status().as_u16(), fault);
        response
    }

    /// The response, and the name of the fault injected into it if any.
    async fn decide(
        &self,
        version: ApiVersion,
        segment: &str,
        query: Option<&str>,
        path: &str,
        client: IpAddr,
    ) -> (Response, Option<&'static str>) {
        let options = &self.inner.options;
        if options.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(options.latency_ms)).await;
        }
        let admission = self.inner.throttles.admit(client, path, tokio::time::Instant::now());
        let limit_headers = |response: &mut Response| {
            if let Some(window) = admission.window {
                laravel_headers(response, window);
            }
            if options.rate_limit_headers
                && let Some(standing) = admission.standing
            {
                ietf_headers(response, standing);
            }
        };
        if let Some(retry_after) = admission.refused {
            let mut response = too_many_attempts(retry_after);
            limit_headers(&mut response);
            return (response, Some("throttled"));
        }
        let delivery = match self.inner.faults.verdict() {
            Verdict::TooManyRequests => return (too_many_attempts(options.retry_after), Some("rate_429")),
            Verdict::ServerError(status) => return (server_error(status), Some("server_error")),
            Verdict::Answer(delivery) => delivery,
        };
        let mut response = match parse_request(version, segment, query) {
            Err(RequestError::UnknownResource) => return (resource_not_found(version), None),
            Err(RequestError::WrongFieldType(ty)) => return (wrong_field_type(&ty), None),
            Err(RequestError::TooFewCharacters) => return (server_error(StatusCode::INTERNAL_SERVER_ERROR), None),
            Ok(page) => match self.body(version, segment, query, page).await {
                Some(body) => deliver(body, delivery),
                None => return (server_error(StatusCode::INTERNAL_SERVER_ERROR), None),
            },
        };
        limit_headers(&mut response);
        let fault = match delivery {
            Delivery::Whole => None,
            Delivery::Truncated => Some("truncated"),
            Delivery::Reset => Some("reset"),
        };
        (response, fault)
    }

    /// The rendered page, from the cache when this exact seeded request was seen recently.
    /// `None` only if rendering panicked (a bug, logged).
    async fn body(&self, version: ApiVersion, segment: &str, query: Option<&str>, page: PageRequest) -> Option<Bytes> {
        let key = page.seed.as_ref().map(|_| format!("{}/{segment}?{}", version.as_str(), query.unwrap_or("")));
        if let Some(key) = &key
            && let Some(body) = self.inner.cache.get(key)
        {
            return Some(body);
        }
        let inline = page.quantity <= INLINE_RENDER_MAX_QUANTITY;
        let render = move || {
            let (seed, echo) = match page.seed {
                Some((seed, echo)) => (seed, Some(echo)),
                None => (rand::random(), None),
            };
            let body = render_body(
                page.resource,
                &page.schema,
                page.quantity,
                seed,
                echo.as_deref(),
                &page.locale,
                &page.params,
            );
            Bytes::from(body)
        };
        let body = if inline {
            render()
        } else {
            match tokio::task::spawn_blocking(render).await {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(%error, "fake Faker API: rendering a page failed");
                    return None;
                }
            }
        };
        if let Some(key) = key {
            self.inner.cache.insert(key, body.clone());
        }
        Some(body)
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.into()).into_response()
}

fn deliver(body: Bytes, delivery: Delivery) -> Response {
    match delivery {
        Delivery::Whole => json_response(StatusCode::OK, body),
        // Content-Length follows the shortened body: the client reads a complete response
        // that is not valid JSON.
        Delivery::Truncated => json_response(StatusCode::OK, body.slice(..body.len() / 2)),
        // Chunked: the headers and first half go out, then the body fails and the server
        // drops the connection without the final chunk, which clients see as a broken
        // connection mid-body. The pause lets the first half reach the socket first.
        Delivery::Reset => {
            let first_half = body.slice(..body.len() / 2);
            let chunks = futures::stream::once(async move { Ok(first_half) }).chain(futures::stream::once(async {
                tokio::time::sleep(RESET_AFTER).await;
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected connection reset"))
            }));
            json_response(StatusCode::OK, Body::from_stream(chunks))
        }
    }
}

/// Laravel's throttle answer (not the Faker envelope).
fn too_many_attempts(retry_after_secs: u64) -> Response {
    let mut response =
        json_response(StatusCode::TOO_MANY_REQUESTS, Bytes::from_static(br#"{"message":"Too Many Attempts."}"#));
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// Laravel's pair: the window's size and what is left of it (no reset on a success).
fn laravel_headers(response: &mut Response, window: Standing) {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(window.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(window.remaining));
}

/// The IETF draft's three fields; `RateLimit-Reset` in whole seconds, rounded up.
fn ietf_headers(response: &mut Response, standing: Standing) {
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(standing.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(standing.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(standing.reset_secs()));
}

fn server_error(status: StatusCode) -> Response {
    let body: &'static [u8] = if status == StatusCode::SERVICE_UNAVAILABLE {
        br#"{"message":"Service Unavailable"}"#
    } else {
        br#"{"message":"Server Error"}"#
    };
    json_response(status, Bytes::from_static(body))
}

fn resource_not_found(version: ApiVersion) -> Response {
    let body: &'static [u8] = match version {
        ApiVersion::V2 => br#"{"message":"Resource not found"}"#,
        ApiVersion::V1 => br#"{"status":"Not found","code":404,"total":0}"#,
    };
    json_response(StatusCode::NOT_FOUND, Bytes::from_static(body))
}

fn wrong_field_type(ty: &str) -> Response {
    let mut body = b"{\"status\":".to_vec();
    push_json_str(&mut body, &format!("Bad Request. Wrong parameter type '{ty}'."));
    body.extend_from_slice(b",\"code\":400,\"total\":0}");
    json_response(StatusCode::BAD_REQUEST, body)
}
