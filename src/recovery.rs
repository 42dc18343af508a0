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
//!
//! It stands beside the job registry, not inside it: it hears of every run's end on the
//! registry's stream (`Jobs::ends`: records left unsaved, resumes to make), stops live jobs
//! through `Job::interrupt`, and tells the registry which failures were its interruptions
//! (`Jobs::classify_failures`). Whoever waits for a job it resumes waits on the job's
//! `next_run`, which it settles.

use std::time::Duration;

use anyhow::Context;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ingest::{self, IngestContext};
use crate::jobs::{Interruption, Job, JobEnded, JobState, MAX_AUTO_RESUMES};
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
    // Before anything can fail or end unheard. A job whose pages fail because the database
    // went away was interrupted, not failed: it is resumed like those interrupted below.
    let store = ctx.store.clone();
    ctx.jobs.classify_failures(move |job| store.health().problem().map(|problem| interruption(job, &problem)));
    let mut ends = ctx.jobs.ends();
    tokio::spawn(async move {
        let mut stopped = Stopped::default();
        let result = tokio::select! {
            result = supervise(&ctx, default_concurrency, &mut ends, &mut stopped) => result,
            () = stop.cancelled() => Ok(()),
        };
        // No resume comes any more: whoever waits for one gets the job's end as it is.
        stopped.catch_up(&mut ends);
        for job in stopped.runs.iter().map(|ended| &ended.job).chain(&ctx.jobs.live_jobs()) {
            job.followed_by(None);
        }
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

/// Why the recovery stops `job` (the database went away: `problem`), and whether it resumes it.
fn interruption(job: &Job, problem: &str) -> Interruption {
    let (reason, resume) = if !job.resumable() {
        (format!("interrupted: {problem}; start the {} again", job.kind.as_str()), false)
    } else if job.view().auto_resumes >= MAX_AUTO_RESUMES {
        let why = format!(
            "interrupted: {problem}; resumed by itself {MAX_AUTO_RESUMES} times already, so not again: \
             raise DUCKHAUL_MEMORY_LIMIT, then resume it"
        );
        (why, false)
    } else {
        (format!("interrupted: {problem}; it resumes by itself once the database is back"), true)
    };
    Interruption { reason, resume }
}

/// Runs that ended with something left for the recovery: a record it could not save (the
/// database was away) or a resume their interruption promised.
#[derive(Default)]
struct Stopped {
    runs: Vec<JobEnded>,
}

impl Stopped {
    fn note(&mut self, ended: JobEnded) {
        if !ended.saved || ended.job.awaits_resume() {
            self.runs.push(ended);
        }
    }

    /// Notes every end published so far.
    fn catch_up(&mut self, ends: &mut broadcast::Receiver<JobEnded>) {
        loop {
            match ends.try_recv() {
                Ok(ended) => self.note(ended),
                Err(TryRecvError::Lagged(missed)) => lagged(missed),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }
}

fn lagged(missed: u64) {
    tracing::error!(
        missed,
        "job ends were missed: a job that ended while the database was away may need a resume by hand"
    );
}

async fn supervise(
    ctx: &IngestContext,
    default_concurrency: usize,
    ends: &mut broadcast::Receiver<JobEnded>,
    stopped: &mut Stopped,
) -> anyhow::Result<()> {
    let mut health = ctx.store.watch_health();
    loop {
        let reason = tokio::select! {
            broken = health.wait_for(|h| !h.is_ready()) => match broken {
                Ok(h) => h.problem().unwrap_or_default(),
                // The store is gone: the process is ending.
                Err(_) => return Ok(()),
            },
            ended = ends.recv() => {
                match ended {
                    Ok(ended) => stopped.note(ended),
                    Err(RecvError::Lagged(missed)) => lagged(missed),
                    // The registry is gone: the process is ending.
                    Err(RecvError::Closed) => return Ok(()),
                }
                continue;
            }
        };
        if matches!(ctx.store.health(), StoreHealth::Lost { .. }) {
            anyhow::bail!("{reason}");
        }
        heal(ctx, default_concurrency, &reason, ends, stopped).await?;
    }
}

async fn heal(
    ctx: &IngestContext,
    default_concurrency: usize,
    reason: &str,
    ends: &mut broadcast::Receiver<JobEnded>,
    stopped: &mut Stopped,
) -> anyhow::Result<()> {
    let metrics = ctx.store.metrics().clone();
    metrics.database_reopening();
    let interrupted = ctx.jobs.live_jobs();
    for job in &interrupted {
        job.interrupt(interruption(job, reason));
    }
    let all = futures::future::join_all(interrupted.iter().map(|job| job.finished()));
    if tokio::time::timeout(DRAIN_WAIT, all).await.is_err() {
        tracing::warn!(wait_secs = DRAIN_WAIT.as_secs(), "some interrupted jobs did not stop in time");
    }
    tracing::warn!(jobs = interrupted.len(), "jobs interrupted; reopening the database");
    let reopened = ctx.store.reopen(DRAIN_WAIT).await;
    // Every run that ended while the database was away (interrupted here, or failed on its own
    // in the moments before) has a record to save, and the interrupted ingests a run to resume.
    stopped.catch_up(ends);
    let runs = std::mem::take(&mut stopped.runs);
    if let Err(e) = reopened {
        for job in runs.iter().map(|ended| &ended.job).chain(&interrupted) {
            job.followed_by(None);
        }
        return Err(e);
    }
    metrics.database_reopened();
    for JobEnded { job, .. } in runs.iter().filter(|ended| !ended.saved) {
        if let Err(e) = ctx.jobs.save(job).await {
            tracing::error!(job = %job.id, error = %format!("{e:#}"), "cannot save a stopped job's record");
        }
    }
    for JobEnded { job, state, .. } in &runs {
        if *state == JobState::Interrupted && job.awaits_resume() {
            match ingest::resume(ctx, &job.id, default_concurrency, true).await {
                Ok(next) => {
                    tracing::info!(job = %job.id, "interrupted job resumed");
                    job.followed_by(Some(next));
                }
                Err(e) => tracing::warn!(job = %job.id, error = %e, "interrupted job not resumed; resume it by hand"),
            }
        }
        job.followed_by(None);
    }
    // A job that did not stop in time still runs (and ends on its own); no one waits for it.
    for job in &interrupted {
        job.followed_by(None);
    }
    Ok(())
}
