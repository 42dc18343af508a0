//! A column under construction, one Arrow builder per column type, and the visitor that appends
//! each JSON value to it as the body streams by: lenient where the upstream has been
//! inconsistent (numbers as strings), strict where a value cannot mean what the column says.
//! The hot loop of decoding: kept in one file so that it compiles as one unit.

use std::fmt;
use std::sync::Arc;

use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListArray, StringBuilder, StructArray,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::buffer::{NullBuffer, OffsetBuffer};
use duckdb::arrow::datatypes::{DataType, Field as ArrowField, Fields, TimeUnit};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::time::{parse_date, parse_timestamp, php_datetime_micros};
use crate::catalog::json_text;
use crate::catalog::{ColumnType, Fake, Field};

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

/// One column under construction.
pub(super) enum Column {
    Text(StringBuilder),
    Integer(Int64Builder),
    Double(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    /// `closed`: a member without a column, other than null, refuses the record (a source's
    /// records, whose new fields evolve the table); open, it is skipped (Faker's).
    Struct {
        fields: Fields,
        names: Vec<String>,
        children: Vec<Column>,
        valid: Vec<bool>,
        closed: bool,
    },
    List {
        element: Arc<ArrowField>,
        offsets: Vec<i32>,
        valid: Vec<bool>,
        child: Box<Column>,
    },
    /// A `VARCHAR` column that has held only nulls (`Fake::Null`, in a closed struct): its first
    /// value refuses the record, so that the column takes that value's type.
    Pending(StringBuilder),
}

impl Column {
    /// A column of `ty` whose objects are `closed` (see `Column::Struct`).
    pub(super) fn new_in(ty: &ColumnType, closed: bool) -> Column {
        match ty {
            ColumnType::Text => Column::Text(StringBuilder::new()),
            ColumnType::Integer => Column::Integer(Int64Builder::new()),
            ColumnType::Double => Column::Double(Float64Builder::new()),
            ColumnType::Boolean => Column::Boolean(BooleanBuilder::new()),
            ColumnType::Date => Column::Date(Date32Builder::new()),
            ColumnType::Timestamp => Column::Timestamp(TimestampMicrosecondBuilder::new()),
            ColumnType::TimestampTz => Column::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone(UTC)),
            ColumnType::Struct(fields) => Column::new_struct(fields, closed),
            ColumnType::List { element, .. } => Column::List {
                element: Arc::new(arrow_field(element)),
                offsets: vec![0],
                valid: Vec::new(),
                child: Box::new(Column::of_field(element, closed)),
            },
        }
    }

    fn of_field(field: &Field, closed: bool) -> Column {
        if closed && field.fake == Fake::Null {
            return Column::Pending(StringBuilder::new());
        }
        Column::new_in(&field.ty, closed)
    }

    pub(super) fn new_struct(fields: &[Field], closed: bool) -> Column {
        Column::Struct {
            fields: arrow_fields(fields),
            names: fields.iter().map(|f| f.name.clone()).collect(),
            children: fields.iter().map(|f| Column::of_field(f, closed)).collect(),
            valid: Vec::new(),
            closed,
        }
    }

    pub(super) fn append_null(&mut self) {
        match self {
            Column::Text(b) | Column::Pending(b) => b.append_null(),
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

    pub(super) fn finish(self) -> ArrayRef {
        match self {
            Column::Text(mut b) | Column::Pending(mut b) => Arc::new(b.finish()),
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

    pub(super) fn kind(&self) -> &'static str {
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
            Column::Pending(_) => "null (the column has held only nulls so far)",
        }
    }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) { None } else { Some(NullBuffer::from(valid)) }
}

/// Appends exactly one value (possibly null) to its column.
pub(super) struct ValueSeed<'a> {
    pub(super) column: &'a mut Column,
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
            Column::Struct { .. } | Column::List { .. } | Column::Pending(_) => {
                return Err(self.mismatch("a string"));
            }
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
        let Column::Struct { names, children, valid, closed, .. } = self.column else {
            return Err(self.mismatch("an object"));
        };
        let closed = *closed;
        if names.len() > WIDE_STRUCT {
            return visit_wide_struct(map, names, children, valid, closed);
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
                None => skip_member(&mut map, closed)?,
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
    closed: bool,
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
            None => skip_member(&mut map, closed)?,
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

/// The value of a member without a column: skipped in an open object; in a closed one, a null
/// is skipped and any other value refuses the record (a field the table has no column for).
fn skip_member<'de, A: MapAccess<'de>>(map: &mut A, closed: bool) -> Result<(), A::Error> {
    if closed { map.next_value_seed(NullOnly) } else { map.next_value::<IgnoredAny>().map(|_| ()) }
}

/// Accepts only `null`.
struct NullOnly;

impl<'de> DeserializeSeed<'de> for NullOnly {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for NullOnly {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null (a field the table has no column for)")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom("a field the table has no column for"))
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
