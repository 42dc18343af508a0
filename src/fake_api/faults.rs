//! Fault injection: the failures a real upstream shows (5xx, 429 with `Retry-After`, a
//! per-client throttle, slow answers, truncated bodies, dropped connections), drawn from a
//! seedable generator so a failing test run can be replayed with the same `--fault-seed`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use super::FakeApiOptions;
use super::rng::{SplitMix64, mix64};

/// What the fault draws decided for one request, before it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Answer 429 with the configured `Retry-After` (`--rate-429`).
    TooManyRequests,
    /// Answer 500 or 503 (`--error-rate`).
    ServerError(StatusCode),
    /// Answer normally; a 200 body is then delivered as `Delivery` says.
    Answer(Delivery),
}

/// How a 200 body reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Whole,
    /// The first half only, with a matching `Content-Length`: complete but invalid JSON.
    Truncated,
    /// Part of the body, then the connection is dropped.
    Reset,
}

/// Why the throttle refused a request: whole seconds until the oldest counted hit expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub retry_after_secs: u64,
}

const THROTTLE_WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct FaultInjector {
    error_rate: f64,
    rate_429: f64,
    truncate_rate: f64,
    reset_rate: f64,
    throttle_per_minute: u32,
    draws: Mutex<SplitMix64>,
    /// Hits inside the last minute per (client, path), oldest first.
    hits: Mutex<HashMap<(IpAddr, String), VecDeque<Instant>>>,
}

impl FaultInjector {
    pub(crate) fn new(options: &FakeApiOptions) -> FaultInjector {
        let seed = options.fault_seed.unwrap_or_else(rand::random);
        FaultInjector {
            error_rate: options.error_rate,
            rate_429: options.rate_429,
            truncate_rate: options.truncate_rate,
            reset_rate: options.reset_rate,
            throttle_per_minute: options.throttle_per_minute,
            draws: Mutex::new(SplitMix64::new(mix64(seed))),
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Draws the fate of one request. Every request consumes the same number of draws, so
    /// with a fixed `--fault-seed` the n-th request always meets the same fault.
    pub(crate) fn verdict(&self) -> Verdict {
        let [a, b, c, d, e] = {
            let mut rng = self.draws.lock().unwrap_or_else(|p| p.into_inner());
            [rng.unit(), rng.unit(), rng.unit(), rng.unit(), rng.unit()]
        };
        if a < self.rate_429 {
            Verdict::TooManyRequests
        } else if b < self.error_rate {
            // The upstream's own failures are 500s; 503s are what proxies in front of it add.
            let status =
                if c < 0.5 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::SERVICE_UNAVAILABLE };
            Verdict::ServerError(status)
        } else if d < self.truncate_rate {
            Verdict::Answer(Delivery::Truncated)
        } else if e < self.reset_rate {
            Verdict::Answer(Delivery::Reset)
        } else {
            Verdict::Answer(Delivery::Whole)
        }
    }

    /// Counts a hit against `(client, path)` like Laravel's `throttle:N,1`: at most N hits in
    /// any 60 seconds; refused hits are not counted. Returns the hits left in the window.
    pub(crate) fn throttle(&self, client: IpAddr, path: &str, now: Instant) -> Result<u32, Throttled> {
        let limit = self.throttle_per_minute;
        if limit == 0 {
            return Ok(u32::MAX);
        }
        let mut all = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle clients so the table cannot grow without bound.
        if all.len() > 10_000 {
            all.retain(|_, hits| hits.back().is_some_and(|t| now.duration_since(*t) < THROTTLE_WINDOW));
        }
        let hits = all.entry((client, path.to_string())).or_default();
        while hits.front().is_some_and(|t| now.duration_since(*t) >= THROTTLE_WINDOW) {
            hits.pop_front();
        }
        if hits.len() >= limit as usize {
            let frees_at = hits[hits.len() - limit as usize] + THROTTLE_WINDOW;
            let wait = frees_at.duration_since(now);
            let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Throttled { retry_after_secs: retry_after_secs.max(1) });
        }
        hits.push_back(now);
        Ok(limit - hits.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(f: impl FnOnce(&mut FakeApiOptions)) -> FakeApiOptions {
        let mut o = FakeApiOptions { fault_seed: Some(7), ..FakeApiOptions::default() };
        f(&mut o);
        o
    }

    fn tally(injector: &FaultInjector, n: usize) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for _ in 0..n {
            *counts.entry(format!("{:?}", injector.verdict())).or_default() += 1;
        }
        counts
    }

    #[test]
    fn no_faults_by_default() {
        let injector = FaultInjector::new(&FakeApiOptions::default());
        let counts = tally(&injector, 1000);
        assert_eq!(counts.get("Answer(Whole)"), Some(&1000));
    }

    #[test]
    fn rates_are_honoured_and_reproducible() {
        let o = options(|o| {
            o.error_rate = 0.2;
            o.rate_429 = 0.1;
            o.truncate_rate = 0.1;
            o.reset_rate = 0.1;
        });
        let counts = tally(&FaultInjector::new(&o), 10_000);
        let get = |k: &str| *counts.get(k).unwrap_or(&0);
        let near = |got: usize, want: f64| (got as f64 - want).abs() < want * 0.15;
        assert!(near(get("TooManyRequests"), 1000.0), "{counts:?}");
        let errors = get("ServerError(500)") + get("ServerError(503)");
        assert!(near(errors, 10_000.0 * 0.9 * 0.2), "{counts:?}");
        assert!(get("ServerError(500)") > 0 && get("ServerError(503)") > 0);
        assert!(near(get("Answer(Truncated)"), 10_000.0 * 0.9 * 0.8 * 0.1), "{counts:?}");
        assert!(near(get("Answer(Reset)"), 10_000.0 * 0.9 * 0.8 * 0.9 * 0.1), "{counts:?}");

        let a: Vec<_> = {
            let i = FaultInjector::new(&o);
            (0..200).map(|_| i.verdict()).collect()
        };
        let b: Vec<_> = {
            let i = FaultInjector::new(&o);
            (0..200).map(|_| i.verdict()).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn throttle_allows_n_per_minute_per_client_and_path() {
        let injector = FaultInjector::new(&options(|o| o.throttle_per_minute = 3));
        let me: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(injector.throttle(me, "/api/v2/users", at(0)), Ok(2));
        assert_eq!(injector.throttle(me, "/api/v2/users", at(10)), Ok(1));
        assert_eq!(injector.throttle(me, "/api/v2/users", at(20)), Ok(0));
        // The first hit frees its slot at t=60.
        assert_eq!(injector.throttle(me, "/api/v2/users", at(30)), Err(Throttled { retry_after_secs: 30 }));
        assert_eq!(injector.throttle(me, "/api/v2/books", at(30)), Ok(2));
        assert_eq!(injector.throttle(other, "/api/v2/users", at(30)), Ok(2));
        assert_eq!(injector.throttle(me, "/api/v2/users", at(60)), Ok(0));
        assert_eq!(injector.throttle(me, "/api/v2/users", at(61)), Err(Throttled { retry_after_secs: 9 }));
    }
}
