//! What an export is asked for: the API's request and mode, and a task's part of a split run.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// The modes a request may ask for (no doc comment: it would change the spec); a part (see
// `Part`) is started by `duckhaul run` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportMode {
    /// Every row of each table.
    #[default]
    Snapshot,
    /// Only rows committed since the table's last successful export.
    Incremental,
}

/// What to export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tables": ["users"], "mode": "snapshot"}))]
pub struct ExportRequest {
    /// Tables to export (default: every data table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    #[serde(default)]
    pub mode: ExportMode,
}

/// Which part of a split run an export is: task `index` of `count` of the run named `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Names the whole run (a Cloud Run Jobs execution); the export's id when `None`.
    pub run: Option<String>,
    pub index: u32,
    pub count: u32,
}
