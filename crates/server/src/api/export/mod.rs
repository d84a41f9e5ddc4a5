//! Lists as files: CSV (`Accept: text/csv`) or XLSX (`Accept:
//! application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`), with the list's filters,
//! streamed page by page so an export of 100,000 rows never holds them all in memory.
//!
//! A list opts in by declaring a [`Table`] (its file name, [`Column`]s and a row function) once,
//! and answering with [`pages`] (cursor-paged lists), [`stream`] (any other paging) or [`all`]
//! (small lists read in one go) when [`Format::wanted`] says a file was asked for.

mod csv;
mod xlsx;
mod zip;

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use steelyard_domain::page::{Page, PageRequest, decode_cursor};

pub use xlsx::MEDIA_TYPE as XLSX_MEDIA_TYPE;

use crate::problem::{ApiResult, Problem};

/// Rows fetched per database round trip while exporting.
pub const EXPORT_PAGE: u32 = 500;

/// What a column holds: XLSX writes number columns as numeric cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
}

/// One column of an export.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// A text column (ids, names, codes, times, flags).
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
    }
}

/// A number column (quantities, money, versions): plain decimals like `-12.5000`.
pub const fn number(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Number,
    }
}

/// How one list exports: the file name (`partners` → `partners.csv`), the columns, and the
/// cells of one item in column order. Both formats use it.
#[derive(Debug)]
pub struct Table<T> {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub row: fn(&T) -> Vec<String>,
}

/// The file formats of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// The format the `Accept` header asks for, the first one named (ignoring `q=0`); `None`
    /// means JSON.
    pub fn wanted(headers: &HeaderMap) -> Option<Self> {
        let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
        accept.split(',').find_map(|part| {
            let mut params = part.split(';');
            let media = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let refused = params.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match media.as_str() {
                _ if refused => None,
                "text/csv" => Some(Self::Csv),
                xlsx::MEDIA_TYPE => Some(Self::Xlsx),
                _ => None,
            }
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => xlsx::MEDIA_TYPE,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// One read of a list: its items and what to pass to read the next (`None`: the last).
#[derive(Debug)]
pub struct Chunk<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// The file being written, in either format.
#[derive(Debug)]
enum Writer {
    Csv,
    Xlsx(Box<xlsx::Workbook>),
}

impl Writer {
    fn start<T>(format: Format, table: &'static Table<T>) -> Result<(Self, Vec<u8>), String> {
        match format {
            Format::Csv => Ok((Self::Csv, csv::header(table.columns).into_bytes())),
            Format::Xlsx => {
                let mut book = xlsx::Workbook::start(table.name, table.columns, chrono::Utc::now())
                    .map_err(|e| e.to_string())?;
                let bytes = book.take();
                Ok((Self::Xlsx(Box::new(book)), bytes))
            }
        }
    }

    fn rows<T>(&mut self, table: &Table<T>, items: &[T], out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Self::Csv => {
                for item in items {
                    out.extend_from_slice(csv::line((table.row)(item)).as_bytes());
                }
            }
            Self::Xlsx(book) => {
                for item in items {
                    book.push((table.row)(item)).map_err(|e| e.to_string())?;
                }
                out.extend_from_slice(&book.take());
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        if let Self::Xlsx(book) = self {
            book.finish().map_err(|e| e.to_string())?;
            out.extend_from_slice(&book.take());
        }
        Ok(())
    }
}

/// Where the stream is: a chunk to write (with the writer and the way to read more), a
/// failure to report, or the end.
enum Step<T, C, F> {
    Write {
        chunk: Chunk<T, C>,
        writer: Writer,
        fetch: F,
    },
    Fail(String),
    End,
}

/// Streams a list read by `fetch(None)`, then `fetch(Some(next))` until a chunk has no next.
/// The first chunk is read before answering, so a refused request (403, 422) is still a
/// problem+json; a failure after that aborts the body (the client sees an incomplete
/// transfer, never a file that looks complete), and the log has the reason.
pub async fn stream<T, C, F, Fut>(
    format: Format,
    table: &'static Table<T>,
    fetch: F,
) -> ApiResult<Response>
where
    T: Send + 'static,
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = steelyard_services::Result<Chunk<T, C>>> + Send + 'static,
{
    let chunk = fetch(None).await.map_err(Problem::from)?;
    let (writer, head) = Writer::start(format, table)
        .map_err(|e| Problem::from(steelyard_services::Error::Internal(format!("export: {e}"))))?;
    let first =
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(head)) });
    let state = Step::Write {
        chunk,
        writer,
        fetch,
    };
    let rest = futures::stream::unfold(state, move |state| async move {
        let (chunk, mut writer, fetch) = match state {
            Step::End => return None,
            Step::Fail(reason) => {
                tracing::error!(%reason, export = table.name, "export stopped part-way");
                return Some((Err(std::io::Error::other(reason)), Step::End));
            }
            Step::Write {
                chunk,
                writer,
                fetch,
            } => (chunk, writer, fetch),
        };
        let mut out = Vec::new();
        if let Err(reason) = writer.rows(table, &chunk.items, &mut out) {
            return Some((Ok(Bytes::from(out)), Step::Fail(reason)));
        }
        let next = match chunk.next {
            None => match writer.finish(&mut out) {
                Ok(()) => Step::End,
                Err(reason) => Step::Fail(reason),
            },
            Some(next) => match fetch(Some(next)).await {
                Ok(chunk) => Step::Write {
                    chunk,
                    writer,
                    fetch,
                },
                Err(error) => Step::Fail(error.to_string()),
            },
        };
        Some((Ok(Bytes::from(out)), next))
    });
    // Fused: body wrappers (compression) may poll once more after the end.
    let body = futures::StreamExt::fuse(futures::StreamExt::chain(first, rest));
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!(
        "attachment; filename=\"{}.{}\"",
        table.name,
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Streams every page of a cursor-paged list (one that answers [`Page`]), starting where
/// `first` starts, [`EXPORT_PAGE`] rows per read.
pub async fn pages<T, F, Fut>(
    format: Format,
    table: &'static Table<T>,
    first: PageRequest,
    fetch: F,
) -> ApiResult<Response>
where
    T: Send + 'static,
    F: Fn(PageRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = steelyard_services::Result<Page<T>>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    stream(format, table, move |after: Option<uuid::Uuid>| {
        let fetch = fetch.clone();
        async move {
            let request = PageRequest {
                limit: EXPORT_PAGE,
                after: after.or(first.after),
            };
            let page = fetch(request).await?;
            Ok(Chunk {
                next: page.next_cursor.as_deref().and_then(decode_cursor),
                items: page.items,
            })
        }
    })
    .await
}

/// A list read in one go (a handful of rows: users, roles, tokens) as a file.
pub async fn all<T: Send + 'static>(
    format: Format,
    table: &'static Table<T>,
    items: Vec<T>,
) -> ApiResult<Response> {
    let items = std::sync::Mutex::new(Some(items));
    stream(format, table, move |_: Option<()>| {
        let items = items
            .lock()
            .ok()
            .and_then(|mut i| i.take())
            .unwrap_or_default();
        async move { Ok(Chunk { items, next: None }) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> Option<Format> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        Format::wanted(&headers)
    }

    #[test]
    fn the_format_is_asked_for_by_accept() {
        assert_eq!(
            accept("application/json, text/csv;q=0.9"),
            Some(Format::Csv)
        );
        assert_eq!(accept(xlsx::MEDIA_TYPE), Some(Format::Xlsx));
        assert_eq!(accept("text/csv;q=0, application/json"), None);
        assert_eq!(accept("application/json"), None);
        assert_eq!(Format::wanted(&HeaderMap::new()), None);
    }
}
