//! What a first page's values look like, field by field, read as the body streams by (a
//! `serde_json::Value` would sort an object's keys and lose the API's field order), and the
//! column type each field's values make.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::catalog::pointer::RecordsReader;
use crate::catalog::types::list_of;
use crate::catalog::{ColumnType, Fake, Field};

/// What the values of one field looked like so far.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seen {
    /// Only nulls, so far.
    Nothing,
    Integer,
    /// An integer beyond BIGINT.
    WideInteger,
    Double,
    Boolean,
    /// Strings, and whether every one was an ISO date, or every one an RFC 3339 timestamp.
    Text {
        dates: bool,
        instants: bool,
    },
    /// Objects: their members in first-seen order.
    Object(Vec<(String, Seen)>),
    /// Arrays: what their elements looked like.
    Array(Box<Seen>),
    /// Values of different kinds.
    Mixed,
}

pub(super) fn column_type(seen: Seen) -> ColumnType {
    match seen {
        Seen::Integer => ColumnType::Integer,
        Seen::Double => ColumnType::Double,
        Seen::Boolean => ColumnType::Boolean,
        Seen::Text { dates: true, .. } => ColumnType::Date,
        Seen::Text { instants: true, .. } => ColumnType::TimestampTz,
        Seen::Object(members) if !members.is_empty() => {
            ColumnType::Struct(members.into_iter().map(|(name, seen)| field_of(&name, seen)).collect())
        }
        Seen::Array(element) => match *element {
            Seen::Array(_) => list_of(ColumnType::Text),
            element => ColumnType::List { element: Box::new(field_of("element", element)), min: 1, max: 3 },
        },
        Seen::Nothing | Seen::WideInteger | Seen::Text { .. } | Seen::Object(_) | Seen::Mixed => ColumnType::Text,
    }
}

/// The field `name` whose values looked like `seen`: one that held only nulls is a `VARCHAR`
/// marked `Fake::Null`, so that an evolving table retypes it by its first value.
pub(super) fn field_of(name: &str, seen: Seen) -> Field {
    match seen {
        Seen::Nothing => Field::new(name, ColumnType::Text, Fake::Null),
        seen => Field::new(name, column_type(seen), Fake::Generic),
    }
}

/// What one record (an object's JSON) looks like, member by member, in the order it gives them.
pub(super) fn record_shape(record: &[u8]) -> Result<Vec<(String, Seen)>, serde_json::Error> {
    let mut members = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(record);
    RecordShape { index: 0, members: &mut members }.deserialize(&mut de)?;
    de.end()?;
    Ok(members)
}

/// Merges a scalar's kind into what a field has held.
fn absorb(seen: &mut Seen, kind: Seen) {
    use Seen::*;
    *seen = match (std::mem::replace(seen, Nothing), kind) {
        (Nothing, kind) => kind,
        (Integer, Integer) => Integer,
        (Integer | WideInteger, WideInteger) | (WideInteger, Integer) => WideInteger,
        (Integer | WideInteger | Double, Double) | (Double, Integer | WideInteger) => Double,
        (Boolean, Boolean) => Boolean,
        (Text { dates: a, instants: b }, Text { dates: c, instants: d }) => Text { dates: a && c, instants: b && d },
        _ => Mixed,
    };
}

/// `YYYY-MM-DD`, and a real day.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn is_rfc3339(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Reads the records array into the top-level members.
pub(super) struct Inference<'a> {
    members: &'a mut Vec<(String, Seen)>,
    count: usize,
}

impl<'a> Inference<'a> {
    pub(super) fn new(members: &'a mut Vec<(String, Seen)>) -> Inference<'a> {
        Inference { members, count: 0 }
    }
}

impl RecordsReader for Inference<'_> {
    fn read<'de, A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RecordShape { index: self.count, members: self.members })?.is_some() {
            self.count += 1;
        }
        Ok(())
    }
}

/// One record, which must be an object.
struct RecordShape<'a> {
    index: usize,
    members: &'a mut Vec<(String, Seen)>,
}

impl<'de> DeserializeSeed<'de> for RecordShape<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordShape<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "record {} to be an object", self.index)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        merge_members(self.members, map)
    }
}

fn merge_members<'de, A: MapAccess<'de>>(members: &mut Vec<(String, Seen)>, mut map: A) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        let i = match members.iter().position(|(name, _)| *name == key) {
            Some(i) => i,
            None => {
                members.push((key.into_owned(), Seen::Nothing));
                members.len() - 1
            }
        };
        map.next_value_seed(ValueShape { seen: &mut members[i].1 })?;
    }
    Ok(())
}

/// Merges one value into what its field has held.
struct ValueShape<'a> {
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for ValueShape<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueShape<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        absorb(self.seen, Seen::Boolean);
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        absorb(self.seen, Seen::Integer);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        absorb(self.seen, if i64::try_from(v).is_ok() { Seen::Integer } else { Seen::WideInteger });
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        absorb(self.seen, Seen::Double);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        absorb(self.seen, Seen::Text { dates: is_iso_date(v), instants: is_rfc3339(v) });
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if matches!(self.seen, Seen::Nothing) {
            *self.seen = Seen::Object(Vec::new());
        }
        if let Seen::Object(members) = self.seen {
            return merge_members(members, map);
        }
        *self.seen = Seen::Mixed;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if matches!(self.seen, Seen::Nothing) {
            *self.seen = Seen::Array(Box::new(Seen::Nothing));
        }
        if let Seen::Array(element) = self.seen {
            while seq.next_element_seed(ValueShape { seen: element })?.is_some() {}
            return Ok(());
        }
        *self.seen = Seen::Mixed;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}
