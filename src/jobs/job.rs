//! One job in this process: its status, its cancel token, waiting for its end, and what
//! follows a run interrupted to be resumed.

use std::sync::{Arc, Mutex};

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
    /// shutdown token). The job's work watches it; only the registry and `interrupt` fire it.
    pub cancel: CancellationToken,
    pub progress: Progress,
    /// Whether the job can run again under its id, skipping what it did (ingests): a recovery
    /// that interrupts it then resumes it.
    resumable: bool,
    pub(super) status: Mutex<JobStatus>,
    pub(super) finished: watch::Sender<bool>,
    /// Why the job was interrupted (a database recovery), if it was: it ends `interrupted`
    /// with this reason instead of `cancelled`.
    interruption: Mutex<Option<Interruption>>,
    /// The run that takes over once this one has stopped, if one does.
    next: watch::Sender<NextRun>,
}

/// Why a job is stopped from outside it (not on request, not by a shutdown), and whether it is
/// to run again under its id once what stopped it is over.
#[derive(Debug, Clone)]
pub struct Interruption {
    pub reason: String,
    pub resume: bool,
}

/// What follows a run.
enum NextRun {
    /// Nothing: its end is the job's end.
    None,
    /// It was interrupted to be resumed, and the resume is not made yet.
    Pending,
    /// The resume's run.
    Run(Arc<Job>),
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
    pub(super) fn new(id: String, spec: JobSpec, resumable: bool, cancel: CancellationToken, status: JobStatus) -> Job {
        let (finished, _) = watch::channel(false);
        let (next, _) = watch::channel(NextRun::None);
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
            next,
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
            quarantined: counts.quarantined,
            discarded_values: counts.discarded_values,
            schema_changes: counts.schema_changes,
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

    /// Whether the job can run again under its id, skipping what it did (ingests).
    pub fn resumable(&self) -> bool {
        self.resumable
    }

    /// Stops the job at a page boundary as `interrupted`; unlike a cancel, the job is meant to
    /// be resumed, and with `resume` someone will (see `followed_by`). The first interruption
    /// holds.
    pub fn interrupt(&self, interruption: Interruption) {
        {
            let mut current = self.interruption.lock().expect("job lock poisoned");
            if current.is_none() {
                if interruption.resume {
                    self.next.send_replace(NextRun::Pending);
                }
                *current = Some(interruption);
            }
        }
        self.cancel.cancel();
    }

    pub fn interruption(&self) -> Option<Interruption> {
        self.interruption.lock().expect("job lock poisoned").clone()
    }

    /// Whether the job was interrupted to be resumed and the resume is not made yet.
    pub fn awaits_resume(&self) -> bool {
        matches!(*self.next.borrow(), NextRun::Pending)
    }

    /// Settles a resume the interruption promised: `next` is the run that took over, or `None`
    /// if there is none (the resume failed, or the job did not stop in time). Does nothing
    /// unless a resume is pending.
    pub fn followed_by(&self, next: Option<Arc<Job>>) {
        self.next.send_if_modified(|current| {
            if !matches!(current, NextRun::Pending) {
                return false;
            }
            *current = next.map_or(NextRun::None, NextRun::Run);
            true
        });
    }

    /// The run that took over from this one, once a pending resume is settled.
    pub async fn next_run(&self) -> Option<Arc<Job>> {
        let mut rx = self.next.subscribe();
        let next = rx.wait_for(|next| !matches!(next, NextRun::Pending)).await;
        match next.as_deref() {
            Ok(NextRun::Run(job)) => Some(job.clone()),
            _ => None,
        }
    }

    /// Waits until the job has finished (and its final record is saved).
    pub async fn finished(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn job(id: &str) -> Arc<Job> {
        let status = JobStatus {
            state: JobState::Running,
            table: None,
            pages_total: 1,
            error: None,
            details: Details::default(),
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
        };
        let request = serde_json::from_value(serde_json::json!({"resource": "users", "quantity": 1})).unwrap();
        let spec = JobSpec::Ingest { request, shard: crate::spec::Shard::WHOLE };
        Arc::new(Job::new(id.into(), spec, true, CancellationToken::new(), status))
    }

    fn interruption(reason: &str, resume: bool) -> Interruption {
        Interruption { reason: reason.into(), resume }
    }

    #[tokio::test]
    async fn a_run_interrupted_to_be_resumed_is_followed_by_the_resume_once_it_is_made() {
        let (first, second) = (job("j1"), job("j1"));
        first.interrupt(interruption("the database went away", true));
        assert!(first.cancel.is_cancelled() && first.awaits_resume());
        let waiting = tokio::spawn({
            let first = first.clone();
            async move { first.next_run().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no run follows yet");
        first.followed_by(Some(second.clone()));
        let next = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&next.unwrap(), &second));
        // Settled once: a later word changes nothing.
        first.followed_by(None);
        assert!(Arc::ptr_eq(&first.next_run().await.unwrap(), &second));
    }

    #[tokio::test]
    async fn a_run_not_to_be_resumed_has_no_next_run_and_the_first_interruption_holds() {
        let run = job("j2");
        assert!(run.next_run().await.is_none());
        run.interrupt(interruption("first", false));
        run.interrupt(interruption("second", true));
        assert_eq!(run.interruption().unwrap().reason, "first");
        assert!(!run.awaits_resume());
        assert!(run.next_run().await.is_none());
        // A resume no interruption promised is not taken.
        run.followed_by(Some(job("j2")));
        assert!(run.next_run().await.is_none());
    }
}
