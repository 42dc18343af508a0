//! What a job is asked to do, typed: the requests the API takes, and the `JobSpec` each job
//! stores. The spec is what is saved for a job and what a resume reads; the API's answer
//! (`jobs::JobView`) is derived from it at the edge, so nothing the API shows has to be parsed
//! back, and a value that means nothing for a job (a seed for pages that have none) is absent.
//!
//! It sits below `jobs` (which stores specs without knowing what an ingest or an export does)
//! and above `catalog`.

mod export;
mod ingest;
mod shard;

use serde::{Deserialize, Serialize};

use crate::catalog::sources::BUILTIN_SOURCE;

pub use export::{ExportMode, ExportRequest, Part};
pub use ingest::{IngestRequest, ResourceName};
pub use shard::Shard;

/// What one job is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobSpec {
    /// A source's resource into its table.
    Ingest {
        /// As accepted: defaults filled in (Faker's drawn seed among them), so a resume fetches
        /// the same pages.
        request: IngestRequest,
        /// The pages this job takes: all of them, or a task's share of a split run.
        #[serde(default = "whole", skip_serializing_if = "is_whole")]
        shard: Shard,
    },
    /// Tables to Parquet objects.
    Export {
        /// As accepted: the tables listed.
        request: ExportRequest,
        /// A task's part of a split run: only the rows `ingest_job` wrote, named as the part.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<PartOf>,
    },
}

/// The part of a split run an export writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartOf {
    pub ingest_job: String,
    pub part: Part,
}

fn whole() -> Shard {
    Shard::WHOLE
}

fn is_whole(shard: &Shard) -> bool {
    shard.is_whole()
}

impl JobSpec {
    /// The request as the API shows it under `request`: an ingest's or export's as accepted; a
    /// part export's as it has always been shown (the table, `mode: part`, the ingest job and
    /// the part).
    pub fn request_view(&self) -> serde_json::Value {
        match self {
            JobSpec::Ingest { request, .. } => serde_json::to_value(request).expect("a request serialises"),
            JobSpec::Export { request, part: None } => serde_json::to_value(request).expect("a request serialises"),
            JobSpec::Export { request, part: Some(PartOf { ingest_job, part }) } => serde_json::json!({
                "tables": request.tables, "mode": "part", "ingest_job": ingest_job,
                "run": part.run, "part": part.index, "parts": part.count,
            }),
        }
    }

    /// The seed of page 0, where the job's pages have seeds (Faker's: page i has base + i).
    pub fn base_seed(&self) -> Option<i64> {
        match self {
            JobSpec::Ingest { request, .. } if request.is_builtin() => request.seed,
            _ => None,
        }
    }

    /// Reads a spec as saved; a job saved before specs were (its request alone, a source's
    /// task share beside it under `task`) is read into one.
    pub fn from_stored(ingest: bool, stored: &str) -> anyhow::Result<JobSpec> {
        let value: serde_json::Value = serde_json::from_str(stored)?;
        let tagged =
            value.as_object().is_some_and(|o| o.len() == 1 && (o.contains_key("ingest") || o.contains_key("export")));
        if tagged {
            return Ok(serde_json::from_value(value)?);
        }
        Ok(if ingest {
            let mut value = value;
            let task = value.as_object_mut().and_then(|o| o.remove("task"));
            let shard = task.map(serde_json::from_value).transpose()?.unwrap_or(Shard::WHOLE);
            JobSpec::Ingest { request: serde_json::from_value(value)?, shard }
        } else if value["mode"] == "part" {
            let number = |key: &str| value[key].as_u64().and_then(|n| u32::try_from(n).ok());
            let part = Part {
                run: value["run"].as_str().map(str::to_string),
                index: number("part").ok_or_else(|| anyhow::anyhow!("a part export without its part"))?,
                count: number("parts").ok_or_else(|| anyhow::anyhow!("a part export without its parts"))?,
            };
            let tables = serde_json::from_value(value["tables"].clone())?;
            let ingest_job = value["ingest_job"].as_str().unwrap_or_default().to_string();
            JobSpec::Export {
                request: ExportRequest { tables, mode: ExportMode::Snapshot },
                part: Some(PartOf { ingest_job, part }),
            }
        } else {
            JobSpec::Export { request: serde_json::from_value(value)?, part: None }
        })
    }

    /// What is saved.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a spec serialises")
    }
}

impl IngestRequest {
    /// Whether it asks the built-in Faker source.
    pub fn is_builtin(&self) -> bool {
        self.source.as_deref().is_none_or(|s| s == BUILTIN_SOURCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> IngestRequest {
        serde_json::from_value(serde_json::json!({"resource": "users", "quantity": 5000, "seed": 42})).unwrap()
    }

    #[test]
    fn a_spec_comes_back_as_it_was_saved() {
        let spec = JobSpec::Ingest { request: users(), shard: Shard::new(1, 3).unwrap() };
        assert_eq!(JobSpec::from_stored(true, &spec.to_stored()).unwrap(), spec);
        assert_eq!(spec.base_seed(), Some(42));
        assert_eq!(spec.request_view(), serde_json::json!({"resource": "users", "quantity": 5000, "seed": 42}));
    }

    #[test]
    fn a_source_job_has_no_seed() {
        let request: IngestRequest =
            serde_json::from_value(serde_json::json!({"source": "shop", "resource": "orders", "seed": 3})).unwrap();
        assert_eq!(JobSpec::Ingest { request, shard: Shard::WHOLE }.base_seed(), None);
    }

    #[test]
    fn a_job_saved_before_specs_reads_with_its_task_share() {
        let old = r#"{"source": "shop", "resource": "orders", "task": {"index": 2, "count": 4}}"#;
        let JobSpec::Ingest { request, shard } = JobSpec::from_stored(true, old).unwrap() else { panic!() };
        assert_eq!((request.resource.as_str(), shard), ("orders", Shard::new(2, 4).unwrap()));
        let part = r#"{"tables": ["users"], "mode": "part", "ingest_job": "j1", "run": "r", "part": 1, "parts": 3}"#;
        let spec = JobSpec::from_stored(false, part).unwrap();
        assert_eq!(spec.request_view(), serde_json::from_str::<serde_json::Value>(part).unwrap());
    }
}
