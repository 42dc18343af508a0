//! The destination: a local folder or a GCS bucket, where exports go and where the durable log
//! lives (`crate::durable`). Both are create-only: nothing ever replaces an object that exists,
//! which makes a name a commit marker.

pub mod gcs;
pub mod gcs_list;
pub mod gcs_url;
pub mod local;

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use bytes::Bytes;

pub use gcs::{GcsSink, ObjectWritten};
pub use gcs_url::GcsDestination;
pub use local::LocalSink;

/// A create-only write found the key taken: someone wrote it first.
#[derive(Debug, thiserror::Error)]
#[error("{uri} already exists: objects are create-only and never overwritten")]
pub struct AlreadyExists {
    pub uri: String,
}

/// An export destination.
pub enum Sink {
    Local(LocalSink),
    Gcs(GcsSink),
}

impl Sink {
    /// `destination` is a folder or `gs://bucket[/prefix]`; `gcs_endpoint` selects an emulator.
    /// `gcs_retry` bounds how long one upload retries transient errors.
    pub async fn open(
        destination: &str,
        gcs_endpoint: Option<&str>,
        gcs_retry: std::time::Duration,
    ) -> anyhow::Result<Sink> {
        if destination.starts_with("gs://") {
            Ok(Sink::Gcs(GcsSink::connect_with_retry(destination, gcs_endpoint, gcs_retry).await?))
        } else {
            Ok(Sink::Local(LocalSink::new(Path::new(destination))?))
        }
    }

    /// Where `key` is (or would be) written: a path, or a `gs://` URI.
    pub fn uri(&self, key: &str) -> anyhow::Result<String> {
        match self {
            Sink::Local(s) => s.uri(key),
            Sink::Gcs(s) => Ok(s.uri(key)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sink::Local(s) => s.describe(),
            Sink::Gcs(s) => s.describe(),
        }
    }

    /// Copies a local file to `key`, failing if `key` exists. `crc32c`, the file's, goes to GCS,
    /// which refuses data that does not match it; a local folder answers what it holds.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        crc32c: u32,
        content_type: &str,
    ) -> anyhow::Result<ObjectWritten> {
        match self {
            Sink::Local(s) => s.put_file(key, path).await,
            Sink::Gcs(s) => s.put_file(key, path, crc32c, content_type).await,
        }
    }

    /// Reads a small object (a manifest): its URI and bytes, or None if `key` does not exist.
    pub async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>> {
        match self {
            Sink::Local(s) => s.get_bytes(key).await,
            Sink::Gcs(s) => s.get_bytes(key).await,
        }
    }

    /// Writes a small payload to `key`, failing if `key` exists.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes, content_type: &str) -> anyhow::Result<ObjectWritten> {
        match self {
            Sink::Local(s) => s.put_bytes(key, bytes).await,
            Sink::Gcs(s) => s.put_bytes(key, bytes, content_type).await,
        }
    }
}

impl Sink {
    /// The keys of every object whose key starts with `key_prefix` (a folder ending in `/`),
    /// in no particular order. Objects being written are not listed.
    pub async fn list(&self, key_prefix: &str) -> anyhow::Result<Vec<String>> {
        match self {
            Sink::Local(s) => s.list(key_prefix).await,
            Sink::Gcs(s) => s.list(key_prefix).await,
        }
    }
}

/// Size and CRC32C of a file, read in 1 MiB blocks.
pub fn file_crc32c(path: &Path) -> anyhow::Result<(u64, u32)> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut crc, mut len) = (0u32, 0u64);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((len, crc));
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        len += n as u64;
    }
}
