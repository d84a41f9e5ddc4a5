//! The one error type of every service.
//!
//! Use it as the error of every service function; the edge renders it as problem+json. Expected
//! outcomes (`Validation`, `NotFound`, `Conflict`, `Stale`, `Forbidden`) carry what the caller
//! needs to fix the request. `Internal` is for everything unexpected: its text is logged with
//! the request id and never shown to the caller.

use steelyard_domain::FieldErrors;
use steelyard_domain::access::Permission;
use steelyard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke field rules (422).
    #[error("invalid input")]
    Validation(FieldErrors),
    /// Nothing by that id in the caller's scope (404; also for rows outside the scope).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with current state or with another record (409).
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the caller read it (412).
    #[error("the record changed since it was read (now at version {current})")]
    Stale { current: i64 },
    /// An `If-Match` was required and absent (428).
    #[error("this change needs an If-Match header with the record's ETag")]
    PreconditionRequired,
    /// The actor lacks a permission (403).
    #[error("missing permission {}", .0.name())]
    Forbidden(Permission),
    /// An Idempotency-Key was reused with a different request (422).
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// A dependency is down (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("record"),
            StoreError::Duplicate(what) => {
                // The constraint name is for the log, not for the caller.
                tracing::info!(constraint = %what, "unique constraint refused a write");
                Self::Conflict("a record with the same unique key already exists".into())
            }
            StoreError::Stale => Self::Stale { current: 0 },
            // Every connection busy for the whole acquire timeout: overload, a 503 worth
            // retrying, not a bug.
            StoreError::Busy => Self::Unavailable("database (all connections busy)".into()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
