//! Jobs: what a job is, its live progress, the registry that runs and tracks jobs, and their
//! records in DuckDB.
//!
//! A job is created `queued`, persisted, then run on the shared `TaskTracker` so shutdown can
//! cancel every job and wait until each reaches a safe point. Running jobs live in memory
//! (with atomic progress counters the writer updates on commit); every state change is written
//! to `duckhaul_jobs`, so `/jobs/{id}` and `/status` survive a restart.
//!
//! The registry runs work it is given and knows nothing of what an ingest or an export does:
//! what a kind of job needs after its run (an ingest's checkpoint) it hands in as a hook.
//!
//! - `job`: one live job (status, cancel and interrupt, waiting for its end and for the run
//!   that resumes it).
//! - `progress`: its counters and pace.
//! - `view`: the job as the API shows it, with the details ingests and exports add.
//! - `registry`: running, resuming, cancelling and listing jobs; idempotent starts; each
//!   run's end published (`JobEnded`) for the recovery, which stands beside it.
//! - `list`: a page of the job list as a client asks for it, validated, and as answered.
//! - `start`: what starting a job takes and answers.
//! - `record`: a job to and from its `duckhaul_jobs` row.

mod job;
mod list;
mod progress;
mod record;
mod registry;
mod start;
mod view;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use job::{Interruption, Job, Outcome};
pub use list::{DEFAULT_PAGE_SIZE, JobListing, JobPage, MAX_PAGE_SIZE};
pub use progress::Progress;
pub use record::StoredJob;
pub use registry::{JobEnded, Jobs, MAX_AUTO_RESUMES};
pub use start::{AfterRun, CancelError, IdempotentRequest, NewJob, SpawnError, Spawned, StartError};
pub use view::{ExportedObject, JobLinks, JobView, PageFailure, TableChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Ingest,
    Export,
}

impl JobKind {
    /// The kind of job a spec asks for.
    pub fn of(spec: &crate::spec::JobSpec) -> JobKind {
        match spec {
            crate::spec::JobSpec::Ingest { .. } => JobKind::Ingest,
            crate::spec::JobSpec::Export { .. } => JobKind::Export,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Ingest => "ingest",
            JobKind::Export => "export",
        }
    }
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

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }
}
