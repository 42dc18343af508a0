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

mod next;
mod position;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::catalog::sources::{Pagination, Source, SourceResource};
use next::{describe, read_total};
pub use position::{PagePlan, Position};

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
        match &self.pagination {
            Pagination::Page(p) => Some(PagePlan::pages(p.first_page, records.div_ceil(u64::from(p.page_size)))),
            Pagination::Offset(o) => {
                let page_size = u64::from(o.page_size);
                Some(PagePlan::offsets(page_size, records.div_ceil(page_size)))
            }
            _ => None,
        }
    }

    fn records<'a>(&self, body: &'a Value) -> Result<&'a [Value], PagingError> {
        match body.pointer(&self.records) {
            Some(Value::Array(records)) => Ok(records),
            found => Err(PagingError::NoRecords { pointer: self.records.clone(), found: describe(found) }),
        }
    }

    fn wrong(&self, pagination: &Pagination, position: &Position) -> PagingError {
        PagingError::WrongPosition { position: position.clone(), kind: pagination.kind() }
    }
}
