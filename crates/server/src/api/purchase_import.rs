//! `/api/v1/purchasing/imports`: a purchase order as the vendor wrote it (CSV or JSON), matched
//! to vendors and products in a read-only preview, then committed with the chosen ids.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use steelyard_domain::FieldErrors;
use steelyard_domain::purchase::PurchaseOrder;
use steelyard_domain::purchase_import::ImportDocument;
use steelyard_services::IdempotencyKey;
use steelyard_services::purchase_import::{self, ImportPreview};

use crate::api::create_once;
use crate::auth::Authenticated;
use crate::extract::{ApiJson, IdempotencyHeader, read_body};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "purchasing";

/// An import document from the body, CSV (`text/csv`) or JSON (`application/json`), with
/// the `Idempotency-Key` that makes a commit safe to retry.
#[derive(Debug)]
pub struct ImportBody {
    pub document: ImportDocument,
    pub key: Option<IdempotencyKey>,
}

impl<S: Send + Sync> FromRequest<S> for ImportBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let header = IdempotencyHeader::from_request_parts(&mut parts, state).await?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let method: Method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let bytes = read_body(Request::from_parts(parts, body)).await?;
        let document = if content_type.starts_with("text/csv") {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                Problem::validation(
                    FieldErrors::single("document", "invalid_encoding", "the CSV must be UTF-8")
                        .into_vec(),
                )
            })?;
            ImportDocument::from_csv(text).map_err(|e| Problem::validation(e.into_vec()))?
        } else if content_type.starts_with("application/json") {
            ApiJson::<ImportDocument>::from_bytes(&bytes)?.0
        } else {
            return Err(Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        };
        let key = header.0.map(|key| {
            IdempotencyKey::new(
                key,
                &[
                    method.as_str().as_bytes(),
                    path.as_bytes(),
                    content_type.as_bytes(),
                    &bytes,
                ],
            )
        });
        Ok(Self { document, key })
    }
}

/// Previews an import: the vendor and each line's part matched to active records (exact,
/// then ignoring case and punctuation, then fuzzy), with scores, alternatives and whether the
/// number is taken. Writes nothing. A name that matches nothing is a 422 naming the field
/// (`vendor`, `lines[2].part`). Needs `purchasing.order.manage`.
#[utoipa::path(post, path = "/api/v1/purchasing/imports", tag = TAG, security(("bearer" = [])),
    request_body(description = "The order as JSON, or as CSV with the columns of docs/purchasing.md",
        content((ImportDocument = "application/json"), (String = "text/csv"))),
    responses((status = 200, body = ImportPreview), (status = 403, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    body: ImportBody,
) -> ApiResult<Response> {
    let preview = purchase_import::preview(&state.app, &ctx, body.document).await?;
    Ok(Json(preview).into_response())
}

/// Commits an import as a draft purchase order: the document (CSV or JSON, e.g. the preview's
/// `document`) with `vendor_id` and every line's `product_id` chosen. The order is created as
/// `POST /api/v1/purchase-orders` creates it; a number that exists is a 409. Send
/// `Idempotency-Key` to make retries safe. Needs `purchasing.order.manage`.
#[utoipa::path(post, path = "/api/v1/purchasing/imports/commit", tag = TAG, security(("bearer" = [])),
    request_body(description = "The document with the chosen ids",
        content((ImportDocument = "application/json"), (String = "text/csv"))),
    responses((status = 201, body = PurchaseOrder, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem)))]
pub async fn commit(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    body: ImportBody,
) -> ApiResult<Response> {
    let app = state.app.clone();
    let locate = |po: &PurchaseOrder| (format!("/api/v1/purchase-orders/{}", po.id), po.version);
    create_once(&state.app, ctx, body.key, locate, |ctx| async move {
        purchase_import::commit(&app, &ctx, body.document).await
    })
    .await
}
