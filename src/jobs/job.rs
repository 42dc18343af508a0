//! One job in this process: its status, its cancel token, and waiting for its end.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::progress::Progress;
use super::record::Details;
use super::view::{ExportedObject, JobLinks, JobView, PageFailure};
use super::{JobKind, JobState};
use crate::spec::JobSpec;

/// A job in this process.
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    /// What the job is asked to do: what is saved, and what a resume reads.
    pub spec: JobSpec,
    /// Cancelled by `Jobs::cancel`, by an interrupt, or by shutdown (a child of the jobs'
    /// shutdown token). The job's work watches it; only the registry fires it.
    pub cancel: CancellationToken,
    pub progress: Progress,
    /// Whether the job can run again under its id, skipping what it did (ingests): a recovery
    /// that interrupts it then resumes it.
    pub(super) resumable: bool,
    pub(super) status: Mutex<JobStatus>,
    pub(super) finished: watch::Sender<bool>,
    /// Why the job was interrupted (a database recovery), if it was: it ends `interrupted`
    /// with this reason instead of `cancelled`.
    interruption: Mutex<Option<String>>,
}

/// Where a job stands: what the registry changes as it runs.
#[derive(Debug, Clone)]
pub(super) struct JobStatus {
    pub state: JobState,
    pub table: Option<String>,
    pub pages_total: u64,
    pub error: Option<String>,
    pub details: Details,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a job's work ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded,
    Failed(String),
    /// The cancel token fired; whether that was a request, an interrupt or a shutdown is told
    /// apart by the registry.
    Stopped,
}

impl Job {
    pub(super) fn new(
        id: String,
        spec: JobSpec,
        resumable: bool,
        cancel: CancellationToken,
        status: JobStatus,
    ) -> Job {
        let (finished, _) = watch::channel(false);
        Job {
            id,
            kind: JobKind::of(&spec),
            spec,
            cancel,
            progress: Progress::default(),
            resumable,
            status: Mutex::new(status),
            finished,
            interruption: Mutex::new(None),
        }
    }

    pub fn view(&self) -> JobView {
        let s = self.status.lock().expect("job lock poisoned").clone();
        let (rows_per_second, eta_seconds) = self.progress.pace(
            s.started_at,
            s.finished_at.unwrap_or_else(Utc::now),
            s.state == JobState::Running,
            s.pages_total,
        );
        let counts = self.progress.counts();
        JobView {
            id: self.id.clone(),
            kind: self.kind,
            state: s.state,
            request: self.spec.request_view(),
            table: s.table,
            base_seed: self.spec.base_seed(),
            rows: counts.rows,
            pages_done: counts.pages_done,
            pages_total: s.pages_total,
            rows_per_second,
            eta_seconds,
            retries: counts.retries,
            throttled: counts.throttled,
            pace_per_minute: counts.pace_per_minute,
            last_error: counts.last_error,
            error: s.error,
            auto_resumes: s.details.auto_resumes,
            failed_pages: s.details.failed_pages,
            objects: s.details.objects,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            links: JobLinks::of(&self.id),
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

    pub(super) fn interruption(&self) -> Option<String> {
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
