//! Builds the application from its config: the database, the job registry, the upstream
//! client, the export sink and the HTTP router; serves it; shuts it down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::api::{self, AppState, ServiceInfo};
use crate::catalog::sources::Sources;
use crate::config::{Config, UpstreamChoice};
use crate::durable::Durable;
use crate::export::{ExportContext, Sink};
use crate::fake_api;
use crate::ingest::IngestContext;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::source::{PaceSettings, RetryPolicy, Upstream};
use crate::store::{Store, StoreSettings, views};
use crate::telemetry;

/// Everything a job needs, shared by `serve` and the one-shot `run`.
pub struct Services {
    pub state: AppState,
    /// Stops the builtin upstream, if one runs.
    builtin: Option<CancellationToken>,
    /// Fires when the database was invalidated and could not be reopened: the process must
    /// exit (non-zero) so that a fresh instance takes over.
    pub lost: CancellationToken,
    /// Stops the recovery task (which holds the store) at shutdown, so the database closes.
    stop_recovery: CancellationToken,
    recovery: std::sync::Mutex<Option<tokio::task::JoinHandle<anyhow::Result<()>>>>,
}

impl Services {
    pub async fn start(config: &Config) -> anyhow::Result<Services> {
        // First, so a bad source file stops the process before anything is opened or started.
        let sources = Sources::load(config.sources_dir.as_deref()).context("a source file cannot be used")?;
        if let Some(dir) = &config.sources_dir {
            tracing::info!(folder = %dir.display(), sources = ?sources.names(), "sources loaded");
        }
        let (upstream_url, builtin) = match &config.upstream {
            UpstreamChoice::Url(url) => (url.clone(), None),
            UpstreamChoice::Builtin => {
                let (url, token) = start_builtin_upstream().await?;
                (url, Some(token))
            }
        };
        let metrics = Metrics::new();
        let store = Store::open(
            &config.database,
            &StoreSettings::new(config.memory_limit, config.duckdb_threads, metrics.clone()),
        )?;
        let views = match &config.views_dir {
            Some(dir) => views::load_dir(dir)?,
            None => Vec::new(),
        };
        store.apply_views(views).await?;
        let jobs = Jobs::start(store.clone()).await?;
        jobs.limit_running(config.http.max_running_jobs);
        let policy = RetryPolicy { max_attempts: config.upstream_max_attempts, ..RetryPolicy::default() };
        let pace =
            PaceSettings::shared(config.upstream_rate_limit, config.upstream_burst, config.upstream_rate_shared_by);
        let upstream = Upstream::new(&upstream_url, pace, policy)?
            .with_metrics(metrics.clone())
            .with_rate_shared_by(config.upstream_rate_shared_by);
        let sink = Sink::open(&config.destination, config.gcs_endpoint.as_deref(), config.gcs_retry)
            .await
            .with_context(|| format!("cannot open the export destination {}", config.destination))?;
        let destination = sink.describe();
        let staging = staging_dir(&config.database);
        let cleared = crate::export::clear_staging(&staging);
        if cleared > 0 {
            tracing::info!(files = cleared, folder = %staging.display(), "removed snapshots an interrupted export left behind");
        }
        // The destination is the durable record: what a lost instance left there comes back
        // before any job starts (its interrupted ingests are resumed below, like a crash's).
        let sink = Arc::new(sink);
        let durable = Durable::new(sink.clone(), store.clone(), staging.clone());
        let recovered = durable.recover().await.context("cannot read the destination's durable log")?;
        if recovered.jobs > 0 {
            tracing::info!(
                jobs = recovered.jobs,
                interrupted = recovered.interrupted,
                tables = recovered.tables,
                "jobs recovered from the destination"
            );
        }
        durable.follow_ends(&jobs);
        let ingest = IngestContext {
            store: store.clone(),
            upstream,
            jobs: jobs.clone(),
            durable: durable.clone(),
            sources: sources.clone(),
        };
        let (lost, stop_recovery) = (CancellationToken::new(), CancellationToken::new());
        let recovery = crate::recovery::spawn(ingest.clone(), config.concurrency, stop_recovery.clone(), lost.clone());
        if config.resume_at_start {
            let resumed = crate::recovery::resume_interrupted(&ingest, config.concurrency).await?;
            if resumed > 0 {
                tracing::info!(jobs = resumed, "interrupted jobs resumed at start");
            }
        }
        let state = AppState {
            ingest,
            export: ExportContext::new(
                store.clone(),
                sink,
                jobs.clone(),
                durable,
                staging,
                config.export_row_group_bytes,
            ),
            store,
            jobs,
            sources,
            info: Arc::new(ServiceInfo { upstream_url, destination, database: config.database.display().to_string() }),
            default_concurrency: config.concurrency,
            http: config.http.clone(),
            metrics,
        };
        Ok(Services { state, builtin, lost, stop_recovery, recovery: std::sync::Mutex::new(Some(recovery)) })
    }

    /// Cancels running jobs, waits for them to reach a safe point, stops the builtin upstream.
    pub async fn shutdown(&self) {
        self.state.jobs.shutdown().await;
        self.stop_recovery.cancel();
        let recovery = self.recovery.lock().expect("recovery lock poisoned").take();
        if let Some(recovery) = recovery {
            let _ = recovery.await;
        }
        if let Some(token) = &self.builtin {
            token.cancel();
        }
    }
}

/// Snapshots are staged beside the database (same disk, so no surprise from a small /tmp), in
/// a folder of this database's own (`duckhaul.duckdb.staging`, as DuckDB's `.wal` and `.tmp`),
/// so that two databases in one folder never share it (start-up clears it).
pub fn staging_dir(database: &std::path::Path) -> PathBuf {
    let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "duckhaul.duckdb".into());
    name.push(".staging");
    database.with_file_name(name)
}

async fn start_builtin_upstream() -> anyhow::Result<(String, CancellationToken)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot start the builtin upstream")?;
    let addr = listener.local_addr()?;
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        if let Err(e) = fake_api::serve(listener, fake_api::FakeApiOptions::default(), stop).await {
            tracing::error!(error = %e, "the builtin upstream stopped");
        }
    });
    tracing::info!(%addr, "builtin Faker-compatible upstream started");
    Ok((format!("http://{addr}/api/v2"), token))
}

/// The HTTP service, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    services: Services,
}

impl Application {
    /// Opens everything and binds `addr` (port 0 picks a free port: see `local_addr`).
    pub async fn build(config: &Config, addr: SocketAddr) -> anyhow::Result<Application> {
        let services = Services::start(config).await?;
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let request_span = telemetry::cloud_trace::RequestSpan::new(config.trace_project.clone());
        let router = api::router(services.state.clone()).layer(TraceLayer::new_for_http().make_span_with(request_span));
        Ok(Application { listener, router, services })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.services.state
    }

    /// Serves until `shutdown` resolves; then stops taking requests, interrupts running jobs
    /// at a page boundary (committing what was fetched) and returns once all is saved.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, router, services } = self;
        let stopping = CancellationToken::new();
        let signal = stopping.clone();
        let lost = services.lost.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown => {}
                () = lost.cancelled() => {}
            }
            signal.cancel();
        });
        let server_stop = stopping.clone();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move { server_stop.cancelled().await });
        // Jobs are interrupted as soon as shutdown begins, so `?wait=true` requests end too.
        let jobs = async {
            stopping.cancelled().await;
            tracing::info!("shutting down: interrupting running jobs");
            services.shutdown().await;
        };
        let (served, ()) = tokio::join!(server, jobs);
        served.context("the HTTP server failed")?;
        if services.lost.is_cancelled() {
            anyhow::bail!("the database was invalidated and could not be reopened (see the log); exiting");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM (Cloud Run's stop signal) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
