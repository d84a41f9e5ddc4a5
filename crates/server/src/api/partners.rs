//! `/api/v1/partners`: customers and vendors of the organization the caller works in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::page::PageRequest;
use steelyard_domain::partner::{Partner, PartnerDraft, PartnerFilter, PartnerPatchDraft};
use steelyard_services::partners;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, number, text};
use crate::api::{EventView, KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "partners";

fn location(partner: &Partner) -> (String, i64) {
    (format!("/api/v1/partners/{}", partner.id), partner.version)
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
    /// `customer` (customers and `both`), `vendor` (vendors and `both`) or `both`.
    kind: Option<String>,
    /// Text the name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerList {
    pub items: Vec<Partner>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerHistory {
    pub items: Vec<EventView>,
}

/// Creates a partner. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/partners", tag = TAG, security(("bearer" = [])), request_body = PartnerDraft,
    responses((status = 201, body = Partner, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<PartnerDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(&state.app, ctx, draft.key, location, |ctx| async move {
        partners::create(&app, &ctx, draft.body).await
    })
    .await
}

/// Lists partners, in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/partners", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((PartnerList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
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
    let filter = PartnerFilter::parse(
        params.status.as_deref(),
        params.kind.as_deref(),
        params.q.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { partners::list(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, &TABLE, page, fetch).await;
    }
    let page = partners::list(&state.app, &ctx, &filter, page).await?;
    Ok(Json(PartnerList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static TABLE: Table<Partner> = Table {
    name: "partners",
    columns: &[
        text("id"),
        text("name"),
        text("kind"),
        text("tax_id"),
        text("email"),
        text("phone"),
        number("payment_terms_days"),
        text("currency"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row,
};

fn row(p: &Partner) -> Vec<String> {
    vec![
        p.id.to_string(),
        p.name.clone(),
        p.kind.as_str().into(),
        p.tax_id.clone().unwrap_or_default(),
        p.email.clone().unwrap_or_default(),
        p.phone.clone().unwrap_or_default(),
        p.payment_terms_days.to_string(),
        p.currency.clone().unwrap_or_default(),
        p.status.as_str().into(),
        p.version.to_string(),
        p.created_at.to_rfc3339(),
        p.updated_at.to_rfc3339(),
    ]
}

/// One partner; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/partners/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Partner, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let partner = partners::get(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, partner.version, &partner))
}

/// Changes a partner (merge patch; `contacts` and `addresses` are replaced whole). Needs
/// `If-Match`.
#[utoipa::path(patch, path = "/api/v1/partners/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = PartnerPatchDraft,
    responses((status = 200, body = Partner, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(draft): ApiJson<PartnerPatchDraft>,
) -> ApiResult<Response> {
    let partner = partners::update(&state.app, &ctx, id, version, draft).await?;
    Ok(with_etag(StatusCode::OK, partner.version, &partner))
}

/// Archives a partner: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/partners/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Partner), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let partner = partners::archive(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, partner.version, &partner))
}

/// Restores an archived partner.
#[utoipa::path(post, path = "/api/v1/partners/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Partner), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    let partner = partners::restore(&state.app, &ctx, id, version).await?;
    Ok(with_etag(StatusCode::OK, partner.version, &partner))
}

/// Every change of one partner, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/partners/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PartnerHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PartnerHistory>> {
    let items = partners::history(&state.app, &ctx, id).await?;
    Ok(Json(PartnerHistory {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
