//! Extractors that turn every malformed input into a problem: JSON bodies, path ids, query
//! strings, `If-Match` and `Idempotency-Key`; and the `ETag`/`Location` helpers of responses.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use steelyard_domain::{FieldError, FieldErrors};
use steelyard_services::Expected;

use crate::problem::Problem;

/// A JSON body; bad syntax is 400, a wrong shape 422, a wrong content type 415, too big 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_body(req).await?;
        Self::from_bytes(&bytes)
    }
}

/// The body limit in force, set by the router from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Bodies beyond this are refused without reading them; between the limit and this, the
/// body is read and dropped first, so the client (still sending) gets the 413 instead of a
/// reset connection.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// Checks the content type and reads a JSON body within the configured limit.
pub async fn read_json_body(req: Request) -> Result<Bytes, Problem> {
    let json_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    if !json_type {
        return Err(Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    read_body(req).await
}

/// Reads a body of any content type within the configured limit.
pub async fn read_body(req: Request) -> Result<Bytes, Problem> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(2 * 1024 * 1024, |l| l.0);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE);
    if declared.is_some_and(|n| n > DRAIN_CAP) {
        return Err(too_large());
    }
    let mut body = req.into_body().into_data_stream();
    let mut collected = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| Problem::for_status(StatusCode::BAD_REQUEST))?;
        seen += chunk.len();
        if seen > DRAIN_CAP {
            return Err(too_large());
        }
        if seen <= limit {
            collected.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(collected))
}

fn json_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            // serde's message names the field and what was wrong ("name: invalid type …").
            let text = error.body_text();
            let detail = text
                .split_once(": ")
                .map_or(text.as_str(), |(_, rest)| rest)
                .to_owned();
            let field = detail
                .split_once(':')
                .map(|(path, _)| path.trim().to_owned())
                .filter(|p| !p.contains(' '))
                .unwrap_or_else(|| "body".into());
            Problem::validation(vec![FieldError {
                field,
                code: "invalid",
                message: detail,
            }])
        }
        JsonRejection::JsonSyntaxError(_) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "the body is not valid JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => {
            Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
        }
        other => Problem::new(
            other.status(),
            "bad-request",
            "the request body could not be read",
        ),
    }
}

/// A path parameter; one that cannot be parsed (a malformed id) names nothing: 404.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_: PathRejection| Problem::not_found("no such resource"))
    }
}

/// A query string; a wrong shape is 422.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                Problem::validation(vec![FieldError {
                    field: "query".into(),
                    code: "invalid",
                    message: rejection.body_text(),
                }])
            })
    }
}

/// The `If-Match` precondition: absent (None), `*` (any version), or `"3"`/`W/"3"`. A value
/// that names no version this server issues can never match: 412.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<Expected>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(Self(Some(Expected::Any)));
        }
        parse_etag(text)
            .map(|v| Self(Some(Expected::Version(v))))
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale-version",
                    "If-Match names no current version",
                )
            })
    }
}

fn parse_etag(text: &str) -> Option<i64> {
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        match value.to_str() {
            Ok(key)
                if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(Self(Some(key.to_owned())))
            }
            _ => Err(Problem::validation(
                FieldErrors::single(
                    "Idempotency-Key",
                    "invalid",
                    "must be 1 to 255 visible ASCII characters",
                )
                .into_vec(),
            )),
        }
    }
}

/// `200 OK` with the record as JSON and its version as `ETag`.
pub fn with_etag<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `201 Created` with `Location` and `ETag`, from the JSON text of the record (fresh or replayed).
pub fn created(location: &str, version: i64, json: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ETAG, etag(version));
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    (StatusCode::CREATED, headers, json).into_response()
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Parses already-read bytes with the same error mapping as the extractor.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Problem> {
        axum::Json::<T>::from_bytes(bytes)
            .map(|axum::Json(v)| Self(v))
            .map_err(json_problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_parse_strong_and_weak_forms_only() {
        assert_eq!(parse_etag("\"7\""), Some(7));
        assert_eq!(parse_etag("W/\"7\""), Some(7));
        assert_eq!(parse_etag("7"), None);
        assert_eq!(parse_etag("\"seven\""), None);
    }
}
