//! An ingest of a described source's resource: its request validated into a `SourcePlan`.
//! Faker's fields (locale, seed, page size, parameters, custom fields) mean nothing to another
//! API and are refused rather than ignored; the file says the page size, parameters and table.

use std::sync::Arc;

use super::request::{IngestPlan, IngestRequest, MAX_CONCURRENCY, MAX_QUANTITY};
use crate::catalog::Field;
use crate::catalog::sources::{BUILTIN_SOURCE, Sources};
use crate::source::SourceTarget;
use crate::source::probe::declared_fields;
use crate::spec::Shard;
use crate::validation::Invalid;

/// A validated ingest of a described source: which pages it fetches follows from the answers.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    pub target: Arc<SourceTarget>,
    pub table: String,
    /// The columns the file declares; the others are inferred from the first page.
    pub declared: Vec<Field>,
    /// At most this many records, when asked for.
    pub quantity: Option<u64>,
    pub concurrency: usize,
    pub rate_limit_per_minute: Option<u32>,
    pub deadline: Option<std::time::Duration>,
    /// The pages this process takes, for an addressable resource (all but for a task of a
    /// split run); a followed resource is fetched whole by task 0.
    pub shard: Shard,
}

/// An ingest request, validated: Faker's or a described source's.
#[derive(Debug, Clone)]
pub enum Planned {
    Faker(IngestPlan),
    Source(SourcePlan),
}

impl Planned {
    pub fn table(&self) -> &str {
        match self {
            Planned::Faker(plan) => &plan.table,
            Planned::Source(plan) => &plan.table,
        }
    }

    /// Makes it one task's share of a split run.
    pub fn set_shard(&mut self, shard: Shard) {
        match self {
            Planned::Faker(plan) => plan.shard = shard,
            Planned::Source(plan) => plan.shard = shard,
        }
    }
}

impl IngestRequest {
    /// Validates the request for its source: `faker` (the default) or one of `sources`.
    pub fn plan(&self, default_concurrency: usize, sources: &Sources) -> Result<Planned, Invalid> {
        match self.source.as_deref() {
            None | Some(BUILTIN_SOURCE) => self.validate(default_concurrency).map(Planned::Faker),
            Some(name) => self.validate_source(name, default_concurrency, sources).map(Planned::Source),
        }
    }

    fn validate_source(
        &self,
        name: &str,
        default_concurrency: usize,
        sources: &Sources,
    ) -> Result<SourcePlan, Invalid> {
        let mut invalid = Invalid::default();
        let Some(source) = sources.get(name) else {
            let mut names = vec![BUILTIN_SOURCE];
            names.extend(sources.names());
            return Err(Invalid::one("source", format!("unknown source '{name}'; one of {}", names.join(", "))));
        };
        let target = match SourceTarget::new(source.clone(), &self.resource) {
            None => {
                let names: Vec<&str> = source.resources.iter().map(|r| r.name.as_str()).collect();
                invalid.push(
                    "resource",
                    format!("source {name} has no resource '{}'; one of {}", self.resource, names.join(", ")),
                );
                None
            }
            Some(Err(e)) => {
                invalid.push("resource", format!("{e:#}"));
                None
            }
            Some(Ok(target)) => Some(target),
        };
        let declared = match target.as_ref().map(|t| declared_fields(t.resource())) {
            Some(Err(e)) => {
                invalid.push("resource", format!("{}: {e:#}", source.file.display()));
                Vec::new()
            }
            Some(Ok(declared)) => declared,
            None => Vec::new(),
        };
        if let Some(q) = self.quantity
            && !(1..=MAX_QUANTITY).contains(&q)
        {
            invalid.push("quantity", format!("must be from 1 to {MAX_QUANTITY}, got {q}"));
        }
        let default = source.concurrency.map_or(default_concurrency as i64, i64::from);
        let concurrency = self.concurrency.unwrap_or(default);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            invalid.push("concurrency", format!("must be from 1 to {MAX_CONCURRENCY}, got {concurrency}"));
        }
        let faker_only = [
            ("locale", self.locale.is_some()),
            ("seed", self.seed.is_some()),
            ("page_size", self.page_size.is_some()),
            ("params", !self.params.is_empty()),
            ("fields", self.fields.is_some()),
        ];
        for (field, given) in faker_only {
            if given {
                invalid.push(
                    field,
                    format!("only for faker: source {name} takes it from its file ({})", source.file.display()),
                );
            }
        }
        if self.table.is_some() {
            invalid
                .push("table", format!("a source's resource names its table in its file ({})", source.file.display()));
        }
        self.check_job_limits(&mut invalid);
        let Some(target) = target else { return Err(invalid) };
        let plan = SourcePlan {
            table: target.resource().table.clone(),
            target: Arc::new(target),
            declared,
            quantity: self.quantity.map(|q| q.max(1) as u64),
            concurrency: concurrency.clamp(1, MAX_CONCURRENCY) as usize,
            rate_limit_per_minute: self.rate_limit_per_minute.map(|r| r.clamp(1, 60_000) as u32),
            deadline: self.deadline_secs.map(|s| std::time::Duration::from_secs(s.max(1) as u64)),
            shard: Shard::WHOLE,
        };
        invalid.or_ok(plan)
    }
}

impl SourcePlan {
    /// The request as accepted, defaults filled in (what the job's spec stores).
    pub fn accepted(&self, request: &IngestRequest) -> IngestRequest {
        let mut accepted = request.clone();
        accepted.concurrency = Some(self.concurrency as i64);
        accepted
    }
}
