//! The Faker API client: one page per request, with a per-path rate limit, retries with
//! exponential backoff and full jitter, `Retry-After`, and decoding into Arrow columns.
//!
//! Decoding happens inside the retry loop on purpose: a truncated or malformed body is a
//! transport fault worth another attempt (the page's seed makes the retry the same data).

mod policy;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::Retryable;
use bytes::Bytes;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

pub use policy::{FetchError, RetryPolicy};

use crate::catalog::Schema;
use crate::catalog::decode::{DecodeError, DecodedPage, decode_page};
use crate::metrics::Metrics;

/// One page to fetch.
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

/// The upstream Faker API.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base_url: String,
    limiter: Option<Arc<DefaultKeyedRateLimiter<&'static str>>>,
    /// Per path: no request before this instant (set by a 429's Retry-After), so one
    /// throttled page slows every page of that path instead of each finding out by itself.
    cool_down: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, tokio::time::Instant>>>,
    policy: RetryPolicy,
    metrics: Metrics,
}

/// A fetched and decoded page, with the attempts it took.
#[derive(Debug)]
pub struct FetchedPage {
    pub page: DecodedPage,
    pub attempts: u32,
}

impl Upstream {
    /// `base_url` includes the API version, e.g. `https://fakerapi.it/api/v2`.
    /// `requests_per_minute` limits each upstream path (0: unlimited).
    pub fn new(base_url: &str, requests_per_minute: u32, policy: RetryPolicy) -> anyhow::Result<Upstream> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("duckhaul/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(policy.attempt_timeout)
            .build()?;
        let limiter = NonZeroU32::new(requests_per_minute)
            .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
        Ok(Upstream {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            limiter,
            cool_down: Arc::default(),
            policy,
            metrics: Metrics::default(),
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

    /// Fetches and decodes one page, retrying what is worth retrying; `on_retry` hears of
    /// each fault that is retried (live progress). Returns early with
    /// `FetchError::Cancelled` when `cancel` fires.
    pub async fn fetch_page(
        &self,
        query: &PageQuery,
        schema: &Schema,
        job_limit: Option<&governor::DefaultDirectRateLimiter>,
        cancel: &CancellationToken,
        on_retry: &(dyn Fn(&FetchError) + Sync),
    ) -> Result<FetchedPage, FetchError> {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let attempt = || async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(limit) = job_limit {
                limit.until_ready().await;
            }
            let body = self.request(query).await?;
            decode_page(schema, &body).map_err(|e| match e {
                DecodeError::Syntax(m) => FetchError::InvalidBody(m),
                DecodeError::Shape(m) => FetchError::Shape(m),
            })
        };
        let retried = attempt
            .retry(self.policy.backoff())
            .sleep(tokio::time::sleep)
            .when(FetchError::is_retryable)
            .adjust(policy::adjust_delay)
            .notify(|e, delay| {
                tracing::debug!(path = query.path, seed = query.seed, error = %e, ?delay, "retrying page");
                self.metrics.upstream_retry(query.path);
                on_retry(e);
            });
        let result = tokio::select! {
            r = retried => r,
            _ = cancel.cancelled() => Err(FetchError::Cancelled),
        };
        let page = result?;
        Ok(FetchedPage { page, attempts: attempts.into_inner() })
    }

    async fn request(&self, query: &PageQuery) -> Result<Bytes, FetchError> {
        let resume_at = self.cool_down.lock().expect("cool-down lock").get(query.path).copied();
        if let Some(at) = resume_at {
            tokio::time::sleep_until(at).await;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_key_ready(&query.path).await;
        }
        // Timed after the rate limiter: the histogram is the upstream's latency, not ours.
        let started = Instant::now();
        let result = self.send(query).await;
        self.metrics.upstream_request(query.path, &policy::outcome_label(&result), started.elapsed());
        result.map(|(_, body)| body)
    }

    async fn send(&self, query: &PageQuery) -> Result<(u16, Bytes), FetchError> {
        let url = format!("{}/{}", self.base_url, query.path);
        let mut pairs: Vec<(&str, String)> = vec![
            ("_quantity", query.quantity.to_string()),
            ("_locale", query.locale.clone()),
            ("_seed", query.seed.to_string()),
        ];
        pairs.extend(query.extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let response = self.http.get(&url).query(&pairs).send().await.map_err(FetchError::from_transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = policy::retry_after(response.headers());
            if status.as_u16() == 429 {
                let pause = retry_after.unwrap_or(self.policy.min_delay);
                let until = tokio::time::Instant::now() + pause;
                let mut cool_down = self.cool_down.lock().expect("cool-down lock");
                let entry = cool_down.entry(query.path).or_insert(until);
                *entry = (*entry).max(until);
            }
            let body = response.text().await.unwrap_or_default();
            return Err(FetchError::Status { status: status.as_u16(), retry_after, body: truncate(&body, 200) });
        }
        let body = response.bytes().await.map_err(FetchError::from_transport)?;
        Ok((status.as_u16(), body))
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
