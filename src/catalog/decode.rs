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

use super::json_text;
use super::pointer::{JsonPointer, PointerWalk, RecordsReader};
use super::{ColumnType, Field, Schema};

/// The zone of every `TIMESTAMPTZ` column's Arrow type: instants are stored in UTC.
const UTC: &str = "UTC";

/// The Arrow type a column of `ty` decodes to.
pub fn arrow_type(ty: &ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
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
    let mut column = Column::new_struct(&schema.fields);
    let mut de = serde_json::Deserializer::from_slice(body);
    let reached = PointerWalk::new(records, &mut column).deserialize(&mut de).and_then(|r| de.end().map(|_| r));
    match reached {
        Ok(true) => Ok(DecodedPage { batch: into_batch(column)?, total: None }),
        Ok(false) => Err(DecodeError::Shape(format!("no array of records at {records} in the response"))),
        Err(e) if e.is_syntax() || e.is_eof() || e.is_io() => Err(DecodeError::Syntax(e.to_string())),
        Err(e) => Err(DecodeError::Shape(locate_misfit(schema, body, records).unwrap_or_else(|| e.to_string()))),
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

/// Where a page that failed to decode went wrong, as "record 3, field /customer/zip: ...": the
/// streaming decoder knows only the line and column. Runs on the failure path only: it parses
/// the body into a `serde_json::Value` and decodes record by record, then member by member, with
/// the same seeds as the decoder, so it finds the same misfit. `None` when it finds none (a
/// duplicate key, which a `Value` cannot hold).
fn locate_misfit(schema: &Schema, body: &[u8], records: &JsonPointer) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let records = body.pointer(records.as_str())?.as_array()?;
    let ty = ColumnType::Struct(schema.fields.clone());
    records.iter().enumerate().find_map(|(i, record)| {
        if !record.is_object() {
            return Some(format!("record {i} is not an object"));
        }
        let (path, message) = misfit(record, &ty)?;
        Some(if path.is_empty() {
            format!("record {i}: {message}")
        } else {
            format!("record {i}, field {path}: {message}")
        })
    })
}

/// The innermost member of `value` that does not decode as `ty`: its JSON Pointer relative to
/// `value` and the decoder's reason.
fn misfit(value: &serde_json::Value, ty: &ColumnType) -> Option<(String, String)> {
    let mut column = Column::new(ty);
    // Decoded from its own bytes, through the very code the page went through: decoding from
    // the `Value` itself would give the visitors a second caller, and the compiler would stop
    // inlining them into the page's loop (+2% instructions on Faker pages, measured).
    let bytes = serde_json::to_vec(value).ok()?;
    let reason =
        ValueSeed { column: &mut column }.deserialize(&mut serde_json::Deserializer::from_slice(&bytes)).err()?;
    let escape = |token: &str| token.replace('~', "~0").replace('/', "~1");
    let inner = match (ty, value) {
        (ColumnType::Struct(fields), serde_json::Value::Object(members)) => fields.iter().find_map(|f| {
            let (path, message) = misfit(members.get(&f.name)?, &f.ty)?;
            Some((format!("/{}{path}", escape(&f.name)), message))
        }),
        (ColumnType::List { element, .. }, serde_json::Value::Array(items)) => {
            items.iter().enumerate().find_map(|(i, item)| {
                let (path, message) = misfit(item, &element.ty)?;
                Some((format!("/{i}{path}"), message))
            })
        }
        _ => None,
    };
    Some(inner.unwrap_or_else(|| (String::new(), without_position(&reason))))
}

/// A decoding error's reason without serde_json's " at line 1 column 12", which would point
/// into the value's own bytes, not the body's.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).unwrap_or(&text).to_string()
}

/// One column under construction.
enum Column {
    Text(StringBuilder),
    Integer(Int64Builder),
    Double(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
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
            ColumnType::TimestampTz => Column::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone(UTC)),
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
            Column::Timestamp(b) | Column::TimestampTz(b) => b.append_null(),
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
            Column::Timestamp(mut b) | Column::TimestampTz(mut b) => Arc::new(b.finish()),
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
            Column::TimestampTz(_) => "an RFC 3339 timestamp",
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
            // A TIMESTAMPTZ is converted to UTC from its offset; one without an offset is read as
            // UTC, like the upstream's own and like DuckDB in a UTC session. One arm for both, so
            // this visitor stays small enough to be inlined into the decoder's loop.
            Column::Timestamp(b) | Column::TimestampTz(b) => b.append_value(
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
        // A VARCHAR column keeps an object as its JSON text (a field of mixed kinds, or one
        // declared VARCHAR to hold free-form JSON).
        if let Column::Text(b) = self.column {
            b.append_value(json_text::of_map(map)?);
            return Ok(());
        }
        let Column::Struct { names, children, valid, .. } = self.column else {
            return Err(self.mismatch("an object"));
        };
        if names.len() > WIDE_STRUCT {
            return visit_wide_struct(map, names, children, valid);
        }
        // Up to 128 members tracked in a bitmask (wider objects went to `visit_wide_struct`).
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
        if let Column::Text(b) = self.column {
            b.append_value(json_text::of_seq(seq)?);
            return Ok(());
        }
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

/// The most members whose presence `visit_map` tracks in its `u128` bitmask.
const WIDE_STRUCT: usize = u128::BITS as usize;

/// An object with more members than the bitmask holds (a generic API's wide record): the same
/// as `visit_map`, with a vector of flags.
fn visit_wide_struct<'de, A: MapAccess<'de>>(
    mut map: A,
    names: &[String],
    children: &mut [Column],
    valid: &mut Vec<bool>,
) -> Result<(), A::Error> {
    let mut seen = vec![false; names.len()];
    while let Some(index) = map.next_key_seed(MemberSeed { names })? {
        match index {
            Some(i) => {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(de::Error::custom(format_args!("duplicate field {:?}", names[i])));
                }
                map.next_value_seed(ValueSeed { column: &mut children[i] })?;
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    for (child, seen) in children.iter_mut().zip(seen) {
        if !seen {
            child.append_null();
        }
    }
    valid.push(true);
    Ok(())
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
