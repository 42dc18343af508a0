//! What an export is asked for: the API's request and mode, a task's part of a split run, and
//! the scope every export runs with (which rows of a table, and how its objects are named).

pub use crate::spec::{ExportMode, ExportRequest, Part};

use super::naming;
use crate::store::records::ExportKind;
use crate::store::snapshot::SnapshotRange;
use crate::validation::Invalid;

impl ExportRequest {
    /// The tables to export, sorted and without repeats, checked against those that `exist`.
    pub(super) fn tables_to_export(&self, existing: &[String]) -> Result<Vec<String>, Invalid> {
        let tables = match &self.tables {
            None => existing.to_vec(),
            Some(list) => {
                let mut invalid = Invalid::default();
                if list.is_empty() {
                    invalid.push("tables", "list at least one table, or leave tables out to export all of them");
                }
                for (i, t) in list.iter().enumerate() {
                    if !existing.contains(t) {
                        let known = if existing.is_empty() {
                            "there are no tables yet".to_string()
                        } else {
                            format!("tables: {}", existing.join(", "))
                        };
                        invalid.push(format!("tables[{i}]"), format!("no table named '{t}'; {known}"));
                    }
                }
                invalid.or_ok(())?;
                let mut unique = list.clone();
                unique.sort();
                unique.dedup();
                unique
            }
        };
        if tables.is_empty() {
            return Err(Invalid::one("tables", "there are no tables to export yet; ingest first"));
        }
        Ok(tables)
    }
}

/// Which rows of each table an export takes, and how its objects are named.
#[derive(Debug, Clone)]
pub(super) enum Scope {
    Snapshot,
    Incremental,
    /// The rows one ingest job wrote, named as a part of a split run; it does not move the
    /// table's incremental watermark.
    Part {
        ingest_job: String,
        part: Part,
    },
}

impl From<ExportMode> for Scope {
    fn from(mode: ExportMode) -> Scope {
        match mode {
            ExportMode::Snapshot => Scope::Snapshot,
            ExportMode::Incremental => Scope::Incremental,
        }
    }
}

impl Scope {
    pub(super) fn range(&self) -> SnapshotRange {
        match self {
            Scope::Snapshot => SnapshotRange::Full,
            Scope::Incremental => SnapshotRange::SinceLastExport,
            Scope::Part { ingest_job, .. } => SnapshotRange::OfJob(ingest_job.clone()),
        }
    }

    /// Recorded with the export and in its manifest.
    pub(super) fn kind(&self) -> ExportKind {
        match self {
            Scope::Snapshot => ExportKind::Snapshot,
            Scope::Incremental => ExportKind::Incremental,
            Scope::Part { .. } => ExportKind::Part,
        }
    }

    /// The objects' file name without extension: the export's id, or the part's name.
    pub(super) fn stem(&self, export_id: &str) -> String {
        match self {
            Scope::Part { part, .. } => {
                naming::part_stem(part.run.as_deref().unwrap_or(export_id), part.index, part.count)
            }
            Scope::Snapshot | Scope::Incremental => export_id.to_string(),
        }
    }
}
