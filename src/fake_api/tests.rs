//! The fake server's behaviour through its public surface: `render_page`, `router` driven
//! with `oneshot`, and `serve` on a real socket where the transport matters.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use tower::ServiceExt;

use super::{FakeApiOptions, render_page, router, serve, words};
use crate::catalog::{ColumnType, Fake, Field, Resource, Schema, decode};

/// JSON with object members kept in document order, so tests can check field order.
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E: de::Error>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<J, E> {
                Ok(J::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<J, E> {
                Ok(J::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<J, E> {
                Ok(J::Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<J, E> {
                Ok(J::Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<J, E> {
                Ok(J::Str(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(J::Obj(members))
            }
        }
        d.deserialize_any(V)
    }
}

impl J {
    fn get(&self, key: &str) -> &J {
        match self {
            J::Obj(members) => {
                &members.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key} in {self:?}")).1
            }
            _ => panic!("not an object: {self:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            J::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
    fn arr(&self) -> &[J] {
        match self {
            J::Arr(items) => items,
            _ => panic!("not an array: {self:?}"),
        }
    }
    fn keys(&self) -> Vec<&str> {
        match self {
            J::Obj(members) => members.iter().map(|(k, _)| k.as_str()).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }
}

fn parse(body: &[u8]) -> J {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

fn schema(resource: Resource) -> &'static Schema {
    resource.schema().unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn page(resource: Resource, quantity: usize, seed: u64, params: &[(&str, &str)]) -> J {
    parse(&render_page(resource, schema(resource), quantity, seed, "en_US", &pairs(params)))
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response: Response = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, body.to_vec())
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
}

/// Checks a value against its catalogue field: type, nesting, member order, list bounds.
fn check_value(field: &Field, value: &J, counter: usize) {
    let ctx = || format!("{} = {value:?}", field.name);
    match (&field.ty, value) {
        (_, J::Null) => assert_eq!(field.fake, Fake::Null, "{}", ctx()),
        (ColumnType::Struct(fields), J::Obj(_)) => check_object(fields, value, counter),
        (ColumnType::List { element, min, max }, J::Arr(items)) => {
            assert!((usize::from(*min)..=usize::from(*max)).contains(&items.len()), "{}", ctx());
            for item in items {
                check_value(element, item, counter);
            }
        }
        (ColumnType::Text, J::Str(s)) => assert!(!s.is_empty(), "{}", ctx()),
        (ColumnType::Integer, J::Num(n)) => {
            assert_eq!(n.fract(), 0.0, "{}", ctx());
            match field.fake {
                Fake::Counter => assert_eq!(*n as usize, counter, "{}", ctx()),
                Fake::NestedId => assert_eq!(*n, 1.0, "{}", ctx()),
                _ => {}
            }
        }
        (ColumnType::Double, J::Num(_)) | (ColumnType::Boolean, J::Bool(_)) => {}
        (ColumnType::Date, J::Str(s)) => assert!(is_date(s), "{}", ctx()),
        (ColumnType::Timestamp, J::Str(s)) => {
            assert!(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok(), "{}", ctx())
        }
        _ => panic!("{} does not fit {:?}", ctx(), field.ty),
    }
}

fn check_object(fields: &[Field], value: &J, counter: usize) {
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(value.keys(), names);
    for field in fields {
        check_value(field, value.get(&field.name), counter);
    }
}

#[test]
fn every_resource_renders_its_catalogue_shape_and_decodes() {
    for resource in Resource::ALL {
        let Some(schema) = resource.schema() else { continue };
        let body = render_page(resource, schema, 25, 3, "en_US", &[]);
        let page = parse(&body);
        assert_eq!(page.get("total"), &J::Num(25.0));
        let data = page.get("data").arr();
        assert_eq!(data.len(), 25);
        for (i, record) in data.iter().enumerate() {
            check_object(&schema.fields, record, i + 1);
        }
        let decoded = decode::decode_page(schema, &body).unwrap_or_else(|e| panic!("{resource}: {e}"));
        assert_eq!(decoded.batch.num_rows(), 25, "{resource}");
        assert_eq!(decoded.total, Some(25));
    }
}

#[test]
fn the_envelope_is_exactly_the_upstreams() {
    let body = render_page(Resource::Places, schema(Resource::Places), 2, 42, "en_US", &[]);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.starts_with(r#"{"status":"OK","code":200,"locale":"en_US","seed":"42","total":2,"data":[{"latitude":"#),
        "{text}"
    );
    assert!(text.ends_with("}]}"));
    let empty = render_page(Resource::Users, schema(Resource::Users), 0, 1, "fr_FR", &[]);
    assert_eq!(empty, br#"{"status":"OK","code":200,"locale":"fr_FR","seed":"1","total":0,"data":[]}"#);
}

#[test]
fn same_seed_gives_identical_bytes_and_other_seeds_other_data() {
    for resource in Resource::ALL {
        let Some(schema) = resource.schema() else { continue };
        let a = render_page(resource, schema, 100, 42, "en_US", &[]);
        let b = render_page(resource, schema, 100, 42, "en_US", &[]);
        assert_eq!(a, b, "{resource}");
        let c = render_page(resource, schema, 100, 43, "en_US", &[]);
        assert_ne!(parse(&a).get("data"), parse(&c).get("data"), "{resource}");
    }
    // A larger page extends a smaller one with the same seed rather than reshuffling it.
    let small = page(Resource::Users, 5, 9, &[]);
    let large = page(Resource::Users, 50, 9, &[]);
    assert_eq!(small.get("data").arr(), &large.get("data").arr()[..5]);
}

#[test]
fn pinned_output_never_changes() {
    // Guards the "same seed, same records" promise across releases and dependency updates:
    // if this fails, the generator changed and every stored seed now means different data.
    let body = render_page(Resource::Users, schema(Resource::Users), 10, 42, "en_US", &[]);
    let page = parse(&body);
    let user = &page.get("data").arr()[0];
    assert_eq!(
        (user.get("firstname").str(), user.get("lastname").str(), user.get("uuid").str()),
        ("Julia", "Lubowitz", "127c48b6-2f5b-4566-8d92-b5d798a21cb3")
    );
    assert_eq!(super::rng::fnv1a(&body), 369_785_121_083_943_978);
}

#[test]
fn users_look_plausible() {
    let page = page(Resource::Users, 200, 5, &[]);
    let mut uuids = BTreeSet::new();
    for user in page.get("data").arr() {
        let (first, last) = (user.get("firstname").str(), user.get("lastname").str());
        assert!(words::MALE_FIRST_NAMES.contains(&first) || words::FEMALE_FIRST_NAMES.contains(&first));
        assert!(words::LAST_NAMES.contains(&last));
        let email = user.get("email").str();
        let (local, domain) = email.split_once('@').unwrap();
        assert!(local.contains(&last.to_lowercase()), "{email}");
        assert!(domain.contains('.'));
        let uuid = user.get("uuid").str();
        let parsed = uuid::Uuid::parse_str(uuid).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{uuid}");
        assert_eq!(uuid, uuid.to_lowercase());
        uuids.insert(uuid.to_string());
        let octets: Vec<u8> = user.get("ip").str().split('.').map(|o| o.parse().unwrap()).collect();
        assert_eq!(octets.len(), 4);
        let mac = user.get("macAddress").str();
        assert_eq!(mac.len(), 17);
        assert!(mac.split(':').all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()));
        assert!(user.get("website").str().starts_with("http://"));
        assert!(user.get("image").str().starts_with("http://placeimg.com/640/480/"));
        let password = user.get("password").str();
        assert!((8..=16).contains(&password.len()), "{password:?}");
        assert!(!user.get("username").str().is_empty());
    }
    assert_eq!(uuids.len(), 200);
}

#[test]
fn persons_follow_gender_and_birthday_params() {
    let page = page(
        Resource::Persons,
        300,
        8,
        &[("_gender", "female"), ("_birthday_start", "1990-01-01"), ("_birthday_end", "1990-12-31")],
    );
    for person in page.get("data").arr() {
        assert_eq!(person.get("gender").str(), "female");
        assert!(words::FEMALE_FIRST_NAMES.contains(&person.get("firstname").str()));
        let birthday = person.get("birthday").str();
        assert!(birthday.starts_with("1990-") && is_date(birthday), "{birthday}");
        let address = person.get("address");
        assert_eq!(address.get("id"), &J::Num(1.0));
        let street = address.get("street").str();
        assert_eq!(street, format!("{} {}", address.get("buildingNumber").str(), address.get("streetName").str()));
    }
    let males = page_genders(&[("_gender", "male")]);
    assert_eq!(males, BTreeSet::from(["male".to_string()]));
    assert_eq!(page_genders(&[]), BTreeSet::from(["female".to_string(), "male".to_string()]));
}

fn page_genders(params: &[(&str, &str)]) -> BTreeSet<String> {
    let mut genders = BTreeSet::new();
    for person in page(Resource::Persons, 100, 1, params).get("data").arr() {
        let gender = person.get("gender").str();
        let first = person.get("firstname").str();
        let list = if gender == "male" { words::MALE_FIRST_NAMES } else { words::FEMALE_FIRST_NAMES };
        assert!(list.contains(&first), "{first} is not {gender}");
        genders.insert(gender.to_string());
    }
    genders
}

#[test]
fn image_params_shape_the_url() {
    let page = page(Resource::Images, 5, 1, &[("_width", "300"), ("_height", "200"), ("_type", "nature")]);
    for image in page.get("data").arr() {
        assert_eq!(image.get("url").str(), "http://placeimg.com/300/200/nature");
    }
    let kittens = self::page(Resource::Images, 5, 1, &[("_type", "kittens"), ("_width", "400")]);
    for image in kittens.get("data").arr() {
        let url = image.get("url").str();
        assert!(url.starts_with("https://placekitten.com/400/") && url.ends_with("00"), "{url}");
    }
    for params in [&[][..], &[("_type", "pokemon")][..]] {
        let default = self::page(Resource::Images, 1, 1, params);
        assert_eq!(default.get("data").arr()[0].get("url").str(), "http://placeimg.com/640/480/any");
    }
}

#[test]
fn texts_honour_characters() {
    for (chars, n) in [("500", 500), ("60", 60)] {
        for text in page(Resource::Texts, 50, 2, &[("_characters", chars)]).get("data").arr() {
            let content = text.get("content").str();
            assert!(content.len() <= n && content.len() + 16 >= n, "{} chars: {content:?}", content.len());
            assert!(content.ends_with('.'));
        }
    }
    let default = page(Resource::Texts, 10, 2, &[]);
    assert!(default.get("data").arr().iter().all(|t| (184..=200).contains(&t.get("content").str().len())));
    let tiny = page(Resource::Texts, 3, 2, &[("_characters", "3")]);
    assert!(tiny.get("data").arr().iter().all(|t| t.get("content").str().len() <= 3));
}

#[test]
fn products_honour_price_taxes_and_categories() {
    let params = [("_price_min", "10"), ("_price_max", "20"), ("_taxes", "10"), ("_categories_number", "3")];
    for product in page(Resource::Products, 200, 4, &params).get("data").arr() {
        let net = product.get("net_price").num();
        assert!((10.0..=20.0).contains(&net), "{net}");
        assert_eq!(product.get("taxes"), &J::Num(10.0));
        let price = product.get("price").num();
        assert!((price - net * 1.10).abs() <= 0.005 + 1e-9, "{net} -> {price}");
        let categories: Vec<f64> = product.get("categories").arr().iter().map(J::num).collect();
        assert_eq!(categories.len(), 3);
        assert_eq!(categories.iter().map(|c| *c as u64).collect::<BTreeSet<_>>().len(), 3);
        assert_eq!(product.get("images").arr().len(), 3);
        assert_eq!(product.get("ean").str().len(), 13);
    }
    // Defaults: 22% taxes; prices have two decimals in the body.
    let body = render_page(Resource::Products, schema(Resource::Products), 1, 4, "en_US", &[]);
    let text = String::from_utf8(body).unwrap();
    let net = text.split("\"net_price\":").nth(1).unwrap().split(',').next().unwrap();
    assert_eq!(net.split('.').nth(1).map(str::len), Some(2), "{net}");
    assert!(text.contains("\"taxes\":22,"));
}

#[test]
fn addresses_honour_country_code() {
    for address in page(Resource::Addresses, 20, 6, &[("_country_code", "IT")]).get("data").arr() {
        assert_eq!(address.get("country_code").str(), "IT");
        assert_eq!(address.get("country").str(), "Italy");
        let lat = address.get("latitude").num();
        assert!((-90.0..=90.0).contains(&lat));
    }
    let mixed = page(Resource::Addresses, 50, 6, &[]);
    let codes: BTreeSet<_> = mixed.get("data").arr().iter().map(|a| a.get("country_code").str().to_string()).collect();
    assert!(codes.len() > 10);
    for address in mixed.get("data").arr() {
        let code = address.get("country_code").str();
        let name = words::COUNTRIES.iter().find(|(c, _)| *c == code).unwrap().1;
        assert_eq!(address.get("country").str(), name);
    }
}

#[test]
fn credit_cards_are_luhn_valid_and_match_their_type() {
    for card in page(Resource::CreditCards, 100, 3, &[]).get("data").arr() {
        let number = card.get("number").str();
        let digits: Vec<u32> = number.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { *d })
            .sum();
        assert_eq!(sum % 10, 0, "{number}");
        match card.get("type").str() {
            "American Express" => {
                assert!(number.len() == 15 && (number.starts_with("34") || number.starts_with("37")))
            }
            "Visa" => assert!(number.len() == 16 && number.starts_with('4')),
            "MasterCard" => assert!(number.len() == 16 && number.starts_with('5')),
            "Discover Card" => assert!(number.starts_with("6011")),
            other => assert_eq!(other, "Visa Retired"),
        }
        let expiration = card.get("expiration").str();
        assert!(expiration.len() == 5 && &expiration[2..3] == "/", "{expiration}");
        assert!(card.get("owner").str().contains(' '));
    }
}

#[test]
fn companies_nest_addresses_and_a_contact() {
    for company in page(Resource::Companies, 50, 12, &[]).get("data").arr() {
        let addresses = company.get("addresses").arr();
        assert!((1..=5).contains(&addresses.len()));
        assert!(addresses.iter().all(|a| a.get("id") == &J::Num(1.0)));
        let contact = company.get("contact");
        assert_eq!(contact.get("id"), &J::Num(1.0));
        let email = contact.get("email").str();
        assert!(email.contains(&contact.get("lastname").str().to_lowercase()), "{email}");
        // The company's own email and website use its name.
        let slug: String = company.get("name").str().split([' ', ',', '-']).next().unwrap().to_lowercase();
        assert!(company.get("email").str().ends_with(&format!("@{slug}.com")));
        assert_eq!(company.get("website").str(), format!("http://www.{slug}.com"));
    }
}

// ---- HTTP ----

#[tokio::test]
async fn seeded_requests_are_byte_identical_across_servers() {
    let uri = "/api/v2/users?_quantity=30&_seed=42";
    let (status, headers, a) = get(&router(FakeApiOptions::default()), uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let (_, _, b) = get(&router(FakeApiOptions::default()), uri).await;
    assert_eq!(a, b);
    assert!(
        a.starts_with(br#"{"status":"OK","code":200,"locale":"en_US","seed":"42","total":30,"data":[{"id":1,"uuid":""#)
    );
    let (_, _, c) = get(&router(FakeApiOptions::default()), "/api/v2/users?_quantity=30&_seed=43").await;
    assert_ne!(a, c);
    // The cache answers the same request with the same bytes.
    let app = router(FakeApiOptions::default());
    assert_eq!(get(&app, uri).await.2, a);
    assert_eq!(get(&app, uri).await.2, a);
}

#[tokio::test]
async fn unseeded_requests_say_null_and_differ() {
    let app = router(FakeApiOptions::default());
    let (_, _, a) = get(&app, "/api/v2/books?_quantity=5&_locale=de_DE").await;
    let (_, _, b) = get(&app, "/api/v2/books?_quantity=5&_locale=de_DE").await;
    assert!(a.starts_with(br#"{"status":"OK","code":200,"locale":"de_DE","seed":null,"total":5,"data":["#));
    assert_ne!(a, b);
}

#[tokio::test]
async fn quantity_is_capped_and_defaulted() {
    let app = router(FakeApiOptions::default());
    for (query, want) in
        [("_quantity=1001", 1000), ("_quantity=-5", 10), ("", 10), ("_quantity=x", 10), ("_quantity=3", 3)]
    {
        let (status, _, body) = get(&app, &format!("/api/v2/places?{query}")).await;
        assert_eq!(status, StatusCode::OK);
        let page = parse(&body);
        assert_eq!(page.get("total"), &J::Num(f64::from(want)), "{query}");
        assert_eq!(page.get("data").arr().len(), want as usize, "{query}");
    }
}

#[tokio::test]
async fn unknown_resources_are_404_in_each_versions_words() {
    let app = router(FakeApiOptions::default());
    for uri in ["/api/v2/nope", "/api/v2/credit_cards", "/api/v3/users", "/api/v2/users/1"] {
        let (status, headers, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body, br#"{"message":"Resource not found"}"#);
    }
    for uri in ["/api/v1/nope", "/api/v1/creditCards"] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body, br#"{"status":"Not found","code":404,"total":0}"#);
    }
    let (status, _, body) = get(&app, "/api/v2/creditCards?_quantity=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&body).get("data").arr()[0].keys(), ["type", "number", "expiration", "owner"]);
    let (status, _, body) = get(&app, "/api/v1/credit_cards?_quantity=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&body).get("total"), &J::Num(2.0));
    // Each version's path to the same resource: the same records for the same seed.
    let (_, _, v1) = get(&app, "/api/v1/credit_cards?_quantity=5&_seed=8").await;
    let (_, _, v2) = get(&app, "/api/v2/creditCards?_quantity=5&_seed=8").await;
    assert_eq!(v1, v2);
}

#[tokio::test]
async fn texts_below_ten_characters_are_the_upstreams_500() {
    let app = router(FakeApiOptions::default());
    for version in ["v1", "v2"] {
        let (status, _, body) = get(&app, &format!("/api/{version}/texts?_quantity=2&_seed=1&_characters=9")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{version}");
        assert_eq!(body, br#"{"message":"Server Error"}"#);
    }
    let (status, _, body) = get(&app, "/api/v2/texts?_quantity=2&_seed=1&_characters=10").await;
    assert_eq!(status, StatusCode::OK);
    assert!(parse(&body).get("data").arr().iter().all(|t| t.get("content").str().len() <= 10));
}

#[tokio::test]
async fn custom_fields_follow_the_query() {
    let app = router(FakeApiOptions::default());
    let uri =
        "/api/v2/custom?_quantity=20&_seed=1&who=name&age=number&when=date&at=dateTime&ok=boolean&what=bogus&n=counter";
    let (status, _, body) = get(&app, uri).await;
    assert_eq!(status, StatusCode::OK);
    for (i, record) in parse(&body).get("data").arr().iter().enumerate() {
        assert_eq!(record.keys(), ["who", "age", "when", "at", "ok", "what", "n"]);
        assert!(record.get("who").str().contains(' '));
        assert_eq!(record.get("age").num().fract(), 0.0);
        assert!(is_date(record.get("when").str()));
        assert_eq!(record.get("at").str().len(), 19);
        assert!(matches!(record.get("ok"), J::Bool(_)));
        assert_eq!(record.get("what"), &J::Null);
        assert_eq!(record.get("n"), &J::Num((i + 1) as f64));
    }

    let (status, _, body) = get(&app, "/api/v1/custom?name=firstName&what=bo%27gus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, br#"{"status":"Bad Request. Wrong parameter type 'bo'gus'.","code":400,"total":0}"#);
    let (status, _, body) = get(&app, "/api/v1/custom?_quantity=2&name=firstName").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse(&body).get("data").arr()[1].keys(), ["name"]);

    // Field names are the client's: escaped as JSON keys.
    let (_, _, body) = get(&app, "/api/v2/custom?_quantity=1&%22q%5C=word").await;
    assert_eq!(parse(&body).get("data").arr()[0].keys(), ["\"q\\"]);

    let (_, _, body) = get(&app, "/api/v2/custom?_quantity=2&_seed=1").await;
    assert_eq!(body, br#"{"status":"OK","code":200,"locale":"en_US","seed":"1","total":2,"data":[{},{}]}"#);

    // Every documented custom type renders something of its column type.
    let all: Vec<String> =
        crate::catalog::custom::CUSTOM_FIELD_TYPES.iter().map(|(name, _, _)| format!("f_{name}={name}")).collect();
    let (status, _, body) = get(&app, &format!("/api/v2/custom?_quantity=5&{}", all.join("&"))).await;
    assert_eq!(status, StatusCode::OK);
    let page = parse(&body);
    let record = &page.get("data").arr()[0];
    for (name, fake, _) in crate::catalog::custom::CUSTOM_FIELD_TYPES {
        let value = record.get(&format!("f_{name}"));
        assert_eq!(*value == J::Null, *fake == Fake::Null, "{name}: {value:?}");
    }
}

#[tokio::test]
async fn injected_server_errors_and_429s() {
    let app = router(FakeApiOptions { error_rate: 1.0, fault_seed: Some(1), ..FakeApiOptions::default() });
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let (status, _, body) = get(&app, "/api/v2/users").await;
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => assert_eq!(body, br#"{"message":"Server Error"}"#),
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(body, br#"{"message":"Service Unavailable"}"#),
            other => panic!("{other}"),
        }
        seen.insert(status);
    }
    assert_eq!(seen.len(), 2);

    let app = router(FakeApiOptions { rate_429: 1.0, retry_after: 7, ..FakeApiOptions::default() });
    let (status, headers, body) = get(&app, "/api/v2/users").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body, br#"{"message":"Too Many Attempts."}"#);
}

#[tokio::test]
async fn fault_seed_makes_faults_reproducible() {
    let options = FakeApiOptions { error_rate: 0.5, fault_seed: Some(99), ..FakeApiOptions::default() };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let app = router(options.clone());
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(get(&app, "/api/v2/places?_quantity=1").await.0.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500), "{:?}", runs[0]);
}

#[tokio::test]
async fn throttle_limits_each_path_per_minute_and_stats_count_it() {
    // Slots freeing after the minute is covered in `faults` with explicit instants; tokio's
    // paused clock needs its `test-util` feature, which the crate does not enable.
    let app = router(FakeApiOptions { throttle_per_minute: 2, ..FakeApiOptions::default() });
    let (status, headers, _) = get(&app, "/api/v2/users?_quantity=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "1");
    assert_eq!(get(&app, "/api/v2/users?_quantity=1").await.0, StatusCode::OK);
    let (status, headers, body) = get(&app, "/api/v2/users?_quantity=1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(body, br#"{"message":"Too Many Attempts."}"#);
    // Another path has its own budget.
    assert_eq!(get(&app, "/api/v2/books?_quantity=1").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/api/v1/users?_quantity=1").await.0, StatusCode::OK);

    let (status, headers, body) = get(&app, "/__fake/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({
            "total": 5,
            "paths": {
                "/api/v2/users": {"200": 2, "429": 1},
                "/api/v2/books": {"200": 1},
                "/api/v1/users": {"200": 1},
            },
            "faults": {"throttled": 1},
        })
    );
}

#[tokio::test]
async fn a_token_bucket_throttles_and_reports_itself_in_ratelimit_headers() {
    let app = router(FakeApiOptions {
        bucket_per_minute: 6,
        bucket_burst: 2,
        rate_limit_headers: true,
        ..FakeApiOptions::default()
    });
    let limits = |h: &axum::http::HeaderMap| {
        ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"].map(|n| h[n].to_str().unwrap().to_string())
    };
    let (status, headers, _) = get(&app, "/api/v2/users?_quantity=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(limits(&headers), ["2", "1", "10"]);
    assert!(headers.get("x-ratelimit-limit").is_none(), "Laravel's headers belong to the window");
    let (_, headers, _) = get(&app, "/api/v2/users?_quantity=1").await;
    assert_eq!(limits(&headers), ["2", "0", "10"]);
    let (status, headers, body) = get(&app, "/api/v2/users?_quantity=1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((9..=10).contains(&retry), "{retry}");
    assert_eq!(limits(&headers)[1], "0");
    assert_eq!(body, br#"{"message":"Too Many Attempts."}"#);
    let (_, _, body) = get(&app, "/__fake/stats").await;
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["paths"]["/api/v2/users"], serde_json::json!({"200": 2, "429": 1}));
    assert_eq!(stats["faults"]["throttled"], 1);
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let app = router(FakeApiOptions { latency_ms: 150, ..FakeApiOptions::default() });
    let start = std::time::Instant::now();
    assert_eq!(get(&app, "/api/v2/places?_quantity=1").await.0, StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn truncated_bodies_are_complete_but_invalid() {
    let app = router(FakeApiOptions { truncate_rate: 1.0, ..FakeApiOptions::default() });
    let uri = "/api/v2/users?_quantity=10&_seed=5";
    let (status, headers, body) = get(&app, uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    let full = get(&router(FakeApiOptions::default()), uri).await.2;
    assert_eq!(body, &full[..full.len() / 2]);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
}

async fn spawn_server(
    options: FakeApiOptions,
) -> (String, tokio_util::sync::CancellationToken, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let token = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(serve(listener, options, token.clone()));
    (base, token, handle)
}

#[tokio::test]
async fn resets_drop_the_connection_mid_body() {
    let (base, token, handle) = spawn_server(FakeApiOptions { reset_rate: 1.0, ..FakeApiOptions::default() }).await;
    let response = reqwest::get(format!("{base}/api/v2/users?_quantity=200&_seed=1")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
    let stats: serde_json::Value = reqwest::get(format!("{base}/__fake/stats")).await.unwrap().json().await.unwrap();
    assert_eq!(stats["faults"]["reset"], 1);
    token.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_when_cancelled() {
    let (base, token, handle) =
        spawn_server(FakeApiOptions { throttle_per_minute: 1, ..FakeApiOptions::default() }).await;
    let client = reqwest::Client::new();
    let response = client.get(format!("{base}/api/v2/texts?_quantity=3&_seed=2")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.bytes().await.unwrap();
    assert_eq!(body, render_page(Resource::Texts, schema(Resource::Texts), 3, 2, "en_US", &[]));
    // The throttle keys on the peer address that `serve` provides.
    let response = client.get(format!("{base}/api/v2/texts")).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((59..=60).contains(&retry), "{retry}");

    token.cancel();
    tokio::time::timeout(Duration::from_secs(2), handle).await.expect("serve stops").unwrap().unwrap();
}

/// Not a test: prints render and serving speed. Run with
/// `cargo test --release --lib fake_api::tests::render_speed -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn render_speed() {
    let users = schema(Resource::Users);
    let rounds = 500;
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for seed in 0..rounds {
        bytes += render_page(Resource::Users, users, 1000, seed, "en_US", &[]).len();
    }
    let per_page = start.elapsed() / rounds as u32;
    println!("render: {per_page:?} per 1000-user page ({} KiB)", bytes / rounds as usize / 1024);
    for resource in Resource::ALL {
        let Some(schema) = resource.schema() else { continue };
        let start = std::time::Instant::now();
        for seed in 0..50 {
            render_page(resource, schema, 1000, seed, "en_US", &[]);
        }
        println!("  {resource}: {:?} per 1000 records", start.elapsed() / 50);
    }

    let (base, token, handle) = spawn_server(FakeApiOptions::default()).await;
    let client = reqwest::Client::new();
    for (label, seeded) in [("distinct seeds (rendered)", false), ("one seed (cached)", true)] {
        let start = std::time::Instant::now();
        let n = 400;
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let (client, base) = (client.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 4 {
                    let seed = if seeded { 1 } else { worker * 1_000_000 + i };
                    let url = format!("{base}/api/v2/users?_quantity=1000&_seed={seed}");
                    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
                    assert!(body.len() > 100_000);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed();
        println!("serve, {label}: {:.0} pages/s of 1000 users", f64::from(n as u32) / elapsed.as_secs_f64());
    }
    token.cancel();
    handle.await.unwrap().unwrap();
}

#[test]
fn fault_flags_parse_from_the_command_line() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        options: FakeApiOptions,
    }
    let cli = Cli::try_parse_from([
        "fake-api",
        "--error-rate",
        "0.5",
        "--rate-429",
        "0.1",
        "--retry-after",
        "3",
        "--throttle-per-minute",
        "30",
        "--throttle-window-ms",
        "3000",
        "--bucket-per-minute",
        "600",
        "--bucket-burst",
        "4",
        "--rate-limit-headers",
        "--latency-ms",
        "5",
        "--truncate-rate",
        "0.2",
        "--reset-rate",
        "0.3",
        "--fault-seed",
        "9",
    ])
    .unwrap();
    let o = cli.options;
    assert_eq!(
        (
            o.error_rate,
            o.rate_429,
            o.retry_after,
            o.throttle_per_minute,
            (o.throttle_window_ms, o.bucket_per_minute, o.bucket_burst, o.rate_limit_headers),
            o.latency_ms,
            o.truncate_rate,
            o.reset_rate,
            o.fault_seed
        ),
        (0.5, 0.1, 3, 30, (3000, 600, 4, true), 5, 0.2, 0.3, Some(9))
    );
    let defaults = Cli::try_parse_from(["fake-api"]).unwrap().options;
    assert_eq!(format!("{defaults:?}"), format!("{:?}", FakeApiOptions::default()));
    assert!(Cli::try_parse_from(["fake-api", "--error-rate", "1.5"]).is_err());
}
