//! The rate limiters the fake server can put in front of its API, per client and path, in the
//! two shapes real upstreams use:
//!
//! - **window** (`--throttle-per-minute`): Laravel's `throttle:N,1`, the public API's own. At
//!   most N hits in any window (a minute unless `--throttle-window-ms` shortens it), so the
//!   first N of a quiet minute all pass at once.
//! - **token bucket** (`--bucket-per-minute`, `--bucket-burst`): nginx's `limit_req` with
//!   `burst` and `nodelay`, the most common limiter in front of APIs: a bucket of B tokens
//!   refilled at R per minute, one token per request.
//!
//! With both set, the bucket stands in front (nginx before the application): a request it
//! refuses never reaches the window. Past a limit the answer is 429 with `Retry-After`, the
//! whole seconds until a request would pass. Each limiter also reports its standing (limit,
//! remaining, seconds until remaining grows) for the rate-limit headers.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::FakeApiOptions;

/// Clients × paths remembered before idle ones are forgotten.
const MAX_KEYS: usize = 10_000;

type Key = (IpAddr, String);

/// A limiter's account for one client and path, after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Requests allowed at once: the window's N, the bucket's size.
    pub limit: u32,
    pub remaining: u32,
    /// Until `remaining` grows (zero when it is already whole).
    pub reset: Duration,
}

impl Standing {
    pub(crate) fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset)
    }
}

/// What the limiters made of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Refused: the seconds for `Retry-After`.
    pub refused: Option<u64>,
    /// The window's standing, when the request reached it (Laravel sends it as `X-RateLimit-*`).
    pub window: Option<Standing>,
    /// The standing the `RateLimit-*` headers report: the bucket's if there is one.
    pub standing: Option<Standing>,
}

pub(crate) struct Throttles {
    window: Option<Window>,
    bucket: Option<TokenBucket>,
}

impl Throttles {
    pub(crate) fn new(options: &FakeApiOptions) -> Throttles {
        Throttles {
            window: (options.throttle_per_minute > 0).then(|| Window {
                limit: options.throttle_per_minute,
                length: Duration::from_millis(options.throttle_window_ms.max(1)),
                hits: Mutex::default(),
            }),
            bucket: (options.bucket_per_minute > 0).then(|| TokenBucket {
                interval: Duration::from_secs(60) / options.bucket_per_minute,
                burst: options.bucket_burst.max(1),
                due: Mutex::default(),
            }),
        }
    }

    /// Counts a request from `client` to `path` at `now` against each limiter.
    pub(crate) fn admit(&self, client: IpAddr, path: &str, now: Instant) -> Admission {
        let key = (client, path.to_string());
        let mut admission = Admission { refused: None, window: None, standing: None };
        if let Some(bucket) = &self.bucket {
            let (passed, standing) = bucket.take(&key, now);
            admission.standing = Some(standing);
            if let Err(retry_after) = passed {
                admission.refused = Some(retry_after);
                return admission;
            }
        }
        if let Some(window) = &self.window {
            let (passed, standing) = window.hit(&key, now);
            admission.window = Some(standing);
            admission.standing = admission.standing.or(Some(standing));
            if let Err(retry_after) = passed {
                admission.refused = Some(retry_after);
            }
        }
        admission
    }
}

/// At most `limit` hits in any `length`; refused hits are not counted.
struct Window {
    limit: u32,
    length: Duration,
    /// Hits inside the last window per key, oldest first.
    hits: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

impl Window {
    fn hit(&self, key: &Key, now: Instant) -> (Result<(), u64>, Standing) {
        let mut all = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() > MAX_KEYS {
            all.retain(|_, hits| hits.back().is_some_and(|t| now.duration_since(*t) < self.length));
        }
        let hits = all.entry(key.clone()).or_default();
        while hits.front().is_some_and(|t| now.duration_since(*t) >= self.length) {
            hits.pop_front();
        }
        let limit = self.limit as usize;
        if hits.len() >= limit {
            let wait = (hits[hits.len() - limit] + self.length).duration_since(now);
            let standing = Standing { limit: self.limit, remaining: 0, reset: wait };
            return (Err(ceil_secs(wait).max(1)), standing);
        }
        hits.push_back(now);
        let reset = hits.front().map_or(Duration::ZERO, |oldest| (*oldest + self.length).duration_since(now));
        (Ok(()), Standing { limit: self.limit, remaining: (limit - hits.len()) as u32, reset })
    }
}

/// GCRA, the arithmetic of a token bucket: a request passes if at most `burst - 1` intervals
/// of debt are owed; each passing request owes one more interval.
struct TokenBucket {
    interval: Duration,
    burst: u32,
    /// Per key: when the bucket will be full again (its debt paid).
    due: Mutex<HashMap<Key, Instant>>,
}

impl TokenBucket {
    fn take(&self, key: &Key, now: Instant) -> (Result<(), u64>, Standing) {
        let mut all = self.due.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() > MAX_KEYS {
            all.retain(|_, due| *due > now);
        }
        let due = all.get(key).copied().unwrap_or(now).max(now);
        let tolerance = self.interval * (self.burst - 1);
        let debt = due - now;
        if debt > tolerance {
            let wait = debt - tolerance;
            let standing = Standing { limit: self.burst, remaining: 0, reset: wait };
            return (Err(ceil_secs(wait).max(1)), standing);
        }
        let due = due + self.interval;
        all.insert(key.clone(), due);
        // Debt in whole tokens, rounded up: what is missing from a full bucket.
        let debt = (due - now).as_nanos();
        let step = self.interval.as_nanos();
        let missing = debt.div_ceil(step);
        let remaining = u128::from(self.burst).saturating_sub(missing) as u32;
        // The next token arrives when the debt falls to `missing - 1` intervals.
        let reset = Duration::from_nanos((debt - (missing - 1) * step) as u64);
        (Ok(()), Standing { limit: self.burst, remaining, reset })
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttles(f: impl FnOnce(&mut FakeApiOptions)) -> Throttles {
        let mut o = FakeApiOptions::default();
        f(&mut o);
        Throttles::new(&o)
    }

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn no_limiter_by_default() {
        let t = throttles(|_| {});
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(t.admit(ME, "/api/v2/users", now), Admission { refused: None, window: None, standing: None });
        }
    }

    #[test]
    fn window_allows_n_per_minute_per_client_and_path() {
        let t = throttles(|o| o.throttle_per_minute = 3);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let remaining = |a: Admission| a.window.map(|w| (a.refused, w.remaining, w.reset_secs()));
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(0))), Some((None, 2, 60)));
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(10))), Some((None, 1, 50)));
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(20))), Some((None, 0, 40)));
        // The first hit frees its slot at t=60.
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(30))), Some((Some(30), 0, 30)));
        assert_eq!(remaining(t.admit(ME, "/api/v2/books", at(30))), Some((None, 2, 60)));
        assert_eq!(remaining(t.admit(OTHER, "/api/v2/users", at(30))), Some((None, 2, 60)));
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(60))), Some((None, 0, 10)));
        assert_eq!(remaining(t.admit(ME, "/api/v2/users", at(61))), Some((Some(9), 0, 9)));
    }

    #[test]
    fn a_shorter_window_runs_the_same_shape_faster() {
        let t = throttles(|o| {
            o.throttle_per_minute = 2;
            o.throttle_window_ms = 500;
        });
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(t.admit(ME, "/p", ms(0)).refused, None);
        assert_eq!(t.admit(ME, "/p", ms(0)).refused, None);
        assert_eq!(t.admit(ME, "/p", ms(100)).refused, Some(1), "Retry-After is whole seconds");
        assert_eq!(t.admit(ME, "/p", ms(500)).refused, None);
    }

    #[test]
    fn bucket_allows_a_burst_then_its_rate() {
        // nginx: rate=30r/m burst=5 nodelay.
        let t = throttles(|o| {
            o.bucket_per_minute = 30;
            o.bucket_burst = 5;
        });
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let standing = |a: Admission| (a.refused, a.standing.map(|s| (s.limit, s.remaining, s.reset)));
        let secs = Duration::from_secs;
        assert_eq!(standing(t.admit(ME, "/p", ms(0))), (None, Some((5, 4, secs(2)))));
        for left in (0..4).rev() {
            assert_eq!(standing(t.admit(ME, "/p", ms(0))), (None, Some((5, left, secs(2)))));
        }
        // Empty: the next token comes 2 s after the first was taken.
        assert_eq!(standing(t.admit(ME, "/p", ms(500))), (Some(2), Some((5, 0, Duration::from_millis(1500)))));
        assert_eq!(standing(t.admit(ME, "/p", ms(1999))).0, Some(1));
        assert_eq!(standing(t.admit(ME, "/p", ms(2000))), (None, Some((5, 0, secs(2)))));
        assert_eq!(standing(t.admit(ME, "/p", ms(3000))).0, Some(1));
        // Another client, another path: their own buckets.
        assert_eq!(t.admit(OTHER, "/p", ms(3000)).refused, None);
        assert_eq!(t.admit(ME, "/q", ms(3000)).refused, None);
        // Idle for a minute: full again, but never more than the burst.
        let later = t0 + secs(60);
        let passed = (0..8).filter(|_| t.admit(ME, "/p", later).refused.is_none()).count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn the_bucket_stands_in_front_of_the_window() {
        let t = throttles(|o| {
            o.throttle_per_minute = 3;
            o.bucket_per_minute = 60;
            o.bucket_burst = 2;
        });
        let t0 = Instant::now();
        assert_eq!(t.admit(ME, "/p", t0).refused, None);
        assert_eq!(t.admit(ME, "/p", t0).refused, None);
        let refused = t.admit(ME, "/p", t0);
        assert_eq!((refused.refused, refused.window), (Some(1), None), "the window never saw it");
        // One token a second; the window's third slot is the last.
        assert_eq!(t.admit(ME, "/p", t0 + Duration::from_secs(1)).window.map(|w| w.remaining), Some(0));
        let a = t.admit(ME, "/p", t0 + Duration::from_secs(2));
        assert_eq!((a.refused, a.standing.map(|s| s.limit)), (Some(58), Some(2)));
    }
}
