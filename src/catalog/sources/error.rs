//! Why a source file cannot be used: the file, the key (`resources.orders.pagination.page_size`)
//! and the reason, so a bad file stops the process with a message its author can act on.
//!
//! No value read from the environment ever reaches an error: a missing secret is named by its
//! variable.

use std::fmt;
use std::path::PathBuf;

/// A source file refused, with where and why.
#[derive(Debug)]
pub struct SourceError {
    pub file: PathBuf,
    /// The dotted key, as TOML would spell it; empty when the whole file is at fault.
    pub key: String,
    pub kind: SourceErrorKind,
}

/// What is wrong at that key.
#[derive(Debug, thiserror::Error)]
pub enum SourceErrorKind {
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    /// Not TOML, an unknown key, or a value of the wrong type, as the parser says it.
    #[error("{message}{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Syntax { message: String, line: Option<usize> },
    /// A value of the right type that the format refuses.
    #[error("{0}")]
    Invalid(String),
    #[error("the environment variable {variable} is not set")]
    MissingSecret { variable: String },
    #[error("the environment variable {variable} is empty")]
    EmptySecret { variable: String },
    #[error("the source name `{0}` is reserved for the built-in source")]
    ReservedName(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.kind)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.kind)
        }
    }
}

// No `source()`: the message already holds the whole cause, and a chain would repeat it.
impl std::error::Error for SourceError {}

impl SourceError {
    pub(super) fn new(file: impl Into<PathBuf>, key: impl Into<String>, kind: SourceErrorKind) -> SourceError {
        SourceError { file: file.into(), key: key.into(), kind }
    }

    /// The environment variable a secret was expected in, when that is what went wrong.
    pub fn missing_variable(&self) -> Option<&str> {
        match &self.kind {
            SourceErrorKind::MissingSecret { variable } | SourceErrorKind::EmptySecret { variable } => Some(variable),
            _ => None,
        }
    }
}
