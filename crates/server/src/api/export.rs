//! Lists as CSV (`Accept: text/csv`): every page of the list, streamed page by page, so an
//! export of 100,000 rows never holds them all in memory.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use steelyard_domain::page::{Page, PageRequest};

use crate::problem::{ApiResult, Problem};

/// Rows fetched per database round trip while exporting.
const EXPORT_PAGE: u32 = 500;

/// Whether the caller asked for CSV.
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|part| part.trim().starts_with("text/csv"))
        })
}

/// A streamed CSV of every page `fetch` returns, starting after `first`'s cursor. The first
/// page is read before answering, so a refused request (403, 422) is still a problem+json.
pub async fn csv<T, F, Fut>(
    filename: &str,
    columns: &'static [&'static str],
    to_row: fn(&T) -> Vec<String>,
    first: PageRequest,
    fetch: F,
) -> ApiResult<Response>
where
    T: Send + 'static,
    F: Fn(PageRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = steelyard_services::Result<Page<T>>> + Send + 'static,
{
    let start = PageRequest {
        limit: EXPORT_PAGE,
        ..first
    };
    let page = fetch(start).await.map_err(Problem::from)?;
    let header_line = line(columns.iter().map(|c| (*c).to_owned()).collect());
    // The state is the page to write next (None once written out), its prefix, and `fetch`.
    let stream =
        futures::stream::unfold(Some((page, header_line, fetch)), move |state| async move {
            let (page, mut chunk, fetch) = state?;
            for item in &page.items {
                chunk.push_str(&line(to_row(item)));
            }
            let after = page
                .next_cursor
                .as_deref()
                .and_then(steelyard_domain::page::decode_cursor);
            let next = match after {
                None => None,
                Some(after) => match fetch(PageRequest {
                    limit: EXPORT_PAGE,
                    after: Some(after),
                })
                .await
                {
                    Ok(next) => Some((next, String::new(), fetch)),
                    Err(error) => {
                        // The status line is sent: end the body early; the log has the reason.
                        tracing::error!(%error, "CSV export stopped part-way");
                        None
                    }
                },
            };
            Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), next))
        });
    // Fused: body wrappers (compression) may poll once more after the end.
    let mut response = Response::new(Body::from_stream(futures::StreamExt::fuse(stream)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// One CSV line: fields quoted when needed, and cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first) prefixed with `'`.
fn line(fields: Vec<String>) -> String {
    let mut out = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = if field.starts_with(['=', '+', '-', '@']) {
            format!("'{field}")
        } else {
            field
        };
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed_and_formulas_are_defused() {
        let row = line(vec![
            "plain".into(),
            "a,b".into(),
            "say \"hi\"".into(),
            "=SUM(A1)".into(),
            String::new(),
        ]);
        assert_eq!(row, "plain,\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),\r\n");
    }

    #[test]
    fn csv_is_asked_for_by_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/csv;q=0.9"),
        );
        assert!(wants_csv(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_csv(&headers));
    }
}
