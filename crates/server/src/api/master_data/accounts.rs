//! `/api/v1/accounts`: the chart of accounts. Every organization starts with the baseline chart.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steelyard_domain::account::{Account, AccountDraft, AccountFilter, AccountPatchDraft};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{RecordHistory, meta_cells};
use crate::api::KeyedJson;
use crate::api::export::{Table, number, text};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "accounts";
const BASE: &str = "/api/v1/accounts";

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
    /// `asset`, `liability`, `equity`, `income` or `expense`.
    account_type: Option<String>,
    /// Text the code or name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<Account>,
    pub next_cursor: Option<String>,
}

static EXPORT: Table<Account> = Table {
    name: "accounts",
    columns: &[
        text("id"),
        text("code"),
        text("name"),
        text("account_type"),
        text("description"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |a| {
        let f = &a.fields;
        let mut row = vec![
            a.id.to_string(),
            f.code.clone(),
            f.name.clone(),
            f.account_type.as_str().into(),
            f.description.clone().unwrap_or_default(),
        ];
        row.extend(meta_cells(a));
        row
    },
};
/// Creates an account. Needs `accounting.post`. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/accounts", tag = TAG, security(("bearer" = [])), request_body = AccountDraft,
    responses((status = 201, body = Account, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<AccountDraft>,
) -> ApiResult<Response> {
    super::create::<Account>(&state, ctx, draft, BASE).await
}

/// Lists accounts in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/accounts", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((AccountList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let parse = |errors: &mut _| {
        AccountFilter::parse(
            p.status.as_deref(),
            p.account_type.as_deref(),
            p.q.as_deref(),
            errors,
        )
    };
    let paging = (p.limit.as_deref(), p.cursor.as_deref());
    let wrap = |items, next_cursor| AccountList { items, next_cursor };
    super::list::<Account, _>(&state, ctx, &headers, paging, parse, &EXPORT, wrap).await
}

/// One account; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Account, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    super::get::<Account>(&state, ctx, id).await
}

/// Changes an account (merge patch). Needs `If-Match`.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = AccountPatchDraft,
    responses((status = 200, body = Account, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<AccountPatchDraft>,
) -> ApiResult<Response> {
    super::update::<Account>(&state, ctx, id, version, patch).await
}

/// Archives an account: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Account), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::archive::<Account>(&state, ctx, id, version).await
}

/// Restores an archived account.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Account), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::restore::<Account>(&state, ctx, id, version).await
}

/// Every change of one account, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RecordHistory>> {
    super::history::<Account>(&state, ctx, id).await
}
