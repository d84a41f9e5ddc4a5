//! `/api/v1/taxes`: tax rates, inclusive or exclusive, for sales, purchases or both.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steelyard_domain::tax::{Tax, TaxDraft, TaxFilter, TaxPatchDraft};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{RecordHistory, meta_cells};
use crate::api::KeyedJson;
use crate::api::export::{Table, number, text};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "taxes";
const BASE: &str = "/api/v1/taxes";

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
    /// `sales` (sales taxes and `both`), `purchases` (likewise) or `both`.
    applies_to: Option<String>,
    /// Text the code or name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxList {
    pub items: Vec<Tax>,
    pub next_cursor: Option<String>,
}

static EXPORT: Table<Tax> = Table {
    name: "taxes",
    columns: &[
        text("id"),
        text("code"),
        text("name"),
        number("rate"),
        text("inclusive"),
        text("applies_to"),
        text("description"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |t| {
        let f = &t.fields;
        let mut row = vec![
            t.id.to_string(),
            f.code.clone(),
            f.name.clone(),
            f.rate.to_string(),
            f.inclusive.to_string(),
            f.applies_to.as_str().into(),
            f.description.clone().unwrap_or_default(),
        ];
        row.extend(meta_cells(t));
        row
    },
};

/// Creates a tax. Needs `accounting.post`. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/taxes", tag = TAG, security(("bearer" = [])), request_body = TaxDraft,
    responses((status = 201, body = Tax, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<TaxDraft>,
) -> ApiResult<Response> {
    super::create::<Tax>(&state, ctx, draft, BASE).await
}

/// Lists taxes in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/taxes", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((TaxList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let parse = |errors: &mut _| {
        TaxFilter::parse(
            p.status.as_deref(),
            p.applies_to.as_deref(),
            p.q.as_deref(),
            errors,
        )
    };
    let paging = (p.limit.as_deref(), p.cursor.as_deref());
    let wrap = |items, next_cursor| TaxList { items, next_cursor };
    super::list::<Tax, _>(&state, ctx, &headers, paging, parse, &EXPORT, wrap).await
}

/// One tax; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/taxes/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Tax, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    super::get::<Tax>(&state, ctx, id).await
}

/// Changes a tax (merge patch). Needs `If-Match`. Orders already priced keep the tax amounts
/// they were priced with.
#[utoipa::path(patch, path = "/api/v1/taxes/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = TaxPatchDraft,
    responses((status = 200, body = Tax, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<TaxPatchDraft>,
) -> ApiResult<Response> {
    super::update::<Tax>(&state, ctx, id, version, patch).await
}

/// Archives a tax: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/taxes/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Tax), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::archive::<Tax>(&state, ctx, id, version).await
}

/// Restores an archived tax.
#[utoipa::path(post, path = "/api/v1/taxes/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Tax), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::restore::<Tax>(&state, ctx, id, version).await
}

/// Every change of one tax, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/taxes/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RecordHistory>> {
    super::history::<Tax>(&state, ctx, id).await
}
