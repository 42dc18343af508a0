//! A source file exactly as written: every key the format knows, nothing else (`deny_unknown_fields`
//! refuses a misspelt one). Keys the format requires are `Option`s here so that `load` can name
//! them when they are missing; what the values must be is checked there too.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::catalog::evolve::Contract;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceFile {
    pub base_url: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub headers: InOrder<String>,
    pub auth: Option<AuthTable>,
    #[serde(default)]
    pub resources: InOrder<ResourceTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuthTable {
    pub kind: Option<AuthKind>,
    pub token_env: Option<String>,
    pub header: Option<String>,
    pub param: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum AuthKind {
    Bearer,
    Header,
    Query,
    Basic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceTable {
    pub path: Option<String>,
    #[serde(default)]
    pub params: InOrder<ParamValue>,
    pub records: Option<String>,
    pub table: Option<String>,
    pub pagination: Option<PaginationTable>,
    #[serde(default)]
    pub columns: InOrder<String>,
    pub contract: Option<Contract>,
}

/// One table for every kind, so a key of another kind is refused by name (`load`), not by a
/// parser message about an enum.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PaginationTable {
    pub kind: Option<PaginationKind>,
    pub page_param: Option<String>,
    pub size_param: Option<String>,
    pub page_size: Option<u32>,
    pub first_page: Option<u64>,
    pub offset_param: Option<String>,
    pub limit_param: Option<String>,
    pub total: Option<String>,
    pub cursor: Option<String>,
    pub cursor_param: Option<String>,
    pub next_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PaginationKind {
    None,
    Page,
    Offset,
    Cursor,
    NextUrl,
    LinkHeader,
}

impl PaginationTable {
    /// The keys given, by name, to refuse those the kind does not take.
    pub fn given(&self) -> Vec<&'static str> {
        let keys: [(&'static str, bool); 10] = [
            ("page_param", self.page_param.is_some()),
            ("size_param", self.size_param.is_some()),
            ("page_size", self.page_size.is_some()),
            ("first_page", self.first_page.is_some()),
            ("offset_param", self.offset_param.is_some()),
            ("limit_param", self.limit_param.is_some()),
            ("total", self.total.is_some()),
            ("cursor", self.cursor.is_some()),
            ("cursor_param", self.cursor_param.is_some()),
            ("next_url", self.next_url.is_some()),
        ];
        keys.into_iter().filter(|(_, given)| *given).map(|(key, _)| key).collect()
    }
}

/// A fixed query parameter: written as a string, a number or a boolean, sent as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ParamValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl ParamValue {
    pub fn into_text(self) -> String {
        match self {
            ParamValue::Text(s) => s,
            ParamValue::Integer(n) => n.to_string(),
            ParamValue::Float(x) => x.to_string(),
            ParamValue::Boolean(b) => b.to_string(),
        }
    }
}

/// A TOML table kept in the order the file writes it (resources, columns and headers are
/// shown and created in that order).
#[derive(Debug)]
pub(super) struct InOrder<T>(pub Vec<(String, T)>);

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for InOrder<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = InOrder<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, T>()? {
                    entries.push(entry);
                }
                Ok(InOrder(entries))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}
