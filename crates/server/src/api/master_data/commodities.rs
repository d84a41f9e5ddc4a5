//! `/api/v1/commodities`: the traded goods of the organization, with their unit, tariff code and quality
//! specification.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steelyard_domain::commodity::{
    Commodity, CommodityDraft, CommodityFilter, CommodityPatchDraft,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{RecordHistory, meta_cells};
use crate::api::KeyedJson;
use crate::api::export::{Table, number, text};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "commodities";
const BASE: &str = "/api/v1/commodities";

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
    /// Only commodities of this category (exact).
    category: Option<String>,
    /// Text the code or name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommodityList {
    pub items: Vec<Commodity>,
    pub next_cursor: Option<String>,
}

static EXPORT: Table<Commodity> = Table {
    name: "commodities",
    columns: &[
        text("id"),
        text("code"),
        text("name"),
        text("category"),
        text("hs_code"),
        text("unit"),
        text("quality"),
        text("quality_notes"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |c| {
        let f = &c.fields;
        // Each parameter as `name min..max unit`, one cell for the whole specification.
        let quality: Vec<String> = f
            .quality
            .iter()
            .map(|q| {
                let range = format!(
                    "{}..{}",
                    q.min.as_deref().unwrap_or(""),
                    q.max.as_deref().unwrap_or("")
                );
                [
                    q.name.as_str(),
                    range.as_str(),
                    q.unit.as_deref().unwrap_or(""),
                ]
                .join(" ")
                .trim_end()
                .to_owned()
            })
            .collect();
        let mut row = vec![
            c.id.to_string(),
            f.code.clone(),
            f.name.clone(),
            f.category.clone().unwrap_or_default(),
            f.hs_code.clone().unwrap_or_default(),
            f.unit.clone(),
            quality.join("; "),
            f.quality_notes.clone().unwrap_or_default(),
        ];
        row.extend(meta_cells(c));
        row
    },
};
/// Creates a commodity. Needs `product.manage`. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/commodities", tag = TAG, security(("bearer" = [])), request_body = CommodityDraft,
    responses((status = 201, body = Commodity, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<CommodityDraft>,
) -> ApiResult<Response> {
    super::create::<Commodity>(&state, ctx, draft, BASE).await
}

/// Lists commodities in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/commodities", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((CommodityList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let parse = |errors: &mut _| {
        CommodityFilter::parse(
            p.status.as_deref(),
            p.category.as_deref(),
            p.q.as_deref(),
            errors,
        )
    };
    let paging = (p.limit.as_deref(), p.cursor.as_deref());
    let wrap = |items, next_cursor| CommodityList { items, next_cursor };
    super::list::<Commodity, _>(&state, ctx, &headers, paging, parse, &EXPORT, wrap).await
}

/// One commodity; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/commodities/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Commodity, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    super::get::<Commodity>(&state, ctx, id).await
}

/// Changes a commodity (merge patch). Needs `If-Match`. `quality` is replaced whole.
#[utoipa::path(patch, path = "/api/v1/commodities/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = CommodityPatchDraft,
    responses((status = 200, body = Commodity, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<CommodityPatchDraft>,
) -> ApiResult<Response> {
    super::update::<Commodity>(&state, ctx, id, version, patch).await
}

/// Archives a commodity: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/commodities/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Commodity), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::archive::<Commodity>(&state, ctx, id, version).await
}

/// Restores an archived commodity.
#[utoipa::path(post, path = "/api/v1/commodities/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Commodity), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::restore::<Commodity>(&state, ctx, id, version).await
}

/// Every change of one commodity, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/commodities/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RecordHistory>> {
    super::history::<Commodity>(&state, ctx, id).await
}
