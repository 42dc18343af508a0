//! The two addresses a GCS export needs, parsed in one place for the config (which checks
//! them at start) and the sink (which uses them): the `gs://bucket/prefix` destination and an
//! emulator's endpoint.

use anyhow::{Context, ensure};

/// A `gs://bucket[/prefix]` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsDestination {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl GcsDestination {
    /// Splits `gs://bucket[/prefix]`; slashes around the prefix are dropped, an empty segment
    /// inside it (`a//b`) is refused, as is a name GCS would not accept for a bucket.
    pub fn parse(destination: &str) -> anyhow::Result<GcsDestination> {
        let rest = destination
            .strip_prefix("gs://")
            .with_context(|| format!("GCS destination {destination:?} must start with gs://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        ensure!(
            is_bucket_name(bucket),
            "GCS destination {destination:?} does not name a valid bucket (3-63 characters of a-z, 0-9, '-', '_' \
             and '.', or up to 222 with dots and at most 63 between them, starting and ending with a letter or digit)"
        );
        let prefix = prefix.trim_matches('/');
        ensure!(!prefix.contains("//"), "GCS destination {destination:?} has an empty path segment");
        Ok(GcsDestination { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }
}

/// GCS's rule for bucket names: lower-case letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit; 3–63 characters, or up to 222 for a name with dots whose
/// dot-separated parts are at most 63 each (such names are domain names, verified by Google).
fn is_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let max = if name.contains('.') { 222 } else { 63 };
    (3..=max).contains(&b.len())
        && name.split('.').all(|part| part.len() <= 63)
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The URL of a GCS emulator, which comes as `http://host:port` (DUCKHAUL_GCS_ENDPOINT) or
/// bare `host:port` (STORAGE_EMULATOR_HOST, as other Google client libraries read it).
pub fn emulator_url(endpoint: &str) -> anyhow::Result<String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    ensure!(!endpoint.is_empty(), "the GCS emulator endpoint is empty");
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        Ok(endpoint.to_string())
    } else {
        ensure!(!endpoint.contains("://"), "GCS emulator endpoint {endpoint:?} must use http:// or https://");
        Ok(format!("http://{endpoint}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(destination: &str) -> Option<String> {
        GcsDestination::parse(destination).ok().map(|d| d.bucket)
    }

    #[test]
    fn bucket_names_follow_gcs_rules() {
        let label = |n: usize| "a".repeat(n);
        assert_eq!(bucket_of(&format!("gs://{}", label(63))), Some(label(63)));
        assert_eq!(bucket_of(&format!("gs://{}", label(64))), None, "64 characters without dots");
        // 222 characters with dots: four parts of 55 and three dots.
        let dotted = [label(55), label(55), label(55), label(54)].join(".");
        assert_eq!(dotted.len(), 222);
        assert_eq!(bucket_of(&format!("gs://{dotted}")), Some(dotted.clone()));
        assert_eq!(bucket_of(&format!("gs://{dotted}b")), None, "223 characters with dots");
        assert_eq!(bucket_of(&format!("gs://{}.com", label(64))), None, "a part of 64 characters");
        assert_eq!(bucket_of(&format!("gs://{}.com", label(63))), Some(format!("{}.com", label(63))));
        for good in ["gs://abc", "gs://a-b_c.d", "gs://0snap9"] {
            assert!(bucket_of(good).is_some(), "{good}");
        }
        for bad in ["gs://ab", "gs://Snap", "gs://sNAP", "gs://-snap", "gs://snap-", "gs://snap.", "gs://sn@p", "gs://"]
        {
            assert_eq!(bucket_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_lose_their_outer_slashes() {
        let parse = |d: &str| GcsDestination::parse(d).map(|d| (d.bucket, d.prefix)).ok();
        assert_eq!(parse("gs://snap"), Some(("snap".into(), "".into())));
        assert_eq!(parse("gs://snap/"), Some(("snap".into(), "".into())));
        assert_eq!(parse("gs://snap/exports/daily/"), Some(("snap".into(), "exports/daily".into())));
        assert_eq!(parse("gs://snap//x"), Some(("snap".into(), "x".into())));
        assert_eq!(parse("gs://snap/a//b"), None);
        assert_eq!(parse("snap/exports"), None);
        assert_eq!(parse("s3://snap"), None);
    }

    #[test]
    fn emulator_hosts_get_a_scheme() {
        assert_eq!(emulator_url("127.0.0.5:4443").unwrap(), "http://127.0.0.5:4443");
        assert_eq!(emulator_url(" http://localhost:4443/ ").unwrap(), "http://localhost:4443");
        assert_eq!(emulator_url("https://gcs.test").unwrap(), "https://gcs.test");
        assert!(emulator_url("ftp://host").is_err());
        assert!(emulator_url(" / ").is_err());
    }
}
