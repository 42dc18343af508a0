//! Walking a described source's pages, without I/O: which request a `Position` stands for, and
//! what one answer says about its records, the total and the next position.
//!
//! `page` and `offset` pages are addressable: once the total (or a `quantity`) is known,
//! `Paging::plan` lists them all so they can be fetched in parallel, like Faker's. `cursor`,
//! `next_url` and `link_header` pages are known only from the answer before; the `Position` is
//! serialisable so it can be committed with a page's rows and a resume continues from it.
//!
//! Every kind ends on an empty page, so an upstream that keeps handing out cursors for nothing
//! cannot hold a job forever; one that points back at the page it just answered is refused.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::link_header;
use crate::catalog::pointer::JsonPointer;
use crate::catalog::sources::{Pagination, Source, SourceResource, Total};

/// Which page to request next: committed with a page, it is where a resume starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// The resource's first request: its path and fixed parameters (the first page or offset).
    Start,
    Page {
        page: u64,
    },
    Offset {
        offset: u64,
    },
    /// A cursor the previous answer gave, sent back as the cursor parameter.
    Cursor {
        cursor: String,
    },
    /// An absolute URL the previous answer gave, requested as it is; never with a secret in it.
    Url {
        url: String,
    },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Start => f.write_str("the first page"),
            Position::Page { page } => write!(f, "page {page}"),
            Position::Offset { offset } => write!(f, "offset {offset}"),
            Position::Cursor { cursor } => write!(f, "cursor {cursor:?}"),
            Position::Url { url } => write!(f, "URL {url}"),
        }
    }
}

/// A request for one page, without headers and credentials: add the source's headers and apply
/// its `Auth` to this just before sending (never log what that gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub url: String,
    /// To append to `url`'s own query.
    pub query: Vec<(String, String)>,
}

/// What the upstream answered to one page's request.
#[derive(Debug, Clone, Copy)]
pub struct PageAnswer<'a> {
    /// The URL requested (with its query): relative next URLs resolve against it.
    pub url: &'a str,
    /// Every response header, names in any case; a name may repeat.
    pub headers: &'a [(String, String)],
    /// The body as it came: a total, cursor or next URL in it is read where its pointer says,
    /// skipping the rest, so the records are parsed once (by the decoder), not twice.
    pub body: &'a [u8],
    /// Records the page held (the decoder counted them).
    pub records: usize,
}

/// What one answer means.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOutcome {
    /// Records in all, when the pagination names where the answer says it (and it does).
    pub total: Option<u64>,
    /// `None` on the last page.
    pub next: Option<Position>,
}

/// Why an answer cannot be paged on. Messages hold no secret: URLs are not quoted whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error("the records pointer \"{pointer}\" found {found} in the body, not an array")]
    NoRecords { pointer: String, found: &'static str },
    #[error("the total ({at}) is not a count of records: {value}")]
    BadTotal { at: String, value: String },
    #[error("the next-page cursor at \"{pointer}\" is {found}, not a string or a number")]
    BadCursor { pointer: String, found: &'static str },
    #[error("the next-page URL ({at}) is {found}, not a string")]
    NextUrlNotText { at: String, found: &'static str },
    #[error("the next-page URL ({at}) is not a URL: {reason}")]
    BadNextUrl { at: String, reason: String },
    #[error("the next page is at {next}, another origin than {current}: the source's credentials are not sent there")]
    ForeignNextUrl { next: String, current: String },
    #[error(
        "the page held {records} records, more than page_size {page_size}: does the upstream read the size parameter?"
    )]
    PageTooLarge { records: usize, page_size: u32 },
    #[error("the upstream's next page is {0} again, the page it just answered: stopping rather than looping")]
    Repeated(Position),
    #[error("{position} is not a position of pagination kind \"{kind}\"")]
    WrongPosition { position: Position, kind: &'static str },
    #[error("the requested URL is not a URL: {0}")]
    BadRequestUrl(String),
    #[error("invalid JSON: {0}")]
    BadBody(String),
}

/// How to walk one resource's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// Base URL and path.
    url: String,
    params: Vec<(String, String)>,
    records: String,
    pagination: Pagination,
    /// The query parameter the source's auth sends its secret in, kept out of stored URLs.
    secret_param: Option<String>,
}

impl Paging {
    pub fn new(source: &Source, resource: &SourceResource) -> Paging {
        Paging {
            url: source.url_of(resource),
            params: resource.params.clone(),
            records: resource.records.clone(),
            pagination: resource.pagination.clone(),
            secret_param: source.auth.as_ref().and_then(|auth| auth.query_param()).map(str::to_owned),
        }
    }

    pub fn pagination(&self) -> &Pagination {
        &self.pagination
    }

    /// Where a fresh run starts.
    pub fn first(&self) -> Position {
        match &self.pagination {
            Pagination::Page(p) => Position::Page { page: p.first_page },
            Pagination::Offset(_) => Position::Offset { offset: 0 },
            _ => Position::Start,
        }
    }

    /// The request for the page at `position`. A `Url` position is requested as it is: the
    /// upstream's next URLs carry the fixed parameters themselves.
    pub fn request(&self, position: &Position) -> Result<PageRequest, PagingError> {
        let mut query = self.params.clone();
        match (&self.pagination, position) {
            (Pagination::Page(p), Position::Start | Position::Page { .. }) => {
                let page = if let Position::Page { page } = position { *page } else { p.first_page };
                query.push((p.page_param.clone(), page.to_string()));
                query.extend(p.size_param.iter().map(|size| (size.clone(), p.page_size.to_string())));
            }
            (Pagination::Offset(o), Position::Start | Position::Offset { .. }) => {
                let offset = if let Position::Offset { offset } = position { *offset } else { 0 };
                query.push((o.offset_param.clone(), offset.to_string()));
                query.extend(o.limit_param.iter().map(|limit| (limit.clone(), o.page_size.to_string())));
            }
            (Pagination::Cursor(c), Position::Cursor { cursor }) => {
                query.push((c.cursor_param.clone(), cursor.clone()))
            }
            (Pagination::NextUrl { .. } | Pagination::LinkHeader, Position::Url { url }) => {
                return Ok(PageRequest { url: url.clone(), query: Vec::new() });
            }
            (_, Position::Start) => {}
            (pagination, position) => return Err(self.wrong(pagination, position)),
        }
        Ok(PageRequest { url: self.url.clone(), query })
    }

    /// Reads the answer to the page at `position`: its records, the total if known, and the
    /// next position (`None` on the last page).
    pub fn read(&self, position: &Position, answer: &PageAnswer) -> Result<PageOutcome, PagingError> {
        let total = match self.pagination.total() {
            Some(at) => read_total(at, answer)?,
            None => None,
        };
        let next = if answer.records == 0 { None } else { self.next(position, answer, answer.records, total)? };
        Ok(PageOutcome { total, next })
    }

    /// The records of a parsed body (`sources check` shows them; the ingest's decoder finds
    /// them itself).
    pub fn records_in<'a>(&self, body: &'a Value) -> Result<&'a [Value], PagingError> {
        self.records(body)
    }

    /// Every page of an addressable resource (`page`, `offset`) that holds `records` records
    /// (a known total, or a `quantity`), so they can be fetched in any order; `None` for kinds
    /// whose pages are known only one after another.
    pub fn plan(&self, records: u64) -> Option<PagePlan> {
        let (step, page_size) = match &self.pagination {
            Pagination::Page(p) => (Step::Pages { first: p.first_page }, p.page_size),
            Pagination::Offset(o) => (Step::Offsets { page_size: u64::from(o.page_size) }, o.page_size),
            _ => return None,
        };
        Some(PagePlan { step, count: records.div_ceil(u64::from(page_size)) })
    }

    fn records<'a>(&self, body: &'a Value) -> Result<&'a [Value], PagingError> {
        match body.pointer(&self.records) {
            Some(Value::Array(records)) => Ok(records),
            found => Err(PagingError::NoRecords { pointer: self.records.clone(), found: describe(found) }),
        }
    }

    fn next(
        &self,
        position: &Position,
        answer: &PageAnswer,
        count: usize,
        total: Option<u64>,
    ) -> Result<Option<Position>, PagingError> {
        match (&self.pagination, position) {
            (Pagination::None, Position::Start) => Ok(None),
            (Pagination::Page(p), Position::Start | Position::Page { .. }) => {
                let page = if let Position::Page { page } = position { *page } else { p.first_page };
                let pages_done = page.saturating_sub(p.first_page).saturating_add(1);
                let last = !full_page(count, p.page_size)?
                    || total.is_some_and(|t| pages_done.saturating_mul(u64::from(p.page_size)) >= t);
                Ok((!last).then(|| Position::Page { page: page.saturating_add(1) }))
            }
            (Pagination::Offset(o), Position::Start | Position::Offset { .. }) => {
                let offset = if let Position::Offset { offset } = position { *offset } else { 0 };
                let next = offset.saturating_add(u64::from(o.page_size));
                let last = !full_page(count, o.page_size)? || total.is_some_and(|t| next >= t);
                Ok((!last).then_some(Position::Offset { offset: next }))
            }
            (Pagination::Cursor(c), Position::Start | Position::Cursor { .. }) => {
                let cursor = match find(answer.body, &c.cursor)? {
                    None | Some(Value::Null) => return Ok(None),
                    Some(Value::String(s)) if s.is_empty() => return Ok(None),
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => n.to_string(),
                    found => {
                        return Err(PagingError::BadCursor {
                            pointer: c.cursor.clone(),
                            found: describe(found.as_ref()),
                        });
                    }
                };
                self.unless_repeated(position, Position::Cursor { cursor })
            }
            (Pagination::NextUrl { next_url }, Position::Start | Position::Url { .. }) => {
                let at = format!("at \"{next_url}\"");
                let target = match find(answer.body, next_url)? {
                    None | Some(Value::Null) => return Ok(None),
                    Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
                    Some(Value::String(s)) => s,
                    found => return Err(PagingError::NextUrlNotText { at, found: describe(found.as_ref()) }),
                };
                let url = self.resolve(answer.url, &target, &at)?;
                self.unless_repeated(position, Position::Url { url })
            }
            (Pagination::LinkHeader, Position::Start | Position::Url { .. }) => {
                let values = answer.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("link"));
                let Some(target) = link_header::next_target(values.map(|(_, value)| value.as_str())) else {
                    return Ok(None);
                };
                let url = self.resolve(answer.url, &target, "in the Link header")?;
                self.unless_repeated(position, Position::Url { url })
            }
            (pagination, position) => Err(self.wrong(pagination, position)),
        }
    }

    /// A next URL made absolute against the request's (RFC 3986), kept on the request's origin
    /// (the credentials go with it) and without the auth's secret parameter if it echoes it.
    fn resolve(&self, requested: &str, target: &str, at: &str) -> Result<String, PagingError> {
        let requested = Url::parse(requested).map_err(|e| PagingError::BadRequestUrl(e.to_string()))?;
        let mut next = requested
            .join(target.trim())
            .map_err(|e| PagingError::BadNextUrl { at: at.to_owned(), reason: e.to_string() })?;
        if next.origin() != requested.origin() {
            let (next, current) = (next.origin().ascii_serialization(), requested.origin().ascii_serialization());
            return Err(PagingError::ForeignNextUrl { next, current });
        }
        if let Some(secret) = &self.secret_param
            && next.query_pairs().any(|(name, _)| name == secret.as_str())
        {
            let kept: Vec<(String, String)> = next
                .query_pairs()
                .filter(|(name, _)| name != secret.as_str())
                .map(|(n, v)| (n.into(), v.into()))
                .collect();
            next.set_query(None);
            if !kept.is_empty() {
                next.query_pairs_mut().extend_pairs(kept);
            }
        }
        Ok(next.into())
    }

    fn unless_repeated(&self, current: &Position, next: Position) -> Result<Option<Position>, PagingError> {
        if *current == next { Err(PagingError::Repeated(next)) } else { Ok(Some(next)) }
    }

    fn wrong(&self, pagination: &Pagination, position: &Position) -> PagingError {
        PagingError::WrongPosition { position: position.clone(), kind: pagination.kind() }
    }
}

/// Whether a `page`/`offset` answer was a full page; more than asked means the upstream ignored
/// the size, and paging on would fetch the same records again.
fn full_page(count: usize, page_size: u32) -> Result<bool, PagingError> {
    match count.cmp(&(page_size as usize)) {
        std::cmp::Ordering::Greater => Err(PagingError::PageTooLarge { records: count, page_size }),
        ordering => Ok(ordering == std::cmp::Ordering::Equal),
    }
}

/// The total an answer states, if it states one: a number, or digits in a string (a header's
/// value always is one, and some bodies quote it too).
fn read_total(at: &Total, answer: &PageAnswer) -> Result<Option<u64>, PagingError> {
    let bad = |value: String| PagingError::BadTotal { at: at.spelling(), value };
    match at {
        Total::Pointer(pointer) => match find(answer.body, pointer)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(total), _) => Ok(Some(total)),
                (None, Some(x)) if x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64 => Ok(Some(x as u64)),
                _ => Err(bad(n.to_string())),
            },
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(format!("{s:?}"))),
            Some(other) => Err(bad(describe(Some(&other)).to_owned())),
        },
        Total::Header(name) => match answer.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            None => Ok(None),
            Some((_, value)) => value.trim().parse().map(Some).map_err(|_| bad(format!("{value:?}"))),
        },
    }
}

/// The value at `pointer` (validated when the file was read) in a raw body.
fn find(body: &[u8], pointer: &str) -> Result<Option<Value>, PagingError> {
    let pointer = JsonPointer::parse(pointer).map_err(|e| PagingError::BadBody(e.to_string()))?;
    pointer.find_in(body).map_err(|e| PagingError::BadBody(e.to_string()))
}

/// What a pointer found, for messages.
fn describe(found: Option<&Value>) -> &'static str {
    match found {
        None => "nothing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    }
}

/// Every page of an addressable resource, by index: index i is the i-th page from the first,
/// the numbering `ingest::Shard` splits by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagePlan {
    step: Step,
    count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pages { first: u64 },
    Offsets { page_size: u64 },
}

impl PagePlan {
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The position of page `index` (0-based), `None` past the end.
    pub fn position(&self, index: u64) -> Option<Position> {
        if index >= self.count {
            return None;
        }
        Some(match self.step {
            Step::Pages { first } => Position::Page { page: first.checked_add(index)? },
            Step::Offsets { page_size } => Position::Offset { offset: index.checked_mul(page_size)? },
        })
    }

    /// Every page's position, in order.
    pub fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        (0..self.count).map_while(|index| self.position(index))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::catalog::sources;

    /// A shop source whose one resource pages as `pagination` says; `before` goes above the
    /// resource (an `[auth]` table).
    fn paging_with(before: &str, pagination: &str) -> Paging {
        let text = format!(
            "base_url = \"https://api.example.com/v2\"\n{before}\n[resources.orders]\npath = \"/orders\"\n\
             records = \"/data\"\nparams = {{ status = \"all\" }}\n[resources.orders.pagination]\n{pagination}"
        );
        let env = |variable: &str| (variable == "SHOP_KEY").then(|| "k3y-secret".to_owned());
        let source = sources::parse("shop", Path::new("shop.toml"), &text, &env).unwrap();
        Paging::new(&source, &source.resources[0])
    }

    fn paging(pagination: &str) -> Paging {
        paging_with("", pagination)
    }

    const PAGES: &str = "kind = \"page\"\npage_param = \"page\"\nsize_param = \"per_page\"\npage_size = 100";
    const OFFSETS: &str = "kind = \"offset\"\noffset_param = \"offset\"\nlimit_param = \"limit\"\npage_size = 50";
    const CURSORS: &str = "kind = \"cursor\"\ncursor = \"/meta/next_cursor\"\ncursor_param = \"cursor\"";
    const NEXT_URLS: &str = "kind = \"next_url\"\nnext_url = \"/links/next\"";
    const FIRST_URL: &str = "https://api.example.com/v2/orders?status=all";

    fn rows(n: usize) -> Value {
        Value::Array((0..n).map(|id| json!({ "id": id })).collect())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// What `paging` makes of an answer to the page at `position`.
    fn read(
        paging: &Paging,
        position: &Position,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Result<(usize, Option<u64>, Option<Position>), PagingError> {
        read_at(paging, position, FIRST_URL, headers, body)
    }

    fn read_at(
        paging: &Paging,
        position: &Position,
        url: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Result<(usize, Option<u64>, Option<Position>), PagingError> {
        let headers = pairs(headers);
        let records = paging.records_in(&body)?.len();
        let bytes = serde_json::to_vec(&body).unwrap();
        let outcome = paging.read(position, &PageAnswer { url, headers: &headers, body: &bytes, records })?;
        Ok((records, outcome.total, outcome.next))
    }

    fn next(paging: &Paging, position: &Position, body: Value) -> Option<Position> {
        read(paging, position, &[], body).unwrap().2
    }

    #[test]
    fn page_requests_carry_the_fixed_parameters_then_the_page_and_its_size() {
        let paging = paging(PAGES);
        assert_eq!(paging.first(), Position::Page { page: 1 });
        let first = paging.request(&paging.first()).unwrap();
        assert_eq!(first.url, "https://api.example.com/v2/orders");
        assert_eq!(first.query, pairs(&[("status", "all"), ("page", "1"), ("per_page", "100")]));
        assert_eq!(paging.request(&Position::Start).unwrap(), first);
        let seventh = paging.request(&Position::Page { page: 7 }).unwrap();
        assert_eq!(seventh.query, pairs(&[("status", "all"), ("page", "7"), ("per_page", "100")]));
    }

    #[test]
    fn a_page_is_the_last_when_short_empty_or_when_the_total_is_reached() {
        let paging = paging(PAGES);
        let page = |page| Position::Page { page };
        assert_eq!(next(&paging, &page(1), json!({ "data": rows(100) })), Some(page(2)));
        assert_eq!(next(&paging, &page(3), json!({ "data": rows(99) })), None);
        assert_eq!(next(&paging, &page(3), json!({ "data": [] })), None);
        assert_eq!(next(&paging, &Position::Start, json!({ "data": rows(100) })), Some(page(2)));

        let with_total = self::paging(&format!("{PAGES}\ntotal = \"/meta/total\""));
        let answer = |n, total: Value| json!({ "data": rows(n), "meta": { "total": total } });
        assert_eq!(read(&with_total, &page(1), &[], answer(100, json!(250))).unwrap(), (100, Some(250), Some(page(2))));
        assert_eq!(read(&with_total, &page(3), &[], answer(50, json!(250))).unwrap(), (50, Some(250), None));
        // A full page that reaches the total is the last: no empty request after it.
        assert_eq!(read(&with_total, &page(2), &[], answer(100, json!(200))).unwrap(), (100, Some(200), None));
        assert_eq!(read(&with_total, &page(1), &[], answer(100, Value::Null)).unwrap(), (100, None, Some(page(2))));

        let from_zero = self::paging(&format!("{PAGES}\nfirst_page = 0\ntotal = \"/meta/total\""));
        assert_eq!(from_zero.first(), page(0));
        assert_eq!(next(&from_zero, &page(0), answer(100, json!(200))), Some(page(1)));
        assert_eq!(next(&from_zero, &page(1), answer(100, json!(200))), None);
    }

    #[test]
    fn a_page_larger_than_asked_is_refused_rather_than_fetched_again() {
        let error = read(&paging(PAGES), &Position::Page { page: 1 }, &[], json!({ "data": rows(101) })).unwrap_err();
        assert_eq!(error, PagingError::PageTooLarge { records: 101, page_size: 100 });
        assert!(error.to_string().contains("does the upstream read the size parameter?"), "{error}");
    }

    #[test]
    fn the_total_is_read_from_a_header_or_the_body_as_a_number_or_a_string() {
        let in_header = paging(&format!("{PAGES}\ntotal = \"header:X-Total-Count\""));
        let body = || json!({ "data": rows(100) });
        let page = Position::Page { page: 1 };
        let total = |headers: &[(&str, &str)]| read(&in_header, &page, headers, body()).map(|(_, total, _)| total);
        assert_eq!(total(&[("content-type", "application/json"), ("x-total-count", " 250 ")]), Ok(Some(250)));
        assert_eq!(total(&[("X-TOTAL-COUNT", "0")]), Ok(Some(0)));
        assert_eq!(total(&[]), Ok(None));
        let error = total(&[("X-Total-Count", "lots")]).unwrap_err();
        assert_eq!(error.to_string(), "the total (header:X-Total-Count) is not a count of records: \"lots\"");

        let in_body = paging(&format!("{PAGES}\ntotal = \"/meta/total\""));
        let total = |value: Value| {
            read(&in_body, &page, &[], json!({ "data": rows(100), "meta": { "total": value } })).map(|(_, t, _)| t)
        };
        assert_eq!(total(json!("250")), Ok(Some(250)));
        assert_eq!(total(json!(250.0)), Ok(Some(250)));
        assert!(matches!(total(json!(-1)), Err(PagingError::BadTotal { .. })));
        assert!(matches!(total(json!(2.5)), Err(PagingError::BadTotal { .. })));
        assert!(matches!(total(json!({ "value": 3 })), Err(PagingError::BadTotal { .. })));
    }

    #[test]
    fn offsets_step_by_the_page_size_until_short_or_the_total() {
        let paging = paging(&format!("{OFFSETS}\ntotal = \"header:X-Total-Count\""));
        assert_eq!(paging.first(), Position::Offset { offset: 0 });
        let request = paging.request(&Position::Offset { offset: 200 }).unwrap();
        assert_eq!(request.query, pairs(&[("status", "all"), ("offset", "200"), ("limit", "50")]));
        let offset = |offset| Position::Offset { offset };
        let total = [("X-Total-Count", "120")];
        assert_eq!(read(&paging, &offset(0), &total, json!({ "data": rows(50) })).unwrap().2, Some(offset(50)));
        assert_eq!(read(&paging, &offset(100), &total, json!({ "data": rows(20) })).unwrap().2, None);
        let exact = [("X-Total-Count", "100")];
        assert_eq!(read(&paging, &offset(50), &exact, json!({ "data": rows(50) })).unwrap().2, None);
        assert_eq!(read(&paging, &offset(50), &[], json!({ "data": rows(50) })).unwrap().2, Some(offset(100)));
    }

    #[test]
    fn the_records_pointer_must_find_an_array() {
        let body_is_array = {
            let text = "base_url = \"http://localhost:3000\"\n[resources.posts]\npath = \"/posts\"\nrecords = \"\"";
            let source = sources::parse("local", Path::new("local.toml"), text, &|_| None).unwrap();
            Paging::new(&source, &source.resources[0])
        };
        assert_eq!(read(&body_is_array, &Position::Start, &[], rows(3)).unwrap(), (3, None, None));

        let paging = paging(PAGES);
        let page = Position::Page { page: 1 };
        let error = read(&paging, &page, &[], json!({ "data": { "id": 1 } })).unwrap_err();
        assert_eq!(error.to_string(), "the records pointer \"/data\" found an object in the body, not an array");
        let error = read(&paging, &page, &[], json!({ "items": [] })).unwrap_err();
        assert_eq!(error, PagingError::NoRecords { pointer: "/data".into(), found: "nothing" });
        let error = read(&paging, &page, &[], json!({ "data": null })).unwrap_err();
        assert_eq!(error, PagingError::NoRecords { pointer: "/data".into(), found: "null" });
    }

    #[test]
    fn a_cursor_is_sent_back_until_it_is_null_empty_or_absent() {
        let paging = paging(CURSORS);
        assert_eq!(paging.first(), Position::Start);
        assert_eq!(paging.request(&Position::Start).unwrap().query, pairs(&[("status", "all")]));
        let cursor = |cursor: &str| Position::Cursor { cursor: cursor.into() };
        assert_eq!(paging.request(&cursor("c2==")).unwrap().query, pairs(&[("status", "all"), ("cursor", "c2==")]));

        let answer = |cursor: Value| json!({ "data": rows(10), "meta": { "next_cursor": cursor } });
        assert_eq!(next(&paging, &Position::Start, answer(json!("c2=="))), Some(cursor("c2==")));
        assert_eq!(next(&paging, &cursor("c2=="), answer(json!(12345))), Some(cursor("12345")));
        assert_eq!(next(&paging, &cursor("c2=="), answer(Value::Null)), None);
        assert_eq!(next(&paging, &cursor("c2=="), answer(json!(""))), None);
        assert_eq!(next(&paging, &cursor("c2=="), json!({ "data": rows(10), "meta": {} })), None);
        // An empty page ends the run even with a cursor.
        assert_eq!(next(&paging, &cursor("c2=="), json!({ "data": [], "meta": { "next_cursor": "c3" } })), None);

        let error = read(&paging, &cursor("c2=="), &[], answer(json!("c2=="))).unwrap_err();
        assert_eq!(error, PagingError::Repeated(cursor("c2==")));
        let error = read(&paging, &cursor("c2=="), &[], answer(json!({ "id": "c3" }))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the next-page cursor at \"/meta/next_cursor\" is an object, not a string or a number"
        );
    }

    #[test]
    fn a_next_url_is_followed_absolute_or_relative_to_the_request() {
        let paging = paging(NEXT_URLS);
        let url = |url: &str| Position::Url { url: url.into() };
        let answer = |next: Value| json!({ "data": rows(10), "links": { "next": next } });
        let requested = "https://api.example.com/v2/orders?status=all&page=1";
        let follow = |next: Value| read_at(&paging, &Position::Start, requested, &[], answer(next)).map(|(_, _, n)| n);

        let absolute = "https://api.example.com/v2/orders?status=all&page=2";
        assert_eq!(follow(json!(absolute)), Ok(Some(url(absolute))));
        assert_eq!(follow(json!("?status=all&page=2")), Ok(Some(url(absolute))));
        assert_eq!(follow(json!("orders?page=2")), Ok(Some(url("https://api.example.com/v2/orders?page=2"))));
        assert_eq!(follow(json!("/v2/orders?page=2")), Ok(Some(url("https://api.example.com/v2/orders?page=2"))));
        assert_eq!(follow(Value::Null), Ok(None));
        assert_eq!(follow(json!("")), Ok(None));
        assert_eq!(read(&paging, &Position::Start, &[], json!({ "data": rows(10) })).unwrap().2, None);
        assert!(matches!(follow(json!(2)), Err(PagingError::NextUrlNotText { found: "a number", .. })));

        let error = follow(json!("https://evil.example/steal?page=2")).unwrap_err();
        assert_eq!(
            error,
            PagingError::ForeignNextUrl {
                next: "https://evil.example".into(),
                current: "https://api.example.com".into()
            }
        );
        assert!(matches!(
            follow(json!("http://api.example.com/v2/orders?page=2")),
            Err(PagingError::ForeignNextUrl { .. })
        ));

        // The next URL is requested as it is, and pointing back at itself is refused.
        let request = paging.request(&url(absolute)).unwrap();
        assert_eq!((request.url.as_str(), request.query.len()), (absolute, 0));
        let error = read_at(&paging, &url(absolute), absolute, &[], answer(json!(absolute))).unwrap_err();
        assert_eq!(error, PagingError::Repeated(url(absolute)));
    }

    #[test]
    fn a_secret_the_upstream_echoes_in_its_next_url_is_not_kept() {
        let auth = "[auth]\nkind = \"query\"\nparam = \"api_key\"\ntoken_env = \"SHOP_KEY\"";
        let paging = paging_with(auth, NEXT_URLS);
        let echoed = json!({ "data": rows(1), "links": { "next": "/v2/orders?page=2&api_key=k3y-secret&sort=id" } });
        let next = read(&paging, &Position::Start, &[], echoed).unwrap().2.unwrap();
        assert_eq!(next, Position::Url { url: "https://api.example.com/v2/orders?page=2&sort=id".into() });
        let only = json!({ "data": rows(1), "links": { "next": "/v2/orders?api_key=k3y-secret" } });
        let next = read(&paging, &Position::Start, &[], only).unwrap().2.unwrap();
        assert_eq!(next, Position::Url { url: "https://api.example.com/v2/orders".into() });

        let error = read(
            &paging,
            &Position::Start,
            &[],
            json!({ "data": rows(1), "links": { "next": "https://x.example/?api_key=k3y-secret" } }),
        )
        .unwrap_err();
        assert!(!error.to_string().contains("k3y"), "{error}");
    }

    #[test]
    fn a_link_header_is_followed_to_its_next_link() {
        let paging = paging("kind = \"link_header\"");
        let requested = "https://api.example.com/v2/orders?status=all&page=3";
        let github = "<https://api.example.com/v2/orders?status=all&page=2>; rel=\"prev\", \
                      <https://api.example.com/v2/orders?status=all&page=4>; rel=\"next\", \
                      <https://api.example.com/v2/orders?status=all&page=9>; rel=\"last\"";
        let position = Position::Url { url: requested.into() };
        let follow =
            |headers: &[(&str, &str)]| read_at(&paging, &position, requested, headers, json!({ "data": rows(3) }));
        let expected = Position::Url { url: "https://api.example.com/v2/orders?status=all&page=4".into() };
        assert_eq!(follow(&[("Link", github)]).unwrap().2, Some(expected.clone()));
        assert_eq!(follow(&[("link", "</v2/orders?status=all&page=4>; rel=\"next last\"")]).unwrap().2, Some(expected));
        assert_eq!(follow(&[("Link", "<https://api.example.com/v2/orders?page=1>; rel=\"first\"")]).unwrap().2, None);
        assert_eq!(follow(&[]).unwrap().2, None);
    }

    #[test]
    fn one_request_answers_everything_without_pagination() {
        let text = "base_url = \"https://api.example.com\"\n[resources.all]\npath = \"/all\"\nrecords = \"/data\"";
        let source = sources::parse("shop", Path::new("shop.toml"), text, &|_| None).unwrap();
        let paging = Paging::new(&source, &source.resources[0]);
        assert_eq!(paging.first(), Position::Start);
        assert_eq!(read(&paging, &Position::Start, &[], json!({ "data": rows(1000) })).unwrap(), (1000, None, None));
        assert_eq!(paging.plan(1000), None);
    }

    #[test]
    fn a_position_of_another_kind_is_refused() {
        let cursor = Position::Cursor { cursor: "abc".into() };
        let error = paging(PAGES).request(&cursor).unwrap_err();
        assert_eq!(error.to_string(), "cursor \"abc\" is not a position of pagination kind \"page\"");
        let error = read(&paging(NEXT_URLS), &Position::Offset { offset: 5 }, &[], json!({ "data": rows(1) }));
        assert_eq!(
            error.unwrap_err(),
            PagingError::WrongPosition { position: Position::Offset { offset: 5 }, kind: "next_url" }
        );
    }

    #[test]
    fn a_position_serialises_to_tagged_json_and_back() {
        let positions = [
            (Position::Start, json!({ "kind": "start" })),
            (Position::Page { page: 3 }, json!({ "kind": "page", "page": 3 })),
            (Position::Offset { offset: 200 }, json!({ "kind": "offset", "offset": 200 })),
            (Position::Cursor { cursor: "eyJpZCI6NDJ9".into() }, json!({ "kind": "cursor", "cursor": "eyJpZCI6NDJ9" })),
            (
                Position::Url { url: "https://a.example/p?x=1".into() },
                json!({ "kind": "url", "url": "https://a.example/p?x=1" }),
            ),
        ];
        for (position, expected) in positions {
            let text = serde_json::to_string(&position).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
            assert_eq!(serde_json::from_str::<Position>(&text).unwrap(), position);
        }
    }

    #[test]
    fn with_a_known_total_every_page_is_listed_up_front() {
        let pages = paging(PAGES);
        let plan = pages.plan(250).unwrap();
        assert_eq!(plan.len(), 3);
        let queries: Vec<_> = plan.positions().map(|p| pages.request(&p).unwrap().query).collect();
        assert_eq!(
            queries,
            [
                pairs(&[("status", "all"), ("page", "1"), ("per_page", "100")]),
                pairs(&[("status", "all"), ("page", "2"), ("per_page", "100")]),
                pairs(&[("status", "all"), ("page", "3"), ("per_page", "100")]),
            ]
        );
        assert_eq!((plan.position(2), plan.position(3)), (Some(Position::Page { page: 3 }), None));
        assert_eq!(pages.plan(200).unwrap().len(), 2);
        assert!(pages.plan(0).unwrap().is_empty());

        let offsets = paging(OFFSETS);
        let listed: Vec<_> = offsets.plan(101).unwrap().positions().collect();
        let offset = |offset| Position::Offset { offset };
        assert_eq!(listed, [offset(0), offset(50), offset(100)]);

        let from_zero = paging(&format!("{PAGES}\nfirst_page = 0"));
        assert_eq!(
            from_zero.plan(101).unwrap().positions().collect::<Vec<_>>(),
            [Position::Page { page: 0 }, Position::Page { page: 1 }]
        );

        for sequential in [CURSORS, NEXT_URLS, "kind = \"link_header\""] {
            assert_eq!(paging(sequential).plan(100), None, "{sequential}");
        }
        // A huge total costs nothing up front: positions are computed by index.
        assert_eq!(offsets.plan(u64::MAX).unwrap().len(), u64::MAX.div_ceil(50));
    }
}
