//! `/api/v1/products`: products and parts of the organization the caller works in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::page::PageRequest;
use steelyard_domain::product::{Product, ProductDraft, ProductFilter, ProductPatchDraft};
use steelyard_services::products;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, number, text};
use crate::api::{EventView, KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "products";

fn location(product: &Product) -> (String, i64) {
    (format!("/api/v1/products/{}", product.id), product.version)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `active` (default), `archived` or `all`.
    status: Option<String>,
    /// Exact category.
    category: Option<String>,
    /// `true` for stocked products, `false` for services and consumables.
    tracked: Option<String>,
    /// Text the SKU or name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<Product>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductHistory {
    pub items: Vec<EventView>,
}

/// Creates a product. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/products", tag = TAG, security(("bearer" = [])), request_body = ProductDraft,
    responses((status = 201, body = Product, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<ProductDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(&state.app, ctx, draft.key, location, |ctx| async move {
        products::create(&app, &ctx, draft.body).await
    })
    .await
}

/// Lists products, in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/products", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((ProductList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
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
    let filter = ProductFilter::parse(
        params.status.as_deref(),
        params.category.as_deref(),
        params.tracked.as_deref(),
        params.q.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { products::list(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, &TABLE, page, fetch).await;
    }
    let page = products::list(&state.app, &ctx, &filter, page).await?;
    Ok(Json(ProductList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static TABLE: Table<Product> = Table {
    name: "products",
    columns: &[
        text("id"),
        text("sku"),
        text("name"),
        text("category"),
        text("tracked"),
        text("stock_unit"),
        number("standard_cost"),
        number("list_price"),
        number("low_stock_threshold"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row,
};

fn row(p: &Product) -> Vec<String> {
    vec![
        p.id.to_string(),
        p.sku.clone(),
        p.name.clone(),
        p.category.clone().unwrap_or_default(),
        p.tracked.to_string(),
        p.stock_unit.clone(),
        p.standard_cost.to_string(),
        p.list_price.to_string(),
        p.low_stock_threshold
            .map(|q| q.to_string())
            .unwrap_or_default(),
        p.status.as_str().into(),
        p.version.to_string(),
        p.created_at.to_rfc3339(),
        p.updated_at.to_rfc3339(),
    ]
}

/// One product; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Product, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let product = products::get(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, product.version, &product))
}

/// Changes a product (merge patch; `null` clears optional fields). Needs `If-Match`.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = ProductPatchDraft,
    responses((status = 200, body = Product, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(draft): ApiJson<ProductPatchDraft>,
) -> ApiResult<Response> {
    let product = products::update(&state.app, &ctx, id, version, draft).await?;
    Ok(with_etag(StatusCode::OK, product.version, &product))
}

/// Archives a product: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/products/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Product), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let product = products::archive(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, product.version, &product))
}

/// Restores an archived product.
#[utoipa::path(post, path = "/api/v1/products/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Product), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let product = products::restore(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, product.version, &product))
}

/// Every change of one product, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/products/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = ProductHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ProductHistory>> {
    let items = products::history(&state.app, &ctx, id).await?;
    Ok(Json(ProductHistory {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
