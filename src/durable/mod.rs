//! The durable log: the destination (the GCS bucket, or the local export folder) is the record
//! that outlives an instance; the DuckDB file is a working set that may be lost at any moment
//! (on Cloud Run it lives in memory and dies with the instance).
//!
//! - `ship`: committed pages go to the destination in groups (a Parquet file, then its
//!   manifest, both create-only), beside the ingest; a job succeeds only once its last page is
//!   durable, and an export first ships what is pending, so it never holds a page that is not.
//! - `recover`: at start, a listing of the log tells which jobs a lost instance left; their
//!   records, keys, tables and durable pages come back, so a resume (or Cloud Scheduler's
//!   retry) fetches only what was not durable.
//! - `load`: an export first loads the groups a lost instance shipped, each page once, those
//!   an export already holds below every watermark.
//! - `ends`: each job's end is recorded in the log.
//! - `exports`: each export's pages are recorded in the log: an intent before its objects are
//!   written, the pages of each job once they are; an intent left unsettled by a lost instance
//!   is completed or dropped by the next export of the table, so no page is exported twice.
//!
//! `layout` says where each object lives, `objects` what it holds.

mod ends;
mod exports;
mod layout;
mod load;
mod objects;
mod recover;
mod ship;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::destination::Sink;
use crate::store::Store;

pub use exports::ExportPages;
pub use recover::Recovered;
pub use ship::{GROUP_ROWS, SHIP_EVERY};

/// The durable log of one destination. Cheap to clone.
#[derive(Clone)]
pub struct Durable {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Arc<Sink>,
    store: Store,
    /// Where group files are written before upload and after download (the staging folder).
    staging: PathBuf,
    /// One shipment at a time: a page is picked as pending and shipped by one caller only.
    shipping: tokio::sync::Mutex<()>,
    /// Jobs whose `job.json` this process has seen written.
    described: Mutex<HashSet<String>>,
    /// One load of a table at a time.
    loading: tokio::sync::Mutex<()>,
}

impl Durable {
    pub fn new(sink: Arc<Sink>, store: Store, staging: PathBuf) -> Durable {
        Durable {
            inner: Arc::new(Inner {
                sink,
                store,
                staging,
                shipping: tokio::sync::Mutex::new(()),
                described: Mutex::new(HashSet::new()),
                loading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn sink(&self) -> &Sink {
        &self.inner.sink
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A file in the staging folder, removed when dropped.
    fn staged(&self, name: &str) -> anyhow::Result<TempFile> {
        std::fs::create_dir_all(&self.inner.staging)?;
        Ok(TempFile(self.inner.staging.join(name)))
    }
}

/// A staging file, removed however its use ends (start-up clears any a crash left).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads a JSON object of the log.
async fn read_json<T: serde::de::DeserializeOwned>(sink: &Sink, key: &str) -> anyhow::Result<Option<T>> {
    let Some((uri, bytes)) = sink.get_bytes(key).await? else { return Ok(None) };
    let value = serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("{uri} cannot be read: {e}"))?;
    Ok(Some(value))
}

/// Writes a JSON object of the log, create-only; `false` when it existed already.
async fn write_json<T: serde::Serialize>(sink: &Sink, key: &str, value: &T) -> anyhow::Result<bool> {
    let body = serde_json::to_vec_pretty(value)?;
    match sink.put_bytes(key, body.into(), "application/json").await {
        Ok(_) => Ok(true),
        Err(e) if e.downcast_ref::<crate::destination::AlreadyExists>().is_some() => Ok(false),
        Err(e) => Err(e),
    }
}
