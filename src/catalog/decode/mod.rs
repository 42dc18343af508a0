//! Decodes an upstream response body straight into Arrow columns, driven by the catalogue
//! schema: no intermediate `serde_json::Value` or per-record structs, so a 1,000-record page
//! costs one pass over its bytes. The resulting `RecordBatch` goes to DuckDB's Arrow appender.
//!
//! Decoding is lenient where the upstream has been inconsistent (numbers sent as strings, as
//! v1 did for `price`; ids as strings) and strict where a value cannot mean what the column
//! says (text in a DOUBLE column): such a page is refused whole rather than stored half-wrong.

mod column;
mod misfit;
mod time;

use std::fmt;
use std::sync::Arc;

use duckdb::arrow::array::ArrayRef;
use duckdb::arrow::record_batch::RecordBatch;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Schema;
use super::pointer::{JsonPointer, PointerWalk, RecordsReader};
use column::{Column, ValueSeed};
pub use column::{arrow_fields, arrow_type};
use misfit::locate_misfit;
pub use misfit::record_misfit;

/// A decoded page: its records as columns, plus what the envelope said about them.
#[derive(Debug)]
pub struct DecodedPage {
    pub batch: RecordBatch,
    /// The envelope's `total`, when present.
    pub total: Option<u64>,
}

/// Why a body could not be decoded. `Syntax` (truncated or malformed JSON) may be a transport
/// fault and is worth retrying; `Shape` means the upstream sent something else than the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    Syntax(String),
    Shape(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Syntax(m) => write!(f, "invalid JSON: {m}"),
            DecodeError::Shape(m) => write!(f, "unexpected response shape: {m}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a Faker envelope (`{"status":..,"total":..,"data":[..]}`) into a batch with one
/// column per schema field, in schema order.
pub fn decode_page(schema: &Schema, body: &[u8]) -> Result<DecodedPage, DecodeError> {
    let mut records = Column::new_struct(&schema.fields, false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let envelope = EnvelopeSeed { records: &mut records }
        .deserialize(&mut de)
        .and_then(|total| de.end().map(|_| total))
        .map_err(|e| {
            if e.is_syntax() || e.is_eof() || e.is_io() {
                DecodeError::Syntax(e.to_string())
            } else {
                DecodeError::Shape(e.to_string())
            }
        })?;
    let (seen_data, total) = envelope;
    if !seen_data {
        return Err(DecodeError::Shape("no \"data\" array in the response".into()));
    }
    Ok(DecodedPage { batch: into_batch(records)?, total })
}

/// Decodes the array of records at `records` (a JSON Pointer; the empty one is the body itself)
/// into a batch with one column per schema field, in schema order: the same decoder as
/// [`decode_page`], reached by walking the body as it streams by. `null` there is a page
/// without records. Members the schema does not name are skipped (schema evolution is a later
/// issue). A record that does not fit refuses the page, naming the record's index and the
/// field's JSON Pointer within it. The page's `total` is `None`: where a source finds its total
/// is its pagination's business.
pub fn decode_records_at(schema: &Schema, body: &[u8], records: &JsonPointer) -> Result<DecodedPage, DecodeError> {
    decode_records(schema, body, records, false)
}

/// [`decode_records_at`] for a table that evolves: a member the schema has no column for, unless
/// null, refuses the page as a misfit (named like any other), as does a first value in a column
/// that has held only nulls (`Fake::Null`): the caller then evolves the table
/// (`catalog::evolve`). Pages that fit cost what `decode_records_at` costs.
pub fn decode_fitting_records_at(
    schema: &Schema,
    body: &[u8],
    records: &JsonPointer,
) -> Result<DecodedPage, DecodeError> {
    decode_records(schema, body, records, true)
}

fn decode_records(
    schema: &Schema,
    body: &[u8],
    records: &JsonPointer,
    closed: bool,
) -> Result<DecodedPage, DecodeError> {
    let mut column = Column::new_struct(&schema.fields, closed);
    let mut de = serde_json::Deserializer::from_slice(body);
    let reached = PointerWalk::new(records, &mut column).deserialize(&mut de).and_then(|r| de.end().map(|_| r));
    match reached {
        Ok(true) => Ok(DecodedPage { batch: into_batch(column)?, total: None }),
        Ok(false) => Err(DecodeError::Shape(format!("no array of records at {records} in the response"))),
        Err(e) if e.is_syntax() || e.is_eof() || e.is_io() => Err(DecodeError::Syntax(e.to_string())),
        Err(e) => {
            Err(DecodeError::Shape(locate_misfit(schema, body, records, closed).unwrap_or_else(|| e.to_string())))
        }
    }
}

/// The finished columns of the records column as one batch.
fn into_batch(records: Column) -> Result<RecordBatch, DecodeError> {
    let Column::Struct { fields, children, .. } = records else { unreachable!("records decode into a struct") };
    let columns: Vec<ArrayRef> = children.into_iter().map(Column::finish).collect();
    let arrow_schema = Arc::new(duckdb::arrow::datatypes::Schema::new(fields));
    if columns.is_empty() {
        return Ok(RecordBatch::new_empty(arrow_schema));
    }
    RecordBatch::try_new(arrow_schema, columns).map_err(|e| DecodeError::Shape(e.to_string()))
}

impl RecordsReader for &mut Column {
    fn read<'de, A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        RecordsSeed { records: self }.visit_seq(seq)
    }
}

/// Reads the envelope, sending `data` into the records column; returns (saw data, total).
struct EnvelopeSeed<'a> {
    records: &'a mut Column,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = (bool, Option<u64>);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = (bool, Option<u64>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Faker API response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen_data = false;
        let mut total = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "data" => {
                    map.next_value_seed(RecordsSeed { records: self.records })?;
                    seen_data = true;
                }
                "total" => total = map.next_value::<Option<u64>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((seen_data, total))
    }
}

struct RecordsSeed<'a> {
    records: &'a mut Column,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RecordSeed { column: self.records })?.is_some() {}
        Ok(())
    }
}

/// A top-level record: must be an object (a null record would be a row of nulls, which is
/// never what the upstream means).
struct RecordSeed<'a> {
    column: &'a mut Column,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(ValueSeed { column: self.column })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ColumnType, Field, Resource};
    use duckdb::arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
    use duckdb::arrow::datatypes::Date32Type;
    use duckdb::arrow::datatypes::{DataType, TimeUnit};

    #[test]
    fn users_decode_into_typed_columns() {
        let body = br#"{"status":"OK","code":200,"locale":"en_US","seed":"42","total":2,"data":[
            {"id":1,"uuid":"u1","firstname":"Oscar","lastname":"W","username":"udach","password":"p\"w","email":"e","ip":"1.2.3.4","macAddress":"m","website":"w","image":"i"},
            {"id":2,"uuid":"u2","firstname":"Ann","lastname":"X","extra":[1,2,{"a":null}],"username":"x","password":"y","email":"e2","ip":"i","macAddress":"m","website":"w","image":null}]}"#;
        let page = decode_page(Resource::Users.schema().unwrap(), body).unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(page.batch.num_rows(), 2);
        let ids = page.batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(ids.values(), &[1, 2]);
        let pw = page.batch.column_by_name("password").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(pw.value(0), "p\"w");
        let image = page.batch.column_by_name("image").unwrap();
        assert!(image.is_null(1));
    }

    #[test]
    fn nested_records_decode_into_structs_and_lists() {
        let body = br#"{"total":1,"data":[{"id":1,"name":"ACME","addresses":[
            {"id":1,"street":"s","city":"c","latitude":1.5,"longitude":"-2.25"},
            {"id":1,"street":"t","city":"d","latitude":3,"longitude":4}],
            "contact":{"id":1,"firstname":"A","birthday":"1990-01-02","address":{"id":1,"city":"Rome"}}}]}"#;
        let page = decode_page(Resource::Companies.schema().unwrap(), body).unwrap();
        let addresses = page.batch.column_by_name("addresses").unwrap().as_list::<i32>();
        assert_eq!(addresses.value_length(0), 2);
        let elements = addresses.value(0);
        let lon = elements.as_struct().column_by_name("longitude").unwrap();
        let lon = lon.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(lon.values(), &[-2.25, 4.0]);
        let contact = page.batch.column_by_name("contact").unwrap().as_struct();
        let birthday = contact.column_by_name("birthday").unwrap().as_primitive::<Date32Type>();
        assert_eq!(birthday.value(0), 7306); // 1990-01-02
        let city = contact.column_by_name("address").unwrap().as_struct().column_by_name("city").unwrap().clone();
        assert_eq!(city.as_string::<i32>().value(0), "Rome");
    }

    fn custom_timestamps(body: &[u8]) -> Result<Vec<i64>, DecodeError> {
        let spec: std::collections::BTreeMap<String, String> = [("at".to_string(), "dateTime".to_string())].into();
        let schema = crate::catalog::CustomSpec::parse(&spec).unwrap().schema();
        let page = decode_page(&schema, body)?;
        let column = page.batch.column(0).as_primitive::<duckdb::arrow::datatypes::TimestampMicrosecondType>().clone();
        Ok(column.values().to_vec())
    }

    #[test]
    fn timestamps_come_as_v2_strings_with_or_without_a_zone() {
        // 2026-01-02 03:04:05 UTC
        let t = 1_767_323_045_000_000;
        let body = br#"{"data":[{"at":"2026-01-02T03:04:05.250000"},{"at":"2026-01-02 03:04:05"},
            {"at":"2026-01-02T03:04:05"},{"at":"2026-01-02T05:04:05+02:00"},{"at":"2026-01-02 03:04:05.000000"}]}"#;
        assert_eq!(custom_timestamps(body).unwrap(), [t + 250_000, t, t, t, t]);
    }

    #[test]
    fn v1_datetime_objects_decode_in_their_zone() {
        let t = 1_767_323_045_000_000;
        let body = br#"{"data":[
            {"at":{"date":"2026-01-02 03:04:05.000000","timezone_type":3,"timezone":"UTC"}},
            {"at":{"timezone":"+02:00","timezone_type":1,"date":"2026-01-02 05:04:05.500000"}},
            {"at":{"date":"2026-01-02 03:04:05"}},
            {"at":null}]}"#;
        assert_eq!(custom_timestamps(body).unwrap()[..3], [t, t + 500_000, t]);
        let rome =
            br#"{"data":[{"at":{"date":"2026-01-02 03:04:05.000000","timezone_type":3,"timezone":"Europe/Rome"}}]}"#;
        assert!(matches!(custom_timestamps(rome), Err(DecodeError::Shape(m)) if m.contains("Europe/Rome")));
        let no_date = br#"{"data":[{"at":{"timezone":"UTC"}}]}"#;
        assert!(matches!(custom_timestamps(no_date), Err(DecodeError::Shape(_))));
    }

    #[test]
    fn truncated_and_misshapen_bodies_are_told_apart() {
        let schema = Resource::Places.schema().unwrap();
        assert!(matches!(decode_page(schema, br#"{"data":[{"latitude":1"#), Err(DecodeError::Syntax(_))));
        assert!(matches!(decode_page(schema, br#"{"data":[{"latitude":"north"}]}"#), Err(DecodeError::Shape(_))));
        assert!(matches!(decode_page(schema, br#"{"message":"Server Error"}"#), Err(DecodeError::Shape(_))));
        assert!(matches!(decode_page(schema, br#"{"data":[null]}"#), Err(DecodeError::Shape(_))));
    }

    fn generic(fields: &[(&str, ColumnType)]) -> Schema {
        Schema { fields: fields.iter().map(|(n, t)| Field::new(n, t.clone(), crate::catalog::Fake::Generic)).collect() }
    }

    fn at(schema: &Schema, body: &str, pointer: &str) -> Result<RecordBatch, DecodeError> {
        decode_records_at(schema, body.as_bytes(), &JsonPointer::parse(pointer).unwrap()).map(|page| page.batch)
    }

    #[test]
    fn records_anywhere_in_the_body_decode_through_the_same_decoder() {
        let schema = generic(&[("id", ColumnType::Integer), ("name", ColumnType::Text)]);
        let bare = at(&schema, r#"[{"id":1,"name":"a","extra":{"x":[1]}},{"name":"b"}]"#, "").unwrap();
        let nested = at(
            &schema,
            r#"{"meta":{"total":2},"data":{"items":[{"id":1,"name":"a"},{"name":"b","id":null}],"next":null}}"#,
            "/data/items",
        )
        .unwrap();
        assert_eq!(bare, nested);
        assert_eq!(bare.num_rows(), 2);
        assert_eq!(
            bare.column(0).as_primitive::<duckdb::arrow::datatypes::Int64Type>().iter().collect::<Vec<_>>(),
            [Some(1), None]
        );
        assert_eq!(bare.column(1).as_string::<i32>().value(1), "b");
        // A Faker envelope through the pointer gives exactly what the Faker decoder gives.
        let users = Resource::Users.schema().unwrap();
        let body = crate::fake_api::render_page(Resource::Users, users, 50, 7, "en_US", &[]);
        let pointer = JsonPointer::parse("/data").unwrap();
        assert_eq!(decode_records_at(users, &body, &pointer).unwrap().batch, decode_page(users, &body).unwrap().batch);
        // `null` where the records are is a page without any.
        assert_eq!(at(&schema, r#"{"data":{"items":null}}"#, "/data/items").unwrap().num_rows(), 0);
    }

    #[test]
    fn a_pointer_that_finds_no_array_is_told() {
        let schema = generic(&[("id", ColumnType::Integer)]);
        assert_eq!(
            at(&schema, r#"{"data":[{"id":1}]}"#, "/items"),
            Err(DecodeError::Shape("no array of records at \"/items\" in the response".into()))
        );
        assert!(matches!(at(&schema, r#"{"items":{"id":1}}"#, "/items"),
            Err(DecodeError::Shape(m)) if m.contains("expected an array of records")));
        assert!(matches!(at(&schema, r#"{"items":[{"id":1}"#, "/items"), Err(DecodeError::Syntax(_))));
    }

    #[test]
    fn a_record_that_does_not_fit_names_its_index_and_field() {
        let schema = generic(&[
            ("id", ColumnType::Integer),
            (
                "customer",
                ColumnType::Struct(vec![Field::new("zip", ColumnType::Integer, crate::catalog::Fake::Generic)]),
            ),
            ("lines", crate::catalog::types::parse_column_type("STRUCT(sku VARCHAR, qty BIGINT)[]").unwrap()),
        ]);
        let body = |record: &str| format!(r#"{{"items":[{{"id":1}},{{"id":2,"customer":{{"zip":3}}}},{record}]}}"#);
        let error = |record: &str| at(&schema, &body(record), "/items").unwrap_err();
        assert_eq!(
            error(r#"{"id":"three"}"#),
            DecodeError::Shape(r#"record 2, field /id: expected an integer, got the string "three""#.into())
        );
        assert_eq!(
            error(r#"{"id":3,"customer":{"zip":"0x1"}}"#).to_string(),
            r#"unexpected response shape: record 2, field /customer/zip: expected an integer, got the string "0x1""#
        );
        assert_eq!(
            error(r#"{"lines":[{"sku":"a","qty":1},{"sku":"b","qty":1.5}]}"#),
            DecodeError::Shape("record 2, field /lines/1/qty: expected an integer, got a fractional number".into())
        );
        assert_eq!(
            error(r#"{"customer":"Ann"}"#),
            DecodeError::Shape("record 2, field /customer: expected an object, got a string".into())
        );
        assert_eq!(error("7"), DecodeError::Shape("record 2 is not an object".into()));
    }

    #[test]
    fn timestamptz_takes_any_offset_and_stores_utc() {
        let schema = generic(&[("at", ColumnType::TimestampTz)]);
        let batch = at(
            &schema,
            r#"[{"at":"2026-01-02T03:04:05Z"},{"at":"2026-01-02T05:04:05.25+02:00"},{"at":"2026-01-01T22:34:05-04:30"},
                {"at":"2026-01-02 03:04:05"},{"at":null}]"#,
            "",
        )
        .unwrap();
        let t = 1_767_323_045_000_000;
        let column = batch.column(0).as_primitive::<duckdb::arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(column.iter().collect::<Vec<_>>(), [Some(t), Some(t + 250_000), Some(t), Some(t), None]);
        assert_eq!(
            batch.schema().field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            at(&schema, r#"[{"at":"yesterday"}]"#, ""),
            Err(DecodeError::Shape(r#"record 0, field /at: expected a timestamp, got "yesterday""#.into()))
        );
    }

    #[test]
    fn varchar_keeps_objects_and_arrays_as_json_text() {
        let schema = generic(&[("v", ColumnType::Text)]);
        let batch =
            at(&schema, r#"[{"v":"s"},{"v":12},{"v":true},{"v":{"b":1,"a":[null,"x"]}},{"v":[]},{"v":null}]"#, "")
                .unwrap();
        let text: Vec<_> = batch.column(0).as_string::<i32>().iter().collect();
        assert_eq!(text, [Some("s"), Some("12"), Some("true"), Some(r#"{"b":1,"a":[null,"x"]}"#), Some("[]"), None]);
    }

    #[test]
    fn records_wider_than_the_members_bitmask_decode() {
        let fields: Vec<(String, ColumnType)> = (0..200).map(|i| (format!("f{i}"), ColumnType::Integer)).collect();
        let refs: Vec<(&str, ColumnType)> = fields.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let schema = generic(&refs);
        // Members in reverse order, the first record without f0 and f128 (which a 128-bit mask
        // would confuse), the second with all.
        let record = |skip: &[usize]| {
            let members: Vec<String> =
                (0..200).rev().filter(|i| !skip.contains(i)).map(|i| format!("\"f{i}\":{i}")).collect();
            format!("{{{}}}", members.join(","))
        };
        let batch = at(&schema, &format!("[{},{}]", record(&[0, 128]), record(&[])), "").unwrap();
        assert_eq!(batch.num_columns(), 200);
        let value = |c: usize, row: usize| {
            let column = batch.column(c).as_primitive::<duckdb::arrow::datatypes::Int64Type>();
            duckdb::arrow::array::Array::is_valid(column, row).then(|| column.value(row))
        };
        assert_eq!((value(0, 0), value(128, 0), value(129, 0), value(199, 0)), (None, None, Some(129), Some(199)));
        assert_eq!((value(0, 1), value(128, 1)), (Some(0), Some(128)));
        let duplicate = format!("[{}]", record(&[]).replacen("\"f1\":1", "\"f1\":1,\"f1\":1", 1));
        assert!(
            matches!(at(&schema, &duplicate, ""), Err(DecodeError::Shape(m)) if m.contains("duplicate field \"f1\""))
        );
    }

    /// Not a test: prints decoding speed of Faker pages. Run with
    /// `cargo test --release --lib catalog::decode::tests::decode_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark"]
    fn decode_speed() {
        let users = Resource::Users.schema().unwrap();
        let bodies: Vec<Vec<u8>> = (0..100)
            .map(|seed| crate::fake_api::render_page(Resource::Users, users, 1000, seed, "en_US", &[]))
            .collect();
        let data = JsonPointer::parse("/data").unwrap();
        for round in 0..5 {
            let start = std::time::Instant::now();
            let rows: usize = bodies.iter().map(|b| decode_page(users, b).unwrap().batch.num_rows()).sum();
            println!("round {round}: decode_page, 100 pages of 1000 users: {:?} ({rows} rows)", start.elapsed());
            let start = std::time::Instant::now();
            let rows: usize = bodies.iter().map(|b| decode_records_at(users, b, &data).unwrap().batch.num_rows()).sum();
            println!("round {round}: decode_records_at /data, the same pages: {:?} ({rows} rows)", start.elapsed());
        }
    }
}
