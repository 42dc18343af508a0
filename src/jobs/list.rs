//! The list of jobs, newest first, a page at a time: what a client may ask for (`JobListing`,
//! validated once) and what a page is (`JobPage`: its jobs and the cursor of the next one).

use serde::Serialize;
use utoipa::ToSchema;

use super::view::JobView;
use super::{JobKind, JobState};
use crate::store::records::JobFilter;
use crate::validation::Invalid;

/// Jobs a page holds when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most jobs a page may hold: each carries its request and details.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A page of the job list, as asked for and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobListing {
    pub limit: u32,
    /// The page starts after this job (a `JobPage::next`): a job id.
    pub cursor: Option<uuid::Uuid>,
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
}

impl JobListing {
    /// The newest `limit` jobs of every state and kind.
    pub fn newest(limit: u32) -> JobListing {
        JobListing { limit, cursor: None, state: None, kind: None }
    }

    /// What a client asked for, each field checked; every bad one is named.
    pub fn new(
        limit: Option<u32>,
        cursor: Option<&str>,
        state: Option<JobState>,
        kind: Option<JobKind>,
    ) -> Result<JobListing, Invalid> {
        let mut invalid = Invalid::default();
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            invalid.push("limit", format!("must be from 1 to {MAX_PAGE_SIZE}, got {limit}"));
        }
        // A cursor is the `next` of an earlier page, which is a job id; anything else was not
        // given by this service.
        let cursor = match cursor.map(uuid::Uuid::try_parse) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                invalid.push("cursor", "is not the `next` of an earlier page (leave it out for the first page)");
                None
            }
        };
        invalid.or_ok(JobListing { limit, cursor, state, kind })
    }

    /// The rows to read: one more than the page holds, to tell whether another page follows.
    pub(super) fn filter(&self) -> JobFilter {
        JobFilter {
            before: self.cursor.map(|id| id.to_string()),
            state: self.state.map(|s| s.as_str().to_string()),
            kind: self.kind.map(|k| k.as_str().to_string()),
            limit: self.limit as usize + 1,
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"jobs": [], "next": "019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47"}))]
pub struct JobPage {
    /// Newest first; a running job with its live progress.
    pub jobs: Vec<JobView>,
    /// The `cursor` of the next page (older jobs); null on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named_and_defaults_apply() {
        let listing = JobListing::new(None, None, Some(JobState::Failed), None).unwrap();
        assert_eq!(
            listing,
            JobListing { limit: DEFAULT_PAGE_SIZE, state: Some(JobState::Failed), ..JobListing::newest(0) }
        );
        let e = JobListing::new(Some(0), Some("page-2"), None, None).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
        assert!(JobListing::new(Some(MAX_PAGE_SIZE + 1), None, None, None).is_err());
        let id = "019ac4f2-6d1e-7a53-9d0b-3c5f2e8b1a47";
        let listing = JobListing::new(Some(MAX_PAGE_SIZE), Some(id), None, Some(JobKind::Export)).unwrap();
        assert_eq!(
            listing.filter(),
            JobFilter { before: Some(id.into()), state: None, kind: Some("export".into()), limit: 1001 }
        );
    }
}
