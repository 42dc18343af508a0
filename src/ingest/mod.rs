//! The ingest job: plan pages, fetch them concurrently through `source`, and hand each decoded
//! page to the `store` writer as soon as it arrives.
//!
//! Memory is bounded by `concurrency` pages in flight plus the writer's queue, whatever the
//! quantity. Pages already committed for the job are skipped, so running a job again (resume)
//! fetches only what is missing and never writes a page twice.

mod described;
mod limits;
pub mod request;
pub mod shard;
pub mod source_plan;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use tokio::sync::oneshot;

pub use request::{IngestPlan, IngestRequest};
pub use shard::Shard;
pub use source_plan::{Planned, SourcePlan};

use crate::jobs::{
    AfterRun, IdempotentRequest, Job, JobKind, JobState, Jobs, MAX_AUTO_RESUMES, NewJob, Outcome, PageFailure,
    SpawnError, Spawned, StartError,
};
use crate::source::{FetchError, FetchEvent, PageQuery, Upstream};
use crate::store::StoreError;
use crate::store::writer::Committed;
use crate::store::{PageWrite, Store, records};
use limits::RunLimits;

/// What an ingest needs from the application.
#[derive(Clone)]
pub struct IngestContext {
    pub store: Store,
    pub upstream: Upstream,
    pub jobs: Jobs,
    /// The sources of `DUCKHAUL_SOURCES_DIR` (the built-in `faker` is not among them).
    pub sources: crate::catalog::sources::Sources,
}

/// Checks the plan against the database and starts the job (or, for an idempotency key seen
/// before with this request, returns the job it started).
pub async fn start(
    ctx: &IngestContext,
    plan: Planned,
    request: &IngestRequest,
    idempotency_key: Option<String>,
) -> Result<Spawned, StartError> {
    match plan {
        Planned::Faker(plan) => start_faker(ctx, plan, request, idempotency_key).await,
        Planned::Source(plan) => described::start(ctx, plan, request, idempotency_key).await,
    }
}

/// What already holds a table a job would write to, when it is not the job's own resource
/// (`label`, as `duckhaul_tables.resource` names it) with the same DDL.
enum Holder {
    View,
    /// Another resource's records (a Faker resource's name, or a source's `source/resource`).
    Other(String),
    /// The resource's own records, with other columns.
    OtherColumns(String),
}

/// Who holds `table`, unless it is free or already `label`'s with `ddl` (any columns when the
/// DDL is not known before the first page).
async fn holder(ctx: &IngestContext, table: &str, label: &str, ddl: Option<&str>) -> anyhow::Result<Option<Holder>> {
    let Some((resource, existing)) = ctx.store.table_ddl(table).await? else { return Ok(None) };
    Ok(if resource == crate::store::views::VIEW_RESOURCE {
        Some(Holder::View)
    } else if resource != label {
        Some(Holder::Other(resource))
    } else if ddl.is_some_and(|ddl| ddl != existing) {
        Some(Holder::OtherColumns(resource))
    } else {
        None
    })
}

/// What makes a request idempotent under `key`.
fn idempotent(key: Option<String>, request: &IngestRequest) -> Option<IdempotentRequest> {
    key.map(|key| IdempotentRequest { key, request: serde_json::to_string(request).expect("a request serialises") })
}

async fn start_faker(
    ctx: &IngestContext,
    plan: IngestPlan,
    request: &IngestRequest,
    idempotency_key: Option<String>,
) -> Result<Spawned, StartError> {
    match holder(ctx, &plan.table, plan.resource.name(), Some(&plan.ddl)).await? {
        None => {}
        Some(Holder::View) => {
            return Err(StartError::Conflict(format!("{} is a SQL view; use another table name", plan.table)));
        }
        // A described source's table (`source/resource`), even one with Faker's columns.
        Some(Holder::Other(resource)) if resource.contains('/') => {
            return Err(StartError::Conflict(format!(
                "table {} holds the records of source {resource}; use another table name",
                plan.table
            )));
        }
        Some(Holder::Other(_) | Holder::OtherColumns(_)) => {
            return Err(StartError::Conflict(format!(
                "table {} already exists with other columns; use another table name or the same fields",
                plan.table
            )));
        }
    }
    let new = NewJob {
        kind: JobKind::Ingest,
        request: plan.accepted(request),
        table: Some(plan.table.clone()),
        base_seed: Some(plan.base_seed),
        pages_total: plan.shard_len() as u64,
        idempotency: idempotent(idempotency_key, request),
        resumable: true,
        after_run: Some(checkpoint_after(&ctx.store)),
    };
    let plan = Arc::new(plan);
    let run_ctx = ctx.clone();
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &plan, &job).await }).await?)
}

/// Why a job could not be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("no job {0}")]
    NotFound(String),
    #[error("{0}")]
    NotResumable(String),
    /// Too many jobs, or shutting down.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Runs a stopped ingest again under its id; only the pages it has not committed are fetched.
/// `by_itself`: duckhaul resumes it (at start, or after a database recovery), at most
/// `MAX_AUTO_RESUMES` times.
pub async fn resume(
    ctx: &IngestContext,
    id: &str,
    default_concurrency: usize,
    by_itself: bool,
) -> Result<Arc<Job>, ResumeError> {
    let view = ctx.jobs.get(id).await?.ok_or_else(|| ResumeError::NotFound(id.to_string()))?;
    if view.kind != JobKind::Ingest {
        return Err(ResumeError::NotResumable("only ingest jobs resume; start the export again instead".into()));
    }
    if !matches!(view.state, JobState::Interrupted | JobState::Failed | JobState::Cancelled) {
        return Err(ResumeError::NotResumable(format!(
            "job {id} is {}; only interrupted, failed or cancelled jobs resume",
            view.state.as_str()
        )));
    }
    if by_itself && view.auto_resumes >= MAX_AUTO_RESUMES {
        return Err(ResumeError::NotResumable(format!(
            "job {id} was resumed by itself {} times already; resume it by hand (POST /jobs/{id}/resume), \
             after raising DUCKHAUL_MEMORY_LIMIT if it keeps failing",
            view.auto_resumes
        )));
    }
    // A source job of a split run stored its task's share beside the request.
    let mut stored = view.request.clone();
    let task = stored.as_object_mut().and_then(|o| o.remove(source_plan::TASK));
    let request: IngestRequest = serde_json::from_value(stored).context("the stored request no longer parses")?;
    let plan = request
        .plan(default_concurrency, &ctx.sources)
        .map_err(|e| anyhow::anyhow!("the stored request is invalid: {e}"))?;
    let plan =
        match plan {
            Planned::Faker(plan) => plan,
            Planned::Source(mut plan) => {
                if let Some(task) = task {
                    plan.shard = serde_json::from_value(task).context("the stored task share no longer parses")?;
                }
                let (plan, run_ctx) = (Arc::new(plan), ctx.clone());
                let after_run = Some(checkpoint_after(&ctx.store));
                return ctx
                    .jobs
                    .respawn(&view, by_itself, after_run, move |job| async move {
                        described::run(&run_ctx, &plan, &job).await
                    })
                    .await
                    .map_err(ResumeError::Spawn);
            }
        };
    if u64::from(plan.shard_len()) != view.pages_total {
        // A task's share of a split run (`duckhaul run` on Cloud Run Jobs): the stored request
        // is the whole run's, so resuming it here would fetch the other tasks' pages too.
        return Err(ResumeError::NotResumable(format!(
            "job {id} was one task's share ({} of {} pages) of a split run; it cannot be resumed here, \
             where it would fetch every task's pages: run the export of its rows, or the whole run again",
            view.pages_total,
            plan.shard_len()
        )));
    }
    let plan = Arc::new(plan);
    let run_ctx = ctx.clone();
    let after_run = Some(checkpoint_after(&ctx.store));
    ctx.jobs
        .respawn(&view, by_itself, after_run, move |job| async move { run(&run_ctx, &plan, &job).await })
        .await
        .map_err(ResumeError::Spawn)
}

/// The ingest's hook after each run: fold the job's rows from the WAL into the file between
/// jobs, where it costs no ingest latency. It runs once the job's record is saved, because a
/// checkpoint holds off every other commit while it runs (~0.15 s per 100,000 users), and the
/// job is durable without it (its pages are committed to the WAL).
fn checkpoint_after(store: &Store) -> AfterRun {
    let store = store.clone();
    Box::new(move || {
        Box::pin(async move {
            if let Err(e) = async { store.writer()?.request_checkpoint().await }.await {
                tracing::debug!(error = %format!("{e:#}"), "checkpoint after ingest skipped");
            }
        })
    })
}

/// Runs (or resumes) the job's pages.
pub async fn run(ctx: &IngestContext, plan: &IngestPlan, job: &Arc<Job>) -> Outcome {
    match run_pages(ctx, plan, job).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(format!("{e:#}")),
    }
}

async fn run_pages(ctx: &IngestContext, plan: &IngestPlan, job: &Arc<Job>) -> anyhow::Result<Outcome> {
    ctx.store.ensure_table(&plan.table, plan.resource.name(), &plan.ddl).await?;

    let id = job.id.clone();
    let done = ctx.store.read(move |conn| Ok(records::committed_pages(conn, &id)?)).await?;
    job.progress.add_done_before(done.len() as u64, done.iter().map(|(_, rows)| rows).sum());
    let done: HashSet<u32> = done.into_iter().map(|(page, _)| page).collect();

    let job_id: Arc<str> = Arc::from(job.id.as_str());
    let table: Arc<str> = Arc::from(plan.table.as_str());
    let todo = plan.shard_pages().filter(|p| !done.contains(p));
    // Fetching stops at the job's deadline (the job fails; resume finishes it) or when the
    // job is cancelled; pages already queued still commit.
    let limits = RunLimits::new(job, plan.rate_limit_per_minute, plan.deadline);
    let path = ctx.upstream.path(plan.resource);
    job.progress.set_pace(ctx.upstream.pace_per_minute(path));
    let fetch = Fetch { ctx, plan, job, limits: &limits };

    // Stage 1: fetch, decode and queue pages, `concurrency` at a time. A page leaves its slot
    // once queued, so the writer's commit never stalls fetching.
    let queued: Vec<Result<oneshot::Receiver<Result<Committed, StoreError>>, PageError>> = futures::stream::iter(todo)
        .map(|page| {
            let (job_id, table, fetch) = (job_id.clone(), table.clone(), &fetch);
            async move { fetch.page(page, job_id, table).await }
        })
        .buffer_unordered(plan.concurrency)
        .take_while(|r| std::future::ready(!matches!(r, Err(PageError::Cancelled))))
        .collect()
        .await;

    // Stage 2: wait for every queued page to commit.
    let mut failed = 0usize;
    for q in queued {
        match q {
            Ok(rx) => {
                // A commit failure was already recorded on the job by the writer's callback.
                if let Err(e) = rx.await.context("the writer stopped")? {
                    tracing::warn!(error = %e, "page failed to commit");
                    failed += 1;
                }
            }
            Err(PageError::Failed(f)) => {
                job.add_failed_page(f);
                failed += 1;
            }
            // Only the last of the pages in flight when fetching stopped; the job ends stopped.
            Err(PageError::Cancelled) => {}
        }
    }
    // The checkpoint between jobs is the job's `after_run` hook (`checkpoint_after`).

    if job.cancel.is_cancelled() {
        return Ok(Outcome::Stopped);
    }
    if let Some(missed) = limits.missed_deadline(job, ctx.upstream.pace_per_minute(path)) {
        return Ok(missed);
    }
    if failed > 0 {
        return Ok(Outcome::Failed(format!("{failed} of {} pages failed; see failed_pages", plan.shard_len())));
    }
    Ok(Outcome::Succeeded)
}

/// Why a page was not queued.
pub(super) enum PageError {
    Failed(PageFailure),
    /// Fetching stopped (cancel, shutdown, interrupt or the job's deadline) before the page
    /// was fetched: not a failure of the page; a resume fetches it.
    Cancelled,
}

/// What fetching one page needs.
struct Fetch<'a> {
    ctx: &'a IngestContext,
    plan: &'a IngestPlan,
    job: &'a Arc<Job>,
    limits: &'a RunLimits,
}

impl Fetch<'_> {
    /// Fetches, decodes and queues one page; the receiver tells when it has committed.
    async fn page(
        &self,
        page: u32,
        job_id: Arc<str>,
        table: Arc<str>,
    ) -> Result<oneshot::Receiver<Result<Committed, StoreError>>, PageError> {
        let Fetch { ctx, plan, job, limits } = *self;
        let cancel = &limits.fetching;
        let (quantity, seed) = plan.page(page);
        let failure = move |error: String| PageFailure { page, seed, error };
        let failed = move |error: String| PageError::Failed(failure(error));
        if cancel.is_cancelled() {
            return Err(PageError::Cancelled);
        }
        let query = PageQuery {
            path: ctx.upstream.path(plan.resource),
            quantity,
            seed,
            locale: plan.locale.clone(),
            extra: plan.extra.clone(),
        };
        let on_event = |event: FetchEvent<'_>| limits.hear(job, event);
        let fetched = ctx.upstream.fetch_page(&query, &plan.schema, limits.job_limit.as_ref(), cancel, &on_event).await;
        job.progress.set_pace(ctx.upstream.pace_per_minute(query.path));
        let fetched = match fetched {
            Ok(f) => f,
            Err(FetchError::Cancelled) => return Err(PageError::Cancelled),
            Err(e) => return Err(failed(format!("{e}"))),
        };
        let rows = fetched.page.batch.num_rows();
        if rows != quantity as usize {
            // Storing a short page would silently break "exactly quantity rows".
            return Err(failed(format!("upstream returned {rows} records, expected {quantity}")));
        }
        let (tx, rx) = oneshot::channel();
        let progress_job = job.clone();
        let commit_failure = failure;
        let on_commit = Box::new(move |result: Result<Committed, StoreError>| {
            match &result {
                Ok(c) => progress_job.progress.add(1, c.rows as u64),
                Err(e) => progress_job.add_failed_page(commit_failure(format!("cannot store the page: {e}"))),
            }
            let _ = tx.send(result);
        });
        let write = PageWrite { job_id, table, page, batch: fetched.page.batch, next: None, on_commit };
        let writer = ctx.store.writer().map_err(|e| failed(format!("{e:#}")))?;
        writer.write(write).await.map_err(|e| failed(format!("{e:#}")))?;
        Ok(rx)
    }
}
