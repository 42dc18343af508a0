//! Heals the service by itself: after a fatal DuckDB error, and at start after a crash.
//!
//! A fatal DuckDB error (a checkpoint that cannot allocate, an I/O error on the WAL, an
//! internal assertion) leaves the database instance unusable for good, while the file is fine:
//! its WAL holds every committed page. So: interrupt the running jobs (they stop at a page
//! boundary and are marked `interrupted`), close every connection, open the file again
//! (DuckDB replays the WAL), save the jobs' records and resume the ingests, which fetch only
//! the pages they had not committed. Meanwhile `/healthz` answers 503. If the file cannot be
//! opened again, the process must not linger answering 500s: `lost` fires and it exits
//! non-zero, so Cloud Run starts a fresh instance.
//!
//! At start, ingests the last process left interrupted (a crash, an OOM kill, a redeploy) are
//! resumed the same way. Each job is resumed by itself at most `MAX_AUTO_RESUMES` times, so a
//! job that brings the process down every time cannot loop.

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ingest::{self, IngestContext};
use crate::jobs::{JobKind, JobState, MAX_AUTO_RESUMES};
use crate::store::{StoreHealth, records};

/// How long running jobs get to reach a page boundary, and calls to let go of the old
/// instance, before the reopen gives up (each fails fast on an invalidated database, and
/// long reads are interrupted). Twice this stays within the liveness probe's minute.
const DRAIN_WAIT: Duration = Duration::from_secs(20);

/// Watches the store and heals it until `stop` fires; `lost` fires (and the task ends with
/// the error) if the database cannot be reopened.
pub fn spawn(
    ctx: IngestContext,
    default_concurrency: usize,
    stop: CancellationToken,
    lost: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let result = tokio::select! {
            result = supervise(&ctx, default_concurrency) => result,
            () = stop.cancelled() => Ok(()),
        };
        if let Err(e) = &result {
            tracing::error!(error = %format!("{e:#}"), "the database could not be reopened; exiting so that a fresh instance takes over");
            lost.cancel();
        }
        result
    })
}

/// Resumes the ingests a previous process left interrupted; returns how many were resumed.
pub async fn resume_interrupted(ctx: &IngestContext, default_concurrency: usize) -> anyhow::Result<usize> {
    let ids = ctx.store.read(|conn| records::interrupted_ingests(conn).context("cannot list interrupted jobs")).await?;
    let mut resumed = 0;
    for id in ids {
        match ingest::resume(ctx, &id, default_concurrency, true).await {
            Ok(_) => {
                resumed += 1;
                tracing::info!(job = %id, "interrupted job resumed at start");
            }
            Err(e) => tracing::warn!(job = %id, error = %e, "interrupted job not resumed at start"),
        }
    }
    Ok(resumed)
}

async fn supervise(ctx: &IngestContext, default_concurrency: usize) -> anyhow::Result<()> {
    let mut health = ctx.store.watch_health();
    loop {
        let reason = match health.wait_for(|h| !h.is_ready()).await {
            Ok(h) => h.problem().unwrap_or_default(),
            // The store is gone: the process is ending.
            Err(_) => return Ok(()),
        };
        if matches!(ctx.store.health(), StoreHealth::Lost { .. }) {
            anyhow::bail!("{reason}");
        }
        heal(ctx, default_concurrency, &reason).await?;
    }
}

async fn heal(ctx: &IngestContext, default_concurrency: usize, reason: &str) -> anyhow::Result<()> {
    let metrics = ctx.store.metrics().clone();
    metrics.database_reopening();
    let interrupted = ctx
        .jobs
        .interrupt_all(DRAIN_WAIT, |job| {
            if job.kind != JobKind::Ingest {
                (format!("interrupted: {reason}; start the export again"), false)
            } else if job.view().auto_resumes >= MAX_AUTO_RESUMES {
                let why = format!(
                    "interrupted: {reason}; resumed by itself {MAX_AUTO_RESUMES} times already, so not again: \
                     raise DUCKHAUL_MEMORY_LIMIT, then resume it"
                );
                (why, false)
            } else {
                (format!("interrupted: {reason}; it resumes by itself once the database is back"), true)
            }
        })
        .await;
    tracing::warn!(jobs = interrupted.len(), "jobs interrupted; reopening the database");
    let reopened = ctx.store.reopen(DRAIN_WAIT).await;
    // Every job that ended while the database was away (interrupted here, or failed on its own
    // in the moments before) has a record to save, and the interrupted ingests a run to resume.
    let stopped = ctx.jobs.take_unsaved();
    if let Err(e) = reopened {
        for job in &stopped {
            ctx.jobs.resumed(&job.id);
        }
        return Err(e);
    }
    metrics.database_reopened();
    for job in &stopped {
        if let Err(e) = ctx.jobs.save(job).await {
            tracing::error!(job = %job.id, error = %format!("{e:#}"), "cannot save a stopped job's record");
        }
    }
    let to_resume = |job: &crate::jobs::Job| {
        job.kind == JobKind::Ingest
            && job.state() == JobState::Interrupted
            && interrupted.iter().all(|(j, resume)| j.id != job.id || *resume)
    };
    for job in &stopped {
        if to_resume(job) {
            match ingest::resume(ctx, &job.id, default_concurrency, true).await {
                Ok(_) => tracing::info!(job = %job.id, "interrupted job resumed"),
                Err(e) => tracing::warn!(job = %job.id, error = %e, "interrupted job not resumed; resume it by hand"),
            }
        }
        ctx.jobs.resumed(&job.id);
    }
    // A job that did not stop in time still runs (and ends on its own); no one waits for it.
    for (job, _) in &interrupted {
        ctx.jobs.resumed(&job.id);
    }
    Ok(())
}
