//! Heals the service when DuckDB invalidates its database.
//!
//! A fatal DuckDB error (a checkpoint that cannot allocate, an I/O error on the WAL, an
//! internal assertion) leaves the database instance unusable for good, while the file is fine:
//! its WAL holds every committed page. So: interrupt the running jobs (they stop at a page
//! boundary and are marked `interrupted`), close every connection, open the file again
//! (DuckDB replays the WAL), save the jobs' records and resume the ingests, which fetch only
//! the pages they had not committed. Meanwhile `/healthz` answers 503. If the file cannot be
//! opened again, the process must not linger answering 500s: `lost` fires and it exits
//! non-zero, so Cloud Run starts a fresh instance.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ingest::{self, IngestContext};
use crate::jobs::JobKind;
use crate::store::StoreHealth;

/// How long running jobs get to reach a page boundary, and calls to let go of the old
/// instance, before the reopen gives up (each fails fast on an invalidated database).
const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Times a job is resumed after fatal errors before it is left for a person: a job that
/// invalidates the database each time it runs must not loop.
const MAX_AUTO_RESUMES: u32 = 3;

/// Watches the store and heals it; `lost` fires (and the task ends with the error) if the
/// database cannot be reopened.
pub fn spawn(ctx: IngestContext, default_concurrency: usize, lost: CancellationToken) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let result = supervise(&ctx, default_concurrency).await;
        if let Err(e) = &result {
            tracing::error!(error = %format!("{e:#}"), "the database could not be reopened; exiting so that a fresh instance takes over");
            lost.cancel();
        }
        result
    })
}

async fn supervise(ctx: &IngestContext, default_concurrency: usize) -> anyhow::Result<()> {
    let mut health = ctx.store.watch_health();
    // Recoveries each job was interrupted by, so that a job that kills the database every time
    // (a setting too small for it) is not resumed into the same failure forever.
    let mut interruptions: HashMap<String, u32> = HashMap::new();
    loop {
        let reason = match health.wait_for(|h| !h.is_ready()).await {
            Ok(h) => h.problem().unwrap_or_default(),
            // The store is gone: the process is ending.
            Err(_) => return Ok(()),
        };
        if matches!(ctx.store.health(), StoreHealth::Lost { .. }) {
            anyhow::bail!("{reason}");
        }
        heal(ctx, default_concurrency, &reason, &mut interruptions).await?;
    }
}

async fn heal(
    ctx: &IngestContext,
    default_concurrency: usize,
    reason: &str,
    interruptions: &mut HashMap<String, u32>,
) -> anyhow::Result<()> {
    let metrics = ctx.store.metrics().clone();
    metrics.database_reopening();
    let stopped = ctx
        .jobs
        .interrupt_all(DRAIN_WAIT, |job| {
            let times = interruptions.get(&job.id).copied().unwrap_or(0) + 1;
            if job.kind != JobKind::Ingest {
                (format!("interrupted: {reason}; start the export again"), false)
            } else if times > MAX_AUTO_RESUMES {
                let why = format!(
                    "interrupted by {times} fatal DuckDB errors in a row, the last: {reason}; not resumed by itself \
                     again: raise DUCKHAUL_MEMORY_LIMIT, then resume it"
                );
                (why, false)
            } else {
                (format!("interrupted: {reason}; it resumes by itself once the database is back"), true)
            }
        })
        .await;
    for (job, _) in &stopped {
        *interruptions.entry(job.id.clone()).or_default() += 1;
    }
    tracing::warn!(jobs = stopped.len(), "jobs interrupted; reopening the database");
    if let Err(e) = ctx.store.reopen(DRAIN_WAIT).await {
        for (job, _) in &stopped {
            ctx.jobs.resumed(&job.id);
        }
        return Err(e);
    }
    metrics.database_reopened();
    for (job, _) in &stopped {
        if let Err(e) = ctx.jobs.save_stopped(job).await {
            tracing::error!(job = %job.id, error = %format!("{e:#}"), "cannot save an interrupted job's record");
        }
    }
    for (job, _) in stopped.iter().filter(|(_, resume)| *resume) {
        match ingest::resume(ctx, &job.id, default_concurrency).await {
            Ok(_) => tracing::info!(job = %job.id, "interrupted job resumed"),
            Err(e) => tracing::warn!(job = %job.id, error = %e, "interrupted job not resumed; resume it by hand"),
        }
        ctx.jobs.resumed(&job.id);
    }
    Ok(())
}
