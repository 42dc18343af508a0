//! What every request handler shares: cheap handles to the domain, and facts about the service.
//! `app` builds it; it lives here, with the handlers that take it, so that `app` imports `api`
//! and not the other way round.

use std::sync::Arc;

use crate::catalog::sources::Sources;
use crate::export::ExportContext;
use crate::ingest::IngestContext;
use crate::jobs::Jobs;
use crate::store::Store;

/// Cheap handles shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub jobs: Jobs,
    pub ingest: IngestContext,
    /// The sources of `DUCKHAUL_SOURCES_DIR`, loaded at start (the built-in `faker` is not
    /// among them).
    pub sources: Sources,
    pub export: ExportContext,
    pub info: Arc<ServiceInfo>,
    /// Worker count used when a request names no concurrency.
    pub default_concurrency: usize,
    /// Body limit, timeouts, job cap and bearer tokens.
    pub http: crate::config::HttpConfig,
    pub metrics: crate::metrics::Metrics,
}

/// What `/status` says about the service itself.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub upstream_url: String,
    pub destination: String,
    pub database: String,
}
