//! Renders response bodies: walks a catalogue schema and writes each record's JSON straight
//! into one byte buffer, drawing values from a seeded [`SplitMix64`] per record.
//!
//! Record `i` of a page depends only on (seed, resource, locale, i) and the page's parameters,
//! so a larger `_quantity` with the same seed extends a smaller page instead of reshuffling it.
//! Within one object, person-like fields agree with each other (the email is built from the
//! first and last name, names match the gender, a street address contains its street name and
//! building number, a card number has its card type's prefix).
//!
//! Files: `settings` reads the page's parameters, `persona` draws what the fields of one object
//! share, `values` writes one value per kind of field, `json` writes JSON numbers, strings and
//! dates into the buffer. This file walks the schema.

mod json;
mod persona;
mod settings;
mod values;

use super::rng::{SplitMix64, fnv1a, mix64};
use crate::catalog::{ColumnType, Fake, Field, Resource, Schema};

pub(crate) use json::push_json_str;
use json::push_u64;
use persona::Persona;
use settings::{CategoriesType, PageSettings};

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
            _ => self.write_scalar(field, persona),
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
}
