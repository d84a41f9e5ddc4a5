//! `/api/v1/sales-orders`: orders from customers, their reservations and shipments.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::page::PageRequest;
use steelyard_domain::record::search_filter;
use steelyard_domain::sales::{SalesOrder, SalesOrderDraft, ShipmentDraft, SoStatus};
use steelyard_services::sales::{self, SoFilter};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, number, text};
use crate::api::{EventView, KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "sales";

fn location(order: &SalesOrder) -> (String, i64) {
    (format!("/api/v1/sales-orders/{}", order.id), order.version)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    /// `draft`, `confirmed`, `partially_shipped`, `shipped`, `closed` or `cancelled`.
    status: Option<String>,
    customer_id: Option<Uuid>,
    /// Text the number contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesOrderList {
    pub items: Vec<SalesOrder>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesOrderHistory {
    pub items: Vec<EventView>,
}

/// Creates a draft sales order, numbered `SO-000123`. Needs `sales.order.manage`.
#[utoipa::path(post, path = "/api/v1/sales-orders", tag = TAG, security(("bearer" = [])), request_body = SalesOrderDraft,
    responses((status = 201, body = SalesOrder), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<SalesOrderDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(&state.app, ctx, draft.key, location, |ctx| async move {
        sales::create(&app, &ctx, draft.body).await
    })
    .await
}

/// Lists sales orders (a customer portal user sees only its own). Needs `sales.order.read`.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file, one row per order
/// (docs/export.md).
#[utoipa::path(get, path = "/api/v1/sales-orders", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((SalesOrderList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
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
        .and_then(|s| errors.take("status", SoStatus::parse(s)));
    let q = search_filter(params.q.as_deref(), &mut errors);
    errors.finish().map_err(steelyard_services::Error::from)?;
    let filter = SoFilter {
        status,
        customer_id: params.customer_id,
        q,
    };
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { sales::list(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, &TABLE, page, fetch).await;
    }
    let page = sales::list(&state.app, &ctx, &filter, page).await?;
    Ok(Json(SalesOrderList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static TABLE: Table<SalesOrder> = Table {
    name: "sales-orders",
    columns: &[
        text("id"),
        text("number"),
        text("customer_id"),
        text("location_id"),
        text("status"),
        number("lines"),
        number("total"),
        text("notes"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |so| {
        vec![
            so.id.to_string(),
            so.number.clone(),
            so.customer_id.to_string(),
            so.location_id.to_string(),
            so.status.as_str().into(),
            so.lines.len().to_string(),
            so.total.to_string(),
            so.notes.clone().unwrap_or_default(),
            so.version.to_string(),
            so.created_at.to_rfc3339(),
            so.updated_at.to_rfc3339(),
        ]
    },
};

/// One sales order with its lines.
#[utoipa::path(get, path = "/api/v1/sales-orders/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SalesOrder, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let order = sales::get(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, order.version, &order))
}

/// Confirms a draft and reserves its stock; 409 when any line cannot be reserved (nothing is).
#[utoipa::path(post, path = "/api/v1/sales-orders/{id}/confirm", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = SalesOrder), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let order = sales::confirm(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, order.version, &order))
}

/// Cancels a draft or confirmed order, releasing its reservations.
#[utoipa::path(post, path = "/api/v1/sales-orders/{id}/cancel", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = SalesOrder), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let order = sales::cancel(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, order.version, &order))
}

/// Closes a (partially) shipped order, releasing what is still reserved.
#[utoipa::path(post, path = "/api/v1/sales-orders/{id}/close", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = SalesOrder), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let order = sales::close(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, order.version, &order))
}

/// Ships from the reserved stock (partially or in full); never more than ordered.
/// Needs `sales.order.ship`.
#[utoipa::path(post, path = "/api/v1/sales-orders/{id}/shipments", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ShipmentDraft,
    responses((status = 200, body = SalesOrder), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn ship(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(draft): ApiJson<ShipmentDraft>,
) -> ApiResult<Response> {
    let order = sales::ship(&state.app, &ctx, id, draft).await?;
    Ok(with_etag(StatusCode::OK, order.version, &order))
}

/// Every change of one sales order, oldest first.
#[utoipa::path(get, path = "/api/v1/sales-orders/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SalesOrderHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SalesOrderHistory>> {
    let items = sales::history(&state.app, &ctx, id).await?;
    Ok(Json(SalesOrderHistory {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
