//! The ingest of a described source's resource (`POST /ingest {"source": …}`).
//!
//! - **Addressable pages** (`page`, `offset`): the first page is fetched first, for the total it
//!   states (and, for a new table, the schema it is inferred from). With a total or a
//!   `quantity`, every page is then known up front and fetched `concurrency` at a time, each
//!   committed on its own, skipped on resume, split between the tasks of a run: as Faker's
//!   pages are.
//! - **Followed pages** (`cursor`, `next_url`, `link_header`, or addressable pages without a
//!   total or a quantity): known only from the page before, so fetched one after another. Each
//!   page is committed with the position of the next one (`duckhaul_page_positions`), and a
//!   page is queued only once the page before has committed: the last committed page always
//!   says where to go on, so a resume never refetches or skips a page.
//!
//! The table's schema is recorded when the first page creates it (`duckhaul_source_tables`)
//! and every later page, run and resume decodes with the recorded one; a record that does not
//! fit fails its page with the reason.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;

use super::evolving::{EvolvingTable, table_change};
use super::limits::RunLimits;
use super::request::MAX_QUANTITY;
use super::runner::{Commit, PageError, PageLabel, PageRunner};
use super::shipping::Shipping;
use super::source_plan::SourcePlan;
use super::{Holder, IngestContext, IngestRequest, checkpoint_after, holder, idempotent};
use crate::jobs::{Job, NewJob, Outcome, Spawned, StartError};
use crate::source::paging::{PagePlan, Position};
use crate::source::{FetchError, PageSchema, SourcePage};
use crate::spec::JobSpec;
use crate::store::source_tables;
use crate::store::{NextPage, records};

/// Checks the table against the database and starts the job.
pub(super) async fn start(
    ctx: &IngestContext,
    plan: SourcePlan,
    request: &IngestRequest,
    idempotency_key: Option<String>,
) -> Result<Spawned, StartError> {
    let label = source_tables::label(&plan.target.source().name, &plan.target.resource().name);
    // The columns come from the first page: only whose records the table holds is checked.
    match holder(ctx, &plan.table, &label, None).await? {
        None => {}
        Some(Holder::View) => {
            return Err(StartError::Conflict(format!("{} is a SQL view; give the resource another table", plan.table)));
        }
        Some(Holder::Other(resource) | Holder::OtherColumns(resource)) => {
            return Err(StartError::Conflict(format!(
                "table {} already holds the records of {resource}; give {label} another table in {}",
                plan.table,
                plan.target.source().file.display()
            )));
        }
    }
    let new = NewJob {
        spec: JobSpec::Ingest { request: plan.accepted(request), shard: plan.shard },
        table: Some(plan.table.clone()),
        // Known once the first page has said it.
        pages_total: 0,
        idempotency: idempotent(idempotency_key, request),
        resumable: true,
        after_run: Some(checkpoint_after(&ctx.store)),
    };
    let plan = Arc::new(plan);
    let run_ctx = ctx.clone();
    Ok(ctx.jobs.spawn(new, move |job| async move { run(&run_ctx, &plan, &job).await }).await?)
}

/// Runs (or resumes) the job's pages.
pub(super) async fn run(ctx: &IngestContext, plan: &SourcePlan, job: &Arc<Job>) -> Outcome {
    let shipping = Shipping::start(&ctx.durable, &job.id);
    let outcome = match walk(ctx, plan, job, &shipping).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(format!("{e:#}")),
    };
    shipping.finish(outcome, job).await
}

async fn walk(ctx: &IngestContext, plan: &SourcePlan, job: &Arc<Job>, shipping: &Shipping) -> anyhow::Result<Outcome> {
    let limits = RunLimits::new(job, plan.rate_limit_per_minute, plan.deadline);
    job.progress.set_pace(ctx.upstream.source_pace_per_minute(&plan.target));
    let table = EvolvingTable::load(ctx, plan).await?;
    job.progress.track_evolution();
    // What earlier runs of this job did to the table (a resume).
    let (quarantined, changes) = ctx.store.job_evolution(&plan.table, &job.id).await?;
    job.progress.quarantined(quarantined);
    job.progress.schema_changed(changes.into_iter().map(|h| table_change(h.page, h.change)));
    let runner = PageRunner::new(ctx, job, &limits, shipping, &plan.table);
    let (done, rows_before) = runner.committed_before().await?;
    let id = job.id.clone();
    let last = ctx.store.read(move |conn| Ok(records::last_followed_page(conn, &id)?)).await?;

    let mut walker = Walker { runner, plan, table };
    let pagination = plan.target.paging().pagination();
    match last {
        // A followed walk committed pages: go on from the last one.
        Some((page, next)) => {
            let next = match next {
                None => return Ok(walker.outcome(false)),
                Some(next) => serde_json::from_str(&next)
                    .with_context(|| format!("page {page} of job {} left a position that does not parse", job.id))?,
            };
            walker.followed(page + 1, next, None, rows_before).await
        }
        None if pagination.is_addressable() => walker.addressed(&done, rows_before).await,
        None => walker.followed(0, plan.target.paging().first(), None, rows_before).await,
    }
}

/// One run of a source job's pages: what a described source adds to the runner (its first
/// page, the plan its total makes, the walk of followed pages, the table its records infer and
/// evolve).
struct Walker<'a> {
    runner: PageRunner<'a>,
    plan: &'a SourcePlan,
    /// The table, once recorded (or inferred from the first page), as its pages widen it.
    table: EvolvingTable,
}

impl Walker<'_> {
    /// An addressable resource: the first page, then every page of the plan its total (or the
    /// quantity) makes, in parallel; without either, the pages are followed.
    async fn addressed(&mut self, done: &HashSet<u32>, rows_before: u64) -> anyhow::Result<Outcome> {
        let paging = self.plan.target.paging();
        let first_position = paging.first();
        let first = match self.fetch(&first_position, true).await {
            Ok(page) => page,
            Err(e) => return Ok(self.page_error(e)),
        };
        if self.table.is_empty().await {
            // No records, and no table before: nothing to store.
            self.job().set_pages_total(0);
            return Ok(self.outcome(true));
        }
        let page_size = self.page_size();
        let held = first.records() as u64;
        let records = match (first.outcome.total, self.plan.quantity) {
            (Some(total), Some(quantity)) => total.min(quantity),
            (Some(total), None) if total > MAX_QUANTITY as u64 => {
                anyhow::bail!(
                    "{} holds {total} records, more than the {MAX_QUANTITY} one job takes: ask for a quantity",
                    self.plan.target.key()
                )
            }
            (Some(total), None) => total,
            // A short first page without a total: the resource holds no more than it.
            (None, Some(quantity)) if held < page_size.min(quantity) => held,
            (None, Some(quantity)) => quantity,
            (None, None) if !done.is_empty() => anyhow::bail!(
                "the first run planned its pages from the total the upstream stated, and it states none now: \
                 resume the job once it does"
            ),
            (None, None) => return self.followed(0, first_position, Some(first), rows_before).await,
        };
        if first.outcome.total.is_some() && held < page_size.min(records) {
            // Planned pages would skip what the upstream leaves out of each page.
            anyhow::bail!(
                "the first page held {held} records where page_size is {page_size} and the total {records}: the upstream \
                 answers fewer records per page than asked (a cap below page_size?); set page_size to {held} in {}",
                self.plan.target.source().file.display()
            );
        }
        let exact = first.outcome.total.is_some();
        let pages = paging.plan(records).expect("page and offset pagination plan");
        let count = u32::try_from(pages.len())
            .map_err(|_| anyhow::anyhow!("{} pages is more than one job takes; ask for a quantity", pages.len()))?;
        let shard = self.plan.shard;
        self.job().set_pages_total(u64::from(shard.len(count.max(1))));

        let mut queued: Vec<Result<Commit, PageError>> = Vec::new();
        if shard.pages(count.max(1)).next() == Some(0) && !done.contains(&0) {
            queued.push(
                self.table
                    .land(&self.runner, self.plan, label(0, &first_position), first, self.cap(0, records), None)
                    .await,
            );
        }
        let todo = shard.pages(count).filter(|p| *p != 0 && !done.contains(p));
        let this = &*self;
        self.runner
            .planned(queued, todo, self.plan.concurrency, |page| this.planned_page(&pages, page, records, exact))
            .await?;
        Ok(self.outcome(true))
    }

    /// Page `index` of the plan: fetched, cut to the records asked for, queued. `exact`: the
    /// plan comes from the upstream's total, so every page but the last must be full (a short
    /// one means the records moved, or a page size the upstream does not honour: a resume
    /// fetches it again).
    async fn planned_page(&self, pages: &PagePlan, index: u32, records: u64, exact: bool) -> Result<Commit, PageError> {
        let Some(position) = pages.position(u64::from(index)) else {
            let error = FetchError::Shape(format!("page {index} lies beyond the pages a position can address"));
            return Err(self.failure(index, &self.plan.target.paging().first(), error));
        };
        let page = self.fetch_with(&position, false).await.map_err(|e| self.failure(index, &position, e))?;
        let expected = self.cap(index, records).min(self.page_size());
        if exact && (page.records() as u64) < expected {
            let error = FetchError::Shape(format!(
                "the upstream answered {} records where the total of {records} means {expected}",
                page.records()
            ));
            return Err(self.failure(index, &position, error));
        }
        self.table.land(&self.runner, self.plan, label(index, &position), page, self.cap(index, records), None).await
    }

    /// Records per page the file asks for (addressable pagination).
    fn page_size(&self) -> u64 {
        self.plan.target.paging().pagination().page_size().map_or(u64::MAX, u64::from)
    }

    /// Records page `index` may add to reach `records`: the upstream may hold more.
    fn cap(&self, index: u32, records: u64) -> u64 {
        records.saturating_sub(u64::from(index).saturating_mul(self.page_size()))
    }

    /// Pages one after another from `position` (page number `index`), each committed with the
    /// next one's position; `first` is that page when it was fetched already.
    async fn followed(
        &mut self,
        mut index: u32,
        mut position: Position,
        mut first: Option<SourcePage>,
        mut rows: u64,
    ) -> anyhow::Result<Outcome> {
        if self.plan.shard.index != 0 {
            // Followed pages cannot be split: the first task fetches them all.
            tracing::info!(
                task = self.plan.shard.index,
                "a followed resource is fetched by the run's first task alone"
            );
            self.job().set_pages_total(0);
            return Ok(Outcome::Succeeded);
        }
        let mut pending: Option<Commit> = None;
        let mut capped_at_most = false;
        loop {
            let page = match first.take() {
                Some(page) => Ok(page),
                None => self.fetch(&position, true).await,
            };
            let page = match page {
                // No records, and no table before: nothing to store.
                Ok(_) if self.table.is_empty().await => break,
                Ok(page) => page,
                Err(FetchError::Cancelled) => break,
                Err(e) => {
                    self.runner.fail(label(index, &position).failure(e));
                    break;
                }
            };
            let mut next = page.outcome.next.clone();
            // Without a quantity, a job stops at the most one job takes: an API whose pages
            // never end (Faker's, paged by seed) would otherwise hold it forever.
            let cap = self.plan.quantity.unwrap_or(MAX_QUANTITY as u64);
            let page_cap = cap.saturating_sub(rows);
            if page.records() as u64 >= page_cap {
                if self.plan.quantity.is_none() && next.is_some() {
                    capped_at_most = true;
                }
                next = None;
            }
            rows += (page.records() as u64).min(page_cap);
            // Queued only once the page before committed: no page may commit after one that
            // failed, or a resume would go on from it and skip the failed one.
            if let Some(rx) = pending.take()
                && !self.runner.committed(rx).await?
            {
                break;
            }
            let after = match &next {
                Some(next) => NextPage::At(serde_json::to_string(next).expect("a position serialises")),
                None => NextPage::End,
            };
            self.job().set_pages_total(u64::from(index) + 1 + u64::from(next.is_some()));
            match self.table.land(&self.runner, self.plan, label(index, &position), page, page_cap, Some(after)).await {
                Ok(rx) => pending = Some(rx),
                Err(PageError::Failed(f)) => {
                    self.runner.fail(f);
                    break;
                }
                Err(PageError::Cancelled) => break,
            }
            match next {
                Some(next) if !self.runner.limits.fetching.is_cancelled() => {
                    position = next;
                    index = index.checked_add(1).context("more pages than a job counts")?;
                }
                _ => break,
            }
        }
        if let Some(rx) = pending {
            self.runner.committed(rx).await?;
        }
        if capped_at_most && self.runner.failed() == 0 && !self.job().cancel.is_cancelled() {
            return Ok(Outcome::Failed(format!(
                "stopped at {MAX_QUANTITY} records, the most one job takes, with more pages to come: the records \
                 stored are kept; to take another part, give the source's resource fixed parameters that select it"
            )));
        }
        Ok(self.outcome(true))
    }

    /// Fetches the page at `position` with the table's schema, inferring (and creating the
    /// table) from it when there is none yet.
    async fn fetch(&mut self, position: &Position, follow: bool) -> Result<SourcePage, FetchError> {
        let page = self.fetch_with(position, follow).await?;
        // An empty first page makes no table: its schema would hold the declared columns
        // alone, and later records' other fields would find none.
        if let Some(inferred) = page.inferred.as_ref().filter(|_| page.records() > 0) {
            self.table
                .create(self.runner.ctx, self.plan, inferred)
                .await
                .map_err(|e| FetchError::Shape(format!("cannot create table {}: {e:#}", self.plan.table)))?;
        }
        Ok(page)
    }

    async fn fetch_with(&self, position: &Position, follow: bool) -> Result<SourcePage, FetchError> {
        let (ctx, job, limits) = (self.runner.ctx, self.runner.job, self.runner.limits);
        if limits.fetching.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let known = self.table.schema().await;
        let schema = match &known {
            Some(schema) => PageSchema::Known { schema, declared: &self.plan.declared, contract: self.plan.contract() },
            None => PageSchema::Infer { declared: &self.plan.declared, contract: self.plan.contract() },
        };
        let on_event = |event: crate::source::FetchEvent<'_>| limits.hear(job, event);
        let fetched = ctx
            .upstream
            .fetch_source_page(
                &self.plan.target,
                position,
                schema,
                follow,
                limits.job_limit.as_ref(),
                &limits.fetching,
                &on_event,
            )
            .await;
        job.progress.set_pace(ctx.upstream.source_pace_per_minute(&self.plan.target));
        fetched
    }

    fn job(&self) -> &Arc<Job> {
        self.runner.job
    }

    fn failure(&self, page: u32, position: &Position, e: FetchError) -> PageError {
        match e {
            FetchError::Cancelled => PageError::Cancelled,
            e => PageError::Failed(label(page, position).failure(e)),
        }
    }

    /// The job's end when its first page could not be had.
    fn page_error(&mut self, e: FetchError) -> Outcome {
        if !matches!(e, FetchError::Cancelled) {
            self.runner.fail(label(0, &self.plan.target.paging().first()).failure(e));
        }
        self.outcome(true)
    }

    /// How the run ended. `ran`: false when there was nothing left to fetch.
    fn outcome(&self, ran: bool) -> Outcome {
        let pace = self.runner.ctx.upstream.source_pace_per_minute(&self.plan.target);
        self.runner.outcome(ran, None, pace)
    }
}

/// A described source's page names where it was fetched from; its pages have no seed.
fn label(page: u32, position: &Position) -> PageLabel {
    PageLabel { page, seed: None, at: Some(position.to_string()) }
}
