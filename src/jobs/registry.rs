//! The registry of jobs: live ones in memory, all of them in DuckDB. It runs the work it is
//! given on the shared `TaskTracker`, saves every state change, tells apart how a stopped job
//! stopped (a cancel, an interrupt, a shutdown) and publishes each run's end (`ends`).
//!
//! What heals the database stands beside it: it hears of ends there, interrupts live jobs
//! through `Job::interrupt`, and says which failures were interruptions
//! (`classify_failures`); the registry knows nothing of the database's health.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::job::{Interruption, Job, JobStatus, Outcome};
use super::list::{JobListing, JobPage};
use super::record::{Details, StoredJob, from_row, to_row};
use super::start::{AfterRun, CancelError, NewJob, SpawnError, Spawned};
use super::view::JobView;
use super::{JobKind, JobState};
use crate::store::Store;
use crate::store::records;

/// Times duckhaul resumes a job by itself (after restarts or database recoveries) before it
/// leaves it to a person: a job that kills the process or the database each time must not loop.
pub const MAX_AUTO_RESUMES: u32 = 3;

/// Ends not yet read that a subscriber may fall behind by. Runs end at most as fast as they
/// start, which the running cap bounds, and subscribers read as they come.
const ENDS_BUFFERED: usize = 1024;

/// A run that has ended, as `Jobs::ends` publishes it: its state is final and its `finished`
/// is about to fire.
#[derive(Clone)]
pub struct JobEnded {
    pub job: Arc<Job>,
    pub state: JobState,
    /// Whether its final record was saved (not while the database is being reopened: the
    /// recovery saves it once the database is back).
    pub saved: bool,
}

/// Says, as a job's work fails, whether the failure was in truth an interruption from outside
/// the job (see `Jobs::classify_failures`).
type FailureCause = Box<dyn Fn(&Job) -> Option<Interruption> + Send + Sync>;

/// The registry of jobs: live ones in memory, all of them in DuckDB.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    live: Mutex<HashMap<String, Arc<Job>>>,
    /// Serialises idempotent starts: look up the key, start, record the key.
    keys: tokio::sync::Mutex<()>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Most jobs live at once (`usize::MAX`: no cap).
    max_running: AtomicUsize,
    ends: broadcast::Sender<JobEnded>,
    failure_cause: OnceLock<FailureCause>,
}

impl Jobs {
    /// Starts the registry; jobs the last process left queued or running become `interrupted`.
    pub async fn start(store: Store) -> anyhow::Result<Jobs> {
        let interrupted = store
            .record(|conn| records::mark_unfinished_interrupted(conn).context("cannot mark unfinished jobs"))
            .await?;
        if interrupted > 0 {
            tracing::warn!(jobs = interrupted, "jobs left unfinished by the last process are now interrupted");
        }
        Ok(Jobs {
            inner: Arc::new(Inner {
                store,
                live: Mutex::new(HashMap::new()),
                keys: tokio::sync::Mutex::new(()),
                tracker: TaskTracker::new(),
                shutdown: CancellationToken::new(),
                max_running: AtomicUsize::new(usize::MAX),
                ends: broadcast::channel(ENDS_BUFFERED).0,
                failure_cause: OnceLock::new(),
            }),
        })
    }

    /// Caps the jobs queued or running at once; starting one more fails with `SpawnError::Busy`.
    pub fn limit_running(&self, max: usize) {
        self.inner.max_running.store(max, Ordering::Relaxed);
    }

    /// Every run's end from now on, in the order they end.
    pub fn ends(&self) -> broadcast::Receiver<JobEnded> {
        self.inner.ends.subscribe()
    }

    /// Lets what stops jobs from outside say which failures it caused: as a job's work fails,
    /// `cause` answers whether that was an interruption (the recovery: the database went away,
    /// so its pages were not stored), and the job then ends `interrupted`, not `failed`. Set
    /// once; later calls are ignored.
    pub fn classify_failures(&self, cause: impl Fn(&Job) -> Option<Interruption> + Send + Sync + 'static) {
        if self.inner.failure_cause.set(Box::new(cause)).is_err() {
            tracing::warn!("failures are classified already");
        }
    }

    /// Records a new job as `queued` and runs `work` for it in the background. The job's
    /// record is saved before this returns, so its id can be looked up at once.
    pub async fn spawn<F, Fut>(&self, new: NewJob, work: F) -> Result<Spawned, SpawnError>
    where
        F: FnOnce(Arc<Job>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        if self.inner.shutdown.is_cancelled() {
            return Err(SpawnError::ShuttingDown);
        }
        let id = uuid::Uuid::now_v7().to_string();
        let Some(key) = new.idempotency.clone() else {
            return Ok(Spawned::New(self.launch(id, new, Utc::now(), 0, work).await?));
        };
        let _serial = self.inner.keys.lock().await;
        let (k, kind) = (key.key.clone(), JobKind::of(&new.spec).as_str());
        let found = self.inner.store.read(move |conn| Ok(records::find_key(conn, kind, &k)?)).await?;
        match found {
            Some((job_id, request)) if request == key.request => {
                let view = self.get(&job_id).await?.context("the job of an idempotency key is missing")?;
                Ok(Spawned::Existing(view))
            }
            Some(_) => Err(SpawnError::KeyReused(key.key)),
            None => Ok(Spawned::New(self.launch(id, new, Utc::now(), 0, work).await?)),
        }
    }

    /// Runs a stopped job again under its own id (resume): its record goes back to `queued`,
    /// and `work` is expected to skip what the job already did.
    /// `by_itself`: duckhaul resumes it (after a restart or a recovery), which is counted.
    pub async fn respawn<F, Fut>(
        &self,
        stored: &StoredJob,
        by_itself: bool,
        after_run: Option<AfterRun>,
        work: F,
    ) -> Result<Arc<Job>, SpawnError>
    where
        F: FnOnce(Arc<Job>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let view = &stored.view;
        let new = NewJob {
            spec: stored.spec.clone(),
            table: view.table.clone(),
            pages_total: view.pages_total,
            idempotency: None,
            resumable: true,
            after_run,
        };
        let auto_resumes = view.auto_resumes + u32::from(by_itself);
        let job = self.launch(view.id.clone(), new, view.created_at, auto_resumes, work).await?;
        job.progress.carry_faults(view.retries, view.throttled, view.last_error.as_deref());
        job.progress.carry_evolution(&view);
        Ok(job)
    }

    /// Claims the id, saves the job `queued` and runs it; `auto_resumes` is what earlier runs
    /// counted.
    async fn launch<F, Fut>(
        &self,
        id: String,
        mut new: NewJob,
        created_at: DateTime<Utc>,
        auto_resumes: u32,
        work: F,
    ) -> Result<Arc<Job>, SpawnError>
    where
        F: FnOnce(Arc<Job>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        if self.inner.shutdown.is_cancelled() {
            return Err(SpawnError::ShuttingDown);
        }
        let status = JobStatus {
            state: JobState::Queued,
            table: new.table.take(),
            pages_total: new.pages_total,
            error: None,
            details: Details { auto_resumes, ..Details::default() },
            created_at,
            started_at: None,
            finished_at: None,
        };
        let kind = JobKind::of(&new.spec);
        let job =
            Arc::new(Job::new(id.clone(), new.spec.clone(), new.resumable, self.inner.shutdown.child_token(), status));
        {
            // Claimed before anything is saved, so two resumes of one job cannot both run it.
            let mut live = self.inner.live.lock().expect("jobs lock poisoned");
            if live.contains_key(&id) {
                return Err(SpawnError::AlreadyRunning(id));
            }
            let max = self.inner.max_running.load(Ordering::Relaxed);
            if live.len() >= max {
                return Err(SpawnError::Busy(max));
            }
            live.insert(id.clone(), job.clone());
        }
        self.share_memory().await;
        let saved = match &new.idempotency {
            None => self.save(&job).await,
            Some(key) => {
                let (row, key) = (to_row(&job.spec, &job.view())?, key.clone());
                self.inner
                    .store
                    .record(move |conn| {
                        records::save_job_with_key(conn, &row, &key.key, &key.request)
                            .context("cannot save the job record")
                    })
                    .await
            }
        };
        if let Err(e) = saved {
            self.inner.live.lock().expect("jobs lock poisoned").remove(&id);
            return Err(e.into());
        }
        self.inner.store.metrics().job_state(kind.as_str(), None, JobState::Queued.as_str(), false);

        let jobs = self.clone();
        let span = tracing::info_span!("job", id = %id, kind = ?kind);
        let runner = job.clone();
        let after_run = new.after_run.take();
        self.inner.tracker.spawn(tracing::Instrument::instrument(
            async move {
                jobs.transition(&runner, JobState::Running, None).await;
                tracing::info!("job started");
                // A panic in the work fails the job: left alone it would stay running forever,
                // its slot taken and `run` waiting on it.
                let outcome =
                    match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work(runner.clone()))).await {
                        Ok(outcome) => outcome,
                        Err(_) => Outcome::Failed("the job stopped on an internal error (a panic; see the log)".into()),
                    };
                let (state, error) = jobs.ending(&runner, outcome);
                let saved = jobs.transition(&runner, state, error.clone()).await;
                tracing::info!(state = state.as_str(), error = error.as_deref().unwrap_or(""), "job finished");
                // After the record is saved: the job is durable without it, and what it does
                // (a checkpoint) may hold off other commits for a while.
                if let Some(after_run) = after_run {
                    after_run().await;
                }
                jobs.inner.live.lock().expect("jobs lock poisoned").remove(&runner.id);
                jobs.share_memory().await;
                // No subscriber is fine: nothing heals the database in this process.
                let _ = jobs.inner.ends.send(JobEnded { job: runner.clone(), state, saved });
                runner.finished.send_replace(true);
            },
            span,
        ));
        Ok(job)
    }

    /// The state a run ends in, and why.
    fn ending(&self, job: &Job, outcome: Outcome) -> (JobState, Option<String>) {
        match outcome {
            Outcome::Succeeded => (JobState::Succeeded, None),
            Outcome::Failed(e) => match self.inner.failure_cause.get().and_then(|cause| cause(job)) {
                Some(interruption) => {
                    job.interrupt(interruption);
                    (JobState::Interrupted, job.interruption().map(|i| i.reason))
                }
                None => (JobState::Failed, Some(e)),
            },
            Outcome::Stopped => match job.interruption() {
                Some(interruption) => (JobState::Interrupted, Some(interruption.reason)),
                None if self.inner.shutdown.is_cancelled() => {
                    (JobState::Interrupted, Some("duckhaul shut down while the job ran; resume it to finish".into()))
                }
                None => (JobState::Cancelled, Some("cancelled on request".into())),
            },
        }
    }

    /// DuckDB's memory limit follows the jobs running (see `Store::share_memory`).
    async fn share_memory(&self) {
        let running = self.inner.live.lock().expect("jobs lock poisoned").len();
        self.inner.store.share_memory(running).await;
    }

    /// Sets the job's state and saves its record; answers whether it was saved.
    async fn transition(&self, job: &Arc<Job>, state: JobState, error: Option<String>) -> bool {
        {
            let mut s = job.status.lock().expect("job lock poisoned");
            let from = std::mem::replace(&mut s.state, state);
            self.inner.store.metrics().job_state(
                job.kind.as_str(),
                Some(from.as_str()),
                state.as_str(),
                state.is_finished(),
            );
            match state {
                JobState::Running => s.started_at = Some(Utc::now()),
                _ if state.is_finished() => {
                    s.finished_at = Some(Utc::now());
                    s.error = error;
                }
                _ => {}
            }
        }
        match self.save(job).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot save the job record");
                false
            }
        }
    }

    /// Saves the job's record as it stands (the recovery saves the runs that ended unsaved
    /// while the database was away: `JobEnded::saved`).
    pub async fn save(&self, job: &Arc<Job>) -> anyhow::Result<()> {
        let row = to_row(&job.spec, &job.view())?;
        self.inner.store.record(move |conn| records::save_job(conn, &row).context("cannot save the job record")).await
    }

    /// A job by id: the live one if it runs here, else its stored record.
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<JobView>> {
        Ok(self.stored(id).await?.map(|stored| stored.view))
    }

    /// A job's saved record, spec and all (what a resume reads): a live job's as it stands.
    pub async fn stored(&self, id: &str) -> anyhow::Result<Option<StoredJob>> {
        if let Some(job) = self.live(id) {
            return Ok(Some(StoredJob { spec: job.spec.clone(), view: job.view() }));
        }
        let id = id.to_string();
        let row = self.inner.store.read(move |conn| Ok(records::get_job(conn, &id)?)).await?;
        row.map(from_row).transpose()
    }

    /// The job if it runs in this process.
    pub fn live(&self, id: &str) -> Option<Arc<Job>> {
        self.inner.live.lock().expect("jobs lock poisoned").get(id).cloned()
    }

    /// Stops a running job on request, at a page boundary, and answers it once it has stopped
    /// (`cancelled`; its committed pages stay).
    pub async fn cancel(&self, id: &str) -> Result<JobView, CancelError> {
        let Some(job) = self.live(id) else {
            let view = self.get(id).await?.ok_or_else(|| CancelError::NotFound(id.to_string()))?;
            return Err(CancelError::Finished { id: view.id, state: view.state });
        };
        job.cancel.cancel();
        job.finished().await;
        Ok(job.view())
    }

    /// The jobs that run in this process (some may be saving their end).
    pub fn live_jobs(&self) -> Vec<Arc<Job>> {
        self.inner.live.lock().expect("jobs lock poisoned").values().cloned().collect()
    }

    /// Jobs queued or running in this process, oldest first.
    pub fn running(&self) -> Vec<JobView> {
        let mut views: Vec<JobView> =
            self.live_jobs().iter().map(|j| j.view()).filter(|v| !v.state.is_finished()).collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// The most recent jobs, newest first, live progress included (see `list`).
    pub async fn recent(&self, limit: u32) -> anyhow::Result<Vec<JobView>> {
        Ok(self.list(&JobListing::newest(limit)).await?.jobs)
    }

    /// A page of jobs, newest first: a live job as it stands (its progress), the others as
    /// saved. A record this version cannot read is left out with an error in the log, rather
    /// than failing the whole list; the next page still starts after it.
    pub async fn list(&self, listing: &JobListing) -> anyhow::Result<JobPage> {
        let filter = listing.filter();
        let mut rows = self.inner.store.read(move |conn| Ok(records::list_jobs(conn, &filter)?)).await?;
        let size = listing.limit as usize;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|row| row.id.clone())
        } else {
            None
        };
        let jobs = rows
            .into_iter()
            .filter_map(|row| match self.live(&row.id) {
                Some(job) => Some(job.view()),
                None => from_row(row)
                    .map(|stored| stored.view)
                    .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "a job record cannot be read"))
                    .ok(),
            })
            .collect();
        Ok(JobPage { jobs, next })
    }

    /// Stops accepting jobs, cancels the running ones and waits until each has reached a safe
    /// point and saved its record.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// Waits until `job` has really ended: through any resume its interruption promised (a
    /// new run under the same id, see `Job::followed_by`), so `?wait=true` and `duckhaul run`
    /// see the outcome of the whole job. Answers from memory: the database may be busy with
    /// the checkpoint after the job.
    pub async fn settled(&self, job: &Arc<Job>) -> JobView {
        let mut current = job.clone();
        loop {
            current.finished().await;
            match current.next_run().await {
                Some(next) => current = next,
                None => return current.view(),
            }
        }
    }
}
