//! Fault injection: the failures a real upstream shows (5xx, 429 with `Retry-After`, slow
//! answers, truncated bodies, dropped connections), drawn from a seedable generator so a
//! failing test run can be replayed with the same `--fault-seed`. (Rate limits, which are
//! not random, are `throttle.rs`'s.)

use std::sync::Mutex;

use axum::http::StatusCode;

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

pub(crate) struct FaultInjector {
    error_rate: f64,
    rate_429: f64,
    truncate_rate: f64,
    reset_rate: f64,
    draws: Mutex<SplitMix64>,
}

impl FaultInjector {
    pub(crate) fn new(options: &FakeApiOptions) -> FaultInjector {
        let seed = options.fault_seed.unwrap_or_else(rand::random);
        FaultInjector {
            error_rate: options.error_rate,
            rate_429: options.rate_429,
            truncate_rate: options.truncate_rate,
            reset_rate: options.reset_rate,
            draws: Mutex::new(SplitMix64::new(mix64(seed))),
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
            let status = if c < 0.5 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::SERVICE_UNAVAILABLE };
            Verdict::ServerError(status)
        } else if d < self.truncate_rate {
            Verdict::Answer(Delivery::Truncated)
        } else if e < self.reset_rate {
            Verdict::Answer(Delivery::Reset)
        } else {
            Verdict::Answer(Delivery::Whole)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
}
