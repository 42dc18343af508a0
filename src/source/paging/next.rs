//! What an answer says of the pages after it: the next position (by page, offset, cursor, next
//! URL or `Link` header), the total, and the refusals that keep a job from fetching the same
//! records again or sending the source's credentials elsewhere.

use serde_json::Value;
use url::Url;

use super::{PageAnswer, Paging, PagingError, Position};
use crate::catalog::pointer::JsonPointer;
use crate::catalog::sources::{Pagination, Total};
use crate::source::link_header;

impl Paging {
    pub(super) fn next(
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
pub(super) fn read_total(at: &Total, answer: &PageAnswer) -> Result<Option<u64>, PagingError> {
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
pub(super) fn describe(found: Option<&Value>) -> &'static str {
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
