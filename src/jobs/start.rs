//! What starting a job takes, and what it answers: the one place for job-start outcomes, so
//! ingest and export start jobs alike and the API maps one error type.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::job::Job;
use super::view::JobView;
use crate::spec::JobSpec;
use crate::validation::Invalid;

/// Work a kind of job needs done once its final record is saved, before it counts as finished
/// (an ingest folds its rows from the WAL into the file): the registry runs it without
/// knowing what it is.
pub type AfterRun = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// What a new job is.
pub struct NewJob {
    /// What the job is asked to do, as saved (its kind follows from it).
    pub spec: JobSpec,
    pub table: Option<String>,
    pub pages_total: u64,
    /// Makes the start idempotent: the same key with the same request returns this job.
    pub idempotency: Option<IdempotentRequest>,
    /// Whether the job can run again under its id, skipping what it did (ingests): a job a
    /// database recovery interrupts is then resumed by it.
    pub resumable: bool,
    pub after_run: Option<AfterRun>,
}

/// An `Idempotency-Key` (or Cloud Scheduler's job name and schedule time) and the request as
/// the client sent it (before defaults such as a drawn seed, so a retry matches).
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub key: String,
    pub request: String,
}

/// What `Jobs::spawn` did.
pub enum Spawned {
    New(Arc<Job>),
    /// The key had already started this job (running or finished).
    Existing(JobView),
}

/// Why the registry could not run a job.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the idempotency key '{0}' was used with a different request")]
    KeyReused(String),
    #[error("duckhaul is shutting down")]
    ShuttingDown,
    /// As many jobs as allowed are queued or running already.
    #[error("{0} jobs are already running, the most allowed at once; try again when one has finished")]
    Busy(usize),
    /// The job runs already (two resumes of one job): the caller's conflict, unlike
    /// `Unexpected` (the database), whose details stay in the log.
    #[error("job {0} is already running; wait for it or cancel it")]
    AlreadyRunning(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why an ingest or an export could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Fields that are fine alone but not together, or not with the database (no tables).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The request clashes with what the database holds (a table with other columns).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why a job could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no job {0}")]
    NotFound(String),
    #[error("job {id} has already finished ({})", state.as_str())]
    Finished { id: String, state: super::JobState },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
