//! What an upstream says about its own rate limit, read from its response headers: the IETF
//! draft's `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (or the later drafts'
//! single `RateLimit` field), and the older `X-RateLimit-*` trio of GitHub, Twitter and
//! Laravel. The pace (`pace.rs`) uses them to slow down before the upstream has to say 429.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// A `Reset` above this is a Unix time (GitHub's `X-RateLimit-Reset`), not delta-seconds.
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;
/// Longest reset honoured, like `Retry-After`'s cap: a server asking for more gets this.
const MAX_RESET: Duration = Duration::from_secs(120);

/// The upstream's own account of its limit for this client and path, as of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LimitHeaders {
    /// Requests its limit allows at once (a window's quota, a bucket's size).
    pub limit: Option<u64>,
    /// Requests it will still accept now.
    pub remaining: Option<u64>,
    /// When it will accept more than `remaining`.
    pub reset: Option<Duration>,
}

impl LimitHeaders {
    /// Reads the IETF fields when present, else the `X-RateLimit-*` ones.
    pub fn read(headers: &HeaderMap) -> LimitHeaders {
        let ietf = LimitHeaders {
            limit: number(headers, "ratelimit-limit").map(|n| n as u64),
            remaining: number(headers, "ratelimit-remaining").map(|n| n as u64),
            reset: number(headers, "ratelimit-reset").map(delta_or_epoch),
        };
        let combined = combined_field(headers);
        let github = LimitHeaders {
            limit: number(headers, "x-ratelimit-limit").map(|n| n as u64),
            remaining: number(headers, "x-ratelimit-remaining").map(|n| n as u64),
            reset: number(headers, "x-ratelimit-reset").map(delta_or_epoch),
        };
        let pick = |f: fn(&LimitHeaders) -> bool| [ietf, combined, github].into_iter().find(|h| f(h));
        // The first source that knows what is left speaks for the whole limit, so a reset is
        // never paired with another header's remaining.
        match pick(|h| h.remaining.is_some()) {
            Some(found) => {
                LimitHeaders { limit: found.limit.or(pick(|h| h.limit.is_some()).and_then(|h| h.limit)), ..found }
            }
            None => {
                LimitHeaders { limit: pick(|h| h.limit.is_some()).and_then(|h| h.limit), ..LimitHeaders::default() }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == LimitHeaders::default()
    }
}

fn number(headers: &HeaderMap, name: &str) -> Option<f64> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    // Some servers list one value per policy ("30, 1000"): the first is the one in force.
    let first = value.split(',').next()?.trim();
    first.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
}

/// `RateLimit` as one field: draft 7's `limit=30, remaining=4, reset=7` or the later
/// structured `"default";r=4;t=7` (r: remaining, t: seconds to reset).
fn combined_field(headers: &HeaderMap) -> LimitHeaders {
    let Some(value) = headers.get("ratelimit").and_then(|v| v.to_str().ok()) else {
        return LimitHeaders::default();
    };
    // Only the first policy item counts when several are listed.
    let item = if value.contains(';') { value.split(',').next().unwrap_or("") } else { value };
    let mut found = LimitHeaders::default();
    for part in item.split([',', ';']) {
        let Some((key, v)) = part.split_once('=') else { continue };
        let Ok(n) = v.trim().trim_matches('"').parse::<f64>() else { continue };
        if !n.is_finite() || n < 0.0 {
            continue;
        }
        match key.trim() {
            "limit" | "q" => found.limit = Some(n as u64),
            "remaining" | "r" => found.remaining = Some(n as u64),
            "reset" | "t" => found.reset = Some(delta_or_epoch(n)),
            _ => {}
        }
    }
    found
}

fn delta_or_epoch(n: f64) -> Duration {
    let secs = if n > EPOCH_THRESHOLD {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (n - now.as_secs_f64()).max(0.0)
    } else {
        n
    };
    Duration::from_secs_f64(secs).min(MAX_RESET)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn ietf_fields_are_read() {
        let h = headers(&[("RateLimit-Limit", "5"), ("RateLimit-Remaining", "2"), ("RateLimit-Reset", "3")]);
        assert_eq!(
            LimitHeaders::read(&h),
            LimitHeaders { limit: Some(5), remaining: Some(2), reset: Some(Duration::from_secs(3)) }
        );
    }

    #[test]
    fn github_style_fields_and_epoch_resets_are_read() {
        let in_ten = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 10;
        let h = headers(&[
            ("X-RateLimit-Limit", "60"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", &in_ten.to_string()),
        ]);
        let read = LimitHeaders::read(&h);
        assert_eq!((read.limit, read.remaining), (Some(60), Some(0)));
        let reset = read.reset.unwrap();
        assert!(reset > Duration::from_secs(8) && reset <= Duration::from_secs(10), "{reset:?}");
        // Laravel sends no reset with its successes.
        let h = headers(&[("X-RateLimit-Limit", "30"), ("X-RateLimit-Remaining", "29")]);
        assert_eq!(LimitHeaders::read(&h), LimitHeaders { limit: Some(30), remaining: Some(29), reset: None });
    }

    #[test]
    fn the_single_field_forms_are_read() {
        let h = headers(&[("RateLimit", "limit=30, remaining=4, reset=7")]);
        assert_eq!(
            LimitHeaders::read(&h),
            LimitHeaders { limit: Some(30), remaining: Some(4), reset: Some(Duration::from_secs(7)) }
        );
        let h = headers(&[("RateLimit", "\"default\";r=0;t=2, \"daily\";r=900;t=3600")]);
        assert_eq!(
            LimitHeaders::read(&h),
            LimitHeaders { limit: None, remaining: Some(0), reset: Some(Duration::from_secs(2)) }
        );
    }

    #[test]
    fn nonsense_and_absence_read_as_nothing() {
        assert!(LimitHeaders::read(&HeaderMap::new()).is_empty());
        let h = headers(&[("RateLimit-Remaining", "lots"), ("X-RateLimit-Reset", "-4")]);
        assert!(LimitHeaders::read(&h).is_empty());
        // A reset far away is capped like Retry-After.
        let h = headers(&[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "86400")]);
        assert_eq!(LimitHeaders::read(&h).reset, Some(MAX_RESET));
    }
}
