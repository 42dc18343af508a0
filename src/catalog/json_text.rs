//! A JSON object or array written back as compact JSON text, members in the order the body
//! sent them: what a VARCHAR column holds when it receives one (a field of mixed kinds, or one
//! declared VARCHAR to keep free-form JSON). Written while the body streams by, like the rest
//! of decoding; not through `serde_json::Value`, whose objects here sort their keys.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// The JSON text of the object whose members `map` yields.
pub(super) fn of_map<'de, A: MapAccess<'de>>(map: A) -> Result<String, A::Error> {
    let mut out = String::new();
    JsonText { out: &mut out }.visit_map(map)?;
    Ok(out)
}

/// The JSON text of the array whose elements `seq` yields.
pub(super) fn of_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<String, A::Error> {
    let mut out = String::new();
    JsonText { out: &mut out }.visit_seq(seq)?;
    Ok(out)
}

/// Appends one JSON value, whatever its kind, to `out`.
struct JsonText<'a> {
    out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for JsonText<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl JsonText<'_> {
    fn push_str_literal(&mut self, v: &str) {
        // Serialising a `str` cannot fail.
        self.out.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
}

impl<'de> Visitor<'de> for JsonText<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out.push_str(&v.to_string());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out.push_str(&v.to_string());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // serde_json's own shortest form (`1.5`, `1e300`); JSON has no NaN or infinity.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.out.push_str(&n.to_string()),
            None => self.out.push_str("null"),
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.push_str_literal(v);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.out.push('{');
        let mut first = true;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if !std::mem::take(&mut first) {
                self.out.push(',');
            }
            self.push_str_literal(&key);
            self.out.push(':');
            map.next_value_seed(JsonText { out: self.out })?;
        }
        self.out.push('}');
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut first = true;
        loop {
            let comma = !std::mem::take(&mut first);
            let at = self.out.len();
            if comma {
                self.out.push(',');
            }
            if seq.next_element_seed(JsonText { out: self.out })?.is_none() {
                self.out.truncate(at);
                break;
            }
        }
        self.out.push(']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(json: &str) -> String {
        let mut out = String::new();
        JsonText { out: &mut out }.deserialize(&mut serde_json::Deserializer::from_str(json)).unwrap();
        out
    }

    #[test]
    fn objects_and_arrays_keep_their_order_and_values() {
        assert_eq!(
            text_of(r#"{ "z": 1, "a": [true, null, -2, 1.5e300, "q\"\n"], "m": {} }"#),
            r#"{"z":1,"a":[true,null,-2,1.5e+300,"q\"\n"],"m":{}}"#
        );
        assert_eq!(text_of("[]"), "[]");
        assert_eq!(text_of("[[1],[]]"), "[[1],[]]");
        assert_eq!(text_of("18446744073709551615"), "18446744073709551615");
    }
}
