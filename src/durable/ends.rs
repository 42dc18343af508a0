//! How each ingest ended, recorded in the log, so a fresh instance does not resume a job that
//! finished: a success by the run itself before it is answered, a failure or a cancel as the
//! registry publishes it.

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;

use super::objects::EndObject;
use super::{Durable, layout, write_json};
use crate::jobs::{JobEnded, JobKind, JobState, JobView, Jobs};

impl Durable {
    /// Records each ingest's end in the log as the registry publishes it. An interrupted run
    /// records nothing: a fresh instance is to resume it.
    pub fn follow_ends(&self, jobs: &Jobs) -> tokio::task::JoinHandle<()> {
        let mut ends = jobs.ends();
        let durable = self.clone();
        tokio::spawn(async move {
            loop {
                match ends.recv().await {
                    Ok(ended) => durable.record_end(&ended).await,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "job ends not recorded in the destination; a fresh instance resumes them"
                        );
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        })
    }

    async fn record_end(&self, ended: &JobEnded) {
        // A success is recorded by the run itself, before it is answered (`job_succeeded`).
        let finished = matches!(ended.state, JobState::Failed | JobState::Cancelled);
        if ended.job.kind != JobKind::Ingest || !finished {
            return;
        }
        if let Err(e) = self.record_state(&ended.job.view(), ended.state).await {
            tracing::warn!(job = %ended.job.id, error = %format!("{e:#}"), "the job's end is not recorded in the destination");
        }
    }

    /// Records that an ingest's run succeeded, every page durable: before the job says so, so
    /// that a fresh instance never resumes a job whose client was told it succeeded.
    pub async fn job_succeeded(&self, view: &JobView) -> anyhow::Result<()> {
        self.record_state(view, JobState::Succeeded).await
    }

    async fn record_state(&self, view: &JobView, state: JobState) -> anyhow::Result<()> {
        let Some(table) = view.table.clone() else { return Ok(()) };
        if self.store().table_ddl(&table).await?.is_none() {
            // No table: the job stored no record (an empty resource), so nothing of it is
            // durable, and a fresh instance has nothing to carry on.
            return Ok(());
        }
        let now = Utc::now();
        let end = EndObject {
            state: state.as_str().to_string(),
            error: view.error.clone(),
            pages_done: view.pages_done,
            rows: view.rows,
            finished_at: now,
        };
        self.describe(&view.id, &table).await?;
        write_json(self.sink(), &layout::end_object(&table, &view.id, now, state.as_str()), &end).await?;
        Ok(())
    }
}
