//! A table's schema widened to hold one more record: how an evolving table follows the API.
//!
//! Only lossless changes are made, and only where the record needs them:
//! - a field (or a member of an object, at any depth) the schema lacks becomes a column (a
//!   member) typed by its value, as the first page's would be; a null one does not: it holds
//!   nothing yet, and the decoder lets nulls pass;
//! - a column that has held only nulls (`Fake::Null`) takes the type of its first value;
//! - `BIGINT` takes a fractional number as `DOUBLE`; `DATE` takes an RFC 3339 timestamp as
//!   `TIMESTAMPTZ` (a date is midnight UTC, so every earlier value is kept);
//! - a list widens its element, a `STRUCT` its members, the same way.
//!
//! Anything else is left as it is, for the decoder to judge: a value it cannot hold (a string in
//! a number, an object in a string's place) is the record's misfit, which the caller quarantines
//! or refuses by its contract. Declared columns are never changed.

use super::shape::{Seen, column_type, field_of, record_shape};
use super::{InferError, check_schema};
use crate::catalog::decode::DecodeError;
use crate::catalog::{ColumnType, Fake, Field, Schema};

/// `schema` widened to hold `record` (one record's JSON text), leaving the `declared` columns as
/// they are. Fails when the record is not an object, or when what it adds cannot be a column
/// (a name that differs only in case from another, a lineage column's).
pub fn widen(schema: &Schema, record: &[u8], declared: &[Field]) -> Result<Schema, InferError> {
    let members = record_shape(record).map_err(|e| InferError::Body(DecodeError::Shape(e.to_string())))?;
    let fields = widen_fields(&schema.fields, members, declared);
    let widened = Schema { fields };
    check_schema(&widened)?;
    Ok(widened)
}

fn widen_fields(fields: &[Field], members: Vec<(String, Seen)>, declared: &[Field]) -> Vec<Field> {
    let mut out = fields.to_vec();
    for (name, seen) in members {
        if matches!(seen, Seen::Nothing) || declared.iter().any(|d| d.name == name) {
            continue;
        }
        match out.iter_mut().find(|f| f.name == name) {
            Some(field) if field.fake == Fake::Null => *field = field_of(&name, seen),
            Some(field) => field.ty = widen_type(&field.ty, seen),
            None => out.push(field_of(&name, seen)),
        }
    }
    out
}

fn widen_type(ty: &ColumnType, seen: Seen) -> ColumnType {
    match (ty, seen) {
        (ColumnType::Integer, Seen::Double) => ColumnType::Double,
        (ColumnType::Date, Seen::Text { instants: true, .. }) => ColumnType::TimestampTz,
        (ColumnType::Struct(fields), Seen::Object(members)) => ColumnType::Struct(widen_fields(fields, members, &[])),
        (ColumnType::List { element, min, max }, Seen::Array(seen)) => {
            let element = match *seen {
                Seen::Nothing => element.as_ref().clone(),
                // A list of lists holds the inner ones as JSON text (`infer`).
                Seen::Array(_) if element.fake == Fake::Null => Field::new("element", ColumnType::Text, Fake::Generic),
                seen if element.fake == Fake::Null => Field::new("element", column_type(seen), Fake::Generic),
                seen => Field { ty: widen_type(&element.ty, seen), ..element.as_ref().clone() },
            };
            ColumnType::List { element: Box::new(element), min: *min, max: *max }
        }
        (ty, _) => ty.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::infer::infer_schema;
    use crate::catalog::pointer::JsonPointer;
    use crate::catalog::types::parse_column_type;

    fn spelled(schema: &Schema) -> Vec<String> {
        schema
            .fields
            .iter()
            .map(|f| format!("{} {}{}", f.name, f.ty.duckdb_sql(), if f.fake == Fake::Null { " (nulls)" } else { "" }))
            .collect()
    }

    #[test]
    fn a_record_widens_only_what_it_needs() {
        let first = r#"[{"id": 1, "score": 2, "day": "2026-01-02", "note": null, "customer": {"name": "A"},
                          "tags": [], "title": "t"}]"#;
        let schema = infer_schema(first.as_bytes(), &JsonPointer::parse("").unwrap(), &[]).unwrap();
        assert_eq!(
            spelled(&schema),
            [
                "id BIGINT",
                "score BIGINT",
                "day DATE",
                "note VARCHAR (nulls)",
                "customer STRUCT(\"name\" VARCHAR)",
                "tags VARCHAR[]",
                "title VARCHAR"
            ]
        );
        let record = br#"{"id": 2, "score": 2.5, "day": "2026-01-02T03:04:05Z", "note": 7.5, "customer": {"name": "B",
                          "vip": true, "fax": null}, "tags": [1], "title": 3, "assignee": {"login": "x"}, "gone": null}"#;
        let widened = widen(&schema, record, &[]).unwrap();
        assert_eq!(
            spelled(&widened),
            [
                "id BIGINT",
                "score DOUBLE",
                "day TIMESTAMPTZ",
                "note DOUBLE",
                "customer STRUCT(\"name\" VARCHAR, \"vip\" BOOLEAN)",
                "tags BIGINT[]",
                "title VARCHAR",
                "assignee STRUCT(\"login\" VARCHAR)"
            ]
        );
        // What does not widen is left for the decoder to refuse; declared columns stay.
        let declared = [Field::new("id", parse_column_type("BIGINT").unwrap(), Fake::Generic)];
        let same = widen(&widened, br#"{"id": 2.5, "score": "n/a", "customer": "none"}"#, &declared).unwrap();
        assert_eq!(same, widened);
        assert!(matches!(widen(&schema, br#"{"ID": 1}"#, &[]), Err(InferError::CaseClash { .. })));
        assert!(matches!(widen(&schema, br#"{"_commit": 1}"#, &[]), Err(InferError::Lineage { .. })));
    }
}
