//! Request accounting behind `GET /__fake/stats`, so tests can assert what the server saw
//! (e.g. "the client got at most one 429 on this path").

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A snapshot of what the server answered, as served at `/__fake/stats`:
/// `{"total":N,"paths":{"/api/v2/users":{"200":9,"429":1}},"faults":{"truncated":0,...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FakeApiStats {
    /// Requests answered under `/api/` (the stats endpoint itself is not counted).
    pub total: u64,
    /// Per request path (no query string): status code → count.
    pub paths: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Injected faults by kind: `throttled`, `rate_429`, `server_error`, `truncated`, `reset`.
    pub faults: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
pub(crate) struct StatsRecorder {
    inner: Mutex<FakeApiStats>,
}

impl StatsRecorder {
    pub(crate) fn record(&self, path: &str, status: u16, fault: Option<&'static str>) {
        let mut stats = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        stats.total += 1;
        match stats.paths.get_mut(path) {
            Some(codes) => *codes.entry(status).or_default() += 1,
            None => {
                stats.paths.insert(path.to_string(), BTreeMap::from([(status, 1)]));
            }
        }
        if let Some(kind) = fault {
            *stats.faults.entry(kind).or_default() += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> FakeApiStats {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
