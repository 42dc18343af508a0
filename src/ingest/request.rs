//! The ingest request, and its validation into a plan of pages.

use std::sync::Arc;

use crate::catalog::{self, CustomSpec, Resource, Schema, is_identifier};
pub use crate::spec::IngestRequest;
use crate::spec::Shard;
use crate::store::schema::{META_PREFIX, table_ddl};
use crate::validation::Invalid;

/// Most records one job may ask for.
pub const MAX_QUANTITY: i64 = 10_000_000;
/// The upstream's cap on records per request.
pub const MAX_PAGE_SIZE: i64 = 1000;
pub const MAX_CONCURRENCY: i64 = 64;
/// Page seeds (base seed + page index) stay below 2^32: the upstream seeds PHP's `mt_srand`,
/// which keeps 32 bits, so seeds 2^32 apart would give the same page. The base seed is at
/// most this minus the job's pages.
pub const SEED_LIMIT: i64 = 1 << 32;

/// A validated ingest: every page it will fetch follows from it.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    pub resource: Resource,
    pub table: String,
    pub schema: Arc<Schema>,
    /// The table's `CREATE TABLE`.
    pub ddl: String,
    pub quantity: u64,
    pub page_size: u32,
    pub base_seed: i64,
    pub locale: String,
    /// Upstream query pairs beyond quantity/locale/seed: parameters and custom fields.
    pub extra: Arc<Vec<(String, String)>>,
    pub concurrency: usize,
    pub rate_limit_per_minute: Option<u32>,
    pub deadline: Option<std::time::Duration>,
    /// The pages this process takes (all of them but for a task of a split job).
    pub shard: Shard,
}

impl IngestPlan {
    /// Pages of the whole job.
    pub fn pages(&self) -> u32 {
        self.quantity.div_ceil(self.page_size as u64) as u32
    }

    /// The pages this process fetches, in order.
    pub fn shard_pages(&self) -> impl Iterator<Item = u32> + use<> {
        self.shard.pages(self.pages())
    }

    /// How many pages this process fetches.
    pub fn shard_len(&self) -> u32 {
        self.shard.len(self.pages())
    }

    /// Records and seed of page `i`.
    pub fn page(&self, i: u32) -> (u32, i64) {
        let start = i as u64 * self.page_size as u64;
        let quantity = (self.quantity - start).min(self.page_size as u64) as u32;
        (quantity, self.base_seed + i as i64)
    }

    /// The request as accepted, defaults filled in (what the job record shows).
    pub fn accepted(&self, request: &IngestRequest) -> IngestRequest {
        let mut accepted = request.clone();
        accepted.seed = Some(self.base_seed);
        accepted.locale = Some(self.locale.clone());
        accepted.page_size = Some(self.page_size as i64);
        accepted.concurrency = Some(self.concurrency as i64);
        accepted
    }
}

impl IngestRequest {
    /// Checks every field, reporting all problems at once.
    pub fn validate(&self, default_concurrency: usize) -> Result<IngestPlan, Invalid> {
        let mut invalid = Invalid::default();
        let resource = Resource::from_name(&self.resource);
        if resource.is_none() {
            let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
            invalid.push("resource", format!("unknown resource '{}'; one of {}", self.resource, names.join(", ")));
        }
        let quantity = match self.quantity {
            None => {
                invalid.push("quantity", format!("required for faker: from 1 to {MAX_QUANTITY}"));
                1
            }
            Some(q) if !(1..=MAX_QUANTITY).contains(&q) => {
                invalid.push("quantity", format!("must be from 1 to {MAX_QUANTITY}, got {q}"));
                1
            }
            Some(q) => q,
        };
        let page_size = self.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            invalid.push(
                "page_size",
                format!(
                    "must be from 1 to {MAX_PAGE_SIZE} (the upstream caps a request at 1000 records), got {page_size}"
                ),
            );
        }
        let concurrency = self.concurrency.unwrap_or(default_concurrency as i64);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            invalid.push("concurrency", format!("must be from 1 to {MAX_CONCURRENCY}, got {concurrency}"));
        }
        let locale = self.locale.clone().unwrap_or_else(|| "en_US".into());
        if !is_locale(&locale) {
            invalid.push("locale", format!("must look like en_US or de_DE, got '{locale}'"));
        }
        // The real upstream reads `_seed=0` as no seed at all (a random page that differs on
        // every retry) and keeps only 32 bits of a seed, so page seeds run from 1 and stay
        // below 2^32. Refused rather than shifted: a seed keeps naming the same pages.
        if let Some(seed) = self.seed {
            let pages = if (1..=MAX_PAGE_SIZE).contains(&page_size) {
                (quantity as u64).div_ceil(page_size as u64) as i64
            } else {
                1
            };
            let max_seed = SEED_LIMIT - 1 - pages;
            if seed == 0 {
                invalid.push(
                    "seed",
                    "must be 1 or more: the upstream treats seed 0 as no seed, so that page would be random",
                );
            } else if !(1..=max_seed).contains(&seed) {
                invalid.push(
                    "seed",
                    format!(
                        "must be from 1 to {max_seed}, got {seed}: page seeds (seed + page, {pages} pages) must stay below \
                         2^32, the upstream keeps only 32 bits of a seed"
                    ),
                );
            }
        }

        self.check_job_limits(&mut invalid);

        let mut extra = Vec::new();
        if let Some(r) = resource {
            match catalog::validate_params(r, &self.params) {
                Ok(pairs) => extra = pairs,
                Err(e) => invalid.push(format!("params.{}", e.param), e.message),
            }
        }
        let (table, schema) = match resource {
            Some(Resource::Custom) => self.custom_table(&mut invalid, &mut extra),
            Some(r) => {
                if self.fields.is_some() {
                    invalid.push("fields", "only the custom resource takes fields");
                }
                if self.table.as_ref().is_some_and(|t| t != r.name()) {
                    invalid.push("table", format!("{r} always lands in table {r}; only custom takes a table name"));
                }
                (r.name().to_string(), r.schema().cloned())
            }
            None => (String::new(), None),
        };

        let Some(schema) = schema else { return Err(invalid) };
        let resource = resource.expect("a schema implies a resource");
        let plan = IngestPlan {
            resource,
            ddl: table_ddl(&table, &schema),
            table,
            schema: Arc::new(schema),
            quantity: quantity as u64,
            page_size: page_size.clamp(1, MAX_PAGE_SIZE) as u32,
            // Drawn from 1 (never 0, no seed upstream) to 2^31 - 1, so even 10,000,000 pages
            // keep their seeds below 2^32.
            base_seed: self.seed.unwrap_or_else(|| rand::random_range(1..=i32::MAX as i64)),
            locale,
            extra: Arc::new(extra),
            concurrency: concurrency.clamp(1, MAX_CONCURRENCY) as usize,
            rate_limit_per_minute: self.rate_limit_per_minute.map(|r| r.clamp(1, 60_000) as u32),
            deadline: self.deadline_secs.map(|s| std::time::Duration::from_secs(s.max(1) as u64)),
            shard: Shard::WHOLE,
        };
        invalid.or_ok(plan)
    }

    /// The job's own rate and deadline, the same for every source.
    pub(super) fn check_job_limits(&self, invalid: &mut Invalid) {
        if let Some(rate) = self.rate_limit_per_minute
            && !(1..=60_000).contains(&rate)
        {
            invalid.push("rate_limit_per_minute", format!("must be from 1 to 60000, got {rate}"));
        }
        if let Some(secs) = self.deadline_secs
            && !(1..=7 * 86_400).contains(&secs)
        {
            invalid.push("deadline_secs", format!("must be from 1 to 604800 (a week), got {secs}"));
        }
    }

    fn custom_table(&self, invalid: &mut Invalid, extra: &mut Vec<(String, String)>) -> (String, Option<Schema>) {
        let table = match &self.table {
            None => {
                invalid.push("table", "custom needs a table name");
                String::new()
            }
            Some(t) if !is_identifier(t) => {
                invalid.push(
                    "table",
                    format!("'{t}' is not a valid table name: a lower-case letter, then lower-case letters, digits or '_' (at most 63)"),
                );
                String::new()
            }
            Some(t) if t.starts_with(META_PREFIX) => {
                invalid
                    .push("table", format!("names starting with {META_PREFIX} are reserved for duckhaul's own tables"));
                String::new()
            }
            Some(t) if Resource::from_name(t).is_some() => {
                invalid.push("table", format!("'{t}' is the table of the {t} resource; pick another name"));
                String::new()
            }
            Some(t) => t.clone(),
        };
        let schema = match &self.fields {
            None => {
                invalid.push("fields", "custom needs fields, e.g. {\"name\": \"firstName\"}");
                None
            }
            Some(fields) => match CustomSpec::parse(fields) {
                Ok(spec) => {
                    extra.extend(spec.query_pairs().map(|(n, t)| (n.to_string(), t.to_string())));
                    Some(spec.schema())
                }
                Err(e) => {
                    invalid.push(e.field, e.message);
                    None
                }
            },
        };
        (table, schema.filter(|_| invalid.0.is_empty()))
    }
}

fn is_locale(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[0].is_ascii_lowercase()
        && b[1].is_ascii_lowercase()
        && b[2] == b'_'
        && b[3].is_ascii_uppercase()
        && b[4].is_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> IngestRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pages_split_the_quantity_and_step_the_seed() {
        let plan = req(json!({"resource": "users", "quantity": 2500, "seed": 7})).validate(8).unwrap();
        assert_eq!(plan.pages(), 3);
        assert_eq!(plan.page(0), (1000, 7));
        assert_eq!(plan.page(2), (500, 9));
        assert_eq!(plan.table, "users");
    }

    #[test]
    fn seeds_are_never_0_and_page_seeds_stay_below_2_to_the_32() {
        let seed_error = |quantity: i64, seed: i64| {
            let err = req(json!({"resource": "users", "quantity": quantity, "page_size": 10, "seed": seed}))
                .validate(8)
                .err()?;
            err.0.into_iter().find(|e| e.field == "seed").map(|e| e.message)
        };
        assert!(seed_error(10, 0).unwrap().contains("seed 0 as no seed"));
        assert!(seed_error(10, -1).is_some());
        // 3 pages: seeds up to 2^32 - 4, so the last page's is 2^32 - 2.
        assert_eq!(seed_error(30, SEED_LIMIT - 4), None);
        let message = seed_error(30, SEED_LIMIT - 3).unwrap();
        assert!(message.contains("must be from 1 to 4294967292") && message.contains("3 pages"), "{message}");
        assert!(seed_error(10, SEED_LIMIT).is_some());
        assert_eq!(seed_error(10, 1), None);
        let plan = req(json!({"resource": "users", "quantity": 30, "page_size": 10, "seed": SEED_LIMIT - 4}))
            .validate(8)
            .unwrap();
        assert_eq!(plan.page(2).1, SEED_LIMIT - 2);
    }

    #[test]
    fn an_unseeded_request_draws_a_seed_that_fits_every_page() {
        for _ in 0..1000 {
            let plan = req(json!({"resource": "users", "quantity": MAX_QUANTITY, "page_size": 1})).validate(8).unwrap();
            assert!(plan.base_seed >= 1 && plan.base_seed + i64::from(plan.pages()) < SEED_LIMIT, "{}", plan.base_seed);
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let err =
            req(json!({"resource": "users", "quantity": 0, "page_size": 2000, "locale": "english", "concurrency": 0}))
                .validate(8)
                .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["quantity", "page_size", "concurrency", "locale"]);
    }

    #[test]
    fn custom_needs_a_valid_table_and_fields() {
        let err = req(json!({"resource": "custom", "quantity": 5, "table": "Bad Name"})).validate(8).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["table", "fields"]);
        let plan =
            req(json!({"resource": "custom", "quantity": 5, "table": "people", "fields": {"n": "name", "d": "date"}}))
                .validate(8)
                .unwrap();
        assert_eq!(
            plan.extra.as_slice(),
            &[("d".to_string(), "date".to_string()), ("n".to_string(), "name".to_string())]
        );
        assert!(plan.ddl.contains("\"d\" DATE"));
    }
}
