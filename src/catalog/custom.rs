//! The `custom` resource: records whose fields the request chooses, one `name=type` pair per
//! field, typed from the Faker field type so the table gets real column types.

use std::collections::BTreeMap;

use super::{ColumnType, Fake, Field, Schema};

/// The Faker field types `custom` accepts, with the column type each one stores as.
pub const CUSTOM_FIELD_TYPES: &[(&str, Fake, CustomFieldType)] = &[
    ("number", Fake::Number, CustomFieldType::Integer),
    ("text", Fake::Text, CustomFieldType::Text),
    ("longText", Fake::LongText, CustomFieldType::Text),
    ("firstName", Fake::FirstName, CustomFieldType::Text),
    ("lastName", Fake::LastName, CustomFieldType::Text),
    ("name", Fake::Name, CustomFieldType::Text),
    ("email", Fake::Email, CustomFieldType::Text),
    ("phone", Fake::Phone, CustomFieldType::Text),
    ("date", Fake::Date, CustomFieldType::Date),
    ("dateTime", Fake::DateTime, CustomFieldType::Timestamp),
    ("image", Fake::Image, CustomFieldType::Text),
    ("word", Fake::Word, CustomFieldType::Text),
    ("streetAddress", Fake::StreetAddress, CustomFieldType::Text),
    ("streetName", Fake::StreetName, CustomFieldType::Text),
    ("buildingNumber", Fake::BuildingNumber, CustomFieldType::Text),
    ("city", Fake::City, CustomFieldType::Text),
    ("postcode", Fake::Postcode, CustomFieldType::Text),
    ("country", Fake::Country, CustomFieldType::Text),
    ("countryCode", Fake::CountryCode, CustomFieldType::Text),
    ("state", Fake::State, CustomFieldType::Text),
    ("latitude", Fake::Latitude, CustomFieldType::Double),
    ("longitude", Fake::Longitude, CustomFieldType::Double),
    ("vat", Fake::Vat, CustomFieldType::Text),
    ("website", Fake::Website, CustomFieldType::Text),
    ("card_type", Fake::CardType, CustomFieldType::Text),
    ("card_number", Fake::CardNumber, CustomFieldType::Text),
    ("card_expiration", Fake::CardExpiration, CustomFieldType::Text),
    ("ean", Fake::Ean, CustomFieldType::Text),
    ("upc", Fake::Upc, CustomFieldType::Text),
    ("uuid", Fake::Uuid, CustomFieldType::Text),
    ("counter", Fake::Counter, CustomFieldType::Integer),
    ("boolean", Fake::Boolean, CustomFieldType::Boolean),
    ("boolean_digit", Fake::BooleanDigit, CustomFieldType::Integer),
    ("company_name", Fake::CompanyName, CustomFieldType::Text),
    ("null", Fake::Null, CustomFieldType::Text),
    ("pokemon", Fake::Pokemon, CustomFieldType::Text),
];

/// The column type a custom field stores as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldType {
    Text,
    Integer,
    Double,
    Boolean,
    Date,
    Timestamp,
}

impl CustomFieldType {
    fn column_type(self) -> ColumnType {
        match self {
            CustomFieldType::Text => ColumnType::Text,
            CustomFieldType::Integer => ColumnType::Integer,
            CustomFieldType::Double => ColumnType::Double,
            CustomFieldType::Boolean => ColumnType::Boolean,
            CustomFieldType::Date => ColumnType::Date,
            CustomFieldType::Timestamp => ColumnType::Timestamp,
        }
    }
}

/// Looks up a Faker field type by its name (case-sensitive, as the upstream is).
pub fn field_type(name: &str) -> Option<(Fake, CustomFieldType)> {
    CUSTOM_FIELD_TYPES.iter().find(|(n, _, _)| *n == name).map(|(_, fake, ty)| (*fake, *ty))
}

/// A validated set of custom fields: name → Faker field type. Columns are ordered by name,
/// so the same fields in any order describe the same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomSpec {
    pub fields: BTreeMap<String, String>,
}

/// Why a custom field set was refused; `field` names the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFieldError {
    pub field: String,
    pub message: String,
}

/// Most fields a custom record may have; the upstream has no stated cap, this keeps the query
/// string and the table reasonable.
pub const MAX_CUSTOM_FIELDS: usize = 64;

impl CustomSpec {
    pub fn parse(fields: &BTreeMap<String, String>) -> Result<CustomSpec, CustomFieldError> {
        if fields.is_empty() {
            return Err(CustomFieldError {
                field: "fields".into(),
                message: "custom needs at least one field, e.g. {\"name\": \"firstName\"}".into(),
            });
        }
        if fields.len() > MAX_CUSTOM_FIELDS {
            return Err(CustomFieldError {
                field: "fields".into(),
                message: format!("at most {MAX_CUSTOM_FIELDS} fields, got {}", fields.len()),
            });
        }
        for (name, ty) in fields {
            if !is_custom_field_name(name) {
                return Err(CustomFieldError {
                    field: format!("fields.{name}"),
                    message: "a field name is a letter followed by letters, digits or '_' (at most 63)".into(),
                });
            }
            if field_type(ty).is_none() {
                return Err(CustomFieldError {
                    field: format!("fields.{name}"),
                    message: format!(
                        "unknown Faker field type '{ty}'; known types: {}",
                        CUSTOM_FIELD_TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        Ok(CustomSpec { fields: fields.clone() })
    }

    pub fn schema(&self) -> Schema {
        let fields = self
            .fields
            .iter()
            .map(|(name, ty)| {
                let (fake, column) = field_type(ty).expect("validated in parse");
                Field::new(name, column.column_type(), fake)
            })
            .collect();
        Schema { fields }
    }

    /// The upstream query pairs (`name=type`) that ask for these fields.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }
}

/// Custom field names may use upper case (the upstream's own examples do) but may not start
/// with `_`, which the lineage columns and the upstream's own parameters use.
fn is_custom_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | 'A'..='Z'))
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_become_typed_columns_in_name_order() {
        let fields: BTreeMap<String, String> = [("when", "date"), ("age", "number"), ("who", "name")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let schema = CustomSpec::parse(&fields).unwrap().schema();
        let names: Vec<_> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["age", "when", "who"]);
        assert_eq!(schema.fields[0].ty, ColumnType::Integer);
        assert_eq!(schema.fields[1].ty, ColumnType::Date);
    }

    #[test]
    fn bad_custom_fields_name_the_culprit() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(CustomSpec::parse(&one("x", "nonsense")).unwrap_err().field, "fields.x");
        assert_eq!(CustomSpec::parse(&one("_x", "word")).unwrap_err().field, "fields._x");
        assert_eq!(CustomSpec::parse(&BTreeMap::new()).unwrap_err().field, "fields");
    }
}
