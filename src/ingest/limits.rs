//! What holds one run of an ingest back or stops it, shared by Faker's pages and a described
//! source's: the job's own rate, its deadline, cancel (and shutdown); and how much the
//! upstream's throttle held it back, for the reason a missed deadline gives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::jobs::{Job, Outcome};
use crate::source::FetchEvent;

pub(super) struct RunLimits {
    /// The job's `rate_limit_per_minute`, on top of the path's pace.
    pub job_limit: Option<governor::DefaultDirectRateLimiter>,
    /// Fires on cancel, shutdown, interrupt or the job's deadline: fetching stops, pages
    /// already queued still commit.
    pub fetching: CancellationToken,
    deadline: Option<Duration>,
    deadline_hit: Arc<AtomicBool>,
    _deadline: Option<AbortOnDropHandle<()>>,
    /// 429s met.
    throttled: AtomicU64,
    /// Whether any request waited for its turn at the path's pace.
    paced: AtomicBool,
}

impl RunLimits {
    pub fn new(job: &Job, rate_limit_per_minute: Option<u32>, deadline: Option<Duration>) -> RunLimits {
        let job_limit = rate_limit_per_minute
            .and_then(std::num::NonZeroU32::new)
            .map(|n| governor::RateLimiter::direct(governor::Quota::per_minute(n)));
        let fetching = job.cancel.child_token();
        let deadline_hit = Arc::new(AtomicBool::new(false));
        let watch = deadline.map(|limit| {
            let (fetching, hit) = (fetching.clone(), deadline_hit.clone());
            AbortOnDropHandle::new(tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                hit.store(true, Ordering::Relaxed);
                fetching.cancel();
            }))
        });
        RunLimits {
            job_limit,
            fetching,
            deadline,
            deadline_hit,
            _deadline: watch,
            throttled: AtomicU64::new(0),
            paced: AtomicBool::new(false),
        }
    }

    /// What a fetch tells: retries and 429s go to the job's live progress.
    pub fn hear(&self, job: &Job, event: FetchEvent<'_>) {
        match event {
            FetchEvent::Retried(e) => job.progress.retried(&e.to_string()),
            FetchEvent::Throttled { error, pace_per_minute } => {
                job.progress.retried(&error.to_string());
                job.progress.throttled(pace_per_minute);
                self.throttled.fetch_add(1, Ordering::Relaxed);
            }
            FetchEvent::Paced(_) => self.paced.store(true, Ordering::Relaxed),
        }
    }

    /// The job's failure when its deadline passed, saying whether the upstream's throttle was
    /// why; `pace` is the path's pace now.
    pub fn missed_deadline(&self, job: &Job, pace: Option<f64>) -> Option<Outcome> {
        if !self.deadline_hit.load(Ordering::Relaxed) {
            return None;
        }
        let secs = self.deadline.map(|d| d.as_secs()).unwrap_or_default();
        let view = job.view();
        let left = view.pages_total.saturating_sub(view.pages_done);
        let answers = self.throttled.load(Ordering::Relaxed);
        if answers > 0 || self.paced.load(Ordering::Relaxed) {
            let pace = match pace {
                Some(pace) => format!("paced at {pace:.1} requests/min"),
                None => "unpaced".to_string(),
            };
            return Some(Outcome::Failed(format!(
                "the job's deadline of {secs} s passed with {left} of {} pages still to fetch: the upstream throttled it \
                 ({answers} answers 429 Too Many Requests in this run, {pace}); the {} pages stored are kept: resume it to finish",
                view.pages_total, view.pages_done
            )));
        }
        Some(Outcome::Failed(format!(
            "the job's deadline of {secs} s passed with {left} of {} pages still to fetch; resume it to finish",
            view.pages_total
        )))
    }
}
