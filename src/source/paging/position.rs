//! Where a page is: a `Position`, committed with the page's rows so a resume starts at the
//! next one; and the up-front plan of an addressable resource's pages.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// `count` pages numbered from `first`.
    pub(super) fn pages(first: u64, count: u64) -> PagePlan {
        PagePlan { step: Step::Pages { first }, count }
    }

    /// `count` pages at offsets 0, `page_size`, 2 × `page_size`…
    pub(super) fn offsets(page_size: u64, count: u64) -> PagePlan {
        PagePlan { step: Step::Offsets { page_size }, count }
    }

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
