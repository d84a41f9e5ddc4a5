//! `/api/v1/purchase-orders`: orders to vendors, their lifecycle and receipts.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::page::PageRequest;
use steelyard_domain::purchase::{PoStatus, PurchaseOrder, PurchaseOrderDraft, ReceiptDraft};
use steelyard_domain::record::search_filter;
use steelyard_services::purchasing::{self, PoFilter};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, number, text};
use crate::api::{EventView, KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "purchasing";

fn location(po: &PurchaseOrder) -> (String, i64) {
    (format!("/api/v1/purchase-orders/{}", po.id), po.version)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    /// `draft`, `confirmed`, `partially_received`, `received`, `closed` or `cancelled`.
    status: Option<String>,
    vendor_id: Option<Uuid>,
    /// Text the number contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseOrderList {
    pub items: Vec<PurchaseOrder>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExistsParams {
    /// The number to look for, e.g. `PO-000123` (ignoring case).
    number: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Exists {
    pub number: String,
    pub exists: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseOrderHistory {
    pub items: Vec<EventView>,
}

/// Creates a draft purchase order; without `number` the next `PO-000123` is given.
/// Needs `purchasing.order.manage`.
#[utoipa::path(post, path = "/api/v1/purchase-orders", tag = TAG, security(("bearer" = [])), request_body = PurchaseOrderDraft,
    responses((status = 201, body = PurchaseOrder), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<PurchaseOrderDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(&state.app, ctx, draft.key, location, |ctx| async move {
        purchasing::create(&app, &ctx, draft.body).await
    })
    .await
}

/// Lists purchase orders (a vendor portal user sees only its own). Needs `purchasing.order.read`.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file, one row per order
/// (docs/export.md).
#[utoipa::path(get, path = "/api/v1/purchase-orders", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((PurchaseOrderList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    let status = params
        .status
        .as_deref()
        .and_then(|s| errors.take("status", PoStatus::parse(s)));
    let q = search_filter(params.q.as_deref(), &mut errors);
    errors.finish().map_err(steelyard_services::Error::from)?;
    let filter = PoFilter {
        status,
        vendor_id: params.vendor_id,
        q,
    };
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { purchasing::list(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, &TABLE, page, fetch).await;
    }
    let page = purchasing::list(&state.app, &ctx, &filter, page).await?;
    Ok(Json(PurchaseOrderList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static TABLE: Table<PurchaseOrder> = Table {
    name: "purchase-orders",
    columns: &[
        text("id"),
        text("number"),
        text("vendor_id"),
        text("status"),
        number("lines"),
        number("total"),
        text("notes"),
        number("version"),
        text("created_at"),
        text("updated_at"),
        text("confirmed_at"),
    ],
    row: |po| {
        vec![
            po.id.to_string(),
            po.number.clone(),
            po.vendor_id.to_string(),
            po.status.as_str().into(),
            po.lines.len().to_string(),
            po.total.to_string(),
            po.notes.clone().unwrap_or_default(),
            po.version.to_string(),
            po.created_at.to_rfc3339(),
            po.updated_at.to_rfc3339(),
            po.confirmed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ]
    },
};

/// Whether a purchase order with this number exists in your organization.
#[utoipa::path(get, path = "/api/v1/purchase-orders/exists", tag = TAG, security(("bearer" = [])), params(ExistsParams),
    responses((status = 200, body = Exists), (status = 403, body = Problem)))]
pub async fn exists(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiQuery(params): ApiQuery<ExistsParams>,
) -> ApiResult<Json<Exists>> {
    let number = params.number.unwrap_or_default();
    let exists = purchasing::number_exists(&state.app, &ctx, &number).await?;
    Ok(Json(Exists { number, exists }))
}

/// One purchase order with its lines.
#[utoipa::path(get, path = "/api/v1/purchase-orders/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PurchaseOrder, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let po = purchasing::get(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, po.version, &po))
}

/// Confirms a draft. Above the approval threshold it also needs `purchasing.order.approve`.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/confirm", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = PurchaseOrder), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let po = purchasing::confirm(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, po.version, &po))
}

/// Cancels a draft or confirmed order.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/cancel", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = PurchaseOrder), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let po = purchasing::cancel(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, po.version, &po))
}

/// Closes a (partially) received order: nothing more is expected.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/close", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = PurchaseOrder), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let po = purchasing::close(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, po.version, &po))
}

/// Receives goods into an internal location (partially or in full). Receiving more than ordered
/// plus the tolerance is refused. Needs `purchasing.order.receive`.
#[utoipa::path(post, path = "/api/v1/purchase-orders/{id}/receipts", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReceiptDraft,
    responses((status = 200, body = PurchaseOrder), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn receive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(draft): ApiJson<ReceiptDraft>,
) -> ApiResult<Response> {
    let po = purchasing::receive(&state.app, &ctx, id, draft).await?;
    Ok(with_etag(StatusCode::OK, po.version, &po))
}

/// Every change of one purchase order, oldest first.
#[utoipa::path(get, path = "/api/v1/purchase-orders/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PurchaseOrderHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PurchaseOrderHistory>> {
    let items = purchasing::history(&state.app, &ctx, id).await?;
    Ok(Json(PurchaseOrderHistory {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
