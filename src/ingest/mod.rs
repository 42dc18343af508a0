//! The ingest job: plan pages, fetch them concurrently through `source`, and hand each decoded
//! page to the `store` writer as soon as it arrives.
//!
//! Memory is bounded by `concurrency` pages in flight plus the writer's queue, whatever the
//! quantity. Pages already committed for the job are skipped, so running a job again (resume)
//! fetches only what is missing and never writes a page twice.

mod described;
mod evolving;
mod limits;
pub mod request;
mod runner;
mod shipping;
pub mod source_plan;

use std::sync::Arc;

pub use crate::spec::Shard;
pub use request::{IngestPlan, IngestRequest};
pub use source_plan::{Planned, SourcePlan};

use crate::jobs::{
    AfterRun, IdempotentRequest, Job, JobState, Jobs, MAX_AUTO_RESUMES, NewJob, Outcome, SpawnError, Spawned,
    StartError,
};
use crate::source::{FetchError, FetchEvent, PageQuery, Upstream};
use crate::spec::JobSpec;
use crate::store::Store;
use limits::RunLimits;
use runner::{Commit, PageError, PageLabel, PageRunner};
use shipping::Shipping;

/// What an ingest needs from the application.
#[derive(Clone)]
pub struct IngestContext {
    pub store: Store,
    pub upstream: Upstream,
    pub jobs: Jobs,
    /// Where committed pages are made durable.
    pub durable: crate::durable::Durable,
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
        spec: JobSpec::Ingest { request: plan.accepted(request), shard: plan.shard },
        table: Some(plan.table.clone()),
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
    let stored = ctx.jobs.stored(id).await?.ok_or_else(|| ResumeError::NotFound(id.to_string()))?;
    let view = &stored.view;
    let JobSpec::Ingest { request, shard } = &stored.spec else {
        return Err(ResumeError::NotResumable("only ingest jobs resume; start the export again instead".into()));
    };
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
    // The spec holds the request as accepted (Faker's drawn seed among it) and the task's
    // share of a split run, so the resume fetches exactly the pages the job was given.
    let mut plan = request
        .plan(default_concurrency, &ctx.sources)
        .map_err(|e| anyhow::anyhow!("the stored request is invalid: {e}"))?;
    plan.set_shard(*shard);
    let (run_ctx, after_run) = (ctx.clone(), Some(checkpoint_after(&ctx.store)));
    let respawned = match plan {
        Planned::Faker(plan) => {
            let plan = Arc::new(plan);
            ctx.jobs
                .respawn(&stored, by_itself, after_run, move |job| async move { run(&run_ctx, &plan, &job).await })
                .await
        }
        Planned::Source(plan) => {
            let plan = Arc::new(plan);
            ctx.jobs
                .respawn(&stored, by_itself, after_run, move |job| async move {
                    described::run(&run_ctx, &plan, &job).await
                })
                .await
        }
    };
    respawned.map_err(ResumeError::Spawn)
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
    let shipping = Shipping::start(&ctx.durable, &job.id);
    let outcome = match run_pages(ctx, plan, job, &shipping).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(format!("{e:#}")),
    };
    shipping.finish(outcome, job).await
}

/// Faker's pages through the runner: every page is planned up front (page i has seed
/// base_seed + i), so the task's share of them is fetched `concurrency` at a time.
async fn run_pages(
    ctx: &IngestContext,
    plan: &IngestPlan,
    job: &Arc<Job>,
    shipping: &Shipping,
) -> anyhow::Result<Outcome> {
    ctx.store.ensure_table(&plan.table, plan.resource.name(), &plan.ddl).await?;
    // Fetching stops at the job's deadline (the job fails; resume finishes it) or when the
    // job is cancelled; pages already queued still commit.
    let limits = RunLimits::new(job, plan.rate_limit_per_minute, plan.deadline);
    let runner = PageRunner::new(ctx, job, &limits, shipping, &plan.table);
    let (done, _) = runner.committed_before().await?;
    let path = ctx.upstream.path(plan.resource);
    job.progress.set_pace(ctx.upstream.pace_per_minute(path));

    let todo = plan.shard_pages().filter(|p| !done.contains(p));
    runner.planned(Vec::new(), todo, plan.concurrency, |page| faker_page(&runner, plan, page)).await?;
    // The checkpoint between jobs is the job's `after_run` hook (`checkpoint_after`).
    Ok(runner.outcome(true, Some(plan.shard_len()), ctx.upstream.pace_per_minute(path)))
}

/// Fetches, decodes and queues Faker's page `page`.
async fn faker_page(runner: &PageRunner<'_>, plan: &IngestPlan, page: u32) -> Result<Commit, PageError> {
    let (ctx, job, limits) = (runner.ctx, runner.job, runner.limits);
    let (quantity, seed) = plan.page(page);
    let label = PageLabel { page, seed: Some(seed), at: None };
    let query = PageQuery {
        path: ctx.upstream.path(plan.resource),
        quantity,
        seed,
        locale: plan.locale.clone(),
        extra: plan.extra.clone(),
    };
    let on_event = |event: FetchEvent<'_>| limits.hear(job, event);
    let fetched =
        ctx.upstream.fetch_page(&query, &plan.schema, limits.job_limit.as_ref(), &limits.fetching, &on_event).await;
    job.progress.set_pace(ctx.upstream.pace_per_minute(query.path));
    let fetched = match fetched {
        Ok(f) => f,
        Err(FetchError::Cancelled) => return Err(PageError::Cancelled),
        Err(e) => return Err(PageError::Failed(label.failure(e))),
    };
    let rows = fetched.page.batch.num_rows();
    if rows != quantity as usize {
        // Storing a short page would silently break "exactly quantity rows".
        return Err(PageError::Failed(
            label.failure(format_args!("upstream returned {rows} records, expected {quantity}")),
        ));
    }
    runner.queue(label, fetched.page.batch, None).await
}
