//! Where a page that failed to decode went wrong, said as a record's index and a field's JSON
//! Pointer: found on the failure path only, by decoding again through the same seeds.

use serde::de::DeserializeSeed;

use super::column::{Column, ValueSeed};
use crate::catalog::pointer::JsonPointer;
use crate::catalog::{ColumnType, Fake, Field, Schema};

/// Where a page that failed to decode went wrong, as "record 3, field /customer/zip: ...": the
/// streaming decoder knows only the line and column. Runs on the failure path only: it parses
/// the body into a `serde_json::Value` and decodes record by record, then member by member, with
/// the same seeds as the decoder, so it finds the same misfit. `None` when it finds none (a
/// duplicate key, which a `Value` cannot hold).
pub(super) fn locate_misfit(schema: &Schema, body: &[u8], records: &JsonPointer, closed: bool) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let records = body.pointer(records.as_str())?.as_array()?;
    records.iter().enumerate().find_map(|(i, record)| {
        if !record.is_object() {
            return Some(format!("record {i} is not an object"));
        }
        let (path, message) = record_misfit(schema, record, closed)?;
        Some(if path.is_empty() {
            format!("record {i}: {message}")
        } else {
            format!("record {i}, field {path}: {message}")
        })
    })
}

/// Where `record` (an object) does not decode with `schema`: the JSON Pointer of its innermost
/// misfit member (empty for the record itself) and the decoder's reason. `closed`: as the
/// records of a source are decoded, a member without a column (not null) is a misfit too, as is
/// a first value in a column that has held only nulls.
pub fn record_misfit(schema: &Schema, record: &serde_json::Value, closed: bool) -> Option<(String, String)> {
    misfit(record, &ColumnType::Struct(schema.fields.clone()), closed)
}

/// The innermost member of `value` that does not decode as `ty`: its JSON Pointer relative to
/// `value` and the decoder's reason.
fn misfit(value: &serde_json::Value, ty: &ColumnType, closed: bool) -> Option<(String, String)> {
    let mut column = Column::new_in(ty, closed);
    // Decoded from its own bytes, through the very code the page went through: decoding from
    // the `Value` itself would give the visitors a second caller, and the compiler would stop
    // inlining them into the page's loop (+2% instructions on Faker pages, measured).
    let bytes = serde_json::to_vec(value).ok()?;
    let reason =
        ValueSeed { column: &mut column }.deserialize(&mut serde_json::Deserializer::from_slice(&bytes)).err()?;
    let escape = |token: &str| token.replace('~', "~0").replace('/', "~1");
    let inner = match (ty, value) {
        (ColumnType::Struct(fields), serde_json::Value::Object(members)) => fields
            .iter()
            .find_map(|f| {
                let (path, message) = field_misfit(members.get(&f.name)?, f, closed)?;
                Some((format!("/{}{path}", escape(&f.name)), message))
            })
            .or_else(|| {
                let (name, _) = members
                    .iter()
                    .filter(|_| closed)
                    .find(|(name, value)| !value.is_null() && !fields.iter().any(|f| f.name == **name))?;
                Some((format!("/{}", escape(name)), NO_COLUMN.to_string()))
            }),
        (ColumnType::List { element, .. }, serde_json::Value::Array(items)) => {
            items.iter().enumerate().find_map(|(i, item)| {
                let (path, message) = field_misfit(item, element, closed)?;
                Some((format!("/{i}{path}"), message))
            })
        }
        _ => None,
    };
    Some(inner.unwrap_or_else(|| (String::new(), without_position(&reason))))
}

/// What the decoder says of a member without a column.
const NO_COLUMN: &str = "a field the table has no column for";

/// `misfit` for the value of `field`, which may be a column that has held only nulls.
fn field_misfit(value: &serde_json::Value, field: &Field, closed: bool) -> Option<(String, String)> {
    if closed && field.fake == Fake::Null {
        return (!value.is_null()).then(|| (String::new(), PENDING.to_string()));
    }
    misfit(value, &field.ty, closed)
}

/// What a first value in a column that has held only nulls is told.
const PENDING: &str = "a first value in a column that has held only nulls";

/// A decoding error's reason without serde_json's " at line 1 column 12", which would point
/// into the value's own bytes, not the body's.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).unwrap_or(&text).to_string()
}
