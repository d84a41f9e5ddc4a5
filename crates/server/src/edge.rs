//! The edge middleware every request passes: request id, tracing span, access log, metrics,
//! security headers, Sentry, and rendering of every error as problem+json.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sentry::SentryFutureExt;
use tracing::Instrument;

use crate::problem::{CONTENT_TYPE, Problem};
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// The request id of the current request, in request extensions for handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The caller's id when it is 1–128 characters of `[A-Za-z0-9._:-]`, otherwise a new UUIDv7;
/// anything else could forge log lines or blow up log storage.
fn request_id_of(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| steelyard_domain::new_id().to_string())
}

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&request);
    let method = method_label(request.method());
    let docs = request.uri().path().starts_with("/api/docs");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route, user = tracing::field::Empty);

    // Decrements on drop too: a client that hangs up mid-request does not leak the gauge.
    let in_flight = InFlight::start();
    let response = if state.sentry_enabled {
        let hub = sentry::Hub::new_from_top(sentry::Hub::current());
        hub.configure_scope(|scope| scope.set_tag("request_id", &request_id));
        next.run(request)
            .bind_hub(hub)
            .instrument(span.clone())
            .await
    } else {
        next.run(request).instrument(span.clone()).await
    };
    drop(in_flight);

    let mut response = finish_problem(response, &request_id);
    let status = response.status();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    security_headers(headers, state.config.hsts, docs);

    let elapsed = started.elapsed();
    let status_label = status.as_str().to_owned();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status_label.clone()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.clone(), "status" => status_label).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "{method} {route} {}", status.as_u16()
        );
    });
    if status.is_server_error() && state.sentry_enabled {
        sentry::with_scope(
            |scope| scope.set_tag("request_id", &request_id),
            || {
                sentry::capture_message(
                    &format!("{method} {route} answered {status}"),
                    sentry::Level::Error,
                )
            },
        );
    }
    response
}

/// Counts a request in `http_requests_in_flight` for as long as it lives.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
}

/// The method as a metrics label: the standard ones by name, anything else `other`, so a
/// client inventing methods cannot grow the label set.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Renders a handler's [`Problem`], or turns any other error response into one.
fn finish_problem(mut response: Response, request_id: &str) -> Response {
    if let Some(problem) = response.extensions_mut().remove::<Problem>() {
        return keep_headers(problem.render(Some(request_id)), response);
    }
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(CONTENT_TYPE.as_bytes()));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("request failed with an unhandled error (panic or middleware)");
        }
        return keep_headers(
            Problem::for_status(status).render(Some(request_id)),
            response,
        );
    }
    response
}

/// Carries over headers that still matter on the rewritten response (`Allow` on 405,
/// `Retry-After` and rate-limit headers on 429).
fn keep_headers(mut rendered: Response, original: Response) -> Response {
    for (name, value) in original.headers() {
        let keep = name == header::ALLOW
            || name == header::RETRY_AFTER
            || name.as_str().starts_with("ratelimit")
            || name == header::WWW_AUTHENTICATE;
        if keep {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

/// The CSP of everything but the API docs: nothing but this origin, no inline code.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
/// Swagger UI draws its icons from `data:` URLs and sets inline styles; still no inline script.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

fn security_headers(headers: &mut axum::http::HeaderMap, hsts: bool, docs: bool) {
    let csp = if docs { DOCS_CSP } else { CSP };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

/// The fallback for unknown routes.
pub async fn not_found() -> Problem {
    Problem::for_status(StatusCode::NOT_FOUND)
}

/// What `CatchPanicLayer` answers: a bare 500 that [`observe`] renders as a problem.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
