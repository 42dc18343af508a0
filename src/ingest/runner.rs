//! The one page runner every ingest goes through, Faker's built-in source and a described one
//! alike. A source only says which pages there are and how one is fetched (`plan`); the runner
//! fetches them at the path's pace, queues each decoded page for the writer, waits for its
//! commit, counts the failures, and says how the run ended.
//!
//! Two shapes of work, both here once:
//! - **planned** pages (Faker's seeds, numbered pages, offsets with a total): known up front,
//!   fetched `concurrency` at a time, each committed on its own, skipped on resume;
//! - **followed** pages (cursor, next URL, `Link`): the caller's loop fetches them one after
//!   another and uses `queue` and `committed` to commit each with the next one's position.
//!
//! When the store refuses a page for a reason that holds for every page (a full disk, an
//! invalidated database), fetching stops at once: the pages already committed are kept and the
//! job fails saying why, rather than fetching every remaining page only to have each refused.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use duckdb::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use tokio::sync::oneshot;

use super::IngestContext;
use super::limits::RunLimits;
use super::shipping::Shipping;
use crate::jobs::{Job, Outcome, PageFailure};
use crate::store::writer::Committed;
use crate::store::{NextPage, PageWrite, StoreError, groups};

/// A queued page's commit, to wait for.
pub(super) type Commit = oneshot::Receiver<Result<Committed, StoreError>>;

/// Why a page was not queued.
pub(super) enum PageError {
    Failed(PageFailure),
    /// Fetching stopped (cancel, shutdown, interrupt, the job's deadline, or a store that
    /// refuses every page) before the page was fetched: not a failure of the page; a resume
    /// fetches it.
    Cancelled,
}

/// What names a page in its failure: its number, its seed where pages have seeds, and where
/// it was fetched from for a described source (`page=3`, `cursor=…`).
#[derive(Debug, Clone)]
pub(super) struct PageLabel {
    pub page: u32,
    pub seed: Option<i64>,
    pub at: Option<String>,
}

impl PageLabel {
    pub fn failure(&self, error: impl std::fmt::Display) -> PageFailure {
        let error = match &self.at {
            Some(at) => format!("{at}: {error}"),
            None => error.to_string(),
        };
        PageFailure { page: self.page, seed: self.seed, error }
    }
}

/// One run of one job's pages.
pub(super) struct PageRunner<'a> {
    pub ctx: &'a IngestContext,
    pub job: &'a Arc<Job>,
    pub limits: &'a RunLimits,
    shipping: &'a Shipping,
    job_id: Arc<str>,
    table: Arc<str>,
    failed: AtomicUsize,
    /// The first refusal of the store that holds for every page; set from the writer's thread.
    refused: Arc<OnceLock<String>>,
}

impl<'a> PageRunner<'a> {
    pub fn new(
        ctx: &'a IngestContext,
        job: &'a Arc<Job>,
        limits: &'a RunLimits,
        shipping: &'a Shipping,
        table: &str,
    ) -> PageRunner<'a> {
        PageRunner {
            ctx,
            job,
            limits,
            shipping,
            job_id: Arc::from(job.id.as_str()),
            table: Arc::from(table),
            failed: AtomicUsize::new(0),
            refused: Arc::new(OnceLock::new()),
        }
    }

    /// The pages this job committed in an earlier run (a resume), here or durable in the
    /// destination from a lost instance, counted into its progress; and the rows they hold.
    pub async fn committed_before(&self) -> anyhow::Result<(HashSet<u32>, u64)> {
        let id = self.job.id.clone();
        let done = self.ctx.store.read(move |conn| Ok(groups::done_pages(conn, &id)?)).await?;
        let rows: u64 = done.iter().map(|(_, rows)| rows).sum();
        self.job.progress.add_done_before(done.len() as u64, rows);
        Ok((done.into_iter().map(|(page, _)| page).collect(), rows))
    }

    /// Queues a page for the writer (with the next page's position, for a followed page); the
    /// receiver tells when it has committed.
    pub async fn queue(
        &self,
        label: PageLabel,
        batch: RecordBatch,
        next: Option<NextPage>,
    ) -> Result<Commit, PageError> {
        self.queue_with(label, batch, next, Vec::new()).await
    }

    /// `queue`, with rows for other tables committed in the page's transaction (`side`: a
    /// source's quarantined records).
    pub async fn queue_with(
        &self,
        label: PageLabel,
        batch: RecordBatch,
        next: Option<NextPage>,
        side: Vec<(Arc<str>, RecordBatch)>,
    ) -> Result<Commit, PageError> {
        let (tx, rx) = oneshot::channel();
        let (job, refused, fetching) = (self.job.clone(), self.refused.clone(), self.limits.fetching.clone());
        let shipped = self.shipping.on_commit();
        let page = label.page;
        let failure = label.clone();
        let on_commit = Box::new(move |result: Result<Committed, StoreError>| {
            match &result {
                Ok(c) => {
                    job.progress.add(1, c.rows as u64);
                    shipped(c.rows as u64);
                }
                Err(e) => {
                    job.add_failed_page(failure.failure(format_args!("cannot store the page: {e}")));
                    if e.holds_for_every_page() {
                        let _ = refused.set(e.to_string());
                        fetching.cancel();
                    }
                }
            }
            let _ = tx.send(result);
        });
        let write =
            PageWrite { job_id: self.job_id.clone(), table: self.table.clone(), page, batch, next, side, on_commit };
        let writer = self.ctx.store.writer().map_err(|e| PageError::Failed(label.failure(format_args!("{e:#}"))))?;
        writer.write(write).await.map_err(|e| PageError::Failed(label.failure(format_args!("{e:#}"))))?;
        Ok(rx)
    }

    /// Fetches the planned pages `todo`, `concurrency` at a time, each through `fetch` (which
    /// fetches, decodes and `queue`s it), then waits for every commit, `queued` (pages queued
    /// before, such as a first page fetched for its total) among them. A page leaves its slot
    /// once queued, so a commit never stalls fetching.
    pub async fn planned<F, Fut>(
        &self,
        queued: Vec<Result<Commit, PageError>>,
        todo: impl Iterator<Item = u32>,
        concurrency: usize,
        fetch: F,
    ) -> anyhow::Result<()>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<Commit, PageError>>,
    {
        let fetching = &self.limits.fetching;
        let fetched: Vec<Result<Commit, PageError>> = futures::stream::iter(todo)
            .map(|page| {
                let fetch = &fetch;
                async move { if fetching.is_cancelled() { Err(PageError::Cancelled) } else { fetch(page).await } }
            })
            .buffer_unordered(concurrency)
            .take_while(|r| std::future::ready(!matches!(r, Err(PageError::Cancelled))))
            .collect()
            .await;
        for q in queued.into_iter().chain(fetched) {
            match q {
                Ok(rx) => {
                    self.committed(rx).await?;
                }
                Err(PageError::Failed(f)) => self.fail(f),
                // Only the last of the pages in flight when fetching stopped; the job ends stopped.
                Err(PageError::Cancelled) => {}
            }
        }
        Ok(())
    }

    /// Whether a queued page committed (a failure is on the job already, from the writer).
    pub async fn committed(&self, rx: Commit) -> anyhow::Result<bool> {
        match rx.await.context("the writer stopped")? {
            Ok(_) => Ok(true),
            Err(e) => {
                tracing::warn!(error = %e, "page failed to commit");
                self.failed.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
        }
    }

    /// A page that failed before it was queued.
    pub fn fail(&self, failure: PageFailure) {
        self.job.add_failed_page(failure);
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Pages that failed so far in this run.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// How the run ended. `ran`: false when there was nothing left to fetch; `pages`: the
    /// pages of the job, when known up front (the reason then says "n of N"); `pace`: the
    /// upstream path's pace now (for the reason a missed deadline gives).
    pub fn outcome(&self, ran: bool, pages: Option<u32>, pace: Option<f64>) -> Outcome {
        if ran && self.job.interruption().is_some() {
            // A database recovery stopped it, and resumes it.
            return Outcome::Stopped;
        }
        if let Some(reason) = self.refused.get() {
            // Checked before cancel: the runner, not the user, stopped the fetching.
            return Outcome::Failed(format!(
                "the database refuses every page ({reason}); fetching stopped: the {} pages committed are kept, \
                 resume the job once the cause is fixed",
                self.job.view().pages_done
            ));
        }
        if ran && self.job.cancel.is_cancelled() {
            return Outcome::Stopped;
        }
        if let Some(missed) = self.limits.missed_deadline(self.job, pace) {
            return missed;
        }
        match (self.failed(), pages) {
            (0, _) => Outcome::Succeeded,
            (failed, Some(pages)) => Outcome::Failed(format!("{failed} of {pages} pages failed; see failed_pages")),
            (failed, None) => Outcome::Failed(format!("{failed} pages failed; see failed_pages")),
        }
    }
}
