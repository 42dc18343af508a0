//! Decodes an upstream response body straight into Arrow columns, driven by the catalogue
//! schema: no intermediate `serde_json::Value` or per-record structs, so a 1,000-record page
//! costs one pass over its bytes. The resulting `RecordBatch` goes to DuckDB's Arrow appender.
//!
//! Decoding is lenient where the upstream has been inconsistent (numbers sent as strings, as
//! v1 did for `price`; ids as strings) and strict where a value cannot mean what the column
//! says (text in a DOUBLE column): such a page is refused whole rather than stored half-wrong.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListArray, StringBuilder, StructArray,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::buffer::{NullBuffer, OffsetBuffer};
use duckdb::arrow::datatypes::{DataType, Field as ArrowField, Fields, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{ColumnType, Field, Schema};

/// The Arrow type a column of `ty` decodes to.
pub fn arrow_type(ty: &ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Struct(fields) => DataType::Struct(arrow_fields(fields)),
        ColumnType::List { element, .. } => DataType::List(Arc::new(arrow_field(element))),
    }
}

fn arrow_field(field: &Field) -> ArrowField {
    ArrowField::new(&field.name, arrow_type(&field.ty), true)
}

pub fn arrow_fields(fields: &[Field]) -> Fields {
    fields.iter().map(arrow_field).collect()
}

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
    let mut records = Column::new_struct(&schema.fields);
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
    let Column::Struct { fields, children, .. } = records else { unreachable!() };
    let columns: Vec<ArrayRef> = children.into_iter().map(Column::finish).collect();
    let arrow_schema = Arc::new(duckdb::arrow::datatypes::Schema::new(fields));
    let batch = if columns.is_empty() {
        RecordBatch::new_empty(arrow_schema)
    } else {
        RecordBatch::try_new(arrow_schema, columns).map_err(|e| DecodeError::Shape(e.to_string()))?
    };
    Ok(DecodedPage { batch, total })
}

/// One column under construction.
enum Column {
    Text(StringBuilder),
    Integer(Int64Builder),
    Double(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Struct { fields: Fields, names: Vec<String>, children: Vec<Column>, valid: Vec<bool> },
    List { element: Arc<ArrowField>, offsets: Vec<i32>, valid: Vec<bool>, child: Box<Column> },
}

impl Column {
    fn new(ty: &ColumnType) -> Column {
        match ty {
            ColumnType::Text => Column::Text(StringBuilder::new()),
            ColumnType::Integer => Column::Integer(Int64Builder::new()),
            ColumnType::Double => Column::Double(Float64Builder::new()),
            ColumnType::Boolean => Column::Boolean(BooleanBuilder::new()),
            ColumnType::Date => Column::Date(Date32Builder::new()),
            ColumnType::Timestamp => Column::Timestamp(TimestampMicrosecondBuilder::new()),
            ColumnType::Struct(fields) => Column::new_struct(fields),
            ColumnType::List { element, .. } => Column::List {
                element: Arc::new(arrow_field(element)),
                offsets: vec![0],
                valid: Vec::new(),
                child: Box::new(Column::new(&element.ty)),
            },
        }
    }

    fn new_struct(fields: &[Field]) -> Column {
        Column::Struct {
            fields: arrow_fields(fields),
            names: fields.iter().map(|f| f.name.clone()).collect(),
            children: fields.iter().map(|f| Column::new(&f.ty)).collect(),
            valid: Vec::new(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Column::Text(b) => b.append_null(),
            Column::Integer(b) => b.append_null(),
            Column::Double(b) => b.append_null(),
            Column::Boolean(b) => b.append_null(),
            Column::Date(b) => b.append_null(),
            Column::Timestamp(b) => b.append_null(),
            Column::Struct { children, valid, .. } => {
                children.iter_mut().for_each(Column::append_null);
                valid.push(false);
            }
            Column::List { offsets, valid, .. } => {
                offsets.push(*offsets.last().unwrap());
                valid.push(false);
            }
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Column::Text(mut b) => Arc::new(b.finish()),
            Column::Integer(mut b) => Arc::new(b.finish()),
            Column::Double(mut b) => Arc::new(b.finish()),
            Column::Boolean(mut b) => Arc::new(b.finish()),
            Column::Date(mut b) => Arc::new(b.finish()),
            Column::Timestamp(mut b) => Arc::new(b.finish()),
            Column::Struct { fields, children, valid, .. } => {
                let len = valid.len();
                let arrays: Vec<ArrayRef> = children.into_iter().map(Column::finish).collect();
                if fields.is_empty() {
                    return Arc::new(StructArray::new_empty_fields(len, nulls(valid)));
                }
                Arc::new(StructArray::new(fields, arrays, nulls(valid)))
            }
            Column::List { element, offsets, valid, child } => {
                Arc::new(ListArray::new(element, OffsetBuffer::new(offsets.into()), child.finish(), nulls(valid)))
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Column::Text(_) => "text",
            Column::Integer(_) => "an integer",
            Column::Double(_) => "a number",
            Column::Boolean(_) => "a boolean",
            Column::Date(_) => "a date",
            Column::Timestamp(_) => "a timestamp",
            Column::Struct { .. } => "an object",
            Column::List { .. } => "an array",
        }
    }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) { None } else { Some(NullBuffer::from(valid)) }
}

/// Days from 0001-01-01 (CE day 1) to 1970-01-01, for Arrow's Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn parse_date(s: &str) -> Option<i32> {
    use chrono::Datelike;
    let day = s.get(..10)?;
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// A timestamp as the upstream writes one: RFC 3339 with a zone, or a date and time without
/// one (v2's `2026-01-02T03:04:05.000000`, v1's `2026-01-02 03:04:05`), which is UTC, the
/// upstream's zone; or a bare date at midnight.
fn parse_timestamp(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    parse_naive_datetime(s)
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|t| t.and_utc().timestamp_micros())
}

/// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, with or without a fraction of a second.
fn parse_naive_datetime(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"].iter().find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
}

/// v1's custom `dateTime`: PHP's `DateTime` serialised as an object,
/// `{"date": "2026-01-02 03:04:05.000000", "timezone_type": 3, "timezone": "UTC"}`. Its zone is
/// an offset (`+02:00`, type 1) or a name (types 2 and 3); only UTC's names are known here, as
/// the upstream runs in UTC: another name refuses the page rather than storing a shifted time.
fn php_datetime_micros(date: &str, timezone: Option<&str>) -> Result<i64, String> {
    let local = parse_naive_datetime(date).ok_or_else(|| format!("expected a date and time, got {date:?}"))?;
    let offset_secs = match timezone {
        None | Some("UTC" | "Z" | "GMT" | "Etc/UTC" | "Etc/GMT" | "Universal" | "Zulu") => 0,
        Some(zone) => chrono::FixedOffset::from_str(zone)
            .map(|offset| offset.local_minus_utc())
            .map_err(|_| format!("timezone {zone:?} is not UTC or an offset such as +02:00"))?,
    };
    Ok(local.and_utc().timestamp_micros() - i64::from(offset_secs) * 1_000_000)
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

/// Appends exactly one value (possibly null) to its column.
struct ValueSeed<'a> {
    column: &'a mut Column,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn mismatch<E: de::Error>(&self, got: &str) -> E {
        E::custom(format_args!("expected {}, got {got}", self.column.kind()))
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.column.kind())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.column.append_null();
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.column {
            Column::Boolean(b) => b.append_value(v),
            Column::Text(b) => b.append_value(if v { "true" } else { "false" }),
            Column::Integer(b) => b.append_value(v as i64),
            _ => return Err(self.mismatch("a boolean")),
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        match self.column {
            Column::Integer(b) => b.append_value(v),
            Column::Double(b) => b.append_value(v as f64),
            Column::Text(b) => b.append_value(v.to_string()),
            Column::Boolean(b) if v == 0 || v == 1 => b.append_value(v == 1),
            _ => return Err(self.mismatch("an integer")),
        }
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => match self.column {
                Column::Double(b) => Ok(b.append_value(v as f64)),
                Column::Text(b) => Ok(b.append_value(v.to_string())),
                _ => Err(self.mismatch("an integer beyond BIGINT")),
            },
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        match self.column {
            Column::Double(b) => b.append_value(v),
            Column::Text(b) => b.append_value(v.to_string()),
            Column::Integer(b) if v.fract() == 0.0 && v.abs() < 9.0e15 => b.append_value(v as i64),
            _ => return Err(self.mismatch("a fractional number")),
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let bad = |col: &Column| E::custom(format_args!("expected {}, got the string {v:?}", col.kind()));
        match self.column {
            Column::Text(b) => b.append_value(v),
            Column::Double(b) => {
                b.append_value(v.trim().parse::<f64>().map_err(|_| bad(&Column::Double(Float64Builder::new())))?)
            }
            Column::Integer(b) => {
                b.append_value(v.trim().parse::<i64>().map_err(|_| bad(&Column::Integer(Int64Builder::new())))?)
            }
            Column::Boolean(b) => b.append_value(match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad(&Column::Boolean(BooleanBuilder::new()))),
            }),
            Column::Date(b) => b.append_value(parse_date(v).ok_or_else(|| bad(&Column::Date(Date32Builder::new())))?),
            Column::Timestamp(b) => b.append_value(
                parse_timestamp(v).ok_or_else(|| E::custom(format_args!("expected a timestamp, got {v:?}")))?,
            ),
            Column::Struct { .. } | Column::List { .. } => return Err(self.mismatch("a string")),
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let Column::Timestamp(b) = self.column {
            let (mut date, mut timezone) = (None, None);
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match key.as_ref() {
                    "date" => date = Some(map.next_value::<String>()?),
                    "timezone" => timezone = Some(map.next_value::<String>()?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let date = date.ok_or_else(|| de::Error::custom("expected a timestamp, got an object without \"date\""))?;
            b.append_value(php_datetime_micros(&date, timezone.as_deref()).map_err(de::Error::custom)?);
            return Ok(());
        }
        let Column::Struct { names, children, valid, .. } = self.column else {
            return Err(self.mismatch("an object"));
        };
        // Up to 64 members tracked in a bitmask (custom fields are capped at 64).
        let mut seen: u128 = 0;
        while let Some(index) = map.next_key_seed(MemberSeed { names })? {
            match index {
                Some(i) => {
                    if seen & (1 << i) != 0 {
                        return Err(de::Error::custom(format_args!("duplicate field {:?}", names[i])));
                    }
                    seen |= 1 << i;
                    map.next_value_seed(ValueSeed { column: &mut children[i] })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (i, child) in children.iter_mut().enumerate() {
            if seen & (1 << i) == 0 {
                child.append_null();
            }
        }
        valid.push(true);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Column::List { offsets, valid, child, .. } = self.column else {
            return Err(self.mismatch("an array"));
        };
        let mut n = 0i32;
        while seq.next_element_seed(ValueSeed { column: child })?.is_some() {
            n += 1;
        }
        offsets.push(offsets.last().unwrap() + n);
        valid.push(true);
        Ok(())
    }
}

/// Maps an object key to its member index without allocating.
struct MemberSeed<'a> {
    names: &'a [String],
}

impl<'de> DeserializeSeed<'de> for MemberSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.names.iter().position(|n| n == v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Resource;
    use duckdb::arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
    use duckdb::arrow::datatypes::Date32Type;

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

    /// Not a test: prints decoding speed of Faker pages. Run with
    /// `cargo test --release --lib catalog::decode::tests::decode_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark"]
    fn decode_speed() {
        let users = Resource::Users.schema().unwrap();
        let bodies: Vec<Vec<u8>> =
            (0..100).map(|seed| crate::fake_api::render_page(Resource::Users, users, 1000, seed, "en_US", &[])).collect();
        for round in 0..5 {
            let start = std::time::Instant::now();
            let rows: usize = bodies.iter().map(|b| decode_page(users, b).unwrap().batch.num_rows()).sum();
            println!("round {round}: decode_page, 100 pages of 1000 users: {:?} ({rows} rows)", start.elapsed());
        }
    }
}
