//! The persona of one object: what its person-like fields share (gender, names, street,
//! country, card type, company), drawn on first use, and the composite values built from it
//! (username, email, website, company name), so that the fields of an object agree.

use super::RecordWriter;
use super::json::push_u64;
use super::settings::Gender;
use crate::fake_api::words;

/// What the fields of one object share: drawn on first use, so e.g. the email of a person
/// uses the same names as its `firstname` and `lastname` fields.
#[derive(Default)]
pub(super) struct Persona {
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
    pub(super) net_cents: Option<i64>,
}

/// The persona's draws and the composite values built from them.
impl RecordWriter<'_> {
    pub(super) fn gender(&mut self, p: &mut Persona) -> Gender {
        if let Some(g) = p.gender {
            return g;
        }
        let g =
            self.settings.gender.unwrap_or_else(|| if self.rng.below(2) == 0 { Gender::Male } else { Gender::Female });
        p.gender = Some(g);
        g
    }

    pub(super) fn first_name(&mut self, p: &mut Persona) -> &'static str {
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

    pub(super) fn last_name(&mut self, p: &mut Persona) -> &'static str {
        p.last.get_or_insert_with(|| *self.rng.pick(words::LAST_NAMES))
    }

    pub(super) fn street_name(&mut self, p: &mut Persona) -> (&'static str, &'static str) {
        *p.street_name.get_or_insert_with(|| {
            let root = if self.rng.below(2) == 0 {
                *self.rng.pick(words::LAST_NAMES)
            } else {
                let names = if self.rng.below(2) == 0 { words::MALE_FIRST_NAMES } else { words::FEMALE_FIRST_NAMES };
                *self.rng.pick(names)
            };
            (root, *self.rng.pick(words::STREET_SUFFIXES))
        })
    }

    pub(super) fn building_number(&mut self, p: &mut Persona) -> u32 {
        *p.building_number.get_or_insert_with(|| {
            // Mostly short numbers, like real addresses.
            let digits = [1, 2, 2, 3, 3, 3, 4, 5][self.rng.below(8) as usize];
            self.rng.range(1, 10_i64.pow(digits) - 1) as u32
        })
    }

    pub(super) fn country(&mut self, p: &mut Persona) -> usize {
        *p.country.get_or_insert_with(|| self.rng.below(words::COUNTRIES.len() as u64) as usize)
    }

    pub(super) fn card_type(&mut self, p: &mut Persona) -> usize {
        *p.card_type.get_or_insert_with(|| self.rng.below(words::CARD_TYPES.len() as u64) as usize)
    }

    pub(super) fn username(&mut self, p: &mut Persona) {
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

    pub(super) fn email(&mut self, p: &mut Persona) {
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

    pub(super) fn website(&mut self, p: &Persona) {
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

    pub(super) fn company_name(&mut self, p: &mut Persona) {
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
}
