//! The Google Cloud Storage sink: writes finished export files under `gs://bucket/prefix/`.
//!
//! Every write is create-only (`ifGenerationMatch=0`), so an export can never replace an
//! object that already exists, and carries the CRC32C the caller computed while writing the
//! file, so GCS rejects an object whose bytes differ from what was hashed. Files are streamed
//! from disk (resumable uploads above the client's 16 MiB threshold) and never held in memory.
//!
//! Only the JSON API is used (`write_object`): bucket and object metadata calls go over gRPC,
//! which no installable emulator speaks, and the tests run this sink against a real emulator.

use anyhow::{Context, anyhow, bail, ensure};
use bytes::Bytes;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::client::Storage;
use google_cloud_storage::error::WriteError;
use google_cloud_storage::model::Object;
use google_cloud_storage::streaming_source::{Payload, Seek, StreamingSource};
use std::path::Path;

use super::gcs_list::GcsLister;
use super::gcs_url::{GcsDestination, emulator_url};

/// HTTP status GCS answers when a precondition (here: "no live object yet") does not hold.
const PRECONDITION_FAILED: u16 = 412;
const NOT_FOUND: u16 = 404;

/// An object written by a sink.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectWritten {
    pub uri: String,
    pub bytes: u64,
    pub crc32c: u32,
}

/// How long, and how many times, one object's upload is retried on transient errors.
const UPLOAD_RETRY_TIME: std::time::Duration = std::time::Duration::from_secs(120);
const UPLOAD_ATTEMPTS: u32 = 8;

/// Writes objects under one `gs://bucket/prefix` destination.
#[derive(Clone, Debug)]
pub struct GcsSink {
    storage: Storage,
    bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    lister: GcsLister,
}

impl GcsSink {
    /// `destination` is `gs://bucket[/prefix]`. `endpoint` = `Some(url)` selects an emulator
    /// (`http://host:port` or bare `host:port`) with anonymous credentials; `None` uses
    /// Application Default Credentials against the real service.
    ///
    /// Nothing is sent yet: a missing bucket or a lack of permission surfaces on the first put.
    pub async fn connect(destination: &str, endpoint: Option<&str>) -> anyhow::Result<GcsSink> {
        GcsSink::connect_with_retry(destination, endpoint, UPLOAD_RETRY_TIME).await
    }

    /// As `connect`, retrying each upload's transient errors for at most `retry_time`.
    pub async fn connect_with_retry(
        destination: &str,
        endpoint: Option<&str>,
        retry_time: std::time::Duration,
    ) -> anyhow::Result<GcsSink> {
        let GcsDestination { bucket, prefix } = GcsDestination::parse(destination)?;
        // An export that cannot reach GCS should fail (and be recorded, and be retried by the
        // next run) within minutes, not hang on the library's default retry budget.
        let builder = Storage::builder().with_retry_policy(
            google_cloud_storage::retry_policy::RetryableErrors
                .with_time_limit(retry_time)
                .with_attempt_limit(UPLOAD_ATTEMPTS),
        );
        let lister = GcsLister::new(endpoint.map(emulator_url).transpose()?)?;
        let builder = match endpoint {
            Some(endpoint) => builder
                .with_endpoint(emulator_url(endpoint)?)
                .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build()),
            None => builder,
        };
        let storage = builder.build().await.with_context(|| match endpoint {
            Some(endpoint) => format!("creating a GCS client for the emulator at {endpoint}"),
            None => "creating a GCS client with Application Default Credentials".to_string(),
        })?;
        Ok(GcsSink { storage, bucket, prefix, lister })
    }

    /// The destination, e.g. `gs://bucket/prefix`.
    pub fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("gs://{}", self.bucket)
        } else {
            format!("gs://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The `gs://` URI that `key` is (or would be) written to.
    pub fn uri(&self, key: &str) -> String {
        format!("gs://{}/{}", self.bucket, self.object_name(key))
    }

    /// Streams the local file at `path` to `{prefix}/{key}`, create-only, declaring `crc32c`
    /// (the checksum of the file's bytes, computed by whoever wrote it) so the service verifies
    /// it. The returned object's size and checksum are checked against what was sent.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        crc32c: u32,
        content_type: &str,
    ) -> anyhow::Result<ObjectWritten> {
        let file =
            tokio::fs::File::open(path).await.with_context(|| format!("opening {} to upload it", path.display()))?;
        let size = file.metadata().await.with_context(|| format!("reading the size of {}", path.display()))?.len();
        self.create(key, file, size, crc32c, content_type)
            .await
            .with_context(|| format!("uploading {}", path.display()))
    }

    /// Writes a small in-memory payload (the JSON manifest) to `{prefix}/{key}`, create-only
    /// and checksummed like [`GcsSink::put_file`].
    pub async fn put_bytes(&self, key: &str, bytes: Bytes, content_type: &str) -> anyhow::Result<ObjectWritten> {
        let size = bytes.len() as u64;
        let crc32c = crc32c::crc32c(&bytes);
        self.create(key, bytes, size, crc32c, content_type).await
    }

    async fn create<T, P>(
        &self,
        key: &str,
        payload: T,
        size: u64,
        crc32c: u32,
        content_type: &str,
    ) -> anyhow::Result<ObjectWritten>
    where
        T: Into<Payload<P>>,
        P: StreamingSource + Seek + Send + Sync + 'static,
        <P as StreamingSource>::Error: std::error::Error + Send + Sync + 'static,
        <P as Seek>::Error: std::error::Error + Send + Sync + 'static,
    {
        ensure!(
            !key.is_empty() && !key.starts_with('/'),
            "invalid object key {key:?}: it must be a non-empty relative path"
        );
        let name = self.object_name(key);
        let uri = self.uri(key);
        // `send_unbuffered` reads a seekable source as it goes (and seeks back to resume after
        // an error) instead of copying it into 8 MiB buffers. The known CRC32C goes into the
        // object's metadata up front, which lets the service verify it and spares the client a
        // second pass over the file to compute it.
        let result = self
            .storage
            .write_object(self.bucket_resource(), name, payload)
            .set_if_generation_match(0)
            .set_content_type(content_type)
            .with_known_crc32c(crc32c)
            .send_unbuffered()
            .await;
        let object = match result {
            Ok(object) => object,
            Err(e) if e.http_status_code() == Some(PRECONDITION_FAILED) => {
                return Err(super::AlreadyExists { uri }.into());
            }
            Err(e) => {
                if let Some(WriteError::ChecksumMismatch { mismatch, .. }) =
                    std::error::Error::source(&e).and_then(|s| s.downcast_ref::<WriteError>())
                {
                    bail!("GCS stored {uri} with a different checksum than the data sent ({mismatch})");
                }
                return Err(anyhow!(e).context(format!("writing {uri}")));
            }
        };
        check_written(&uri, &object, size, crc32c)?;
        tracing::debug!(%uri, bytes = size, crc32c, generation = object.generation, "object written");
        Ok(ObjectWritten { uri, bytes: size, crc32c })
    }

    /// The bytes of a small object at `{prefix}/{key}` (a manifest) and its URI, or None if
    /// there is none.
    pub async fn get_bytes(&self, key: &str) -> anyhow::Result<Option<(String, Bytes)>> {
        let uri = self.uri(key);
        let mut response = match self.storage.read_object(self.bucket_resource(), self.object_name(key)).send().await {
            Ok(r) => r,
            Err(e) if e.http_status_code() == Some(NOT_FOUND) => return Ok(None),
            Err(e) => return Err(anyhow!(e).context(format!("reading {uri}"))),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = response.next().await.transpose().with_context(|| format!("reading {uri}"))? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some((uri, bytes.into())))
    }

    /// The keys (relative to the destination) of every object under `{prefix}/{key_prefix}`.
    pub async fn list(&self, key_prefix: &str) -> anyhow::Result<Vec<String>> {
        let names = self.lister.list(&self.bucket, &self.object_name(key_prefix)).await?;
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        Ok(names.into_iter().map(|n| n[strip..].to_string()).collect())
    }

    fn object_name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}/{}", self.prefix, key) }
    }

    fn bucket_resource(&self) -> String {
        format!("projects/_/buckets/{}", self.bucket)
    }
}

/// The service already compares the declared CRC32C; this also catches a response that
/// describes some other object (a size the file no longer has, or no checksum at all).
fn check_written(uri: &str, object: &Object, size: u64, crc32c: u32) -> anyhow::Result<()> {
    ensure!(
        u64::try_from(object.size).ok() == Some(size),
        "GCS reports {uri} as {} bytes, but {size} bytes were sent",
        object.size
    );
    let stored = object.checksums.as_ref().and_then(|c| c.crc32c);
    ensure!(
        stored == Some(crc32c),
        "GCS reports {uri} with CRC32C {}, but the data sent has {crc32c:#010x}",
        stored.map_or_else(|| "(none)".to_string(), |c| format!("{c:#010x}"))
    );
    Ok(())
}
