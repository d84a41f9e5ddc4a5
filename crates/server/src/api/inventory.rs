//! `/api/v1/locations` and `/api/v1/inventory`: where stock is, and the moves that change it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::inventory::{Location, LocationDraft, StockLevel, StockMove, Valuation};
use steelyard_domain::page::PageRequest;
use steelyard_services::inventory::{self, AdjustmentDraft, Posted, TransferDraft};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Chunk, EXPORT_PAGE, Format, Table, number, text};
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
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/locations", tag = "inventory", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((LocationList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn list_locations(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx) = (app.clone(), ctx.clone());
            async move { inventory::list_locations(&app, &ctx, page).await }
        };
        return export::pages(format, &LOCATIONS, page, fetch).await;
    }
    let page = inventory::list_locations(&state.app, &ctx, page).await?;
    Ok(Json(LocationList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static LOCATIONS: Table<Location> = Table {
    name: "locations",
    columns: &[
        text("id"),
        text("code"),
        text("name"),
        text("kind"),
        text("parent_id"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |l| {
        vec![
            l.id.to_string(),
            l.code.clone(),
            l.name.clone(),
            l.kind.as_str().into(),
            l.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            l.status.as_str().into(),
            l.version.to_string(),
            l.created_at.to_rfc3339(),
            l.updated_at.to_rfc3339(),
        ]
    },
};

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

/// Rows of the JSON stock list (an export has no limit).
const STOCK_JSON_LIMIT: u32 = 10_000;

/// On hand, reserved and available per product and internal location. Needs `inventory.read`.
/// With `Accept: text/csv` or the XLSX type, every row streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/inventory/stock", tag = "inventory", security(("bearer" = [])), params(StockParams),
    responses((status = 200, description = "The levels as JSON, or as CSV or XLSX (by `Accept`)",
            content((StockList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn stock(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StockParams>,
) -> ApiResult<Response> {
    let filter = (params.product_id, params.location_id);
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |after| {
            let (app, ctx) = (app.clone(), ctx.clone());
            async move {
                let items = inventory::levels(&app, &ctx, filter, after, EXPORT_PAGE).await?;
                let next = (items.len() == EXPORT_PAGE as usize)
                    .then(|| items.last().map(|l| (l.product_id, l.location_id)))
                    .flatten();
                Ok(Chunk { items, next })
            }
        };
        return export::stream(format, &STOCK, fetch).await;
    }
    let items = inventory::levels(&state.app, &ctx, filter, None, STOCK_JSON_LIMIT).await?;
    Ok(Json(StockList { items }).into_response())
}

static STOCK: Table<StockLevel> = Table {
    name: "stock",
    columns: &[
        text("product_id"),
        text("location_id"),
        number("on_hand"),
        number("reserved"),
        number("available"),
    ],
    row: |l| {
        vec![
            l.product_id.to_string(),
            l.location_id.to_string(),
            l.on_hand.to_string(),
            l.reserved.to_string(),
            l.available.to_string(),
        ]
    },
};

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
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/inventory/moves", tag = "inventory", security(("bearer" = [])), params(MoveParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((MoveList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn moves(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<MoveParams>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        &mut errors,
    );
    errors.finish().map_err(steelyard_services::Error::from)?;
    let product_id = params.product_id;
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx) = (app.clone(), ctx.clone());
            async move { inventory::moves(&app, &ctx, product_id, page).await }
        };
        return export::pages(format, &MOVES, page, fetch).await;
    }
    let page = inventory::moves(&state.app, &ctx, product_id, page).await?;
    Ok(Json(MoveList {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

static MOVES: Table<StockMove> = Table {
    name: "stock-moves",
    columns: &[
        text("id"),
        text("product_id"),
        text("from_location_id"),
        text("to_location_id"),
        number("quantity"),
        number("unit_cost"),
        text("kind"),
        text("reference"),
        text("created_at"),
    ],
    row: |m| {
        vec![
            m.id.to_string(),
            m.product_id.to_string(),
            m.from_location_id.to_string(),
            m.to_location_id.to_string(),
            m.quantity.to_string(),
            m.unit_cost.to_string(),
            m.kind.as_str().into(),
            m.reference.clone().unwrap_or_default(),
            m.created_at.to_rfc3339(),
        ]
    },
};

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
