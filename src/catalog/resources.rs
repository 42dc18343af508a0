//! The record schemas of the built-in resources, as FAKERAPI.md describes them.

use std::sync::OnceLock;

use super::{ColumnType as T, Fake as F, Field, Resource, Schema};

fn f(name: &str, ty: T, fake: F) -> Field {
    Field::new(name, ty, fake)
}

fn list(element: Field, min: u8, max: u8) -> T {
    T::List { element: Box::new(element), min, max }
}

fn address_fields(id: F) -> Vec<Field> {
    vec![
        f("id", T::Integer, id),
        f("street", T::Text, F::StreetAddress),
        f("streetName", T::Text, F::StreetName),
        f("buildingNumber", T::Text, F::BuildingNumber),
        f("city", T::Text, F::City),
        f("zipcode", T::Text, F::Postcode),
        f("country", T::Text, F::Country),
        f("country_code", T::Text, F::CountryCode),
        f("latitude", T::Double, F::Latitude),
        f("longitude", T::Double, F::Longitude),
    ]
}

fn person_fields(id: F) -> Vec<Field> {
    vec![
        f("id", T::Integer, id),
        f("firstname", T::Text, F::FirstName),
        f("lastname", T::Text, F::LastName),
        f("email", T::Text, F::Email),
        f("phone", T::Text, F::Phone),
        f("birthday", T::Date, F::Birthday),
        f("gender", T::Text, F::Gender),
        f("address", T::Struct(address_fields(F::NestedId)), F::Null),
        f("website", T::Text, F::Website),
        f("image", T::Text, F::Image),
    ]
}

fn build(resource: Resource) -> Option<Schema> {
    let fields = match resource {
        Resource::Addresses => address_fields(F::Counter),
        Resource::Persons => person_fields(F::Counter),
        Resource::Users => vec![
            f("id", T::Integer, F::Counter),
            f("uuid", T::Text, F::Uuid),
            f("firstname", T::Text, F::FirstName),
            f("lastname", T::Text, F::LastName),
            f("username", T::Text, F::Username),
            f("password", T::Text, F::Password),
            f("email", T::Text, F::Email),
            f("ip", T::Text, F::Ip),
            f("macAddress", T::Text, F::MacAddress),
            f("website", T::Text, F::Website),
            f("image", T::Text, F::Image),
        ],
        Resource::Companies => vec![
            f("id", T::Integer, F::Counter),
            f("name", T::Text, F::CompanyName),
            f("email", T::Text, F::Email),
            f("vat", T::Text, F::Vat),
            f("phone", T::Text, F::Phone),
            f("country", T::Text, F::Country),
            f("addresses", list(f("element", T::Struct(address_fields(F::NestedId)), F::Null), 1, 5), F::Null),
            f("website", T::Text, F::Website),
            f("image", T::Text, F::Image),
            f("contact", T::Struct(person_fields(F::NestedId)), F::Null),
        ],
        Resource::Products => vec![
            f("id", T::Integer, F::Counter),
            f("name", T::Text, F::Title),
            f("description", T::Text, F::Description),
            f("ean", T::Text, F::Ean),
            f("upc", T::Text, F::Upc),
            f("image", T::Text, F::Image),
            f(
                "images",
                list(
                    f(
                        "element",
                        T::Struct(vec![
                            f("title", T::Text, F::Title),
                            f("description", T::Text, F::Description),
                            f("url", T::Text, F::Image),
                        ]),
                        F::Null,
                    ),
                    3,
                    3,
                ),
                F::Null,
            ),
            f("net_price", T::Double, F::NetPrice),
            f("taxes", T::Integer, F::Taxes),
            f("price", T::Double, F::Price),
            f("categories", list(f("element", T::Integer, F::CategoryId), 1, 4), F::Null),
            f("tags", list(f("element", T::Text, F::Tag), 1, 6), F::Null),
        ],
        Resource::Books => vec![
            f("id", T::Integer, F::Counter),
            f("title", T::Text, F::Title),
            f("author", T::Text, F::Name),
            f("genre", T::Text, F::Genre),
            f("description", T::Text, F::Description),
            f("isbn", T::Text, F::Isbn),
            f("image", T::Text, F::Image),
            f("published", T::Date, F::Date),
            f("publisher", T::Text, F::Publisher),
        ],
        Resource::Texts => vec![
            f("title", T::Text, F::Title),
            f("author", T::Text, F::Name),
            f("genre", T::Text, F::Genre),
            f("content", T::Text, F::LongText),
        ],
        Resource::Images => {
            vec![f("title", T::Text, F::Title), f("description", T::Text, F::Description), f("url", T::Text, F::Image)]
        }
        Resource::Places => vec![f("latitude", T::Double, F::Latitude), f("longitude", T::Double, F::Longitude)],
        Resource::CreditCards => vec![
            f("type", T::Text, F::CardType),
            f("number", T::Text, F::CardNumber),
            f("expiration", T::Text, F::CardExpiration),
            f("owner", T::Text, F::Name),
        ],
        Resource::Custom => return None,
    };
    Some(Schema { fields })
}

pub(super) fn schema(resource: Resource) -> Option<&'static Schema> {
    static SCHEMAS: OnceLock<Vec<Option<Schema>>> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| Resource::ALL.iter().map(|r| build(*r)).collect());
    let index = Resource::ALL.iter().position(|r| *r == resource)?;
    all[index].as_ref()
}
