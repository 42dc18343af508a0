//! A job to and from its row in `duckhaul_jobs`. A row this version cannot read (an unknown
//! kind or state) is an error, not a guess: calling it `interrupted` would offer a resume of
//! a job nobody knows the state of.

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::view::{ExportedObject, JobLinks, JobView, PageFailure, TableChange};
use super::{JobKind, JobState};
use crate::spec::JobSpec;
use crate::store::records::JobRow;

/// What a job keeps besides its columns, stored as JSON in `details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Details {
    #[serde(default)]
    pub failed_pages: Vec<PageFailure>,
    #[serde(default)]
    pub objects: Vec<ExportedObject>,
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub rows_per_second: Option<f64>,
    #[serde(default)]
    pub auto_resumes: u32,
    #[serde(default)]
    pub throttled: u64,
    #[serde(default)]
    pub pace_per_minute: Option<f64>,
    #[serde(default)]
    pub quarantined: Option<u64>,
    #[serde(default)]
    pub discarded_values: Option<u64>,
    #[serde(default)]
    pub schema_changes: Vec<TableChange>,
}

/// A job as saved: its spec (what a resume reads) and what the API shows of it.
#[derive(Debug, Clone)]
pub struct StoredJob {
    pub spec: JobSpec,
    pub view: JobView,
}

/// The row of a job: its spec saved under `request`, the view's columns and details.
pub(super) fn to_row(spec: &JobSpec, v: &JobView) -> anyhow::Result<JobRow> {
    Ok(JobRow {
        id: v.id.clone(),
        kind: v.kind.as_str().into(),
        state: v.state.as_str().into(),
        request: spec.to_stored(),
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
            quarantined: v.quarantined,
            discarded_values: v.discarded_values,
            schema_changes: v.schema_changes.clone(),
        })?,
        created_at: v.created_at,
        started_at: v.started_at,
        finished_at: v.finished_at,
    })
}

pub(super) fn from_row(r: JobRow) -> anyhow::Result<StoredJob> {
    let details: Details =
        serde_json::from_str(&r.details).with_context(|| format!("job {}: corrupt details", r.id))?;
    let kind = parse_kind(&r.kind).with_context(|| format!("job {}", r.id))?;
    let spec = JobSpec::from_stored(kind == JobKind::Ingest, &r.request)
        .with_context(|| format!("job {}: corrupt request", r.id))?;
    let view = JobView {
        links: JobLinks::of(&r.id),
        kind,
        state: parse_state(&r.state).with_context(|| format!("job {}", r.id))?,
        request: spec.request_view(),
        id: r.id,
        table: r.target_table,
        base_seed: spec.base_seed(),
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
        quarantined: details.quarantined,
        discarded_values: details.discarded_values,
        schema_changes: details.schema_changes,
        objects: details.objects,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
    };
    Ok(StoredJob { spec, view })
}

fn parse_kind(s: &str) -> anyhow::Result<JobKind> {
    [JobKind::Ingest, JobKind::Export]
        .into_iter()
        .find(|k| k.as_str() == s)
        .with_context(|| format!("unknown job kind '{s}' in the database"))
}

fn parse_state(s: &str) -> anyhow::Result<JobState> {
    use JobState::*;
    [Queued, Running, Succeeded, Failed, Cancelled, Interrupted]
        .into_iter()
        .find(|st| st.as_str() == s)
        .with_context(|| format!("unknown job state '{s}' in the database"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str) -> JobRow {
        JobRow {
            id: "j1".into(),
            kind: "ingest".into(),
            state: state.into(),
            request: r#"{"resource": "users", "quantity": 3000, "seed": 7}"#.into(),
            target_table: Some("users".into()),
            base_seed: Some(7),
            pages_total: 3,
            pages_done: 2,
            rows: 2000,
            error: None,
            details: r#"{"retries": 4, "auto_resumes": 1}"#.into(),
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_row_comes_back_as_it_was_saved() {
        let StoredJob { spec, view } = from_row(row("cancelled")).unwrap();
        assert_eq!(
            (view.kind, view.state, view.retries, view.auto_resumes),
            (JobKind::Ingest, JobState::Cancelled, 4, 1)
        );
        assert_eq!(to_row(&spec, &view).unwrap().state, "cancelled");
        let again = from_row(to_row(&spec, &view).unwrap()).unwrap();
        assert_eq!(again.spec, spec);
        assert_eq!((again.view.rows, again.view.pages_done, again.view.base_seed), (2000, 2, Some(7)));
    }

    #[test]
    fn an_unknown_state_is_an_error_not_interrupted() {
        let e = from_row(row("paused")).unwrap_err();
        assert_eq!(format!("{e:#}"), "job j1: unknown job state 'paused' in the database");
    }
}
