//! Jobs: ids, states, live progress, cancellation, and their records in DuckDB.
//!
//! A job is created `queued`, persisted, then run on the shared `TaskTracker` so shutdown can
//! cancel every job and wait until each reaches a safe point. Running jobs live in memory
//! (with atomic progress counters the writer updates on commit); every state change is written
//! to `duckhaul_jobs`, so `/jobs/{id}` and `/status` survive a restart.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::ToSchema;

use crate::store::Store;
use crate::store::records::{self, JobRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Ingest,
    Export,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Stopped on request (`POST /jobs/{id}/cancel`); committed pages stay.
    Cancelled,
    /// Stopped by a shutdown or a crash; committed pages stay.
    Interrupted,
}

impl JobState {
    pub fn is_finished(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }

    fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Interrupted,
        }
    }
}

/// A page that could not be fetched or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PageFailure {
    pub page: u32,
    pub seed: i64,
    pub error: String,
}

/// One object an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExportedObject {
    pub table: String,
    /// Where the Parquet file is: `gs://bucket/…` or a local path.
    pub uri: String,
    pub manifest_uri: String,
    pub rows: u64,
    pub bytes: u64,
    /// CRC32C of the object (as GCS computes it), as an unsigned integer.
    #[schema(format = Int64, maximum = 4294967295u32)] // a u32 passes 2^31: int32 clients would overflow
    pub crc32c: u32,
}

/// Kind-specific results kept with the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Details {
    #[serde(default)]
    failed_pages: Vec<PageFailure>,
    #[serde(default)]
    objects: Vec<ExportedObject>,
    #[serde(default)]
    retries: u64,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    rows_per_second: Option<f64>,
    #[serde(default)]
    auto_resumes: u32,
    #[serde(default)]
    throttled: u64,
    #[serde(default)]
    pace_per_minute: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobLinks {
    /// This job: `/jobs/{id}`.
    #[serde(rename = "self")]
    pub self_: String,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47", "kind": "ingest", "state": "succeeded",
    "request": {"resource": "users", "quantity": 5000, "locale": "en_US", "seed": 42, "page_size": 1000, "concurrency": 8},
    "table": "users", "base_seed": 42, "rows": 5000, "pages_done": 5, "pages_total": 5, "error": null, "auto_resumes": 0,
    "retries": 0, "throttled": 0, "pace_per_minute": 30.0,
    "failed_pages": [], "objects": [],
    "created_at": "2026-11-27T03:00:00Z", "started_at": "2026-11-27T03:00:00.012Z", "finished_at": "2026-11-27T03:00:01.250Z",
    "links": {"self": "/jobs/019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47"}
}))]
pub struct JobView {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    /// The request that started the job, as accepted (after defaults).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// The table an ingest writes to.
    pub table: Option<String>,
    /// The seed of page 0 (page i uses base_seed + i), so any page can be fetched again.
    pub base_seed: Option<i64>,
    pub rows: u64,
    pub pages_done: u64,
    pub pages_total: u64,
    /// Rows per second over this run (pages a resumed job had already done are left out);
    /// for a finished job, its average.
    pub rows_per_second: Option<f64>,
    /// Seconds until the last page at this run's pace; only while the job runs.
    pub eta_seconds: Option<f64>,
    /// Transient upstream faults retried so far (429s included).
    pub retries: u64,
    /// Ingest: answers 429 Too Many Requests the upstream gave this job. Each slowed its path's
    /// pace and the page waited its turn again; none spent a page's attempts.
    pub throttled: u64,
    /// Ingest: requests per minute its upstream path is paced at (shared by every job on that
    /// path): the configured rate, lower after 429s; null when unlimited.
    pub pace_per_minute: Option<f64>,
    /// The latest fault seen: a retried request, a failed page or a failed table.
    pub last_error: Option<String>,
    /// Why the job failed or stopped.
    pub error: Option<String>,
    /// Times duckhaul resumed this job by itself, after a restart or a database recovery
    /// (at most `MAX_AUTO_RESUMES`: a job that crashes the process each time must not loop).
    pub auto_resumes: u32,
    /// Ingest: the pages that failed, with their reasons.
    pub failed_pages: Vec<PageFailure>,
    /// Export: every object written.
    pub objects: Vec<ExportedObject>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub links: JobLinks,
}

/// Live counters, updated as pages commit and faults happen.
#[derive(Debug, Default)]
pub struct Progress {
    pages_done: AtomicU64,
    rows: AtomicU64,
    /// What a resumed job had done before this run: counted, but not in this run's pace.
    pages_before: AtomicU64,
    rows_before: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    pace_per_minute: Mutex<Option<f64>>,
    last_error: Mutex<Option<String>>,
}

impl Progress {
    pub fn add(&self, pages: u64, rows: u64) {
        self.pages_done.fetch_add(pages, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    /// Pages a resumed job had already committed.
    pub fn add_done_before(&self, pages: u64, rows: u64) {
        self.pages_before.fetch_add(pages, Ordering::Relaxed);
        self.rows_before.fetch_add(rows, Ordering::Relaxed);
        self.add(pages, rows);
    }

    /// A transient fault that is being retried.
    pub fn retried(&self, error: &str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(error);
    }

    /// A 429 from the upstream; `pace_per_minute` is its path's pace after it.
    pub fn throttled(&self, pace_per_minute: Option<f64>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        self.set_pace(pace_per_minute);
    }

    /// The pace of the job's upstream path now, in requests per minute (`None`: unlimited).
    pub fn set_pace(&self, pace_per_minute: Option<f64>) {
        *self.pace_per_minute.lock().expect("progress lock poisoned") = pace_per_minute;
    }

    fn pace(&self) -> Option<f64> {
        *self.pace_per_minute.lock().expect("progress lock poisoned")
    }

    pub fn set_last_error(&self, error: &str) {
        *self.last_error.lock().expect("progress lock poisoned") = Some(error.to_string());
    }

    fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("progress lock poisoned").clone()
    }
}

/// This run's rows per second and, while running, the seconds left at that pace.
fn pace(p: &Progress, s: &Status, now: DateTime<Utc>) -> (Option<f64>, Option<f64>) {
    let Some(started) = s.started_at else { return (None, None) };
    let elapsed = (s.finished_at.unwrap_or(now) - started).as_seconds_f64();
    if elapsed <= 0.0 {
        return (None, None);
    }
    let rows = p.rows.load(Ordering::Relaxed).saturating_sub(p.rows_before.load(Ordering::Relaxed));
    let done = p.pages_done.load(Ordering::Relaxed);
    let pages = done.saturating_sub(p.pages_before.load(Ordering::Relaxed));
    let eta = (s.state == JobState::Running && pages > 0)
        .then(|| s.pages_total.saturating_sub(done) as f64 * elapsed / pages as f64);
    (Some(rows as f64 / elapsed), eta)
}

#[derive(Debug, Clone)]
struct Status {
    state: JobState,
    table: Option<String>,
    base_seed: Option<i64>,
    pages_total: u64,
    error: Option<String>,
    details: Details,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// A job in this process.
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub request: serde_json::Value,
    /// Cancelled by `cancel`, or by shutdown (a child of the jobs' shutdown token).
    pub cancel: CancellationToken,
    pub progress: Progress,
    status: Mutex<Status>,
    finished: watch::Sender<bool>,
    /// Why the job was interrupted (a database recovery), if it was: it ends `interrupted`
    /// with this reason instead of `cancelled`.
    interruption: Mutex<Option<String>>,
}

/// How a job's work ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded,
    Failed(String),
    /// The cancel token fired; whether that was a request or a shutdown is told apart here.
    Stopped,
}

impl Job {
    pub fn view(&self) -> JobView {
        let s = self.status.lock().expect("job lock poisoned").clone();
        let (rows_per_second, eta_seconds) = pace(&self.progress, &s, Utc::now());
        JobView {
            id: self.id.clone(),
            kind: self.kind,
            state: s.state,
            request: self.request.clone(),
            table: s.table,
            base_seed: s.base_seed,
            rows: self.progress.rows.load(Ordering::Relaxed),
            pages_done: self.progress.pages_done.load(Ordering::Relaxed),
            pages_total: s.pages_total,
            rows_per_second,
            eta_seconds,
            retries: self.progress.retries.load(Ordering::Relaxed),
            throttled: self.progress.throttled.load(Ordering::Relaxed),
            pace_per_minute: self.progress.pace(),
            last_error: self.progress.last_error(),
            error: s.error,
            auto_resumes: s.details.auto_resumes,
            failed_pages: s.details.failed_pages,
            objects: s.details.objects,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            links: links(&self.id),
        }
    }

    pub fn state(&self) -> JobState {
        self.status.lock().expect("job lock poisoned").state
    }

    pub fn set_pages_total(&self, pages: u64) {
        self.status.lock().expect("job lock poisoned").pages_total = pages;
    }

    pub fn add_failed_page(&self, failure: PageFailure) {
        self.progress.set_last_error(&format!("page {}: {}", failure.page, failure.error));
        let mut s = self.status.lock().expect("job lock poisoned");
        s.details.failed_pages.push(failure);
        s.details.failed_pages.sort_by_key(|f| f.page);
    }

    pub fn add_object(&self, object: ExportedObject) {
        self.status.lock().expect("job lock poisoned").details.objects.push(object);
    }

    /// Stops the job at a page boundary as `interrupted`, for `reason`; unlike a cancel, the
    /// job is meant to be resumed.
    pub fn interrupt(&self, reason: &str) {
        self.interruption.lock().expect("job lock poisoned").get_or_insert_with(|| reason.to_string());
        self.cancel.cancel();
    }

    fn interruption(&self) -> Option<String> {
        self.interruption.lock().expect("job lock poisoned").clone()
    }

    /// Whether a database recovery interrupted this run.
    pub fn interrupted_by_recovery(&self) -> bool {
        self.interruption.lock().expect("job lock poisoned").is_some()
    }

    /// Waits until the job has finished (and its final record is saved).
    pub async fn finished(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

fn links(id: &str) -> JobLinks {
    JobLinks { self_: format!("/jobs/{id}") }
}

/// Times duckhaul resumes a job by itself (after restarts or database recoveries) before it
/// leaves it to a person: a job that kills the process or the database each time must not loop.
pub const MAX_AUTO_RESUMES: u32 = 3;

/// What a new job is.
pub struct NewJob {
    pub kind: JobKind,
    pub request: serde_json::Value,
    pub table: Option<String>,
    pub base_seed: Option<i64>,
    pub pages_total: u64,
    /// Makes the start idempotent: the same key with the same request returns this job.
    pub idempotency: Option<IdempotencyKey>,
    /// Resumes duckhaul made by itself so far (0 for a new job).
    pub auto_resumes: u32,
}

/// An `Idempotency-Key` (or Cloud Scheduler's job name and schedule time) and the request as
/// the client sent it (before defaults such as a drawn seed, so a retry matches).
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request: String,
}

/// What `spawn` did.
pub enum Spawned {
    New(Arc<Job>),
    /// The key had already started this job (running or finished).
    Existing(JobView),
}

/// Why a job could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the idempotency key '{0}' was used with a different request")]
    KeyReused(String),
    #[error("duckhaul is shutting down")]
    ShuttingDown,
    /// As many jobs as allowed are queued or running already.
    #[error("{0} jobs are already running, the most allowed at once; try again when one has finished")]
    Busy(usize),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

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
    max_running: std::sync::atomic::AtomicUsize,
    /// Jobs interrupted by a database recovery that will be resumed once it is back: waiting
    /// for them (`settled`) goes on through the gap.
    resuming: Mutex<std::collections::HashSet<String>>,
    /// Jobs whose final record could not be saved (the database was being reopened): the
    /// recovery saves them once it is back.
    unsaved: Mutex<Vec<Arc<Job>>>,
}

impl Jobs {
    /// Starts the registry; jobs the last process left queued or running become `interrupted`.
    pub async fn start(store: Store) -> anyhow::Result<Jobs> {
        let interrupted = store
            .read(|conn| records::mark_unfinished_interrupted(conn).context("cannot mark unfinished jobs"))
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
                max_running: std::sync::atomic::AtomicUsize::new(usize::MAX),
                resuming: Mutex::default(),
                unsaved: Mutex::default(),
            }),
        })
    }

    /// Caps the jobs queued or running at once; starting one more fails with `SpawnError::Busy`.
    pub fn limit_running(&self, max: usize) {
        self.inner.max_running.store(max, Ordering::Relaxed);
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
            return Ok(Spawned::New(self.launch(id, new, Utc::now(), work).await?));
        };
        let _serial = self.inner.keys.lock().await;
        let kind = kind_str(new.kind);
        let (k, found_kind) = (key.key.clone(), kind.to_string());
        let found = self.inner.store.read(move |conn| Ok(records::find_key(conn, &found_kind, &k)?)).await?;
        match found {
            Some((job_id, request)) if request == key.request => {
                let view = self.get(&job_id).await?.context("the job of an idempotency key is missing")?;
                Ok(Spawned::Existing(view))
            }
            Some(_) => Err(SpawnError::KeyReused(key.key)),
            None => Ok(Spawned::New(self.launch(id, new, Utc::now(), work).await?)),
        }
    }

    /// Runs a stopped job again under its own id (resume): its record goes back to `queued`,
    /// and `work` is expected to skip what the job already did.
    /// `by_itself`: duckhaul resumes it (after a restart or a recovery), which is counted.
    pub async fn respawn<F, Fut>(&self, view: &JobView, by_itself: bool, work: F) -> Result<Arc<Job>, SpawnError>
    where
        F: FnOnce(Arc<Job>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let new = NewJob {
            kind: view.kind,
            request: view.request.clone(),
            table: view.table.clone(),
            base_seed: view.base_seed,
            pages_total: view.pages_total,
            idempotency: None,
            auto_resumes: view.auto_resumes + u32::from(by_itself),
        };
        let job = self.launch(view.id.clone(), new, view.created_at, work).await?;
        // Faults of earlier runs still happened; the pace starts afresh (add_done_before).
        job.progress.retries.fetch_add(view.retries, Ordering::Relaxed);
        job.progress.throttled.fetch_add(view.throttled, Ordering::Relaxed);
        if let Some(e) = &view.last_error {
            job.progress.last_error.lock().expect("progress lock poisoned").get_or_insert_with(|| e.clone());
        }
        Ok(job)
    }

    async fn launch<F, Fut>(&self, id: String, new: NewJob, created_at: DateTime<Utc>, work: F) -> Result<Arc<Job>, SpawnError>
    where
        F: FnOnce(Arc<Job>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        if self.inner.shutdown.is_cancelled() {
            return Err(SpawnError::ShuttingDown);
        }
        let (finished, _) = watch::channel(false);
        let job = Arc::new(Job {
            id: id.clone(),
            kind: new.kind,
            request: new.request,
            cancel: self.inner.shutdown.child_token(),
            progress: Progress::default(),
            status: Mutex::new(Status {
                state: JobState::Queued,
                table: new.table,
                base_seed: new.base_seed,
                pages_total: new.pages_total,
                error: None,
                details: Details { auto_resumes: new.auto_resumes, ..Details::default() },
                created_at,
                started_at: None,
                finished_at: None,
            }),
            finished,
            interruption: Mutex::new(None),
        });
        {
            // Claimed before anything is saved, so two resumes of one job cannot both run it.
            let mut live = self.inner.live.lock().expect("jobs lock poisoned");
            if live.contains_key(&id) {
                return Err(anyhow::anyhow!("job {id} is already running").into());
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
                let (row, key) = (to_row(&job.view())?, key.clone());
                self.inner
                    .store
                    .read(move |conn| {
                        records::save_job_with_key(conn, &row, &key.key, &key.request).context("cannot save the job record")
                    })
                    .await
            }
        };
        if let Err(e) = saved {
            self.inner.live.lock().expect("jobs lock poisoned").remove(&id);
            return Err(e.into());
        }
        self.inner.store.metrics().job_state(kind_str(new.kind), None, JobState::Queued.as_str(), false);

        let jobs = self.clone();
        let span = tracing::info_span!("job", id = %id, kind = ?new.kind);
        let runner = job.clone();
        self.inner.tracker.spawn(tracing::Instrument::instrument(
            async move {
                jobs.transition(&runner, JobState::Running, None).await;
                tracing::info!("job started");
                let outcome = work(runner.clone()).await;
                let (mut state, mut error) = match outcome {
                    Outcome::Succeeded => (JobState::Succeeded, None),
                    Outcome::Failed(e) => (JobState::Failed, Some(e)),
                    Outcome::Stopped => match runner.interruption() {
                        Some(reason) => (JobState::Interrupted, Some(reason)),
                        None if jobs.inner.shutdown.is_cancelled() => {
                            (JobState::Interrupted, Some("duckhaul shut down while the job ran; resume it to finish".into()))
                        }
                        None => (JobState::Cancelled, Some("cancelled on request".into())),
                    },
                };
                // A job that failed because the database went away mid-run (its pages "not
                // stored") was interrupted, not failed: the recovery resumes it.
                if state == JobState::Failed
                    && let Some(problem) = jobs.inner.store.health().problem()
                {
                    state = JobState::Interrupted;
                    error = Some(format!("interrupted: {problem}; it resumes by itself once the database is back"));
                    runner.interrupt(error.as_deref().unwrap_or_default());
                    if runner.kind == JobKind::Ingest {
                        jobs.inner.resuming.lock().expect("jobs lock poisoned").insert(runner.id.clone());
                    }
                }
                jobs.transition(&runner, state, error.clone()).await;
                tracing::info!(state = state.as_str(), error = error.as_deref().unwrap_or(""), "job finished");
                if runner.kind == JobKind::Ingest {
                    // Fold the job's rows from the WAL into the file between jobs, where it costs
                    // no ingest latency. Only after the job's record is saved: a checkpoint holds
                    // off every other commit while it runs (~0.15 s per 100,000 users), and the
                    // job is durable without it (its pages are committed to the WAL).
                    let writer = jobs.inner.store.writer();
                    if let Err(e) = async { writer?.request_checkpoint().await }.await {
                        tracing::debug!(error = %format!("{e:#}"), "checkpoint after ingest skipped");
                    }
                }
                jobs.inner.live.lock().expect("jobs lock poisoned").remove(&runner.id);
                jobs.share_memory().await;
                runner.finished.send_replace(true);
            },
            span,
        ));
        Ok(job)
    }

    /// DuckDB's memory limit follows the jobs running (see `Store::share_memory`).
    async fn share_memory(&self) {
        let running = self.inner.live.lock().expect("jobs lock poisoned").len();
        self.inner.store.share_memory(running).await;
    }

    async fn transition(&self, job: &Arc<Job>, state: JobState, error: Option<String>) {
        {
            let mut s = job.status.lock().expect("job lock poisoned");
            let from = std::mem::replace(&mut s.state, state);
            self.inner.store.metrics().job_state(kind_str(job.kind), Some(from.as_str()), state.as_str(), state.is_finished());
            match state {
                JobState::Running => s.started_at = Some(Utc::now()),
                _ if state.is_finished() => {
                    s.finished_at = Some(Utc::now());
                    s.error = error;
                }
                _ => {}
            }
        }
        if let Err(e) = self.save(job).await {
            tracing::error!(error = %format!("{e:#}"), "cannot save the job record");
            if state.is_finished() {
                let mut unsaved = self.inner.unsaved.lock().expect("jobs lock poisoned");
                if !unsaved.iter().any(|j| Arc::ptr_eq(j, job)) {
                    unsaved.push(job.clone());
                }
            }
        }
    }

    /// Saves the job's record as it stands (the recovery saves those whose own save failed
    /// while the database was away).
    pub async fn save(&self, job: &Arc<Job>) -> anyhow::Result<()> {
        let row = to_row(&job.view())?;
        self.inner.store.read(move |conn| records::save_job(conn, &row).context("cannot save the job record")).await
    }

    /// A job by id: the live one if it runs here, else its stored record.
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<JobView>> {
        if let Some(job) = self.live(id) {
            return Ok(Some(job.view()));
        }
        let id = id.to_string();
        let row = self.inner.store.read(move |conn| Ok(records::get_job(conn, &id)?)).await?;
        row.map(from_row).transpose()
    }

    /// The job if it runs in this process.
    pub fn live(&self, id: &str) -> Option<Arc<Job>> {
        self.inner.live.lock().expect("jobs lock poisoned").get(id).cloned()
    }

    /// Jobs queued or running in this process, oldest first.
    pub fn running(&self) -> Vec<JobView> {
        let live: Vec<Arc<Job>> = self.inner.live.lock().expect("jobs lock poisoned").values().cloned().collect();
        let mut views: Vec<JobView> = live.iter().map(|j| j.view()).filter(|v| !v.state.is_finished()).collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// The most recent jobs, newest first, live progress included.
    pub async fn recent(&self, limit: usize) -> anyhow::Result<Vec<JobView>> {
        let rows = self.inner.store.read(move |conn| Ok(records::recent_jobs(conn, limit)?)).await?;
        rows.into_iter()
            .map(|row| match self.live(&row.id) {
                Some(job) => Ok(job.view()),
                None => from_row(row),
            })
            .collect()
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

    /// Interrupts every live job and waits (up to `wait`) until each has stopped. `plan` says
    /// for each job why, and whether it will be resumed: those are marked as about to be, so
    /// `settled` waits for their next run. Returns the jobs and whether each is to be resumed.
    pub async fn interrupt_all(
        &self,
        wait: std::time::Duration,
        plan: impl Fn(&Job) -> (String, bool),
    ) -> Vec<(Arc<Job>, bool)> {
        let live: Vec<Arc<Job>> = self.inner.live.lock().expect("jobs lock poisoned").values().cloned().collect();
        let mut planned = Vec::with_capacity(live.len());
        for job in live {
            let (reason, resume) = plan(&job);
            if resume {
                self.inner.resuming.lock().expect("jobs lock poisoned").insert(job.id.clone());
            }
            job.interrupt(&reason);
            planned.push((job, resume));
        }
        let live: Vec<Arc<Job>> = planned.iter().map(|(j, _)| j.clone()).collect();
        let all = futures::future::join_all(live.iter().map(|j| j.finished()));
        if tokio::time::timeout(wait, all).await.is_err() {
            tracing::warn!(wait_secs = wait.as_secs(), "some interrupted jobs did not stop in time");
        }
        planned
    }

    /// The finished jobs whose final record could not be saved, to save now.
    pub fn take_unsaved(&self) -> Vec<Arc<Job>> {
        std::mem::take(&mut *self.inner.unsaved.lock().expect("jobs lock poisoned"))
    }

    /// The job is resumed (or will not be): `settled` stops waiting for it.
    pub fn resumed(&self, id: &str) {
        self.inner.resuming.lock().expect("jobs lock poisoned").remove(id);
    }

    /// Waits until `job` has really ended: through any resume a database recovery makes (a
    /// new run under the same id), so `?wait=true` and `duckhaul run` see the outcome of the
    /// whole job. Answers from memory (the database may be busy with the checkpoint after
    /// the job), but for a run that was resumed and ended between two looks: its record.
    pub async fn settled(&self, job: &Arc<Job>) -> JobView {
        let mut current = job.clone();
        loop {
            current.finished().await;
            loop {
                match self.live(&current.id) {
                    Some(next) if !Arc::ptr_eq(&next, &current) => {
                        current = next;
                        break;
                    }
                    _ if self.inner.resuming.lock().expect("jobs lock poisoned").contains(&current.id) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    _ if current.interrupted_by_recovery() => {
                        return self.get(&current.id).await.ok().flatten().unwrap_or_else(|| current.view());
                    }
                    _ => return current.view(),
                }
            }
        }
    }
}

fn kind_str(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Ingest => "ingest",
        JobKind::Export => "export",
    }
}

fn to_row(v: &JobView) -> anyhow::Result<JobRow> {
    Ok(JobRow {
        id: v.id.clone(),
        kind: kind_str(v.kind).into(),
        state: v.state.as_str().into(),
        request: v.request.to_string(),
        target_table: v.table.clone(),
        base_seed: v.base_seed,
        pages_total: v.pages_total,
        pages_done: v.pages_done,
        rows: v.rows,
        error: v.error.clone(),
        details: serde_json::to_string(&Details {
            failed_pages: v.failed_pages.clone(),
            objects: v.objects.clone(),
            retries: v.retries,
            last_error: v.last_error.clone(),
            rows_per_second: v.rows_per_second,
            throttled: v.throttled,
            pace_per_minute: v.pace_per_minute,
            auto_resumes: v.auto_resumes,
        })?,
        created_at: v.created_at,
        started_at: v.started_at,
        finished_at: v.finished_at,
    })
}

fn from_row(r: JobRow) -> anyhow::Result<JobView> {
    let details: Details = serde_json::from_str(&r.details).context("corrupt job details")?;
    Ok(JobView {
        links: links(&r.id),
        id: r.id,
        kind: if r.kind == "export" { JobKind::Export } else { JobKind::Ingest },
        state: JobState::parse(&r.state),
        request: serde_json::from_str(&r.request).context("corrupt job request")?,
        table: r.target_table,
        base_seed: r.base_seed,
        rows: r.rows,
        pages_done: r.pages_done,
        pages_total: r.pages_total,
        rows_per_second: details.rows_per_second,
        eta_seconds: None,
        retries: details.retries,
        throttled: details.throttled,
        pace_per_minute: details.pace_per_minute,
        last_error: details.last_error,
        error: r.error,
        auto_resumes: details.auto_resumes,
        failed_pages: details.failed_pages,
        objects: details.objects,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
    })
}
