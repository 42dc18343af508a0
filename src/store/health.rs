//! Whether the database can serve.
//!
//! DuckDB answers some failures (a checkpoint that cannot allocate a block, an I/O error on
//! the WAL, an internal assertion) by invalidating the whole database: every later statement
//! on that instance fails with "database has been invalidated". The instance cannot be
//! repaired, but the file can: closing every connection and opening it again replays the WAL
//! (committed pages are intact). `Store` reports such errors (`StoreError::Fatal`) here, and
//! `crate::recovery` reopens the database while `/healthz` answers 503.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The database's state, as `/healthz` and `/status` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StoreHealth {
    /// Open and usable.
    Ready,
    /// DuckDB invalidated the database; it is being closed and opened again.
    Reopening {
        /// The DuckDB error that invalidated it.
        reason: String,
        since: DateTime<Utc>,
    },
    /// Reopening failed: the process exits so that a fresh instance takes over.
    Lost { reason: String, since: DateTime<Utc> },
}

impl StoreHealth {
    pub fn is_ready(&self) -> bool {
        matches!(self, StoreHealth::Ready)
    }

    /// Why the database cannot be used, for errors and the health check.
    pub fn problem(&self) -> Option<String> {
        match self {
            StoreHealth::Ready => None,
            StoreHealth::Reopening { reason, .. } => {
                Some(format!("the database is being reopened after a fatal DuckDB error: {reason}"))
            }
            StoreHealth::Lost { reason, .. } => Some(format!("the database could not be reopened: {reason}")),
        }
    }
}

/// The error every store call returns while the database is not open. The HTTP boundary
/// answers it with 503, not 500: the condition is temporary and says nothing of the request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);
