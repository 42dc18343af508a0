//! Per-resource upstream parameters: which ones the upstream documents for each resource, and
//! what values it accepts. A request may name them with or without the leading `_`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::Resource;

pub(super) fn allowed(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Persons => &["_gender", "_birthday_start", "_birthday_end"],
        Resource::Users => &["_gender"],
        Resource::Images => &["_type", "_width", "_height"],
        Resource::Texts => &["_characters"],
        Resource::Products => &["_price_min", "_price_max", "_taxes", "_categories_type", "_categories_number"],
        Resource::Addresses => &["_country_code"],
        _ => &[],
    }
}

/// Why a parameter was refused; `param` is the name as the request spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

/// Validates a request's parameters for `resource` and returns them as upstream query pairs
/// (`_name`, value), sorted by name so equal requests give equal URLs.
pub fn validate_params(
    resource: Resource,
    params: &BTreeMap<String, Value>,
) -> Result<Vec<(String, String)>, ParamError> {
    let allowed = allowed(resource);
    let mut out = Vec::with_capacity(params.len());
    for (given, value) in params {
        let name = if given.starts_with('_') { given.clone() } else { format!("_{given}") };
        let err = |message: String| ParamError { param: given.clone(), message };
        if !allowed.contains(&name.as_str()) {
            let known = if allowed.is_empty() {
                format!("{resource} takes no parameters")
            } else {
                format!("{resource} takes {}", allowed.join(", "))
            };
            return Err(err(format!("unknown parameter for {resource}; {known}")));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(err("must be a string or a number".into())),
        };
        check_value(&name, &text).map_err(err)?;
        out.push((name, text));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    if let Some(start) = out.iter().find(|p| p.0 == "_birthday_start")
        && let Some(end) = out.iter().find(|p| p.0 == "_birthday_end")
        && start.1 > end.1
    {
        return Err(ParamError {
            param: "birthday_start".into(),
            message: format!("{} is after birthday_end {}", start.1, end.1),
        });
    }
    Ok(out)
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    let int_in = |lo: i64, hi: i64| match value.parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(()),
        _ => Err(format!("must be an integer from {lo} to {hi}, got '{value}'")),
    };
    match name {
        "_gender" => match value {
            "male" | "female" | "other" => Ok(()),
            _ => Err(format!("must be male, female or other, got '{value}'")),
        },
        "_birthday_start" | "_birthday_end" => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| format!("must be a date YYYY-MM-DD, got '{value}'")),
        "_type" => match value {
            "any" | "animals" | "architecture" | "nature" | "people" | "tech" | "kittens" => Ok(()),
            _ => {
                Err(format!("must be one of any, animals, architecture, nature, people, tech, kittens; got '{value}'"))
            }
        },
        "_width" | "_height" => int_in(1, 4000),
        // Faker's realText throws below 10, which the upstream answers with a 500.
        "_characters" => match value.parse::<i64>() {
            Ok(n) if n < 10 => {
                Err(format!("must be 10 or more (the upstream fails with a 500 below 10), got '{value}'"))
            }
            _ => int_in(10, 100_000),
        },
        "_taxes" => int_in(0, 100),
        "_categories_number" => int_in(1, 20),
        "_price_min" | "_price_max" => match value.parse::<f64>() {
            Ok(p) if p.is_finite() && p >= 0.0 => Ok(()),
            _ => Err(format!("must be a non-negative number, got '{value}'")),
        },
        // duckhaul stores `categories` as LIST(BIGINT); string or uuid categories would need a
        // different table type, so only the default is accepted rather than failing mid-job.
        "_categories_type" => match value {
            "integer" => Ok(()),
            _ => Err(format!("only 'integer' is supported (products.categories is stored as BIGINT[]), got '{value}'")),
        },
        "_country_code" => {
            if value.len() == 2 && value.chars().all(|c| c.is_ascii_uppercase()) {
                Ok(())
            } else {
                Err(format!("must be a two-letter upper-case country code such as 'IT', got '{value}'"))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn params_are_normalised_to_upstream_names() {
        let out = validate_params(Resource::Persons, &p(json!({"gender": "female", "_birthday_start": "1990-01-01"})))
            .unwrap();
        assert_eq!(out, vec![("_birthday_start".into(), "1990-01-01".into()), ("_gender".into(), "female".into())]);
        let out = validate_params(Resource::Images, &p(json!({"width": 640}))).unwrap();
        assert_eq!(out, vec![("_width".to_string(), "640".to_string())]);
    }

    #[test]
    fn undocumented_or_bad_params_are_refused() {
        let e = validate_params(Resource::Users, &p(json!({"width": 1}))).unwrap_err();
        assert_eq!(e.param, "width");
        assert!(e.message.contains("users takes _gender"), "{}", e.message);
        assert!(validate_params(Resource::Users, &p(json!({"gender": "robot"}))).is_err());
        assert!(validate_params(Resource::Books, &p(json!({"x": 1}))).is_err());
        assert!(
            validate_params(
                Resource::Persons,
                &p(json!({"birthday_start": "2000-01-01", "birthday_end": "1990-01-01"}))
            )
            .is_err()
        );
    }

    #[test]
    fn texts_need_ten_characters_or_more() {
        for few in [9, 1, 0, -3] {
            let e = validate_params(Resource::Texts, &p(json!({"characters": few}))).unwrap_err();
            assert!(e.message.contains("must be 10 or more"), "{few}: {}", e.message);
        }
        assert!(validate_params(Resource::Texts, &p(json!({"characters": 10}))).is_ok());
        assert!(validate_params(Resource::Texts, &p(json!({"characters": 100_001}))).is_err());
    }
}
