//! A generic source's record schema, inferred from its first page and merged with the columns
//! its file declares (a declared column is used as declared, wherever the records put it).
//!
//! Each field's type comes from every value it has on the page:
//! - integers are `BIGINT`; any fractional number among them makes it `DOUBLE`; an integer
//!   beyond BIGINT makes it `VARCHAR` (the exact digits), or `DOUBLE` beside fractions;
//! - booleans are `BOOLEAN`;
//! - strings are `VARCHAR`, unless every one is an ISO date `YYYY-MM-DD` (`DATE`) or every one
//!   is an RFC 3339 timestamp (`TIMESTAMPTZ`, stored in UTC);
//! - objects are a `STRUCT` of every member seen, merged across records, recursively; an
//!   object that never has a member is `VARCHAR` (DuckDB has no empty STRUCT);
//! - arrays are a list of their elements' merged type (`VARCHAR[]` when every one is empty);
//!   an array of arrays is `VARCHAR[]` holding the inner arrays as JSON text, because BigQuery
//!   cannot hold a list of lists;
//! - a field only ever null is `VARCHAR`, marked (`Fake::Null`) as having held only nulls: an
//!   evolving table gives it the type of its first value (`widen`);
//! - mixed kinds (a number here, a string there; an object here, a string there) are `VARCHAR`:
//!   numbers and booleans keep their JSON spelling, objects and arrays their JSON text.
//!
//! Fields are in the order first seen across the records (members of an object likewise);
//! declared columns no record has come after them, in their declared order. Every column is
//! nullable, so a field missing from some records is simply null there. Names stay as the API
//! spells them (DDL quotes them), but names that differ only in case are refused (DuckDB's
//! identifiers are case-insensitive), as are empty names and duckhaul's lineage columns.
//!
//! Inference reads the body as it streams by, like decoding: `serde_json::Value` here sorts an
//! object's keys, which would lose the order the API gives its fields.

mod shape;
mod widen;

use serde::de::DeserializeSeed;

use super::decode::DecodeError;
use super::pointer::{JsonPointer, PointerWalk};
use super::{ColumnType, Field, LINEAGE_COLUMNS, Schema};
use shape::{Inference, field_of};
pub use widen::widen;

/// Why no schema could be inferred.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferError {
    /// The body is not JSON, has no array at the records pointer, or holds a record that is
    /// not an object.
    #[error("{0}")]
    Body(DecodeError),
    #[error(
        "the first page has no records at {records} and no columns are declared: there is nothing to make a table of"
    )]
    NoColumns { records: String },
    #[error(
        "fields {first:?} and {second:?}{} differ only in case: DuckDB's names are case-insensitive, so they \
         cannot both be columns",
        within(.path)
    )]
    CaseClash { path: String, first: String, second: String },
    #[error("a field{} has an empty name, which cannot be a column", within(.path))]
    EmptyName { path: String },
    #[error(
        "field {name:?} clashes with duckhaul's lineage column {lineage} (every table ends with _job_id, _page, \
         _ingested_at and _commit)"
    )]
    Lineage { name: String, lineage: &'static str },
}

fn within(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!(" (in {path})") }
}

/// Infers the schema of the records at `records` in `body` (a source's first page), with the
/// `declared` columns (from [`super::types::parse_column_type`]) taking precedence.
pub fn infer_schema(body: &[u8], records: &JsonPointer, declared: &[Field]) -> Result<Schema, InferError> {
    let mut members = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let reached = PointerWalk::new(records, Inference::new(&mut members))
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|_| r))
        .map_err(|e| {
            InferError::Body(if e.is_syntax() || e.is_eof() || e.is_io() {
                DecodeError::Syntax(e.to_string())
            } else {
                DecodeError::Shape(e.to_string())
            })
        })?;
    if !reached {
        return Err(InferError::Body(DecodeError::Shape(format!("no array of records at {records} in the response"))));
    }

    let mut fields: Vec<Field> = members
        .into_iter()
        .map(|(name, seen)| match declared.iter().find(|d| d.name == name) {
            Some(column) => column.clone(),
            None => field_of(&name, seen),
        })
        .collect();
    for column in declared {
        if !fields.iter().any(|f| f.name == column.name) {
            fields.push(column.clone());
        }
    }
    if fields.is_empty() {
        return Err(InferError::NoColumns { records: records.to_string() });
    }
    let schema = Schema { fields };
    check_schema(&schema)?;
    Ok(schema)
}

/// Refuses names DuckDB cannot tell apart or hold, and duckhaul's lineage columns.
fn check_schema(schema: &Schema) -> Result<(), InferError> {
    let fields = &schema.fields;
    check_names(fields, "")?;
    if let Some((field, (lineage, _))) = fields
        .iter()
        .find_map(|f| LINEAGE_COLUMNS.iter().find(|(l, _)| l.eq_ignore_ascii_case(&f.name)).map(|l| (f, l)))
    {
        return Err(InferError::Lineage { name: field.name.clone(), lineage });
    }
    Ok(())
}

/// Refuses empty names and names that differ only in case, at every level.
fn check_names(fields: &[Field], path: &str) -> Result<(), InferError> {
    for (i, field) in fields.iter().enumerate() {
        if field.name.is_empty() {
            return Err(InferError::EmptyName { path: path.to_string() });
        }
        if let Some(first) = fields[..i].iter().find(|f| f.name.eq_ignore_ascii_case(&field.name)) {
            return Err(InferError::CaseClash {
                path: path.to_string(),
                first: first.name.clone(),
                second: field.name.clone(),
            });
        }
        let inner = if path.is_empty() { field.name.clone() } else { format!("{path}.{}", field.name) };
        check_type(&field.ty, &inner)?;
    }
    Ok(())
}

fn check_type(ty: &ColumnType, path: &str) -> Result<(), InferError> {
    match ty {
        ColumnType::Struct(members) => check_names(members, path),
        ColumnType::List { element, .. } => check_type(&element.ty, &format!("{path}[]")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Fake;
    use crate::catalog::decode::decode_records_at;
    use crate::catalog::types::parse_column_type;

    fn infer(body: &str, pointer: &str, declared: &[(&str, &str)]) -> Result<Schema, InferError> {
        let declared: Vec<Field> =
            declared.iter().map(|(n, t)| Field::new(n, parse_column_type(t).unwrap(), Fake::Generic)).collect();
        infer_schema(body.as_bytes(), &JsonPointer::parse(pointer).unwrap(), &declared)
    }

    /// The schema as `name TYPE` lines, DuckDB's spelling.
    fn columns(body: &str) -> Vec<String> {
        let schema = infer(body, "", &[]).unwrap_or_else(|e| panic!("{e}"));
        schema.fields.iter().map(|f| format!("{} {}", f.name, f.ty.duckdb_sql())).collect()
    }

    #[test]
    fn scalars_take_the_type_every_value_fits() {
        let body = r#"[
            {"id": 1, "price": 2, "ok": true, "name": "a", "day": "2026-01-02", "at": "2026-01-02T03:04:05Z",
             "gone": null, "big": 18446744073709551615, "n": 1},
            {"id": 2, "price": 2.5, "ok": false, "name": "2026-01-02", "day": null, "at": "2026-01-02T05:04:05.5+02:00",
             "gone": null, "big": 1, "n": "1"},
            {"id": -3, "price": 3, "day": "2026-02-28", "name": null, "extra": 1}
        ]"#;
        assert_eq!(
            columns(body),
            [
                "id BIGINT",
                "price DOUBLE",
                "ok BOOLEAN",
                "name VARCHAR",
                "day DATE",
                "at TIMESTAMPTZ",
                "gone VARCHAR",
                "big VARCHAR",
                "n VARCHAR",
                "extra BIGINT",
            ]
        );
        // A string that only looks like a date, or a timestamp without an offset, stays text.
        assert_eq!(columns(r#"[{"d": "2026-02-30", "t": "2026-01-02T03:04:05"}]"#), ["d VARCHAR", "t VARCHAR"]);
        assert_eq!(
            columns(r#"[{"d": "2026-01-02", "t": "2026-01-02T03:04:05Z"}, {"d": "x", "t": "2026-01-02"}]"#),
            ["d VARCHAR", "t VARCHAR"]
        );
    }

    #[test]
    fn objects_become_structs_and_arrays_lists_merged_across_records() {
        let body = r#"[
            {"customer": {"name": "Ann", "address": {"city": "Rome"}}, "tags": ["a"], "lines": [{"sku": "x", "qty": 1}]},
            {"customer": {"email": null, "name": "Bob", "address": {"zip": 100}}, "tags": [],
             "lines": [{"qty": 2.5, "note": "n"}, {"sku": "y"}]},
            {"customer": null, "empty": [], "matrix": [[1, 2], [3]], "blank": {}}
        ]"#;
        assert_eq!(
            columns(body),
            [
                r#"customer STRUCT("name" VARCHAR, "address" STRUCT("city" VARCHAR, "zip" BIGINT), "email" VARCHAR)"#,
                "tags VARCHAR[]",
                r#"lines STRUCT("sku" VARCHAR, "qty" DOUBLE, "note" VARCHAR)[]"#,
                "empty VARCHAR[]",
                "matrix VARCHAR[]",
                "blank VARCHAR",
            ]
        );
    }

    #[test]
    fn mixed_kinds_are_varchar() {
        let body = r#"[{"a": 1, "b": {"x": 1}, "c": [1], "d": true, "e": [1, "x", {"y": 1}]},
                       {"a": "one", "b": "none", "c": {"x": 1}, "d": 1, "e": [2.5]}]"#;
        assert_eq!(columns(body), ["a VARCHAR", "b VARCHAR", "c VARCHAR", "d VARCHAR", "e VARCHAR[]"]);
    }

    #[test]
    fn declared_columns_win_and_keep_their_place() {
        let body =
            r#"{"data": [{"id": "7", "created": "2026-01-02 03:04:05", "customer": {"name": "Ann", "vip": 1}}]}"#;
        let schema = infer(
            body,
            "/data",
            &[
                ("later", "DATE"),
                ("customer", "STRUCT(name VARCHAR, email VARCHAR)"),
                ("id", "BIGINT"),
                ("created", "TIMESTAMPTZ"),
            ],
        )
        .unwrap();
        let spelled: Vec<String> = schema.fields.iter().map(|f| format!("{} {}", f.name, f.ty.duckdb_sql())).collect();
        assert_eq!(
            spelled,
            ["id BIGINT", "created TIMESTAMPTZ", r#"customer STRUCT("name" VARCHAR, "email" VARCHAR)"#, "later DATE",]
        );
        // With no records, the declared columns are the schema; with neither, there is none.
        assert_eq!(infer(r#"{"data": []}"#, "/data", &[("id", "BIGINT")]).unwrap().fields.len(), 1);
        assert_eq!(
            infer(r#"{"data": []}"#, "/data", &[]).unwrap_err().to_string(),
            "the first page has no records at \"/data\" and no columns are declared: there is nothing to make a table of"
        );
    }

    #[test]
    fn names_that_duckdb_cannot_tell_apart_are_refused() {
        assert_eq!(
            infer(r#"[{"id": 1}, {"ID": 2}]"#, "", &[]).unwrap_err().to_string(),
            "fields \"id\" and \"ID\" differ only in case: DuckDB's names are case-insensitive, so they cannot both be columns"
        );
        assert_eq!(
            infer(r#"[{"lines": [{"sku": 1, "a": {"Zip": 1, "zip": 2}}]}]"#, "", &[]).unwrap_err(),
            InferError::CaseClash { path: "lines[].a".into(), first: "Zip".into(), second: "zip".into() }
        );
        assert!(infer(r#"[{"createdat": 1}]"#, "", &[("createdAt", "TIMESTAMPTZ")]).is_err());
        assert_eq!(infer(r#"[{"": 1}]"#, "", &[]).unwrap_err(), InferError::EmptyName { path: String::new() });
        assert_eq!(
            infer(r#"[{"_Page": 1}]"#, "", &[]).unwrap_err(),
            InferError::Lineage { name: "_Page".into(), lineage: "_page" }
        );
        // Names DuckDB can quote are kept as the API spells them.
        assert_eq!(
            columns(r#"[{"Odd \"name\"": 1, "with space": 2, "ünïcode": 3}]"#),
            ["Odd \"name\" BIGINT", "with space BIGINT", "ünïcode BIGINT"]
        );
    }

    #[test]
    fn bodies_without_records_are_told() {
        let error = |body: &str, pointer: &str| infer(body, pointer, &[]).unwrap_err();
        assert!(
            matches!(error(r#"{"data": [1]}"#, "/items"), InferError::Body(DecodeError::Shape(m)) if m.contains("no array of records at \"/items\""))
        );
        assert!(
            matches!(error(r#"[{"a": 1}, "b"]"#, ""), InferError::Body(DecodeError::Shape(m)) if m.contains("expected record 1 to be an object"))
        );
        assert!(matches!(error(r#"[{"a": 1}"#, ""), InferError::Body(DecodeError::Syntax(_))));
    }

    #[test]
    fn the_fake_server_draws_generic_fields_that_infer_back_to_their_types() {
        let declared: Vec<Field> = [
            ("word", "VARCHAR"),
            ("count", "BIGINT"),
            ("amount", "DOUBLE"),
            ("flag", "BOOLEAN"),
            ("day", "DATE"),
            ("at", "TIMESTAMPTZ"),
            ("inner", "STRUCT(n BIGINT, tags VARCHAR[])"),
        ]
        .iter()
        .map(|(n, t)| Field::new(n, parse_column_type(t).unwrap(), Fake::Generic))
        .collect();
        let schema = Schema { fields: declared };
        let render =
            |seed| crate::fake_api::render_page(super::super::Resource::Custom, &schema, 20, seed, "en_US", &[]);
        assert_eq!(render(3), render(3));
        assert_ne!(render(3), render(4));
        let body = render(3);
        let inferred = infer_schema(&body, &JsonPointer::parse("/data").unwrap(), &[]).unwrap();
        assert_eq!(inferred, schema);
        let page = decode_records_at(&schema, &body, &JsonPointer::parse("/data").unwrap()).unwrap();
        assert_eq!(page.batch.num_rows(), 20);
    }

    /// An inferred schema's DDL runs in DuckDB, and a decoded page appended through the Arrow
    /// appender (as the writer appends) reads back exactly.
    #[test]
    fn an_inferred_table_is_created_and_filled_in_duckdb() {
        use duckdb::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray};
        use duckdb::arrow::datatypes::{DataType, Field as ArrowField, Schema as ArrowSchema, TimeUnit};
        use duckdb::arrow::record_batch::RecordBatch;
        use std::sync::Arc;

        let body = r#"{"data": {"items": [
            {"id": 1, "Name": "Ann", "score": 1.5, "vip": true, "born": "1990-01-02",
             "seen": "2026-01-02T05:04:05.25+02:00", "customer": {"city": "Rome", "zip": 100},
             "tags": ["a", "b"], "lines": [{"sku": "x", "qty": 2}], "note": "plain", "odd key": "v"},
            {"id": 2, "Name": "Bob", "score": 2, "vip": false, "born": null, "seen": "2026-01-02T03:04:05Z",
             "customer": null, "tags": [], "lines": [{"sku": "y", "qty": 3}, {"qty": 4}], "note": {"any": [1, "x"]}}
        ]}}"#;
        let pointer = JsonPointer::parse("/data/items").unwrap();
        let schema = infer_schema(body.as_bytes(), &pointer, &[]).unwrap();
        let page = decode_records_at(&schema, body.as_bytes(), &pointer).unwrap();

        // The BigQuery schema from the catalogue agrees with the one from the decoded Arrow
        // types; TIMESTAMPTZ is a TIMESTAMP there.
        let bigquery = crate::export::bigquery::from_catalog(&schema);
        let from_arrow = crate::export::bigquery::from_arrow(&page.batch.schema()).unwrap();
        assert_eq!(bigquery[..schema.fields.len()], from_arrow[..]);
        assert_eq!((bigquery[5].name.as_str(), bigquery[5].ty.as_str()), ("seen", "TIMESTAMP"));

        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(&crate::store::schema::table_ddl("orders", &schema)).unwrap();
        // The lineage columns, as the writer adds them.
        let n = page.batch.num_rows();
        let mut fields: Vec<ArrowField> = page.batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(ArrowField::new("_job_id", DataType::Utf8, false));
        fields.push(ArrowField::new("_page", DataType::Int32, false));
        fields.push(ArrowField::new(
            "_ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ));
        fields.push(ArrowField::new("_commit", DataType::Int64, false));
        let mut columns: Vec<ArrayRef> = page.batch.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec!["job"; n])));
        columns.push(Arc::new(Int32Array::from(vec![0; n])));
        columns.push(Arc::new(TimestampMicrosecondArray::from(vec![0; n]).with_timezone("UTC")));
        columns.push(Arc::new(Int64Array::from(vec![1; n])));
        let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).unwrap();
        let mut appender = conn.appender("orders").unwrap();
        appender.append_record_batch(batch).unwrap();
        appender.flush().unwrap();
        drop(appender);

        let types: Vec<(String, String)> = conn
            .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .take(11)
            .collect();
        let types: Vec<String> = types.iter().map(|(n, t)| format!("{n} {t}")).collect();
        assert_eq!(
            types,
            [
                "id BIGINT",
                "Name VARCHAR",
                "score DOUBLE",
                "vip BOOLEAN",
                "born DATE",
                "seen TIMESTAMP WITH TIME ZONE",
                "customer STRUCT(city VARCHAR, zip BIGINT)",
                "tags VARCHAR[]",
                "lines STRUCT(sku VARCHAR, qty BIGINT)[]",
                "note VARCHAR",
                "odd key VARCHAR",
            ]
        );

        type Row = (
            i64,
            String,
            f64,
            bool,
            Option<String>,
            i64,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = conn
            .prepare(
                r#"SELECT id, "Name", score, vip, CAST(born AS VARCHAR), epoch_us(seen), customer.city, CAST(tags AS VARCHAR),
                          CAST(lines AS VARCHAR), note, "odd key" FROM orders ORDER BY id"#,
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let t = 1_767_323_045_000_000;
        assert_eq!(
            rows,
            [
                (
                    1,
                    "Ann".into(),
                    1.5,
                    true,
                    Some("1990-01-02".into()),
                    t + 250_000,
                    Some("Rome".into()),
                    "[a, b]".into(),
                    "[{'sku': x, 'qty': 2}]".into(),
                    Some("plain".into()),
                    Some("v".into())
                ),
                (
                    2,
                    "Bob".into(),
                    2.0,
                    false,
                    None,
                    t,
                    None,
                    "[]".into(),
                    "[{'sku': y, 'qty': 3}, {'sku': NULL, 'qty': 4}]".into(),
                    Some(r#"{"any":[1,"x"]}"#.into()),
                    None
                ),
            ]
        );
    }
}
