//! What an ingest is asked for, as the API takes it and as its job's spec stores it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::Resource;

/// What to ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resource": "users", "quantity": 5000, "seed": 42}))]
pub struct IngestRequest {
    /// The source: `faker` (the default, the built-in Faker API) or the name of a source file
    /// in the server's `DUCKHAUL_SOURCES_DIR` (see `GET /sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For `faker`: addresses, books, companies, credit_cards, images, persons, places,
    /// products, texts, users or custom. For another source: one of its resources.
    #[schema(value_type = ResourceName)]
    pub resource: String,
    /// Total records, 1 to 10,000,000: required for `faker`; for another source a cap (every
    /// record of the resource when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub quantity: Option<i64>,
    /// Faker locale such as `en_US` or `de_DE` (default `en_US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Base seed: page i is fetched with seed + i, so every page can be fetched again
    /// identically. From 1 (the upstream reads 0 as no seed) to 2^32 - 1 - the number of
    /// pages (it keeps 32 bits of a seed). Drawn at random (and recorded) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 4_294_967_294_i64)]
    pub seed: Option<i64>,
    /// Records per upstream request, 1 to 1000 (the upstream's cap; default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub page_size: Option<i64>,
    /// Pages fetched at once, 1 to 64 (default from the server's configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 64)]
    pub concurrency: Option<i64>,
    /// Requests per minute this job may send (on top of the server's per-path limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<i64>,
    /// Seconds the job may take; pages not fetched by then fail (resume to finish them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_secs: Option<i64>,
    /// Resource parameters the upstream documents, with or without the leading `_`:
    /// persons `gender`, `birthday_start`, `birthday_end`; users `gender`; images `type`,
    /// `width`, `height`; texts `characters`; products `price_min`, `price_max`, `taxes`,
    /// `categories_type`, `categories_number`; addresses `country_code`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// custom only: field name → Faker field type (e.g. `{"name": "firstName", "age": "number"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// custom only: the table to write (lower-case letters, digits, `_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// The names `resource` accepts, as a string enum in the spec, built from the catalogue so
/// the two cannot drift apart.
pub struct ResourceName;

impl utoipa::PartialSchema for ResourceName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("A Faker resource, or `custom` for a request-defined record"))
            .enum_values(Some(Resource::ALL.iter().map(|r| r.name())))
            .into()
    }
}

impl ToSchema for ResourceName {}
