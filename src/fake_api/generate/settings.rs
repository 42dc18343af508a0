//! The page's settings: the per-resource parameters of a request (`_gender`, `_width`,
//! `_characters`, ...), read once per page into what the value generators need.

use chrono::{Datelike, NaiveDate};

use crate::catalog::Resource;
use crate::fake_api::words;

/// The per-resource parameters, parsed once per page. Unparsable values fall back to the
/// defaults, as the upstream does.
#[derive(Debug, Clone)]
pub(super) struct PageSettings {
    pub(super) gender: Option<Gender>,
    /// Birthday range in days since 1970-01-01, inclusive.
    pub(super) birthday: (i64, i64),
    pub(super) image: ImageSettings,
    /// Length cap of `LongText` values (`_characters` for texts).
    pub(super) long_text_chars: usize,
    pub(super) price_cents: (i64, i64),
    pub(super) taxes: i64,
    pub(super) categories_number: Option<u8>,
    pub(super) categories_type: CategoriesType,
    /// `_country_code` with its English name when known.
    pub(super) country: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gender {
    Male,
    Female,
    Other,
}

impl Gender {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CategoriesType {
    Integer,
    String,
    Uuid,
}

#[derive(Debug, Clone)]
pub(super) struct ImageSettings {
    /// The category in placeimg URLs (`people`, `tech`, ..., or `kittens`).
    pub(super) kind: &'static str,
    pub(super) width: Option<u32>,
    pub(super) height: Option<u32>,
    /// Book covers are portrait.
    pub(super) portrait: bool,
}

fn last_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn days_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

fn parse_days(value: Option<&str>) -> Option<i64> {
    value.and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()).map(days_of)
}

fn parse_cents(value: Option<&str>) -> Option<i64> {
    let v: f64 = value?.trim().parse().ok()?;
    (v.is_finite() && (0.0..1e13).contains(&v)).then(|| (v * 100.0).round() as i64)
}

impl PageSettings {
    pub(super) fn from_params(resource: Resource, params: &[(String, String)]) -> PageSettings {
        let get = |name: &str| last_param(params, name);
        let gender = match get("_gender") {
            Some("male") => Some(Gender::Male),
            Some("female") => Some(Gender::Female),
            Some("other") => Some(Gender::Other),
            _ => None,
        };

        // 1930-01-01 ..= 2006-12-31 unless the request narrows it.
        let mut birthday =
            (parse_days(get("_birthday_start")).unwrap_or(-14_610), parse_days(get("_birthday_end")).unwrap_or(13_513));
        if birthday.0 > birthday.1 {
            birthday = (birthday.1, birthday.0);
        }

        let dimension = |name: &str| get(name).and_then(|v| v.parse::<u32>().ok()).filter(|v| *v > 0);
        let default_kind = match resource {
            Resource::Persons | Resource::Users | Resource::Companies => "people",
            Resource::Products => "tech",
            _ => "any",
        };
        // Like the upstream, only placeimg's categories (and kittens) are honoured.
        let kind = match (resource, get("_type")) {
            (Resource::Images, Some(t)) => words::IMAGE_TYPES.iter().find(|k| **k == t).copied().unwrap_or("any"),
            _ => default_kind,
        };
        let image = ImageSettings {
            kind,
            width: if resource == Resource::Images { dimension("_width") } else { None },
            height: if resource == Resource::Images { dimension("_height") } else { None },
            portrait: resource == Resource::Books,
        };

        let long_text_chars = match resource {
            Resource::Texts => get("_characters").and_then(|v| v.parse::<usize>().ok()).unwrap_or(200).min(100_000),
            _ => 1000,
        };

        let mut price_cents =
            (parse_cents(get("_price_min")).unwrap_or(1), parse_cents(get("_price_max")).unwrap_or(0));
        if get("_price_max").is_none() {
            price_cents.1 = price_cents.0.max(100_000);
        }
        if price_cents.0 > price_cents.1 {
            price_cents = (price_cents.1, price_cents.0);
        }
        let taxes = get("_taxes").and_then(|v| v.parse::<i64>().ok()).filter(|t| (0..=1000).contains(t)).unwrap_or(22);
        let categories_number =
            get("_categories_number").and_then(|v| v.parse::<u8>().ok()).filter(|n| (1..=100).contains(n));
        let categories_type = match get("_categories_type") {
            Some("string") => CategoriesType::String,
            Some("uuid") => CategoriesType::Uuid,
            _ => CategoriesType::Integer,
        };

        let country = match get("_country_code") {
            Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let code = code.to_ascii_uppercase();
                let name = words::COUNTRIES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map_or_else(|| code.clone(), |(_, n)| (*n).to_string());
                Some((code, name))
            }
            _ => None,
        };

        PageSettings {
            gender,
            birthday,
            image,
            long_text_chars,
            price_cents,
            taxes,
            categories_number,
            categories_type,
            country,
        }
    }
}
