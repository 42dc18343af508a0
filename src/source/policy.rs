//! What is worth retrying, and how long to wait: exponential backoff with full jitter
//! (AWS's "full jitter": a uniform draw below the exponential bound, which spreads retries of
//! concurrent pages best), overridden by the server's `Retry-After` when it gives one.
//! 429s are not retried here but waited out at the path's pace (`pace.rs`), within
//! `max_throttled`.

use std::time::Duration;

use backon::ExponentialBuilder;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts and delays for one page.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per page, the first included.
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Time allowed for one request, body included.
    pub attempt_timeout: Duration,
    /// 429 answers one page may meet before it is given up as throttled. They spend none of
    /// `max_attempts`: a paced client meets a few; this many means the upstream refuses
    /// outright (a spent daily quota, say), and the job's deadline usually ends it first.
    pub max_throttled: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Six attempts spread over up to ~30 s ride out a restart of the upstream or a
        // throttle window without holding a page for minutes.
        RetryPolicy {
            max_attempts: 6,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(15),
            attempt_timeout: Duration::from_secs(60),
            max_throttled: MAX_THROTTLED,
        }
    }
}

impl RetryPolicy {
    pub(super) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// The default of `RetryPolicy::max_throttled` (documented in the README).
pub const MAX_THROTTLED: u32 = 100;

/// Longest `Retry-After` honoured; a server asking for more is treated as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Why a page could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("upstream answered {status}: {body}")]
    Status { status: u16, retry_after: Option<Duration>, body: String },
    #[error("upstream timed out")]
    Timeout,
    #[error("cannot reach the upstream: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("invalid JSON from the upstream: {0}")]
    InvalidBody(String),
    #[error("unexpected response from the upstream: {0}")]
    Shape(String),
    /// The page met `RetryPolicy::max_throttled` answers 429 and was given up.
    #[error(
        "the upstream answered 429 Too Many Requests {answers} times for this page, the most one page waits out; resume the job to try again"
    )]
    Throttled { answers: u32 },
    #[error("cancelled")]
    Cancelled,
}

impl FetchError {
    pub(super) fn from_transport(e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_connect() {
            FetchError::Connect(format!("{e}"))
        } else {
            // Resets, truncated bodies and the like: show the underlying cause.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg = format!("{msg}: {s}");
                source = s.source();
            }
            FetchError::Transport(msg)
        }
    }

    /// 408, 429 and 5xx, timeouts, connection faults and broken bodies are worth another try;
    /// any other 4xx, or a body of the wrong shape, would fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            FetchError::Timeout | FetchError::Connect(_) | FetchError::Transport(_) | FetchError::InvalidBody(_) => {
                true
            }
            FetchError::Shape(_) | FetchError::Throttled { .. } | FetchError::Cancelled => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// How a request ended, as the `status` label of the request metrics: the HTTP status, or
/// the kind of transport fault.
pub(super) fn outcome_label(result: Result<u16, &FetchError>) -> String {
    match result {
        Ok(status) => status.to_string(),
        Err(FetchError::Status { status, .. }) => status.to_string(),
        Err(FetchError::Timeout) => "timeout".into(),
        Err(FetchError::Connect(_)) => "connect".into(),
        Err(FetchError::Transport(_)) => "transport".into(),
        Err(FetchError::InvalidBody(_)) => "invalid_body".into(),
        Err(FetchError::Shape(_)) => "invalid_shape".into(),
        Err(FetchError::Throttled { .. }) => "throttled".into(),
        Err(FetchError::Cancelled) => "cancelled".into(),
    }
}

/// The delay before the next attempt: the server's `Retry-After` if it gave one, otherwise a
/// uniform draw in [0, exponential bound]. `None` (attempts exhausted) stays `None`.
pub(super) fn adjust_delay(error: &FetchError, bound: Option<Duration>) -> Option<Duration> {
    let bound = bound?;
    if let Some(hint) = error.retry_after() {
        return Some(hint.min(MAX_RETRY_AFTER));
    }
    let nanos = bound.as_nanos().min(u64::MAX as u128) as u64;
    Some(Duration::from_nanos(rand::rng().random_range(0..=nanos)))
}

/// Parses `Retry-After` as delay-seconds or an HTTP date. `0` or a past date is no hint.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()?
        }
    };
    (!delay.is_zero()).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers("0")), None);
        assert_eq!(retry_after(&headers("Sun, 06 Nov 1994 08:49:37 GMT")), None);
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let d = retry_after(&headers(&soon)).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30), "{d:?}");
        assert_eq!(retry_after(&headers("soon")), None);
    }

    #[test]
    fn only_transient_faults_are_retried() {
        let status = |s| FetchError::Status { status: s, retry_after: None, body: String::new() };
        assert!(status(429).is_retryable() && status(503).is_retryable() && status(500).is_retryable());
        assert!(!status(404).is_retryable() && !status(400).is_retryable());
        assert!(FetchError::InvalidBody("eof".into()).is_retryable());
        assert!(!FetchError::Shape("no data".into()).is_retryable());
        assert!(!FetchError::Throttled { answers: MAX_THROTTLED }.is_retryable(), "a throttled page is given up");
    }

    #[test]
    fn delays_use_full_jitter_unless_the_server_says_when() {
        let e = FetchError::Timeout;
        for _ in 0..100 {
            let d = adjust_delay(&e, Some(Duration::from_millis(800))).unwrap();
            assert!(d <= Duration::from_millis(800));
        }
        let throttled =
            FetchError::Status { status: 429, retry_after: Some(Duration::from_secs(3)), body: String::new() };
        assert_eq!(adjust_delay(&throttled, Some(Duration::from_millis(10))), Some(Duration::from_secs(3)));
        assert_eq!(adjust_delay(&throttled, None), None);
    }
}
