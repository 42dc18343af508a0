//! Reads a page request the way the upstream does: the resource path segment and the query
//! string become a [`PageRequest`] (resource, schema, quantity, locale, seed, parameters), or
//! the upstream's own 404/400 answer.

use std::borrow::Cow;

use super::generate::MAX_QUANTITY;
use crate::catalog::{ApiVersion, ColumnType, CustomFieldType, Fake, Field, Resource, Schema, custom};

#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    pub resource: Resource,
    pub schema: Cow<'static, Schema>,
    pub quantity: usize,
    pub locale: String,
    /// The seed as a number and as the request spelled it (echoed in the envelope).
    pub seed: Option<(u64, String)>,
    /// Every query pair, in request order.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestError {
    UnknownResource,
    /// v1 refuses a custom field of unknown type; the string is the type as given.
    WrongFieldType(String),
    /// texts with `_characters` below 10: the upstream's Faker (`realText`) throws, which the
    /// upstream answers with its plain 500, not a 4xx.
    TooFewCharacters,
}

/// The fewest `_characters` Faker's `realText` accepts.
pub(crate) const MIN_TEXT_CHARACTERS: i64 = 10;

pub(crate) const DEFAULT_QUANTITY: usize = 10;
pub(crate) const DEFAULT_LOCALE: &str = "en_US";

pub(crate) fn parse_request(
    version: ApiVersion,
    segment: &str,
    raw_query: Option<&str>,
) -> Result<PageRequest, RequestError> {
    let resource = Resource::from_upstream_path(segment, version).ok_or(RequestError::UnknownResource)?;
    let params = parse_query(raw_query.unwrap_or(""));
    let last = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim());

    // Like the upstream's PHP, "0", empty and garbage quantities mean the default.
    let quantity = match last("_quantity").and_then(|q| q.parse::<i64>().ok()) {
        Some(q) if q > 0 => (q as u64).min(MAX_QUANTITY as u64) as usize,
        _ => DEFAULT_QUANTITY,
    };
    let locale = match last("_locale") {
        Some(l) if looks_like_locale(l) => l.to_string(),
        _ => DEFAULT_LOCALE.to_string(),
    };
    let seed = last("_seed").and_then(|s| {
        let n = s.parse::<i64>().map(|n| n as u64).or_else(|_| s.parse::<u64>()).ok()?;
        Some((n, s.to_string()))
    });

    // The upstream reads "0" (PHP-falsy) as not given, so the default 200; any other number
    // below 10 reaches realText, which throws.
    if resource == Resource::Texts
        && let Some(n) = last("_characters").and_then(|c| c.parse::<i64>().ok())
        && n != 0
        && n < MIN_TEXT_CHARACTERS
    {
        return Err(RequestError::TooFewCharacters);
    }

    let schema = match resource.schema() {
        Some(schema) => Cow::Borrowed(schema),
        None => Cow::Owned(custom_schema(version, &params)?),
    };
    Ok(PageRequest { resource, schema, quantity, locale, seed, params })
}

/// `xx_XX` (or `xxx_XX`): any such locale is echoed back; content stays English.
fn looks_like_locale(l: &str) -> bool {
    match l.split_once('_') {
        Some((lang, region)) => {
            (2..=3).contains(&lang.len())
                && lang.bytes().all(|b| b.is_ascii_lowercase())
                && region.len() == 2
                && region.bytes().all(|b| b.is_ascii_uppercase())
        }
        None => false,
    }
}

/// The custom resource's fields: each query pair not starting with `_`, in request order; a
/// repeated name keeps its first position and its last type, as PHP's query arrays do.
fn custom_schema(version: ApiVersion, params: &[(String, String)]) -> Result<Schema, RequestError> {
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    for (name, ty) in params {
        if name.is_empty() || name.starts_with('_') {
            continue;
        }
        match wanted.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = ty,
            None => wanted.push((name, ty)),
        }
    }
    let mut fields = Vec::with_capacity(wanted.len());
    for (name, ty) in wanted {
        let field = match custom::field_type(ty) {
            Some((fake, column)) => Field::new(name, column_type(column), fake),
            None if version == ApiVersion::V1 => return Err(RequestError::WrongFieldType(ty.to_string())),
            None => Field::new(name, ColumnType::Text, Fake::Null),
        };
        fields.push(field);
    }
    Ok(Schema { fields })
}

fn column_type(ty: CustomFieldType) -> ColumnType {
    match ty {
        CustomFieldType::Text => ColumnType::Text,
        CustomFieldType::Integer => ColumnType::Integer,
        CustomFieldType::Double => ColumnType::Double,
        CustomFieldType::Boolean => ColumnType::Boolean,
        CustomFieldType::Date => ColumnType::Date,
        CustomFieldType::Timestamp => ColumnType::Timestamp,
    }
}

/// Splits an `application/x-www-form-urlencoded` query into decoded pairs, in order.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' => bytes.get(i + 1).copied().and_then(hex).zip(bytes.get(i + 2).copied().and_then(hex)),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_decoded_in_order() {
        let pairs = parse_query("b=x%20y&a=1+2&c&d=%zz&e=%C3%A9");
        assert_eq!(
            pairs,
            [("b", "x y"), ("a", "1 2"), ("c", ""), ("d", "%zz"), ("e", "\u{e9}")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn quantity_locale_and_seed_follow_the_upstream() {
        let q = |query: &str| parse_request(ApiVersion::V2, "users", Some(query)).unwrap();
        assert_eq!(q("").quantity, 10);
        assert_eq!(q("_quantity=1001").quantity, 1000);
        assert_eq!(q("_quantity=-5").quantity, 10);
        assert_eq!(q("_quantity=abc").quantity, 10);
        assert_eq!(q("_quantity=0").quantity, 10);
        assert_eq!(q("_quantity=7").quantity, 7);
        assert_eq!(q("_locale=de_DE").locale, "de_DE");
        assert_eq!(q("_locale=%22evil").locale, "en_US");
        assert_eq!(q("_seed=42").seed, Some((42, "42".to_string())));
        assert_eq!(q("_seed=-1").seed, Some((u64::MAX, "-1".to_string())));
        assert_eq!(q("_seed=x").seed, None);
    }

    #[test]
    fn texts_below_ten_characters_fail_like_the_upstream() {
        let q = |query: &str| parse_request(ApiVersion::V2, "texts", Some(query));
        for few in ["9", "1", "-5"] {
            assert_eq!(q(&format!("_characters={few}")).unwrap_err(), RequestError::TooFewCharacters, "{few}");
        }
        for fine in ["10", "0", "", "abc"] {
            assert!(q(&format!("_characters={fine}")).is_ok(), "{fine}");
        }
        assert!(parse_request(ApiVersion::V2, "users", Some("_characters=3")).is_ok(), "only texts read it");
    }

    #[test]
    fn resource_paths_differ_between_versions() {
        assert_eq!(parse_request(ApiVersion::V2, "creditCards", None).unwrap().resource, Resource::CreditCards);
        assert_eq!(parse_request(ApiVersion::V2, "credit_cards", None).unwrap_err(), RequestError::UnknownResource);
        assert_eq!(parse_request(ApiVersion::V1, "credit_cards", None).unwrap().resource, Resource::CreditCards);
        assert_eq!(parse_request(ApiVersion::V1, "creditCards", None).unwrap_err(), RequestError::UnknownResource);
    }

    #[test]
    fn custom_fields_keep_request_order_and_unknown_types_depend_on_version() {
        let query = Some("_quantity=2&zeta=number&alpha=email&what=nonsense&zeta=uuid");
        let req = parse_request(ApiVersion::V2, "custom", query).unwrap();
        let fields: Vec<_> = req.schema.fields.iter().map(|f| (f.name.as_str(), f.fake)).collect();
        assert_eq!(fields, [("zeta", Fake::Uuid), ("alpha", Fake::Email), ("what", Fake::Null)]);
        assert_eq!(
            parse_request(ApiVersion::V1, "custom", query).unwrap_err(),
            RequestError::WrongFieldType("nonsense".into())
        );
    }
}
