//! The resource catalogue: for each Faker resource, its upstream path, the parameters the
//! upstream documents for it, and its record schema.
//!
//! One definition drives the client's decoding (`decode`), the DuckDB DDL (`store::schema`),
//! the Parquet/BigQuery types (inherited from DuckDB) and the bundled fake server's generator
//! (`fake_api`), so they cannot drift apart. Each field carries both its storage type and the
//! kind of fake value it holds.

pub mod custom;
pub mod decode;
pub mod evolve;
pub mod infer;
mod json_text;
pub mod params;
pub mod pointer;
mod resources;
pub mod sources;
pub mod types;

use std::fmt;

pub use custom::{CustomFieldType, CustomSpec};
pub use params::{ParamError, validate_params};

/// The storage type of a field, from which DuckDB, Arrow and Parquet types derive.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    Text,
    Integer,
    Double,
    Boolean,
    /// A calendar date, sent upstream as `YYYY-MM-DD`.
    Date,
    /// A UTC timestamp, sent upstream as `YYYY-MM-DD HH:MM:SS`.
    Timestamp,
    /// An instant (DuckDB `TIMESTAMPTZ`, stored in UTC), sent as RFC 3339 with any offset.
    TimestampTz,
    Struct(Vec<Field>),
    /// A list of `min..=max` elements (the range only guides the fake generator).
    List {
        element: Box<Field>,
        min: u8,
        max: u8,
    },
}

impl ColumnType {
    /// The DuckDB SQL type; nested types spell out their members so DDL is exact.
    pub fn duckdb_sql(&self) -> String {
        match self {
            ColumnType::Text => "VARCHAR".into(),
            ColumnType::Integer => "BIGINT".into(),
            ColumnType::Double => "DOUBLE".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::Timestamp => "TIMESTAMP".into(),
            ColumnType::TimestampTz => "TIMESTAMPTZ".into(),
            ColumnType::Struct(fields) => {
                let members: Vec<String> =
                    fields.iter().map(|f| format!("{} {}", quote_ident(&f.name), f.ty.duckdb_sql())).collect();
                format!("STRUCT({})", members.join(", "))
            }
            ColumnType::List { element, .. } => format!("{}[]", element.ty.duckdb_sql()),
        }
    }
}

/// What kind of value a field holds: the fake server generates it, the docs describe it.
/// Names follow the Faker API's own field-type vocabulary where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fake {
    /// The per-response counter 1..n (not a key: it repeats across calls).
    Counter,
    /// The constant `id` nested objects carry (1 in v2).
    NestedId,
    Uuid,
    FirstName,
    LastName,
    Name,
    Username,
    Password,
    Email,
    Ip,
    MacAddress,
    Website,
    Image,
    Phone,
    Birthday,
    Gender,
    StreetAddress,
    StreetName,
    BuildingNumber,
    City,
    Postcode,
    Country,
    CountryCode,
    State,
    Latitude,
    Longitude,
    CompanyName,
    Vat,
    Title,
    Genre,
    Description,
    Isbn,
    Publisher,
    Date,
    DateTime,
    Ean,
    Upc,
    NetPrice,
    Taxes,
    Price,
    CategoryId,
    Tag,
    Word,
    Text,
    LongText,
    Number,
    Boolean,
    BooleanDigit,
    CardType,
    CardNumber,
    CardExpiration,
    Pokemon,
    /// A field the upstream answers with `null` (unknown custom types, the `null` type).
    Null,
    /// A field of a source other than Faker: no Faker kind, so the fake server draws a plain
    /// value of the field's type.
    Generic,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: ColumnType,
    pub fake: Fake,
}

impl Field {
    pub fn new(name: &str, ty: ColumnType, fake: Fake) -> Self {
        Field { name: name.to_string(), ty, fake }
    }
}

/// A record schema: the ordered fields of one resource's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub fields: Vec<Field>,
}

/// The upstream's API versions: they differ in a path (`credit_cards`) and in error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V1,
    V2,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }

    /// The version a base URL such as `https://fakerapi.it/api/v1` addresses: its last path
    /// segment, v2 (the upstream's current one) unless that says `v1`.
    pub fn of_base_url(base_url: &str) -> ApiVersion {
        match base_url.trim_end_matches('/').rsplit('/').next() {
            Some("v1") => ApiVersion::V1,
            _ => ApiVersion::V2,
        }
    }
}

/// The resources the upstream serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Addresses,
    Books,
    Companies,
    CreditCards,
    Images,
    Persons,
    Places,
    Products,
    Texts,
    Users,
    Custom,
}

impl Resource {
    pub const ALL: [Resource; 11] = [
        Resource::Addresses,
        Resource::Books,
        Resource::Companies,
        Resource::CreditCards,
        Resource::Images,
        Resource::Persons,
        Resource::Places,
        Resource::Products,
        Resource::Texts,
        Resource::Users,
        Resource::Custom,
    ];

    /// The name duckhaul's API uses, which is also the table name for built-in resources.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Addresses => "addresses",
            Resource::Books => "books",
            Resource::Companies => "companies",
            Resource::CreditCards => "credit_cards",
            Resource::Images => "images",
            Resource::Persons => "persons",
            Resource::Places => "places",
            Resource::Products => "products",
            Resource::Texts => "texts",
            Resource::Users => "users",
            Resource::Custom => "custom",
        }
    }

    /// The path segment under the upstream's base URL: v2 renamed v1's `credit_cards` to
    /// `creditCards` (and answers 404 for the old name).
    pub fn upstream_path(self, version: ApiVersion) -> &'static str {
        match (self, version) {
            (Resource::CreditCards, ApiVersion::V2) => "creditCards",
            (other, _) => other.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn from_upstream_path(path: &str, version: ApiVersion) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.upstream_path(version) == path)
    }

    /// The record schema of a built-in resource; `None` for `custom`, whose schema comes
    /// from the request (see [`CustomSpec::schema`]).
    pub fn schema(self) -> Option<&'static Schema> {
        resources::schema(self)
    }

    /// The parameters the upstream documents for this resource (with their leading `_`).
    pub fn allowed_params(self) -> &'static [&'static str] {
        params::allowed(self)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lineage columns every data table carries after its record fields.
pub const LINEAGE_COLUMNS: [(&str, &str); 4] = [
    ("_job_id", "VARCHAR"),
    ("_page", "INTEGER"),
    ("_ingested_at", "TIMESTAMPTZ"),
    // The writer's commit sequence number. Commits are serialised through one writer, so a
    // snapshot always sees a prefix of them: incremental exports take `_commit > watermark`
    // and can neither skip nor repeat a row.
    ("_commit", "BIGINT"),
];

/// Double-quotes an identifier for DuckDB SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether `name` is acceptable as a table (or custom field) name: lower-case ASCII letters,
/// digits and `_`, starting with a letter, at most 63 characters. Stricter than SQL needs, so
/// the name is also valid in BigQuery, in object paths and in URLs without escaping.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resource_has_a_schema_and_round_trips_its_names() {
        for r in Resource::ALL {
            assert_eq!(Resource::from_name(r.name()), Some(r));
            for version in [ApiVersion::V1, ApiVersion::V2] {
                assert_eq!(Resource::from_upstream_path(r.upstream_path(version), version), Some(r));
            }
            assert_eq!(r.schema().is_some(), r != Resource::Custom);
        }
    }

    #[test]
    fn credit_cards_have_each_versions_path() {
        assert_eq!(Resource::CreditCards.upstream_path(ApiVersion::V1), "credit_cards");
        assert_eq!(Resource::CreditCards.upstream_path(ApiVersion::V2), "creditCards");
        assert_eq!(Resource::from_upstream_path("credit_cards", ApiVersion::V2), None);
        assert_eq!(Resource::from_upstream_path("creditCards", ApiVersion::V1), None);
        assert_eq!(Resource::Users.upstream_path(ApiVersion::V1), "users");
    }

    #[test]
    fn the_version_is_the_base_urls_last_segment() {
        assert_eq!(ApiVersion::of_base_url("https://fakerapi.it/api/v1"), ApiVersion::V1);
        assert_eq!(ApiVersion::of_base_url("http://127.0.0.1:8081/api/v1/"), ApiVersion::V1);
        assert_eq!(ApiVersion::of_base_url("https://fakerapi.it/api/v2"), ApiVersion::V2);
        assert_eq!(ApiVersion::of_base_url("https://mirror.example/faker"), ApiVersion::V2);
    }

    #[test]
    fn nested_types_spell_out_duckdb_sql() {
        let persons = Resource::Persons.schema().unwrap();
        let address = persons.fields.iter().find(|f| f.name == "address").unwrap();
        assert!(address.ty.duckdb_sql().starts_with("STRUCT(\"id\" BIGINT, \"street\" VARCHAR"));
        let companies = Resource::Companies.schema().unwrap();
        let addresses = companies.fields.iter().find(|f| f.name == "addresses").unwrap();
        assert!(addresses.ty.duckdb_sql().ends_with("DOUBLE)[]"));
    }

    #[test]
    fn identifiers_are_strict() {
        assert!(is_identifier("my_table2"));
        for bad in ["", "2x", "Users", "a-b", "a b", "x\"y", &"a".repeat(64)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }
}
