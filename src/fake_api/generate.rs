//! Renders response bodies: walks a catalogue schema and writes each record's JSON straight
//! into one byte buffer, drawing values from a seeded [`SplitMix64`] per record.
//!
//! Record `i` of a page depends only on (seed, resource, locale, i) and the page's parameters,
//! so a larger `_quantity` with the same seed extends a smaller page instead of reshuffling it.
//! Within one object, person-like fields agree with each other (the email is built from the
//! first and last name, names match the gender, a street address contains its street name and
//! building number, a card number has its card type's prefix).

use chrono::{Datelike, NaiveDate};

use super::rng::{SplitMix64, fnv1a, mix64};
use super::words;
use crate::catalog::{ColumnType, Fake, Field, Resource, Schema};

/// The upstream's cap on `_quantity`.
pub const MAX_QUANTITY: usize = 1000;

/// Renders one response body deterministically (used by the router, tests and benchmarks):
/// the same arguments always give the same bytes. `params` are the request's query pairs; the
/// per-resource ones of `FAKERAPI.md` (`_gender`, `_width`, `_characters`, ...) shape the
/// values and anything else is ignored. `quantity` is capped at [`MAX_QUANTITY`]; the
/// envelope echoes `seed` as a string.
pub fn render_page(
    resource: Resource,
    schema: &Schema,
    quantity: usize,
    seed: u64,
    locale: &str,
    params: &[(String, String)],
) -> Vec<u8> {
    render_body(resource, schema, quantity, seed, Some(&seed.to_string()), locale, params)
}

/// As [`render_page`], but the envelope's `seed` is `seed_echo` (the request's own spelling),
/// or `null` when the request gave none and `seed` was drawn at random.
pub(crate) fn render_body(
    resource: Resource,
    schema: &Schema,
    quantity: usize,
    seed: u64,
    seed_echo: Option<&str>,
    locale: &str,
    params: &[(String, String)],
) -> Vec<u8> {
    let quantity = quantity.min(MAX_QUANTITY);
    let settings = PageSettings::from_params(resource, params);
    let per_record = estimate_len(&schema.fields, &settings) + 2;
    let mut out = Vec::with_capacity(128 + quantity * per_record);

    out.extend_from_slice(b"{\"status\":\"OK\",\"code\":200,\"locale\":");
    push_json_str(&mut out, locale);
    out.extend_from_slice(b",\"seed\":");
    match seed_echo {
        Some(s) => push_json_str(&mut out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"total\":");
    push_u64(&mut out, quantity as u64);
    out.extend_from_slice(b",\"data\":[");

    let base = mix64(seed ^ fnv1a(resource.name().as_bytes()).rotate_left(17) ^ fnv1a(locale.as_bytes()));
    let mut writer = RecordWriter { out: &mut out, settings: &settings, rng: SplitMix64::new(0), counter: 0 };
    for i in 1..=quantity as u64 {
        if i > 1 {
            writer.out.push(b',');
        }
        writer.rng = SplitMix64::new(mix64(base.wrapping_add(i.wrapping_mul(0xA076_1D64_78BD_642F))));
        writer.counter = i;
        writer.write_object(&schema.fields);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The per-resource parameters, parsed once per page. Unparsable values fall back to the
/// defaults, as the upstream does.
#[derive(Debug, Clone)]
struct PageSettings {
    gender: Option<Gender>,
    /// Birthday range in days since 1970-01-01, inclusive.
    birthday: (i64, i64),
    image: ImageSettings,
    /// Length cap of `LongText` values (`_characters` for texts).
    long_text_chars: usize,
    price_cents: (i64, i64),
    taxes: i64,
    categories_number: Option<u8>,
    categories_type: CategoriesType,
    /// `_country_code` with its English name when known.
    country: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    Male,
    Female,
    Other,
}

impl Gender {
    fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CategoriesType {
    Integer,
    String,
    Uuid,
}

#[derive(Debug, Clone)]
struct ImageSettings {
    /// The category in placeimg URLs (`people`, `tech`, ..., or `kittens`).
    kind: &'static str,
    width: Option<u32>,
    height: Option<u32>,
    /// Book covers are portrait.
    portrait: bool,
}

fn last_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn days_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

fn parse_days(value: Option<&str>) -> Option<i64> {
    value.and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()).map(days_of)
}

fn parse_cents(value: Option<&str>) -> Option<i64> {
    let v: f64 = value?.trim().parse().ok()?;
    (v.is_finite() && (0.0..1e13).contains(&v)).then(|| (v * 100.0).round() as i64)
}

impl PageSettings {
    fn from_params(resource: Resource, params: &[(String, String)]) -> PageSettings {
        let get = |name: &str| last_param(params, name);
        let gender = match get("_gender") {
            Some("male") => Some(Gender::Male),
            Some("female") => Some(Gender::Female),
            Some("other") => Some(Gender::Other),
            _ => None,
        };

        // 1930-01-01 ..= 2006-12-31 unless the request narrows it.
        let mut birthday = (
            parse_days(get("_birthday_start")).unwrap_or(-14_610),
            parse_days(get("_birthday_end")).unwrap_or(13_513),
        );
        if birthday.0 > birthday.1 {
            birthday = (birthday.1, birthday.0);
        }

        let dimension = |name: &str| get(name).and_then(|v| v.parse::<u32>().ok()).filter(|v| *v > 0);
        let default_kind = match resource {
            Resource::Persons | Resource::Users | Resource::Companies => "people",
            Resource::Products => "tech",
            _ => "any",
        };
        // Like the upstream, only placeimg's categories (and kittens) are honoured.
        let kind = match (resource, get("_type")) {
            (Resource::Images, Some(t)) => {
                words::IMAGE_TYPES.iter().find(|k| **k == t).copied().unwrap_or("any")
            }
            _ => default_kind,
        };
        let image = ImageSettings {
            kind,
            width: if resource == Resource::Images { dimension("_width") } else { None },
            height: if resource == Resource::Images { dimension("_height") } else { None },
            portrait: resource == Resource::Books,
        };

        let long_text_chars = match resource {
            Resource::Texts => {
                get("_characters").and_then(|v| v.parse::<usize>().ok()).unwrap_or(200).min(100_000)
            }
            _ => 1000,
        };

        let mut price_cents =
            (parse_cents(get("_price_min")).unwrap_or(1), parse_cents(get("_price_max")).unwrap_or(0));
        if get("_price_max").is_none() {
            price_cents.1 = price_cents.0.max(100_000);
        }
        if price_cents.0 > price_cents.1 {
            price_cents = (price_cents.1, price_cents.0);
        }
        let taxes = get("_taxes")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|t| (0..=1000).contains(t))
            .unwrap_or(22);
        let categories_number =
            get("_categories_number").and_then(|v| v.parse::<u8>().ok()).filter(|n| (1..=100).contains(n));
        let categories_type = match get("_categories_type") {
            Some("string") => CategoriesType::String,
            Some("uuid") => CategoriesType::Uuid,
            _ => CategoriesType::Integer,
        };

        let country = match get("_country_code") {
            Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let code = code.to_ascii_uppercase();
                let name = words::COUNTRIES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map_or_else(|| code.clone(), |(_, n)| (*n).to_string());
                Some((code, name))
            }
            _ => None,
        };

        PageSettings {
            gender,
            birthday,
            image,
            long_text_chars,
            price_cents,
            taxes,
            categories_number,
            categories_type,
            country,
        }
    }
}

/// A rough serialised size of one record, so the body is allocated once.
fn estimate_len(fields: &[Field], settings: &PageSettings) -> usize {
    fields
        .iter()
        .map(|f| {
            f.name.len()
                + 4
                + match &f.ty {
                    ColumnType::Struct(inner) => estimate_len(inner, settings) + 2,
                    ColumnType::List { element, min, max } => {
                        (usize::from(*min) + usize::from(*max)).div_ceil(2)
                            * (estimate_len(std::slice::from_ref(element), settings) + 1)
                    }
                    _ => match f.fake {
                        Fake::LongText => settings.long_text_chars,
                        Fake::Text | Fake::Description => 200,
                        _ => 24,
                    },
                }
        })
        .sum()
}

/// What the fields of one object share: drawn on first use, so e.g. the email of a person
/// uses the same names as its `firstname` and `lastname` fields.
#[derive(Default)]
struct Persona {
    gender: Option<Gender>,
    first: Option<&'static str>,
    last: Option<&'static str>,
    /// Set once the object has written a company name; its email and website then use it.
    company_slug: Option<&'static str>,
    street_name: Option<(&'static str, &'static str)>,
    building_number: Option<u32>,
    country: Option<usize>,
    card_type: Option<usize>,
    /// The net price, which `price` (net plus taxes) derives from.
    net_cents: Option<i64>,
}

struct RecordWriter<'a> {
    out: &'a mut Vec<u8>,
    settings: &'a PageSettings,
    rng: SplitMix64,
    counter: u64,
}

impl RecordWriter<'_> {
    fn write_object(&mut self, fields: &[Field]) {
        let mut persona = Persona::default();
        self.out.push(b'{');
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            push_json_str(self.out, &field.name);
            self.out.push(b':');
            self.write_value(field, &mut persona);
        }
        self.out.push(b'}');
    }

    fn write_value(&mut self, field: &Field, persona: &mut Persona) {
        match &field.ty {
            ColumnType::Struct(fields) => self.write_object(fields),
            ColumnType::List { element, min, max } => self.write_list(element, *min, *max, persona),
            _ => self.write_scalar(field.fake, persona),
        }
    }

    fn write_list(&mut self, element: &Field, min: u8, max: u8, persona: &mut Persona) {
        if element.fake == Fake::CategoryId {
            return self.write_categories(min, max);
        }
        let n = self.rng.range(i64::from(min), i64::from(max.max(min)));
        self.out.push(b'[');
        for i in 0..n {
            if i > 0 {
                self.out.push(b',');
            }
            self.write_value(element, persona);
        }
        self.out.push(b']');
    }

    /// Product categories: distinct digits 1..9 like the upstream's `randomDigitNotNull`
    /// (a wider pool when `_categories_number` asks for more), or words/uuids by
    /// `_categories_type`.
    fn write_categories(&mut self, min: u8, max: u8) {
        let n = match self.settings.categories_number {
            Some(n) => u64::from(n),
            None => self.rng.range(i64::from(min), i64::from(max.max(min))) as u64,
        };
        self.out.push(b'[');
        let pool = n.max(9);
        let mut used = vec![false; pool as usize + 1];
        for i in 0..n {
            if i > 0 {
                self.out.push(b',');
            }
            match self.settings.categories_type {
                CategoriesType::Integer => {
                    let mut c = 1 + self.rng.below(pool);
                    while used[c as usize] {
                        c = if c == pool { 1 } else { c + 1 };
                    }
                    used[c as usize] = true;
                    push_u64(self.out, c);
                }
                CategoriesType::String => self.quoted(|w| w.word()),
                CategoriesType::Uuid => self.quoted(RecordWriter::uuid),
            }
        }
        self.out.push(b']');
    }

    /// Writes a JSON string whose content `f` writes and guarantees needs no escaping.
    #[inline]
    fn quoted(&mut self, f: impl FnOnce(&mut Self)) {
        self.out.push(b'"');
        f(self);
        self.out.push(b'"');
    }

    #[inline]
    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn lower(&mut self, s: &str) {
        self.out.extend(s.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase()));
    }

    fn digits(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(b'0' + self.rng.below(10) as u8);
        }
    }

    fn write_scalar(&mut self, fake: Fake, p: &mut Persona) {
        match fake {
            Fake::Counter => push_u64(self.out, self.counter),
            Fake::NestedId => self.out.push(b'1'),
            Fake::Null => self.raw("null"),
            Fake::Uuid => self.quoted(RecordWriter::uuid),
            Fake::FirstName => {
                let first = self.first_name(p);
                self.quoted(|w| w.raw(first));
            }
            Fake::LastName => {
                let last = self.last_name(p);
                self.quoted(|w| w.raw(last));
            }
            Fake::Name => {
                let (first, last) = (self.first_name(p), self.last_name(p));
                self.quoted(|w| {
                    w.raw(first);
                    w.out.push(b' ');
                    w.raw(last);
                });
            }
            Fake::Username => self.quoted(|w| w.username(p)),
            Fake::Password => self.password(),
            Fake::Email => self.quoted(|w| w.email(p)),
            Fake::Ip => self.quoted(|w| {
                let octets =
                    [w.rng.range(1, 254), w.rng.range(0, 255), w.rng.range(0, 255), w.rng.range(1, 254)];
                for (i, o) in octets.into_iter().enumerate() {
                    if i > 0 {
                        w.out.push(b'.');
                    }
                    push_u64(w.out, o as u64);
                }
            }),
            Fake::MacAddress => self.quoted(|w| {
                for i in 0..6 {
                    if i > 0 {
                        w.out.push(b':');
                    }
                    let b = w.rng.below(256) as u8;
                    w.out.push(HEX_UPPER[usize::from(b >> 4)]);
                    w.out.push(HEX_UPPER[usize::from(b & 15)]);
                }
            }),
            Fake::Website => self.quoted(|w| w.website(p)),
            Fake::Image => self.quoted(RecordWriter::image_url),
            Fake::Phone => self.quoted(RecordWriter::phone),
            Fake::Birthday => {
                let (lo, hi) = self.settings.birthday;
                let day = self.rng.range(lo, hi);
                self.quoted(|w| push_date(w.out, day));
            }
            Fake::Gender => {
                let g = self.gender(p);
                self.quoted(|w| w.raw(g.as_str()));
            }
            Fake::StreetAddress => {
                let number = self.building_number(p);
                let (root, suffix) = self.street_name(p);
                self.quoted(|w| {
                    push_u64(w.out, u64::from(number));
                    w.out.push(b' ');
                    w.raw(root);
                    w.out.push(b' ');
                    w.raw(suffix);
                });
            }
            Fake::StreetName => {
                let (root, suffix) = self.street_name(p);
                self.quoted(|w| {
                    w.raw(root);
                    w.out.push(b' ');
                    w.raw(suffix);
                });
            }
            Fake::BuildingNumber => {
                let number = self.building_number(p);
                self.quoted(|w| push_u64(w.out, u64::from(number)));
            }
            Fake::City => {
                let city = *self.rng.pick(words::CITIES);
                self.quoted(|w| w.raw(city));
            }
            Fake::Postcode => self.quoted(|w| {
                w.digits(5);
                if w.rng.below(4) == 0 {
                    w.out.push(b'-');
                    w.digits(4);
                }
            }),
            Fake::Country => match &self.settings.country {
                Some((_, name)) => push_json_str(self.out, name),
                None => {
                    let i = self.country(p);
                    self.quoted(|w| w.raw(words::COUNTRIES[i].1));
                }
            },
            Fake::CountryCode => match &self.settings.country {
                Some((code, _)) => push_json_str(self.out, code),
                None => {
                    let i = self.country(p);
                    self.quoted(|w| w.raw(words::COUNTRIES[i].0));
                }
            },
            Fake::State => {
                let state = *self.rng.pick(words::STATES);
                self.quoted(|w| w.raw(state));
            }
            Fake::Latitude => {
                let v = self.rng.range(-90_000_000, 90_000_000);
                push_fixed(self.out, v, 6);
            }
            Fake::Longitude => {
                let v = self.rng.range(-180_000_000, 180_000_000);
                push_fixed(self.out, v, 6);
            }
            Fake::CompanyName => self.quoted(|w| w.company_name(p)),
            Fake::Vat => self.quoted(|w| {
                const FORMATS: &[(&str, usize)] =
                    &[("IT", 11), ("DE", 9), ("FR", 11), ("GB", 9), ("ES", 9), ("NL", 12)];
                let (prefix, n) = *w.rng.pick(FORMATS);
                w.raw(prefix);
                w.digits(n);
            }),
            Fake::Title => self.quoted(|w| {
                let n = w.rng.range(2, 5);
                for i in 0..n {
                    if i > 0 {
                        w.out.push(b' ');
                    }
                    let word = *w.rng.pick(words::LOREM);
                    if i == 0 { w.capitalised(word) } else { w.raw(word) }
                }
            }),
            Fake::Genre => {
                let genre = *self.rng.pick(words::GENRES);
                self.quoted(|w| w.raw(genre));
            }
            Fake::Description | Fake::Text => self.quoted(|w| w.text(200)),
            Fake::LongText => {
                let n = self.settings.long_text_chars;
                self.quoted(|w| w.text(n));
            }
            Fake::Isbn => self.quoted(|w| w.check_digit_code("978", 13)),
            Fake::Ean => self.quoted(|w| w.check_digit_code("", 13)),
            Fake::Upc => self.quoted(|w| w.check_digit_code("", 12)),
            Fake::Publisher => {
                let publisher = *self.rng.pick(words::PUBLISHERS);
                self.quoted(|w| w.raw(publisher));
            }
            Fake::Date => {
                // 1970-01-01 ..= 2025-12-31
                let day = self.rng.range(0, 20_453);
                self.quoted(|w| push_date(w.out, day));
            }
            Fake::DateTime => {
                let second = self.rng.range(0, 20_454 * 86_400 - 1);
                self.quoted(|w| push_datetime(w.out, second));
            }
            Fake::NetPrice => {
                let (lo, hi) = self.settings.price_cents;
                let net = self.rng.range(lo, hi);
                push_fixed(self.out, net, 2);
                p.net_cents = Some(net);
            }
            Fake::Taxes => push_u64(self.out, self.settings.taxes as u64),
            Fake::Price => {
                let net = match p.net_cents {
                    Some(net) => net,
                    None => self.rng.range(self.settings.price_cents.0, self.settings.price_cents.1),
                };
                let gross = (net * (100 + self.settings.taxes) + 50) / 100;
                push_fixed(self.out, gross, 2);
            }
            Fake::CategoryId => push_u64(self.out, 1 + self.rng.below(9)),
            Fake::Tag | Fake::Word => self.quoted(RecordWriter::word),
            Fake::Number => push_u64(self.out, self.rng.below(1_000_000_000)),
            Fake::Boolean => {
                let value = if self.rng.below(2) == 0 { "false" } else { "true" };
                self.raw(value);
            }
            Fake::BooleanDigit => self.out.push(b'0' + self.rng.below(2) as u8),
            Fake::CardType => {
                let t = self.card_type(p);
                self.quoted(|w| w.raw(words::CARD_TYPES[t]));
            }
            Fake::CardNumber => {
                let t = self.card_type(p);
                self.quoted(|w| w.card_number(t));
            }
            Fake::CardExpiration => self.quoted(|w| {
                let month = w.rng.range(1, 12) as u64;
                let year = w.rng.range(26, 31) as u64;
                push_padded(w.out, month, 2);
                w.out.push(b'/');
                push_padded(w.out, year, 2);
            }),
            Fake::Pokemon => {
                let name = *self.rng.pick(words::POKEMON);
                self.quoted(|w| w.raw(name));
            }
        }
    }
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The persona's draws and the composite values built from them.
impl RecordWriter<'_> {
    fn gender(&mut self, p: &mut Persona) -> Gender {
        if let Some(g) = p.gender {
            return g;
        }
        let g = self
            .settings
            .gender
            .unwrap_or_else(|| if self.rng.below(2) == 0 { Gender::Male } else { Gender::Female });
        p.gender = Some(g);
        g
    }

    fn first_name(&mut self, p: &mut Persona) -> &'static str {
        if let Some(f) = p.first {
            return f;
        }
        let male = match self.gender(p) {
            Gender::Male => true,
            Gender::Female => false,
            Gender::Other => self.rng.below(2) == 0,
        };
        let f = *self.rng.pick(if male { words::MALE_FIRST_NAMES } else { words::FEMALE_FIRST_NAMES });
        p.first = Some(f);
        f
    }

    fn last_name(&mut self, p: &mut Persona) -> &'static str {
        p.last.get_or_insert_with(|| *self.rng.pick(words::LAST_NAMES))
    }

    fn street_name(&mut self, p: &mut Persona) -> (&'static str, &'static str) {
        *p.street_name.get_or_insert_with(|| {
            let root = if self.rng.below(2) == 0 {
                *self.rng.pick(words::LAST_NAMES)
            } else {
                let names =
                    if self.rng.below(2) == 0 { words::MALE_FIRST_NAMES } else { words::FEMALE_FIRST_NAMES };
                *self.rng.pick(names)
            };
            (root, *self.rng.pick(words::STREET_SUFFIXES))
        })
    }

    fn building_number(&mut self, p: &mut Persona) -> u32 {
        *p.building_number.get_or_insert_with(|| {
            // Mostly short numbers, like real addresses.
            let digits = [1, 2, 2, 3, 3, 3, 4, 5][self.rng.below(8) as usize];
            self.rng.range(1, 10_i64.pow(digits) - 1) as u32
        })
    }

    fn country(&mut self, p: &mut Persona) -> usize {
        *p.country.get_or_insert_with(|| self.rng.below(words::COUNTRIES.len() as u64) as usize)
    }

    fn card_type(&mut self, p: &mut Persona) -> usize {
        *p.card_type.get_or_insert_with(|| self.rng.below(words::CARD_TYPES.len() as u64) as usize)
    }

    fn username(&mut self, p: &mut Persona) {
        let (first, last) = (self.first_name(p), self.last_name(p));
        match self.rng.below(4) {
            0 => {
                self.lower(first);
                self.out.push(b'.');
                self.lower(last);
            }
            1 => {
                self.lower(&first[..1]);
                self.lower(last);
            }
            2 => {
                self.lower(last);
                push_u64(self.out, self.rng.range(1, 99) as u64);
            }
            _ => {
                self.lower(first);
                self.lower(last);
                push_u64(self.out, self.rng.range(1, 9999) as u64);
            }
        }
    }

    fn email(&mut self, p: &mut Persona) {
        let (first, last) = (self.first_name(p), self.last_name(p));
        match self.rng.below(3) {
            0 => {
                self.lower(first);
                self.out.push(b'.');
                self.lower(last);
            }
            1 => {
                self.lower(&first[..1]);
                self.out.push(b'.');
                self.lower(last);
            }
            _ => {
                self.lower(first);
                self.lower(last);
                push_u64(self.out, self.rng.range(1, 99) as u64);
            }
        }
        self.out.push(b'@');
        match p.company_slug {
            Some(slug) => {
                self.lower(slug);
                self.raw(".com");
            }
            None => {
                let domain = *self.rng.pick(words::FREE_EMAIL_DOMAINS);
                self.raw(domain);
            }
        }
    }

    fn website(&mut self, p: &Persona) {
        self.raw("http://");
        match p.company_slug {
            Some(slug) => {
                self.raw("www.");
                self.lower(slug);
                self.raw(".com");
            }
            None => {
                let name = *self.rng.pick(words::LAST_NAMES);
                self.lower(name);
                self.out.push(b'.');
                let tld = *self.rng.pick(words::TLDS);
                self.raw(tld);
            }
        }
    }

    fn company_name(&mut self, p: &mut Persona) {
        let a = *self.rng.pick(words::LAST_NAMES);
        p.company_slug = Some(a);
        match self.rng.below(3) {
            0 => {
                self.raw(a);
                self.out.push(b' ');
                let suffix = *self.rng.pick(words::COMPANY_SUFFIXES);
                self.raw(suffix);
            }
            1 => {
                self.raw(a);
                self.out.push(b'-');
                let b = *self.rng.pick(words::LAST_NAMES);
                self.raw(b);
            }
            _ => {
                self.raw(a);
                self.raw(", ");
                let b = *self.rng.pick(words::LAST_NAMES);
                self.raw(b);
                self.raw(" and ");
                let c = *self.rng.pick(words::LAST_NAMES);
                self.raw(c);
            }
        }
    }

    fn image_url(&mut self) {
        let image = &self.settings.image;
        if image.kind == "kittens" {
            self.raw("https://placekitten.com/");
            let w = image.width.map_or_else(|| (1 + self.rng.below(9)) * 100, u64::from);
            let h = image.height.map_or_else(|| (1 + self.rng.below(9)) * 100, u64::from);
            push_u64(self.out, w);
            self.out.push(b'/');
            push_u64(self.out, h);
            return;
        }
        let (dw, dh) = if image.portrait { (480, 640) } else { (640, 480) };
        self.raw("http://placeimg.com/");
        push_u64(self.out, u64::from(image.width.unwrap_or(dw)));
        self.out.push(b'/');
        push_u64(self.out, u64::from(image.height.unwrap_or(dh)));
        self.out.push(b'/');
        self.out.extend_from_slice(image.kind.as_bytes());
    }

    fn phone(&mut self) {
        match self.rng.below(4) {
            0 => {
                self.raw("+1-");
                self.digits(3);
                self.out.push(b'-');
                self.digits(3);
                self.out.push(b'-');
                self.digits(4);
            }
            1 => {
                self.out.push(b'(');
                self.digits(3);
                self.raw(") ");
                self.digits(3);
                self.out.push(b'-');
                self.digits(4);
            }
            2 => {
                self.digits(3);
                self.out.push(b'.');
                self.digits(3);
                self.out.push(b'.');
                self.digits(4);
            }
            _ => {
                self.raw("+1");
                self.digits(10);
            }
        }
    }

    /// 8 to 16 printable ASCII characters, quotes and backslashes included (escaped), so
    /// clients are exercised on escapes the way the upstream's passwords do.
    fn password(&mut self) {
        self.out.push(b'"');
        let n = self.rng.range(8, 16);
        for _ in 0..n {
            let c = 33 + self.rng.below(94) as u8;
            if c == b'"' || c == b'\\' {
                self.out.push(b'\\');
            }
            self.out.push(c);
        }
        self.out.push(b'"');
    }

    fn uuid(&mut self) {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        let a = (a & !0xF000) | 0x4000; // version 4 in the third group
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // RFC 4122 variant
        let bytes = (u128::from(a) << 64 | u128::from(b)).to_be_bytes();
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                self.out.push(b'-');
            }
            self.out.push(HEX_LOWER[usize::from(byte >> 4)]);
            self.out.push(HEX_LOWER[usize::from(byte & 15)]);
        }
    }

    fn word(&mut self) {
        let w = *self.rng.pick(words::LOREM);
        self.raw(w);
    }

    fn capitalised(&mut self, word: &str) {
        let bytes = word.as_bytes();
        self.out.push(bytes[0].to_ascii_uppercase());
        self.out.extend_from_slice(&bytes[1..]);
    }

    /// Lorem sentences of at most `max` characters in total, filled to within one word of it
    /// (like Faker's `text($max)`).
    fn text(&mut self, max: usize) {
        let mut len = 0;
        let mut left_in_sentence = self.rng.range(4, 12);
        let mut sentence_open = false;
        loop {
            let word = *self.rng.pick(words::LOREM);
            // A separating space, the word, and room for the closing period.
            let need = usize::from(len > 0) + word.len() + 1;
            if len + need > max {
                if len == 0 {
                    // Not even one word fits: a truncated word, as Faker does for tiny caps.
                    let cut = &word[..max.min(word.len())];
                    self.raw(cut);
                }
                break;
            }
            if len > 0 {
                self.out.push(b' ');
            }
            if sentence_open {
                self.raw(word)
            } else {
                self.capitalised(word)
            }
            len += need - 1;
            sentence_open = true;
            left_in_sentence -= 1;
            if left_in_sentence == 0 {
                self.out.push(b'.');
                len += 1;
                sentence_open = false;
                left_in_sentence = self.rng.range(4, 12);
            }
        }
        if sentence_open {
            self.out.push(b'.');
        }
    }

    /// `prefix` then random digits up to `len - 1` digits, then the GS1 check digit
    /// (ISBN-13, EAN-13 and UPC-A share it).
    fn check_digit_code(&mut self, prefix: &str, len: usize) {
        let start = self.out.len();
        self.raw(prefix);
        self.digits(len - 1 - prefix.len());
        let body = &self.out[start..];
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        self.out.push(b'0' + ((10 - sum % 10) % 10) as u8);
    }

    /// A Luhn-valid number with the card type's prefix and length.
    fn card_number(&mut self, card_type: usize) {
        let (prefix, len): (&str, usize) = match words::CARD_TYPES[card_type] {
            "Visa" => ("4", 16),
            "MasterCard" => (["51", "52", "53", "54", "55"][self.rng.below(5) as usize], 16),
            "American Express" => (if self.rng.below(2) == 0 { "34" } else { "37" }, 15),
            "Discover Card" => ("6011", 16),
            _ => ("4", 13),
        };
        let start = self.out.len();
        self.raw(prefix);
        self.digits(len - 1 - prefix.len());
        let sum: u32 = self.out[start..]
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| {
                let d = u32::from(d - b'0');
                if i % 2 == 0 {
                    let x = d * 2;
                    if x > 9 { x - 9 } else { x }
                } else {
                    d
                }
            })
            .sum();
        self.out.push(b'0' + ((10 - sum % 10) % 10) as u8);
    }
}

/// Writes `s` as a JSON string, escaping only what JSON requires.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX_LOWER[usize::from(b >> 4)]);
                out.push(HEX_LOWER[usize::from(b & 15)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[(buf.len() - width).min(i)..]);
}

/// Writes `v / 10^decimals` as a JSON number with exactly `decimals` digits after the point.
fn push_fixed(out: &mut Vec<u8>, v: i64, decimals: u32) {
    if v < 0 {
        out.push(b'-');
    }
    let scale = 10_u64.pow(decimals);
    let a = v.unsigned_abs();
    push_u64(out, a / scale);
    out.push(b'.');
    push_padded(out, a % scale, decimals as usize);
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe as i64 + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_padded(out, y.clamp(0, 9999) as u64, 4);
    out.push(b'-');
    push_padded(out, m, 2);
    out.push(b'-');
    push_padded(out, d, 2);
}

fn push_datetime(out: &mut Vec<u8>, seconds: i64) {
    push_date(out, seconds.div_euclid(86_400));
    let s = seconds.rem_euclid(86_400) as u64;
    out.push(b' ');
    push_padded(out, s / 3600, 2);
    out.push(b':');
    push_padded(out, s / 60 % 60, 2);
    out.push(b':');
    push_padded(out, s % 60, 2);
}
