//! A small LRU of rendered bodies keyed by the whole request (version, path, query), so a
//! client re-reading seeded pages (retries, benchmarks) costs a lookup instead of a render.
//! Only seeded requests are cached: unseeded ones must differ on every call.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

pub(crate) struct BodyCache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (Bytes, u64)>,
    bytes: usize,
    tick: u64,
}

impl BodyCache {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> BodyCache {
        BodyCache { max_entries, max_bytes, inner: Mutex::new(Entries::default()) }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Bytes> {
        let mut entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        entries.tick += 1;
        let tick = entries.tick;
        let (body, used) = entries.map.get_mut(key)?;
        *used = tick;
        Some(body.clone())
    }

    pub(crate) fn insert(&self, key: String, body: Bytes) {
        if body.len() > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        entries.tick += 1;
        let tick = entries.tick;
        entries.bytes += body.len();
        if let Some((old, _)) = entries.map.insert(key, (body, tick)) {
            entries.bytes -= old.len();
        }
        // Evicting by a scan is fine at this size (tens of entries).
        while entries.map.len() > self.max_entries || entries.bytes > self.max_bytes {
            let Some(oldest) = entries.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some((old, _)) = entries.map.remove(&oldest) {
                entries.bytes -= old.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first_within_both_bounds() {
        let cache = BodyCache::new(2, 10);
        cache.insert("a".into(), Bytes::from_static(b"aaa"));
        cache.insert("b".into(), Bytes::from_static(b"bbb"));
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), Bytes::from_static(b"ccc"));
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("a").as_deref(), Some(&b"aaa"[..]));
        // Over both bounds: only "c" (used before "a") has to go.
        cache.insert("d".into(), Bytes::from_static(b"dddddd"));
        assert_eq!(cache.get("c"), None);
        assert!(cache.get("a").is_some());
        assert_eq!(cache.get("d").as_deref(), Some(&b"dddddd"[..]));
        cache.insert("huge".into(), Bytes::from(vec![0u8; 11]));
        assert_eq!(cache.get("huge"), None);
    }
}
