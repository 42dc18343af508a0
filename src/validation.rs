//! Field-level validation errors, shared by every request type; the API turns them into a
//! 422 problem+json that names each bad field.

use serde::Serialize;
use utoipa::ToSchema;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a dotted path into the request body (e.g. `params.gender`).
    pub field: String,
    /// What is wrong with it, and what would be accepted.
    pub message: String,
}

/// Every problem found in a request; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        let mut i = Invalid::default();
        i.push(field, message);
        i
    }

    /// `Ok(value)` when nothing was found wrong.
    pub fn or_ok<T>(self, value: T) -> Result<T, Invalid> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Invalid {}
