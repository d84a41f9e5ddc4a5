//! Field-level validation errors, collected so a caller sees every problem of a request at once.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as the caller named it (`name`, `lines[2].quantity`).
    pub field: String,
    /// A stable machine-readable code (`required`, `too_long`, `invalid`).
    pub code: &'static str,
    /// A sentence for a person.
    pub message: String,
}

/// Every field error of one input; empty means the input is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single error, for inputs with one field.
    pub fn single(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, code, message);
        errors
    }

    pub fn add(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            code,
            message: message.into(),
        });
    }

    /// Runs a parse and keeps its value, or records its error under `field`.
    pub fn take<T>(&mut self, field: &str, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(mut error) => {
                error.field = field.to_owned();
                self.0.push(error);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(())` when nothing was recorded, the errors otherwise.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// An error for a field whose name the caller fills in (see [`FieldErrors::take`]).
pub fn invalid(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: String::new(),
        code,
        message: message.into(),
    }
}
