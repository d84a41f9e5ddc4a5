//! `/api/v1/organizations`: the tenants. The handlers only parse, call one service, and shape
//! the response; rules live in the domain and the services.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::organization::{
    Organization, OrganizationDraft, OrganizationFilter, OrganizationPatchDraft,
};
use steelyard_domain::page::PageRequest;
use steelyard_services::organizations;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, number, text};
use crate::api::{EventView, KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "organizations";

fn location(org: &Organization) -> (String, i64) {
    (format!("/api/v1/organizations/{}", org.id), org.version)
}

/// Query parameters of the list.
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
    /// Text the name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    pub items: Vec<Organization>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub items: Vec<EventView>,
}

/// Creates an organization. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/organizations", tag = TAG, security(("bearer" = [])),
    request_body = OrganizationDraft,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, body = Organization, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<OrganizationDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(&state.app, ctx, draft.key, location, |ctx| async move {
        organizations::create(&app, &ctx, draft.body).await
    })
    .await
}

/// Lists organizations visible to the caller, in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/organizations", tag = TAG, security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((OrganizationList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: axum::http::HeaderMap,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    let filter =
        OrganizationFilter::parse(params.status.as_deref(), params.q.as_deref(), &mut errors);
    errors.finish().map_err(steelyard_services::Error::from)?;
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { organizations::list(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, &TABLE, page, fetch).await;
    }
    let page = organizations::list(&state.app, &ctx, &filter, page).await?;
    Ok(Json(OrganizationList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static TABLE: Table<Organization> = Table {
    name: "organizations",
    columns: &[
        text("id"),
        text("name"),
        text("legal_name"),
        text("tax_id"),
        text("base_currency"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row,
};

fn row(o: &Organization) -> Vec<String> {
    vec![
        o.id.to_string(),
        o.name.clone(),
        o.legal_name.clone().unwrap_or_default(),
        o.tax_id.clone().unwrap_or_default(),
        o.base_currency.clone(),
        o.status.as_str().into(),
        o.version.to_string(),
        o.created_at.to_rfc3339(),
        o.updated_at.to_rfc3339(),
    ]
}

/// One organization; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Organization, headers(("ETag" = String))), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let org = organizations::get(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, org.version, &org))
}

/// Changes an organization (merge patch: absent fields stay, `null` clears). Needs `If-Match`.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")),
    request_body = OrganizationPatchDraft,
    responses((status = 200, body = Organization, headers(("ETag" = String))),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(draft): ApiJson<OrganizationPatchDraft>,
) -> ApiResult<Response> {
    let org = organizations::update(&state.app, &ctx, id, version, draft).await?;
    Ok(with_etag(StatusCode::OK, org.version, &org))
}

/// Archives an organization: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Organization), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let org = organizations::archive(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, org.version, &org))
}

/// Restores an archived organization.
#[utoipa::path(post, path = "/api/v1/organizations/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Organization), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let org = organizations::restore(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, org.version, &org))
}

/// Every change of one organization, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/history", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = History), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<History>> {
    let items = organizations::history(&state.app, &ctx, id).await?;
    Ok(Json(History {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
