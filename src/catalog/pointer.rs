//! JSON Pointers (RFC 6901) to the records in a response body, and the walk that reaches them
//! while the body streams by: everything beside the path is skipped unparsed into values, so
//! finding `/data/items` costs no more than reading the Faker envelope's `data`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON Pointer such as `/data/items` or `/results/0/rows`; the empty pointer is the whole
/// body. Parsed once, where a source is read, and walked for every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

/// Why a string is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer:?} is not a JSON Pointer: {reason}")]
pub struct PointerError {
    pub pointer: String,
    pub reason: &'static str,
}

impl JsonPointer {
    /// Parses RFC 6901's form: empty, or `/`-separated tokens in which `~1` stands for `/` and
    /// `~0` for `~`.
    pub fn parse(text: &str) -> Result<JsonPointer, PointerError> {
        let error = |reason| PointerError { pointer: text.to_string(), reason };
        let tokens = match text.strip_prefix('/') {
            None if text.is_empty() => Vec::new(),
            None => return Err(error("it must be empty (the whole body) or start with \"/\"")),
            Some(rest) => rest
                .split('/')
                .map(unescape)
                .collect::<Option<_>>()
                .ok_or_else(|| error("\"~\" must be followed by 0 (for \"~\") or 1 (for \"/\")"))?,
        };
        Ok(JsonPointer { text: text.to_string(), tokens })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next()? {
                '0' => out.push('~'),
                '1' => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

impl FromStr for JsonPointer {
    type Err = PointerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JsonPointer::parse(s)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

/// What consumes the array of records once the walk reaches it: the decoder's records
/// column, or schema inference.
pub(super) trait RecordsReader {
    fn read<'de, A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error>;
}

/// Walks a body along a pointer and hands the array found there to its reader. Answers whether
/// the pointer led to records: `false` when a member or index on the way is missing or the way
/// runs into a scalar; `null` at the pointer is an empty page (APIs answer `"items": null`),
/// anything else there an error. A key that repeats is walked the first time only.
pub(super) struct PointerWalk<'p, R> {
    tokens: &'p [String],
    reader: Option<R>,
}

impl<'p, R: RecordsReader> PointerWalk<'p, R> {
    pub(super) fn new(pointer: &'p JsonPointer, reader: R) -> Self {
        PointerWalk { tokens: &pointer.tokens, reader: Some(reader) }
    }
}

impl<'de, R: RecordsReader> DeserializeSeed<'de> for PointerWalk<'_, R> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: RecordsReader> Visitor<'de> for PointerWalk<'_, R> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.tokens.is_empty() {
            true => f.write_str("an array of records"),
            false => f.write_str("any JSON value"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            let reader = self.reader.take().expect("a walk reads its records once");
            reader.read(seq)?;
            return Ok(true);
        };
        // RFC 6901's array index: `0`, or digits without a leading zero.
        let index = match token.as_bytes() {
            [b'0'] => Some(0),
            [b'1'..=b'9', ..] => token.parse::<usize>().ok(),
            _ => None,
        };
        let mut reached = false;
        let mut i = 0;
        loop {
            let more = match (index == Some(i), self.reader.take()) {
                (true, Some(reader)) => {
                    let walk = PointerWalk { tokens: rest, reader: Some(reader) };
                    seq.next_element_seed(walk)?.map(|r| reached = r).is_some()
                }
                (_, reader) => {
                    self.reader = reader;
                    seq.next_element::<IgnoredAny>()?.is_some()
                }
            };
            if !more {
                return Ok(reached);
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let Some((token, rest)) = self.tokens.split_first() else {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        };
        let mut reached = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.reader.take() {
                Some(reader) if key == token.as_str() => {
                    reached = map.next_value_seed(PointerWalk { tokens: rest, reader: Some(reader) })?;
                }
                reader => {
                    self.reader = reader;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(reached)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(self.tokens.is_empty())
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.scalar(de::Unexpected::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.scalar(de::Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.scalar(de::Unexpected::Unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.scalar(de::Unexpected::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.scalar(de::Unexpected::Str(v))
    }
}

impl<R: RecordsReader> PointerWalk<'_, R> {
    /// A scalar on the way: the pointer leads nowhere; at its end: not an array of records.
    fn scalar<E: de::Error>(self, got: de::Unexpected) -> Result<bool, E> {
        match self.tokens.is_empty() {
            true => Err(E::invalid_type(got, &self)),
            false => Ok(false),
        }
    }
}

impl JsonPointer {
    /// The value at this pointer in a JSON body, or `None` when nothing is there. Everything
    /// beside the path is skipped unparsed, so reading a total or a cursor beside a page of
    /// records costs one scan of the bytes, not a tree of values. A key that repeats is read
    /// the first time only, as the records walk does.
    pub fn find_in(&self, body: &[u8]) -> Result<Option<serde_json::Value>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let found = Find { tokens: &self.tokens }.deserialize(&mut de)?;
        de.end()?;
        Ok(found)
    }
}

/// Walks a body along the rest of a pointer and parses the value at its end.
struct Find<'p> {
    tokens: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Find<'_> {
    type Value = Option<serde_json::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.tokens.is_empty() {
            true => serde::Deserialize::deserialize(d).map(Some),
            false => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Find<'_> {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (token, rest) = self.tokens.split_first().expect("a walk with tokens left");
        let index = match token.as_bytes() {
            [b'0'] => Some(0),
            [b'1'..=b'9', ..] => token.parse::<usize>().ok(),
            _ => None,
        };
        let (mut found, mut i) = (None, 0);
        loop {
            let more = match index == Some(i) {
                true => seq.next_element_seed(Find { tokens: rest })?.map(|f| found = f).is_some(),
                false => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(found);
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (token, rest) = self.tokens.split_first().expect("a walk with tokens left");
        let (mut found, mut seen) = (None, false);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if !seen && key == token.as_str() {
                seen = true;
                found = map.next_value_seed(Find { tokens: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_parse_as_rfc_6901_says() {
        assert!(JsonPointer::parse("").unwrap().tokens.is_empty());
        assert_eq!(JsonPointer::parse("/data/items").unwrap().tokens, ["data", "items"]);
        assert_eq!(JsonPointer::parse("/a~1b/~0c/").unwrap().tokens, ["a/b", "~c", ""]);
        assert_eq!(JsonPointer::parse("/data").unwrap().as_str(), "/data");
        let error = JsonPointer::parse("data").unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"data\" is not a JSON Pointer: it must be empty (the whole body) or start with \"/\""
        );
        assert!(JsonPointer::parse("/a~2").unwrap_err().to_string().contains("\"~\" must be followed by 0"));
        assert!(JsonPointer::parse("/a~").is_err());
    }

    /// Counts the records it is handed.
    struct Count<'a>(&'a mut usize);

    impl RecordsReader for Count<'_> {
        fn read<'de, A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {
                *self.0 += 1;
            }
            Ok(())
        }
    }

    fn walk(body: &str, pointer: &str) -> Result<Option<usize>, String> {
        let pointer = JsonPointer::parse(pointer).unwrap();
        let mut n = 0;
        let reached = PointerWalk::new(&pointer, Count(&mut n))
            .deserialize(&mut serde_json::Deserializer::from_str(body))
            .map_err(|e| e.to_string())?;
        Ok(reached.then_some(n))
    }

    #[test]
    fn the_walk_finds_the_records_and_skips_the_rest() {
        let body = r#"{"meta":{"data":[1]},"data":{"skip":[1,2],"items":[{},{},{}],"after":{"items":[1]}},"x":[]}"#;
        assert_eq!(walk(body, "/data/items"), Ok(Some(3)));
        assert_eq!(walk(r#"[{}, {}]"#, ""), Ok(Some(2)));
        assert_eq!(walk(r#"{"results":[{"rows":[]},{"rows":[1,2]}]}"#, "/results/1/rows"), Ok(Some(2)));
        assert_eq!(walk(r#"{"a/b":{"~":[1]}}"#, "/a~1b/~0"), Ok(Some(1)));
        assert_eq!(walk(r#"{"items":null}"#, "/items"), Ok(Some(0)));
        // Nowhere: a missing member or index, a scalar on the way, an index into an object.
        for pointer in ["/nope", "/data/nope", "/data/items/7", "/x/0", "/meta/data/0/deeper", "/data/01"] {
            assert_eq!(walk(body, pointer), Ok(None), "{pointer}");
        }
        assert!(walk(r#"{"items":{"a":1}}"#, "/items").unwrap_err().contains("expected an array of records"));
        assert!(walk(r#"{"items":"none"}"#, "/items").unwrap_err().contains("expected an array of records"));
        assert!(walk(r#"{"items":[1,2"#, "/items").is_err());
    }
    #[test]
    fn find_in_reads_one_value_and_skips_the_rest() {
        let body = br#"{"data":[{"id":1},{"id":2}],"meta":{"total":"250","next":null},"meta":{"total":1},"links":[{"href":"a"},{"href":"b"}]}"#;
        let find = |p: &str| JsonPointer::parse(p).unwrap().find_in(body).unwrap();
        assert_eq!(find("/meta/total"), Some(serde_json::json!("250")), "the first of a repeated key");
        assert_eq!(find("/meta/next"), Some(serde_json::Value::Null));
        assert_eq!(find("/links/1/href"), Some(serde_json::json!("b")));
        assert_eq!(find("/data/1"), Some(serde_json::json!({"id": 2})));
        for nowhere in ["/nope", "/meta/total/x", "/links/2", "/links/x", "/data/01"] {
            assert_eq!(find(nowhere), None, "{nowhere}");
        }
        assert!(JsonPointer::parse("/a").unwrap().find_in(br#"{"a":1"#).is_err());
    }
}
