//! DuckDB types as a source file's `[columns]` table spells them (`BIGINT`, `TIMESTAMP WITH TIME
//! ZONE`, `VARCHAR[]`, `STRUCT(name VARCHAR, "odd name" INTEGER)`), parsed into the
//! [`ColumnType`] duckhaul stores. Keywords are case-insensitive; member names keep their case
//! and may be double-quoted (`""` for a quote inside); whitespace is free between words.
//!
//! What a declared type becomes:
//! - every integer type whose values fit 64 signed bits (`TINYINT` … `BIGINT`, `UINTEGER` and
//!   the smaller unsigned ones) is stored as `BIGINT`, and `FLOAT`/`REAL` as `DOUBLE`: the
//!   column holds every value the declared one would, and the decoder has one integer and one
//!   floating column;
//! - `VARCHAR(n)`'s length is ignored, as DuckDB ignores it;
//! - `T[]` is a list; a list of lists is refused, because BigQuery cannot hold one (declare
//!   `VARCHAR[]` to keep the inner lists as JSON text).
//!
//! Refused, each with what to declare instead: integers beyond 64 signed bits (`UBIGINT`,
//! `HUGEINT`, `UHUGEINT`), `DECIMAL`/`NUMERIC` (no exact decimal column yet: `DOUBLE` or
//! `VARCHAR`), `JSON` (`VARCHAR` keeps an object or array as its JSON text), and the types
//! duckhaul has no column for (`TIME`, `INTERVAL`, `UUID`, `BLOB`, `MAP`, `UNION`, …).

use std::fmt;

use super::{ColumnType, Fake, Field};

/// Why a type string could not be parsed: where (a 1-based character position) and what was
/// expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub text: String,
    pub at: usize,
    pub message: String,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}, at character {}: {}", self.text, self.at, self.message)
    }
}

impl std::error::Error for TypeError {}

/// Parses one DuckDB type. Members of a `STRUCT` and elements of a list are typed fields with
/// no Faker kind ([`Fake::Generic`]).
pub fn parse_column_type(text: &str) -> Result<ColumnType, TypeError> {
    let mut parser = Parser { text, pos: 0 };
    let ty = parser.column_type()?;
    parser.skip_space();
    if parser.pos < text.len() {
        return Err(parser.error_here("expected the end of the type"));
    }
    Ok(ty)
}

/// A list of `element`s, as a source declares or infers one (the range guides the fake server).
pub(super) fn list_of(element: ColumnType) -> ColumnType {
    ColumnType::List { element: Box::new(Field::new("element", element, Fake::Generic)), min: 1, max: 3 }
}

const KNOWN: &str = "BIGINT, INTEGER, SMALLINT, TINYINT, DOUBLE, FLOAT, BOOLEAN, VARCHAR, DATE, TIMESTAMP, \
                     TIMESTAMPTZ, STRUCT(...) or a list T[]";

struct Parser<'a> {
    text: &'a str,
    /// A byte offset into `text`, always on a character boundary.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn column_type(&mut self) -> Result<ColumnType, TypeError> {
        let mut ty = self.base_type()?;
        let mut lists = 0;
        loop {
            self.skip_space();
            let at = self.pos;
            if !self.eat('[') {
                return Ok(ty);
            }
            if !self.eat(']') {
                return Err(self.error_here("expected \"]\" (fixed-size arrays T[n] are not supported: declare T[])"));
            }
            lists += 1;
            if lists > 1 {
                return Err(self.error_at(
                    at,
                    "a list of lists cannot be exported to BigQuery: declare VARCHAR[] to keep the inner lists as JSON text",
                ));
            }
            ty = list_of(ty);
        }
    }

    fn base_type(&mut self) -> Result<ColumnType, TypeError> {
        self.skip_space();
        let start = self.pos;
        let Some(word) = self.word() else {
            return Err(self.error_here(&format!("expected a type ({KNOWN})")));
        };
        let name = word.to_ascii_uppercase();
        let ty = match name.as_str() {
            "BIGINT" | "INT8" | "LONG" | "INTEGER" | "INT" | "INT4" | "INT32" | "SIGNED" | "SMALLINT" | "INT2"
            | "INT16" | "SHORT" | "TINYINT" | "INT1" | "UINTEGER" | "UINT32" | "USMALLINT" | "UINT16" | "UTINYINT"
            | "UINT8" => ColumnType::Integer,
            "DOUBLE" => {
                self.keyword("PRECISION");
                ColumnType::Double
            }
            "FLOAT8" | "FLOAT" | "FLOAT4" | "REAL" => ColumnType::Double,
            "BOOLEAN" | "BOOL" | "LOGICAL" => ColumnType::Boolean,
            "VARCHAR" | "CHAR" | "BPCHAR" | "TEXT" | "STRING" | "NVARCHAR" => {
                self.length()?;
                ColumnType::Text
            }
            "DATE" => ColumnType::Date,
            "TIMESTAMP" | "DATETIME" => self.timestamp_zone()?,
            "TIMESTAMP_US" => ColumnType::Timestamp,
            "TIMESTAMPTZ" => ColumnType::TimestampTz,
            "STRUCT" | "ROW" => ColumnType::Struct(self.members()?),
            "UBIGINT" | "UINT64" | "HUGEINT" | "INT128" | "UHUGEINT" | "UINT128" => {
                return Err(self.error_at(
                    start,
                    &format!(
                        "{name} is not supported: duckhaul stores integers as BIGINT (64-bit signed); declare \
                         BIGINT, or VARCHAR to keep larger values exact"
                    ),
                ));
            }
            "DECIMAL" | "NUMERIC" | "DEC" => {
                return Err(self.error_at(
                    start,
                    &format!("{name} is not supported yet: declare DOUBLE (approximate) or VARCHAR (the exact digits)"),
                ));
            }
            "TIMESTAMP_S" | "TIMESTAMP_MS" | "TIMESTAMP_NS" => {
                return Err(self.error_at(
                    start,
                    &format!("{name} is not supported: declare TIMESTAMP or TIMESTAMPTZ (microseconds)"),
                ));
            }
            "JSON" => {
                return Err(self.error_at(
                    start,
                    "JSON is not supported: declare VARCHAR, which keeps an object or array as its JSON text",
                ));
            }
            "LIST" | "ARRAY" => {
                return Err(self.error_at(start, "DuckDB spells a list T[], for example VARCHAR[]"));
            }
            "TIME" | "TIMETZ" | "INTERVAL" | "UUID" | "BLOB" | "BYTEA" | "BINARY" | "VARBINARY" | "BIT"
            | "BITSTRING" | "MAP" | "UNION" | "ENUM" | "VARINT" | "BIGNUM" => {
                return Err(self.error_at(
                    start,
                    &format!("{name} is not supported: duckhaul has no such column; declare VARCHAR"),
                ));
            }
            _ => return Err(self.error_at(start, &format!("unknown type {word:?}; expected {KNOWN}"))),
        };
        Ok(ty)
    }

    /// After `TIMESTAMP`: `WITH TIME ZONE`, `WITHOUT TIME ZONE` or nothing.
    fn timestamp_zone(&mut self) -> Result<ColumnType, TypeError> {
        let zoned = if self.keyword("WITH") {
            true
        } else if self.keyword("WITHOUT") {
            false
        } else {
            return Ok(ColumnType::Timestamp);
        };
        for word in ["TIME", "ZONE"] {
            if !self.keyword(word) {
                return Err(self.error_here(&format!("expected {word} (TIMESTAMP WITH TIME ZONE)")));
            }
        }
        Ok(if zoned { ColumnType::TimestampTz } else { ColumnType::Timestamp })
    }

    /// `VARCHAR(n)`: DuckDB accepts and ignores the length, and so do we.
    fn length(&mut self) -> Result<(), TypeError> {
        self.skip_space();
        if !self.eat('(') {
            return Ok(());
        }
        self.skip_space();
        let digits = self.text[self.pos..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(self.error_here("expected a length, such as VARCHAR(255)"));
        }
        self.pos += digits;
        self.skip_space();
        if !self.eat(')') {
            return Err(self.error_here("expected \")\" after the length"));
        }
        Ok(())
    }

    /// `(name TYPE, "other name" TYPE, ...)`, names unique regardless of case, as DuckDB's are.
    fn members(&mut self) -> Result<Vec<Field>, TypeError> {
        self.skip_space();
        if !self.eat('(') {
            return Err(self.error_here("expected \"(\" and the STRUCT's members, such as STRUCT(name VARCHAR)"));
        }
        let mut fields: Vec<Field> = Vec::new();
        loop {
            self.skip_space();
            let at = self.pos;
            let name = self.member_name()?;
            if let Some(other) = fields.iter().find(|f| f.name.eq_ignore_ascii_case(&name)) {
                let message = format!(
                    "member {name:?} repeats {:?}: DuckDB names are case-insensitive, so a STRUCT's members must \
                     differ by more than case",
                    other.name
                );
                return Err(self.error_at(at, &message));
            }
            let ty = self.column_type()?;
            fields.push(Field::new(&name, ty, Fake::Generic));
            self.skip_space();
            if self.eat(')') {
                return Ok(fields);
            }
            if !self.eat(',') {
                return Err(self.error_here("expected \",\" and another member, or \")\" to close the STRUCT"));
            }
        }
    }

    /// A bare name (letters, digits, `_`, not starting with a digit) or a double-quoted one.
    fn member_name(&mut self) -> Result<String, TypeError> {
        if self.eat('"') {
            let start = self.pos - 1;
            let mut name = String::new();
            loop {
                let rest = &self.text[self.pos..];
                let Some(close) = rest.find('"') else {
                    return Err(self.error_at(start, "this quoted name is never closed"));
                };
                name.push_str(&rest[..close]);
                self.pos += close + 1;
                // `""` inside a quoted name is one quote.
                if !self.eat('"') {
                    break;
                }
                name.push('"');
            }
            if name.is_empty() {
                return Err(self.error_at(start, "a member name cannot be empty"));
            }
            return Ok(name);
        }
        match self.word() {
            Some(word) => Ok(word.to_string()),
            None if self.text[self.pos..].starts_with(')') => Err(self.error_here("expected a member name")),
            None => Err(self.error_here("expected a member name (double-quote one that is not a plain word)")),
        }
    }

    fn word(&mut self) -> Option<&'a str> {
        let rest: &'a str = &self.text[self.pos..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return None;
        }
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        self.pos += len;
        Some(&rest[..len])
    }

    /// Consumes `keyword` (any case) when it is the next word.
    fn keyword(&mut self, keyword: &str) -> bool {
        let save = self.pos;
        self.skip_space();
        match self.word() {
            Some(word) if word.eq_ignore_ascii_case(keyword) => true,
            _ => {
                self.pos = save;
                false
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.text[self.pos..].starts_with(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// An error at the next word or sign (after any whitespace), saying what is there.
    fn error_here(&self, expected: &str) -> TypeError {
        let rest = &self.text[self.pos..];
        let next = rest.trim_start();
        let found = match next.chars().next() {
            Some(c) => format!(", found {c:?}"),
            None => ", found the end".to_string(),
        };
        self.error_at(self.pos + rest.len() - next.len(), &format!("{expected}{found}"))
    }

    fn error_at(&self, pos: usize, message: &str) -> TypeError {
        TypeError { text: self.text.to_string(), at: self.text[..pos].chars().count() + 1, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType as T;

    fn ty(text: &str) -> ColumnType {
        parse_column_type(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        parse_column_type(text).unwrap_err().to_string()
    }

    fn member(name: &str, ty: ColumnType) -> Field {
        Field::new(name, ty, Fake::Generic)
    }

    #[test]
    fn scalar_types_and_their_aliases() {
        for (text, expected) in [
            ("BIGINT", T::Integer),
            ("integer", T::Integer),
            ("Int", T::Integer),
            ("smallint", T::Integer),
            ("TINYINT", T::Integer),
            ("UINTEGER", T::Integer),
            ("DOUBLE", T::Double),
            ("double precision", T::Double),
            ("FLOAT", T::Double),
            ("real", T::Double),
            ("BOOLEAN", T::Boolean),
            ("bool", T::Boolean),
            ("VARCHAR", T::Text),
            ("varchar ( 255 )", T::Text),
            ("TEXT", T::Text),
            ("string", T::Text),
            ("DATE", T::Date),
            ("TIMESTAMP", T::Timestamp),
            ("timestamp without time zone", T::Timestamp),
            ("TIMESTAMPTZ", T::TimestampTz),
            ("  Timestamp  With\tTime\nZone ", T::TimestampTz),
        ] {
            assert_eq!(ty(text), expected, "{text}");
        }
    }

    #[test]
    fn lists_and_structs_nest() {
        assert_eq!(ty("VARCHAR[]"), list_of(T::Text));
        assert_eq!(ty("timestamp with time zone []"), list_of(T::TimestampTz));
        assert_eq!(
            ty(r#"STRUCT(name VARCHAR, "odd name" INTEGER, "say ""hi""" bool, nested STRUCT(a DATE)[])"#),
            T::Struct(vec![
                member("name", T::Text),
                member("odd name", T::Integer),
                member("say \"hi\"", T::Boolean),
                member("nested", list_of(T::Struct(vec![member("a", T::Date)]))),
            ])
        );
        // Member names keep their case; DuckDB's own spelling of the type round-trips.
        let declared = ty("struct( Name varchar , Items struct(sku varchar, qty bigint)[] )");
        assert_eq!(declared.duckdb_sql(), r#"STRUCT("Name" VARCHAR, "Items" STRUCT("sku" VARCHAR, "qty" BIGINT)[])"#);
        assert_eq!(ty(&declared.duckdb_sql()), declared);
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        assert_eq!(
            error(""),
            r#""", at character 1: expected a type (BIGINT, INTEGER, SMALLINT, TINYINT, DOUBLE, FLOAT, BOOLEAN, VARCHAR, DATE, TIMESTAMP, TIMESTAMPTZ, STRUCT(...) or a list T[]), found the end"#
        );
        assert!(
            error("BIGINTEGER")
                .starts_with(r#""BIGINTEGER", at character 1: unknown type "BIGINTEGER"; expected BIGINT"#)
        );
        assert_eq!(error("BIGINT x"), r#""BIGINT x", at character 8: expected the end of the type, found 'x'"#);
        assert_eq!(
            error("STRUCT(a VARCHAR b INTEGER)"),
            r#""STRUCT(a VARCHAR b INTEGER)", at character 18: expected "," and another member, or ")" to close the STRUCT, found 'b'"#
        );
        assert_eq!(
            error("STRUCT(a VARCHAR,)"),
            r#""STRUCT(a VARCHAR,)", at character 18: expected a member name, found ')'"#
        );
        assert_eq!(
            error("STRUCT(a)"),
            r#""STRUCT(a)", at character 9: expected a type (BIGINT, INTEGER, SMALLINT, TINYINT, DOUBLE, FLOAT, BOOLEAN, VARCHAR, DATE, TIMESTAMP, TIMESTAMPTZ, STRUCT(...) or a list T[]), found ')'"#
        );
        assert!(error("STRUCT a INTEGER").contains("at character 8: expected \"(\""));
        assert!(error(r#"STRUCT("a INTEGER)"#).contains("at character 8: this quoted name is never closed"));
        assert!(error(r#"STRUCT("" INTEGER)"#).contains("a member name cannot be empty"));
        assert!(error("STRUCT(id BIGINT, ID VARCHAR)").contains("at character 19: member \"ID\" repeats \"id\""));
        assert!(
            error("TIMESTAMP WITH ZONE")
                .contains("at character 16: expected TIME (TIMESTAMP WITH TIME ZONE), found 'Z'")
        );
        assert!(error("INTEGER[3]").contains("at character 9: expected \"]\""));
        assert!(error("INTEGER[][]").contains("at character 10: a list of lists cannot be exported to BigQuery"));
        assert!(error("VARCHAR(").contains("expected a length"));
        // Positions count characters, not bytes.
        assert!(error(r#"STRUCT("é" INTEGER, é INTEGER)"#).contains("at character 21: expected a member name"));
    }

    #[test]
    fn what_cannot_be_stored_is_refused_with_an_alternative() {
        assert!(error("HUGEINT").contains("HUGEINT is not supported: duckhaul stores integers as BIGINT"));
        assert!(error("ubigint").contains("UBIGINT is not supported"));
        assert!(
            error("DECIMAL(10, 2)").contains("DECIMAL is not supported yet: declare DOUBLE (approximate) or VARCHAR")
        );
        assert!(error("STRUCT(price NUMERIC)").contains("at character 14: NUMERIC is not supported yet"));
        assert!(error("JSON").contains("declare VARCHAR, which keeps an object or array as its JSON text"));
        assert!(error("LIST(INTEGER)").contains("DuckDB spells a list T[]"));
        assert!(error("UUID").contains("UUID is not supported"));
        assert!(error("TIMESTAMP_NS").contains("declare TIMESTAMP or TIMESTAMPTZ"));
    }
}
