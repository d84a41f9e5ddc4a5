//! RFC 9457 problem details: the one shape of every error response.
//!
//! Handlers return `Result<_, Problem>`; a [`Problem`] travels in the response's extensions and
//! the edge middleware (`edge::observe`) renders it, adding the request id. Error responses
//! made elsewhere (the router's 404/405, body limits, timeouts, panics) are turned into
//! problems there too, so no client ever sees another error format.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steelyard_domain::FieldError;
use steelyard_services::Error;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// An error response as RFC 9457 describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; documented in docs/errors.md.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The `X-Request-Id` of the request, to quote when reporting it.
    pub request_id: Option<String>,
    /// Per-field problems (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Seconds until a retry may succeed (429 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://steelyard.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            request_id: None,
            errors: None,
            retry_after_seconds: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "the request has invalid fields; see errors",
        );
        problem.errors = Some(errors);
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid access token is required",
        )
    }

    /// The generic problem for an error status produced outside a handler.
    pub fn for_status(status: StatusCode) -> Self {
        let (slug, detail) = match status.as_u16() {
            404 => ("not-found", "no such resource"),
            405 => (
                "method-not-allowed",
                "this resource does not support that method; see the Allow header",
            ),
            408 | 503 => (
                "unavailable",
                "the request could not be completed in time; retry later",
            ),
            413 => (
                "payload-too-large",
                "the request body is larger than the server accepts",
            ),
            415 => (
                "unsupported-media-type",
                "send the body as application/json",
            ),
            400 => ("bad-request", "the request could not be read"),
            s if s >= 500 => (
                "internal",
                "an internal error occurred; quote the request id when reporting it",
            ),
            _ => ("error", "the request failed"),
        };
        Self::new(status, slug, detail)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The final response: serialized with the request id filled in.
    pub fn render(mut self, request_id: Option<&str>) -> Response {
        self.request_id = request_id.map(str::to_owned);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status_code(), body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == 401 {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl IntoResponse for Problem {
    /// An empty response carrying the problem; `edge::observe` renders it.
    fn into_response(self) -> Response {
        let mut response = self.status_code().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation(errors) => Self::validation(errors.into_vec()),
            Error::NotFound(what) => Self::not_found(format!("no such {what}")),
            Error::Conflict(detail) => Self::new(StatusCode::CONFLICT, "conflict", detail),
            Error::Stale { .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                "the record changed since you read it; fetch it again and retry with its ETag",
            ),
            Error::PreconditionRequired => Self::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if-match-required",
                "send If-Match with the ETag of the version you read",
            ),
            Error::Forbidden(permission) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the permission {}", permission.name()),
            ),
            Error::IdempotencyKeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request; use a new key",
            ),
            Error::Unavailable(what) => {
                tracing::warn!(dependency = %what, "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; retry later",
                )
            }
            Error::Internal(text) => {
                tracing::error!(error = %text, "internal error");
                Self::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

pub type ApiResult<T> = Result<T, Problem>;
