//! The upstream client, for Faker and for the sources of `DUCKHAUL_SOURCES_DIR` alike: one page
//! per request, paced per upstream path (`pace`), with retries for faults (exponential backoff,
//! full jitter, `Retry-After`) and decoding into Arrow columns. Faker's pages are fetched here;
//! a source's request and the reading of its answers are in `described` and `paging`.
//!
//! A 429 is not a fault: it slows the path's shared pace and the page waits its turn again,
//! without spending the attempts meant for errors. A page gives up on 429s only after
//! `RetryPolicy::max_throttled` of them (or when the job's deadline cancels it).
//!
//! Decoding happens inside the retry loop on purpose: a truncated or malformed body is a
//! transport fault worth another attempt (the page's seed makes the retry the same data).

mod described;
mod limit_headers;
mod link_header;
mod pace;
pub mod paging;
mod policy;
pub mod probe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::Retryable;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

pub use described::{Misfit, PageSchema, SourcePage, SourceTarget};
pub use limit_headers::LimitHeaders;
pub use pace::PaceSettings;
pub use policy::{FetchError, RetryPolicy};

use crate::catalog::decode::{DecodeError, DecodedPage, decode_page};
use crate::catalog::{ApiVersion, Resource, Schema};
use crate::metrics::Metrics;
use pace::{Answer, PathPace};

/// One page of Faker's to fetch (a source's page is a `paging::Position`).
#[derive(Debug, Clone)]
pub struct PageQuery {
    /// The path under the base URL, e.g. `users` or `creditCards`.
    pub path: &'static str,
    pub quantity: u32,
    pub seed: i64,
    pub locale: String,
    /// Resource parameters and custom field pairs, already validated.
    pub extra: Arc<Vec<(String, String)>>,
}

/// The client of every upstream: Faker's API at `base_url`, and any source's through
/// `fetch_source_page` (its own base URL, in the source's file), sharing the paces, the retry
/// policy, the HTTP client and the metrics.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base_url: String,
    /// Read from `base_url`: v1 and v2 spell one resource's path differently.
    version: ApiVersion,
    pace: PaceSettings,
    /// One pace per path (a source's paths are keyed `source/path`), shared by every job (and
    /// every clone of this `Upstream`).
    paces: Arc<Mutex<HashMap<String, Arc<PathPace>>>>,
    policy: RetryPolicy,
    metrics: Metrics,
    /// See `with_rate_shared_by`.
    shared_by: u32,
}

/// A fetched and decoded page, with the attempts it took.
#[derive(Debug)]
pub struct FetchedPage {
    pub page: DecodedPage,
    pub attempts: u32,
}

/// What a fetch tells its job while it goes on (live progress).
#[derive(Debug)]
pub enum FetchEvent<'a> {
    /// A fault that is being retried.
    Retried(&'a FetchError),
    /// A 429: the page waits its turn again at the path's new pace (requests per minute).
    Throttled { error: &'a FetchError, pace_per_minute: Option<f64> },
    /// The request waited this long for its turn at the path's pace.
    Paced(Duration),
}

impl Upstream {
    /// `base_url`, Faker's, includes the API version, e.g. `https://fakerapi.it/api/v2`; `pace`
    /// is how fast each of its paths may be called (a source's paths go at its file's rate).
    pub fn new(base_url: &str, pace: PaceSettings, policy: RetryPolicy) -> anyhow::Result<Upstream> {
        let http = http_client(policy.attempt_timeout)?;
        Ok(Upstream {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            version: ApiVersion::of_base_url(base_url),
            pace,
            paces: Arc::default(),
            policy,
            metrics: Metrics::default(),
            shared_by: 1,
        })
    }

    /// Counts requests, retries and latency into `metrics` (by default, into a registry of
    /// the upstream's own that nothing reads).
    pub fn with_metrics(self, metrics: Metrics) -> Upstream {
        Upstream { metrics, ..self }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The path of `resource` under this upstream's base URL (`credit_cards` on v1,
    /// `creditCards` on v2).
    pub fn path(&self, resource: Resource) -> &'static str {
        resource.upstream_path(self.version)
    }

    /// Requests per minute `path` is paced at now (lower than configured after 429s);
    /// `None` when unlimited.
    pub fn pace_per_minute(&self, path: &str) -> Option<f64> {
        self.path_pace(path, self.pace).per_minute()
    }

    /// The pace of `key` (a Faker path, or a source's `source/path`), created at `settings`
    /// the first time it is asked for.
    fn path_pace(&self, key: &str, settings: PaceSettings) -> Arc<PathPace> {
        let mut paces = self.paces.lock().expect("paces lock");
        if let Some(pace) = paces.get(key) {
            return pace.clone();
        }
        let pace = Arc::new(PathPace::new(settings));
        self.metrics.upstream_pace(key, pace.per_minute());
        paces.insert(key.to_owned(), pace.clone());
        pace
    }

    /// The burst every path starts with (a source sets only its rate).
    fn burst(&self) -> u32 {
        self.pace.burst
    }

    /// Processes that reach the upstreams as one client (the tasks of a split run), each
    /// taking its share of a source's rate as of Faker's.
    pub fn with_rate_shared_by(self, processes: u32) -> Upstream {
        Upstream { shared_by: processes.max(1), ..self }
    }

    /// Fetches and decodes one page, retrying what is worth retrying and waiting out 429s;
    /// `on_event` hears of each (live progress). Returns early with `FetchError::Cancelled`
    /// when `cancel` fires.
    pub async fn fetch_page(
        &self,
        query: &PageQuery,
        schema: &Schema,
        job_limit: Option<&governor::DefaultDirectRateLimiter>,
        cancel: &CancellationToken,
        on_event: &(dyn Fn(FetchEvent<'_>) + Sync),
    ) -> Result<FetchedPage, FetchError> {
        let pace = self.path_pace(query.path, self.pace);
        let (page, attempts) = self
            .with_retries(query.path, cancel, on_event, || async {
                let reply = self.exchange(query.path, &pace, job_limit, on_event, || self.send(query)).await?;
                decode_page(schema, &reply.body).map_err(fetch_error)
            })
            .await?;
        Ok(FetchedPage { page, attempts })
    }

    /// Runs `attempt` until it succeeds, fails for good or `cancel` fires; answers its result
    /// and the attempts it took.
    async fn with_retries<T, F, Fut>(
        &self,
        key: &str,
        cancel: &CancellationToken,
        on_event: &(dyn Fn(FetchEvent<'_>) + Sync),
        attempt: F,
    ) -> Result<(T, u32), FetchError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let counted = || {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            attempt()
        };
        let retried = counted
            .retry(self.policy.backoff())
            .sleep(tokio::time::sleep)
            .when(FetchError::is_retryable)
            .adjust(policy::adjust_delay)
            .notify(|e, delay| {
                tracing::debug!(path = key, error = %e, ?delay, "retrying page");
                self.metrics.upstream_retry(key);
                on_event(FetchEvent::Retried(e));
            });
        let result = tokio::select! {
            r = retried => r,
            _ = cancel.cancelled() => Err(FetchError::Cancelled),
        };
        Ok((result?, attempts.into_inner()))
    }

    /// One attempt: the request `send` makes, sent again after each 429 once `pace` allows.
    async fn exchange<S, Fut>(
        &self,
        key: &str,
        pace: &PathPace,
        job_limit: Option<&governor::DefaultDirectRateLimiter>,
        on_event: &(dyn Fn(FetchEvent<'_>) + Sync),
        send: S,
    ) -> Result<Reply, FetchError>
    where
        S: Fn() -> Fut,
        Fut: Future<Output = (LimitHeaders, Result<Reply, FetchError>)>,
    {
        let mut throttled = 0u32;
        loop {
            if let Some(limit) = job_limit {
                limit.until_ready().await;
            }
            let ticket = pace.turn().await;
            if !ticket.waited.is_zero() {
                on_event(FetchEvent::Paced(ticket.waited));
            }
            // Timed after the wait for a turn: the histogram is the upstream's latency, not ours.
            let started = Instant::now();
            let (limits, result) = send().await;
            self.metrics.upstream_request(
                key,
                &policy::outcome_label(result.as_ref().map(|r| r.status)),
                started.elapsed(),
            );
            let answer = match &result {
                Ok(_) => Answer::Taken { success: true },
                Err(FetchError::Status { status: 429, retry_after, .. }) => {
                    Answer::Throttled { retry_after: *retry_after }
                }
                Err(FetchError::Status { .. }) => Answer::Taken { success: false },
                Err(_) => Answer::None,
            };
            let pace_now = pace.answered(ticket, answer, &limits);
            self.metrics.upstream_pace(key, pace_now);
            match result {
                Err(error @ FetchError::Status { status: 429, .. }) => {
                    throttled += 1;
                    tracing::debug!(path = key, pace_per_minute = ?pace_now, "throttled (429); waiting for the next turn");
                    self.metrics.upstream_retry(key);
                    on_event(FetchEvent::Throttled { error: &error, pace_per_minute: pace_now });
                    if throttled >= self.policy.max_throttled {
                        return Err(FetchError::Throttled { answers: throttled });
                    }
                }
                other => return other,
            }
        }
    }

    async fn send(&self, query: &PageQuery) -> (LimitHeaders, Result<Reply, FetchError>) {
        let url = format!("{}/{}", self.base_url, query.path);
        let mut pairs: Vec<(&str, String)> = vec![
            ("_quantity", query.quantity.to_string()),
            ("_locale", query.locale.clone()),
            ("_seed", query.seed.to_string()),
        ];
        pairs.extend(query.extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let response = match self.http.get(&url).query(&pairs).send().await {
            Ok(response) => response,
            Err(e) => return (LimitHeaders::default(), Err(FetchError::from_transport(e))),
        };
        read_reply(response, false, None).await
    }
}

/// The HTTP client of every upstream request (and of `sources check`): `timeout` for one
/// request, body included. Redirects are followed on the same host only: a source's key in a
/// header would otherwise go along to another one, and its next URLs be checked against that.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("duckhaul/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let same_host =
                attempt.previous().first().is_some_and(|first| first.host_str() == attempt.url().host_str());
            match same_host && attempt.previous().len() < 10 {
                true => attempt.follow(),
                false => attempt.stop(),
            }
        }))
        .build()
}

/// An answer of the upstream: the body, and for a source's pagination the URL and headers.
pub(crate) struct Reply {
    pub status: u16,
    /// The URL requested (empty for Faker's pages, which page by seed).
    pub url: String,
    /// Every header (none kept for Faker's pages).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// The reply to a sent request: its rate-limit headers, and its body, or the error its status
/// says. `keep` keeps the URL and headers a source's pagination may read; `auth`'s secrets are
/// masked in an error body.
async fn read_reply(
    response: reqwest::Response,
    keep: bool,
    auth: Option<&crate::catalog::sources::Auth>,
) -> (LimitHeaders, Result<Reply, FetchError>) {
    let status = response.status();
    let limits = LimitHeaders::read(response.headers());
    if !status.is_success() {
        let retry_after = policy::retry_after(response.headers());
        let mut body = response.text().await.unwrap_or_default();
        if let Some(auth) = auth {
            body = auth.mask(&body);
        }
        return (limits, Err(FetchError::Status { status: status.as_u16(), retry_after, body: truncate(&body, 200) }));
    }
    let (url, headers) = match keep {
        true => (
            response.url().to_string(),
            response
                .headers()
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
                .collect(),
        ),
        false => (String::new(), Vec::new()),
    };
    // Without the URL: a source's may hold its API key.
    let body = response.bytes().await.map_err(|e| FetchError::from_transport(e.without_url()));
    (limits, body.map(|body| Reply { status: status.as_u16(), url, headers, body }))
}

fn fetch_error(e: DecodeError) -> FetchError {
    match e {
        DecodeError::Syntax(m) => FetchError::InvalidBody(m),
        DecodeError::Shape(m) => FetchError::Shape(m),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_api::{FakeApiOptions, serve};

    /// The bundled fake on a loopback port; returns its v2 base URL and its stop token.
    async fn fake(options: FakeApiOptions) -> (String, CancellationToken) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move { serve(listener, options, token).await.unwrap() });
        (url, stop)
    }

    fn users(seed: i64) -> PageQuery {
        PageQuery { path: "users", quantity: 3, seed, locale: "en_US".into(), extra: Arc::default() }
    }

    #[tokio::test]
    async fn a_page_waits_out_429s_without_spending_its_attempts_and_gives_up_after_max_throttled() {
        // Every answer is a 429 with `Retry-After: 0` (no hint): one attempt allowed, yet the
        // page keeps waiting its turn until it has met max_throttled of them.
        let (url, stop) = fake(FakeApiOptions { rate_429: 1.0, retry_after: 0, ..FakeApiOptions::default() }).await;
        let policy = RetryPolicy { max_attempts: 1, max_throttled: 4, ..RetryPolicy::default() };
        let upstream = Upstream::new(&url, PaceSettings { requests_per_minute: 60_000.0, burst: 1 }, policy).unwrap();
        let schema = Resource::Users.schema().unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let on_event = |event: FetchEvent<'_>| {
            if let FetchEvent::Throttled { pace_per_minute, .. } = event {
                seen.lock().unwrap().push(pace_per_minute.unwrap());
            }
        };
        let result = upstream.fetch_page(&users(1), schema, None, &CancellationToken::new(), &on_event).await;
        assert!(matches!(result, Err(FetchError::Throttled { answers: 4 })), "{result:?}");
        // Each 429 of a request sent after the last cut halves the pace.
        assert_eq!(*seen.lock().unwrap(), [30_000.0, 15_000.0, 7_500.0, 3_750.0]);
        assert_eq!(upstream.pace_per_minute("users"), Some(3_750.0));
        stop.cancel();
    }

    #[tokio::test]
    async fn credit_cards_are_fetched_from_each_versions_path() {
        let (v2, stop) = fake(FakeApiOptions::default()).await;
        let v1 = v2.replace("/api/v2", "/api/v1");
        let schema = Resource::CreditCards.schema().unwrap();
        for (url, path) in [(v1, "credit_cards"), (v2, "creditCards")] {
            let unlimited = PaceSettings { requests_per_minute: 0.0, burst: 1 };
            let upstream = Upstream::new(&url, unlimited, RetryPolicy::default()).unwrap();
            assert_eq!(upstream.path(Resource::CreditCards), path);
            let query = PageQuery { path, quantity: 4, seed: 3, locale: "en_US".into(), extra: Arc::default() };
            let fetched = upstream.fetch_page(&query, schema, None, &CancellationToken::new(), &|_| {}).await.unwrap();
            assert_eq!(fetched.page.batch.num_rows(), 4, "{url}");
            assert_eq!(fetched.attempts, 1, "{url}: not a 404 retried or refused");
        }
        stop.cancel();
    }

    #[tokio::test]
    async fn paths_have_their_own_pace_shared_by_clones() {
        let (url, stop) = fake(FakeApiOptions { rate_429: 1.0, retry_after: 0, ..FakeApiOptions::default() }).await;
        let policy = RetryPolicy { max_throttled: 1, ..RetryPolicy::default() };
        let upstream = Upstream::new(&url, PaceSettings { requests_per_minute: 600.0, burst: 4 }, policy).unwrap();
        let clone = upstream.clone();
        let schema = Resource::Users.schema().unwrap();
        let result = clone.fetch_page(&users(2), schema, None, &CancellationToken::new(), &|_| {}).await;
        assert!(matches!(result, Err(FetchError::Throttled { answers: 1 })), "{result:?}");
        assert_eq!(upstream.pace_per_minute("users"), Some(300.0), "one budget for every clone");
        assert_eq!(upstream.pace_per_minute("books"), Some(600.0));
        stop.cancel();
    }
}
