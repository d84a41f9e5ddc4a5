//! `/api/v1/locations` and `/api/v1/inventory`: where stock is, and the moves that change it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::inventory::{Location, LocationDraft, StockLevel, StockMove, Valuation};
use steelyard_domain::page::PageRequest;
use steelyard_services::inventory::{self, AdjustmentDraft, Posted, TransferDraft};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::{KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiPath, ApiQuery, with_etag};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationList {
    pub items: Vec<Location>,
    pub next_cursor: Option<String>,
}

/// Creates an internal location (a warehouse, or a place inside one with `parent_id`).
/// Needs `inventory.move`.
#[utoipa::path(post, path = "/api/v1/locations", tag = "inventory", security(("bearer" = [])), request_body = LocationDraft,
    responses((status = 201, body = Location), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_location(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<LocationDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    let locate = |l: &Location| (format!("/api/v1/locations/{}", l.id), l.version);
    create_once(&state.app, ctx, draft.key, locate, |ctx| async move {
        inventory::create_location(&app, &ctx, draft.body).await
    })
    .await
}

/// The organization's locations, internal and virtual. Needs `inventory.read`.
#[utoipa::path(get, path = "/api/v1/locations", tag = "inventory", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = LocationList), (status = 403, body = Problem)))]
pub async fn list_locations(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<LocationList>> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    let page = inventory::list_locations(&state.app, &ctx, page).await?;
    Ok(Json(LocationList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One location. Needs `inventory.read`.
#[utoipa::path(get, path = "/api/v1/locations/{id}", tag = "inventory", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Location), (status = 404, body = Problem)))]
pub async fn get_location(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let location = inventory::get_location(&state.app, &ctx, id).await?;
    Ok(with_etag(StatusCode::OK, location.version, &location))
}

fn posted_location(posted: &Posted) -> (String, i64) {
    (
        format!(
            "/api/v1/inventory/stock?product_id={}",
            posted.stock_move.product_id
        ),
        1,
    )
}

/// Adjusts stock in one location (counts, losses, found stock). Needs `inventory.move`.
#[utoipa::path(post, path = "/api/v1/inventory/adjustments", tag = "inventory", security(("bearer" = [])), request_body = AdjustmentDraft,
    responses((status = 201, body = Posted), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn adjust(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<AdjustmentDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(
        &state.app,
        ctx,
        draft.key,
        posted_location,
        |ctx| async move { inventory::adjust(&app, &ctx, draft.body).await },
    )
    .await
}

/// Moves stock between two internal locations. Refused (409) when not enough is available.
/// Needs `inventory.move`.
#[utoipa::path(post, path = "/api/v1/inventory/transfers", tag = "inventory", security(("bearer" = [])), request_body = TransferDraft,
    responses((status = 201, body = Posted), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transfer(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<TransferDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    create_once(
        &state.app,
        ctx,
        draft.key,
        posted_location,
        |ctx| async move { inventory::transfer(&app, &ctx, draft.body).await },
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StockParams {
    product_id: Option<Uuid>,
    location_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockList {
    pub items: Vec<StockLevel>,
}

/// On hand, reserved and available per product and internal location. Needs `inventory.read`.
#[utoipa::path(get, path = "/api/v1/inventory/stock", tag = "inventory", security(("bearer" = [])), params(StockParams),
    responses((status = 200, body = StockList), (status = 403, body = Problem)))]
pub async fn stock(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiQuery(params): ApiQuery<StockParams>,
) -> ApiResult<Json<StockList>> {
    Ok(Json(StockList {
        items: inventory::levels(&state.app, &ctx, params.product_id, params.location_id).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MoveParams {
    product_id: Option<Uuid>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoveList {
    pub items: Vec<StockMove>,
    pub next_cursor: Option<String>,
}

/// The stock ledger, oldest first. Needs `inventory.read`.
#[utoipa::path(get, path = "/api/v1/inventory/moves", tag = "inventory", security(("bearer" = [])), params(MoveParams),
    responses((status = 200, body = MoveList), (status = 403, body = Problem)))]
pub async fn moves(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiQuery(params): ApiQuery<MoveParams>,
) -> ApiResult<Json<MoveList>> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    let page = inventory::moves(&state.app, &ctx, params.product_id, page).await?;
    Ok(Json(MoveList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A product's stock quantity, moving average cost and value. Needs `inventory.read`.
#[utoipa::path(get, path = "/api/v1/products/{id}/valuation", tag = "inventory", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Valuation), (status = 404, body = Problem)))]
pub async fn valuation(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Valuation>> {
    Ok(Json(inventory::valuation(&state.app, &ctx, id).await?))
}
