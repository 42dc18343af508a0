//! The value generators: one value per kind of field ([`Fake`]), written straight into the
//! page's buffer from the record's generator.
//!
//! Why not the `fake` crate (5.1, measured 2026-12): it would change every served byte for a
//! seed, and those bytes are the contract with stored seeds, tests and benchmarks. Its output
//! also rides on `rand`'s sampling (5.1 pulls rand 0.10 beside our 0.9) and on its word lists,
//! which move between releases, so a `cargo update` could change it again; ours rests on
//! SplitMix64 and `words`, both in this tree. It draws each field on its own (an email or
//! username unrelated to the first and last name, a card number of any type), has 15 locales
//! to the upstream's 74 and no text capped at `_characters`. And it is slower: 100 pages of
//! 1,000 users took 1.75 ms a page with fake (StdRng, en and de_DE) against 0.7–0.8 ms here
//! (`render_speed`), on the same loaded 2-core machine.

use super::RecordWriter;
use super::json::{HEX_LOWER, HEX_UPPER, push_date, push_datetime, push_fixed, push_json_str, push_padded, push_u64};
use super::persona::Persona;
use crate::catalog::{ColumnType, Fake, Field};
use crate::fake_api::words;

impl RecordWriter<'_> {
    pub(super) fn write_scalar(&mut self, field: &Field, p: &mut Persona) {
        match field.fake {
            Fake::Generic => self.write_generic(&field.ty),
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
                let octets = [w.rng.range(1, 254), w.rng.range(0, 255), w.rng.range(0, 255), w.rng.range(1, 254)];
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

    /// A field of a generic source: a plain value of its type, drawn like every other value, so
    /// a seeded page stays the same bytes.
    fn write_generic(&mut self, ty: &ColumnType) {
        match ty {
            ColumnType::Text => self.quoted(RecordWriter::word),
            ColumnType::Integer => push_u64(self.out, self.rng.below(1_000_000_000)),
            ColumnType::Double => {
                let cents = self.rng.range(0, 100_000_000);
                push_fixed(self.out, cents, 2);
            }
            ColumnType::Boolean => {
                let value = if self.rng.below(2) == 0 { "false" } else { "true" };
                self.raw(value);
            }
            ColumnType::Date => {
                let day = self.rng.range(0, 20_453);
                self.quoted(|w| push_date(w.out, day));
            }
            ColumnType::Timestamp => {
                let second = self.rng.range(0, 20_454 * 86_400 - 1);
                self.quoted(|w| push_datetime(w.out, second));
            }
            // RFC 3339 in UTC: the date, `T`, the time, `Z`.
            ColumnType::TimestampTz => {
                let second = self.rng.range(0, 20_454 * 86_400 - 1);
                self.quoted(|w| {
                    push_datetime(w.out, second);
                    let space = w.out.len() - 9;
                    w.out[space] = b'T';
                    w.out.push(b'Z');
                });
            }
            // Nested fields are walked by `write_value` and never reach a scalar writer.
            ColumnType::Struct(_) | ColumnType::List { .. } => self.raw("null"),
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

    pub(super) fn uuid(&mut self) {
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

    pub(super) fn word(&mut self) {
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
        let sum: u32 =
            body.iter().rev().enumerate().map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
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
