//! How a resource's pages are addressed, as its source file declares it (validated). What a page
//! answer means for the next request is `source::paging`'s.

/// A resource's pagination, one variant per `kind` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// One request answers everything.
    None,
    /// `?page=N&per_page=S`.
    Page(PageNumbers),
    /// `?offset=N&limit=S`.
    Offset(Offsets),
    /// Each answer holds the cursor of the next page.
    Cursor(Cursors),
    /// Each answer holds the URL of the next page (absolute or relative).
    NextUrl {
        /// JSON Pointer to it in the body.
        next_url: String,
    },
    /// The `Link` header's `rel="next"` (RFC 8288), as GitHub sends it.
    LinkHeader,
}

/// `kind = "page"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageNumbers {
    pub page_param: String,
    /// Absent when the upstream's page size is fixed: `page_size` then says what it is.
    pub size_param: Option<String>,
    pub page_size: u32,
    /// The number of the first page: 1 unless the file says 0 (or anything else).
    pub first_page: u64,
    pub total: Option<Total>,
}

/// `kind = "offset"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offsets {
    pub offset_param: String,
    pub limit_param: Option<String>,
    pub page_size: u32,
    pub total: Option<Total>,
}

/// `kind = "cursor"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursors {
    /// JSON Pointer to the next page's cursor in the body.
    pub cursor: String,
    /// The query parameter that sends it back.
    pub cursor_param: String,
}

/// Where an answer says how many records there are in all (not pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Total {
    /// A JSON Pointer into the body, e.g. `/meta/total`.
    Pointer(String),
    /// A response header, e.g. `X-Total-Count` (written `header:X-Total-Count`).
    Header(String),
}

impl Pagination {
    /// The kind as the file spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Pagination::None => "none",
            Pagination::Page(_) => "page",
            Pagination::Offset(_) => "offset",
            Pagination::Cursor(_) => "cursor",
            Pagination::NextUrl { .. } => "next_url",
            Pagination::LinkHeader => "link_header",
        }
    }

    /// Where the total is read from, if the file says.
    pub fn total(&self) -> Option<&Total> {
        match self {
            Pagination::Page(p) => p.total.as_ref(),
            Pagination::Offset(o) => o.total.as_ref(),
            _ => None,
        }
    }

    /// Records a page holds, for the kinds that ask for a size (`page`, `offset`).
    pub fn page_size(&self) -> Option<u32> {
        match self {
            Pagination::Page(p) => Some(p.page_size),
            Pagination::Offset(o) => Some(o.page_size),
            _ => None,
        }
    }

    /// Whether any page can be requested without the one before it (`page`, `offset`): such
    /// pages can be fetched in parallel once their count is known.
    pub fn is_addressable(&self) -> bool {
        matches!(self, Pagination::Page(_) | Pagination::Offset(_))
    }

    /// The query parameters pagination itself sends (a fixed parameter may not reuse them).
    pub fn params(&self) -> Vec<&str> {
        match self {
            Pagination::None | Pagination::NextUrl { .. } | Pagination::LinkHeader => Vec::new(),
            Pagination::Page(p) => {
                [Some(p.page_param.as_str()), p.size_param.as_deref()].into_iter().flatten().collect()
            }
            Pagination::Offset(o) => {
                [Some(o.offset_param.as_str()), o.limit_param.as_deref()].into_iter().flatten().collect()
            }
            Pagination::Cursor(c) => vec![&c.cursor_param],
        }
    }
}

impl Total {
    /// As the file writes it.
    pub fn spelling(&self) -> String {
        match self {
            Total::Pointer(pointer) => pointer.clone(),
            Total::Header(name) => format!("header:{name}"),
        }
    }
}
