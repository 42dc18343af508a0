//! How each ingest ended, recorded in the log, so a fresh instance does not resume a job that
//! finished.

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;

use super::objects::EndObject;
use super::{Durable, layout, write_json};
use crate::jobs::{JobEnded, JobKind, JobState, Jobs};

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
        let finished = matches!(ended.state, JobState::Succeeded | JobState::Failed | JobState::Cancelled);
        if ended.job.kind != JobKind::Ingest || !finished {
            return;
        }
        let view = ended.job.view();
        let Some(table) = view.table.clone() else { return };
        let now = Utc::now();
        let end = EndObject {
            state: ended.state.as_str().to_string(),
            error: view.error.clone(),
            pages_done: view.pages_done,
            rows: view.rows,
            finished_at: now,
        };
        let recorded = async {
            self.describe(&view.id, &table).await?;
            write_json(self.sink(), &layout::end_object(&table, &view.id, now, ended.state.as_str()), &end).await
        };
        if let Err(e) = recorded.await {
            tracing::warn!(job = %view.id, error = %format!("{e:#}"), "the job's end is not recorded in the destination");
        }
    }
}
