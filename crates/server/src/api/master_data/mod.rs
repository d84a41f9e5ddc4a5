//! Master data over HTTP: `/api/v1/commodities`, `/taxes`, `/accounts`, `/departments`,
//! `/employees` and the read-only `/units`. Each kind's module declares its handlers and their
//! OpenAPI documentation; the bodies are the shared helpers here.

pub mod accounts;
pub mod commodities;
pub mod departments;
pub mod employees;
pub mod taxes;
pub mod units;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steelyard_domain::FieldErrors;
use steelyard_domain::master::MasterRecord;
use steelyard_domain::page::PageRequest;
use steelyard_services::master_data::{self, Draft, MasterData, Patch};
use steelyard_services::{Ctx, Expected};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::export::{self, Format, Table};
use crate::api::{EventView, KeyedJson, create_once};
use crate::extract::with_etag;
use crate::problem::ApiResult;
use crate::state::AppState;

/// Every change of one record, oldest first, with before and after values.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordHistory {
    pub items: Vec<EventView>,
}

/// The cells every kind's CSV row ends with: status, version, created_at, updated_at.
pub fn meta_cells<T: MasterRecord>(record: &T) -> [String; 4] {
    let meta = record.meta();
    [
        meta.status.as_str().into(),
        meta.version.to_string(),
        meta.created_at.to_rfc3339(),
        meta.updated_at.to_rfc3339(),
    ]
}

fn etagged<T: MasterData>(status: StatusCode, record: &T) -> Response {
    with_etag(status, record.meta().version, record)
}

pub async fn create<T: MasterData>(
    state: &AppState,
    ctx: Ctx,
    draft: KeyedJson<Draft<T>>,
    base: &'static str,
) -> ApiResult<Response>
where
    Draft<T>: Send + 'static,
{
    let app = state.app.clone();
    let locate = move |record: &T| (format!("{base}/{}", record.id()), record.meta().version);
    create_once(&state.app, ctx, draft.key, locate, |ctx| async move {
        master_data::create::<T>(&app, &ctx, draft.body).await
    })
    .await
}

/// A page of the list as JSON (`wrap` makes the kind's list body), or with `Accept: text/csv`
/// or the XLSX type every page as a file (docs/export.md). `parse_filter` records its errors with the paging ones, so a bad request
/// names every bad parameter at once.
pub async fn list<T, L>(
    state: &AppState,
    ctx: Ctx,
    headers: &HeaderMap,
    (limit, cursor): (Option<&str>, Option<&str>),
    parse_filter: impl FnOnce(&mut FieldErrors) -> T::Filter,
    table: &'static Table<T>,
    wrap: fn(Vec<T>, Option<String>) -> L,
) -> ApiResult<Response>
where
    T: MasterData,
    T::Filter: Clone + 'static,
    L: Serialize,
{
    let mut errors = FieldErrors::new();
    let page = PageRequest::parse(limit, cursor, &mut errors);
    let filter = parse_filter(&mut errors);
    errors.finish().map_err(steelyard_services::Error::from)?;
    if let Some(format) = Format::wanted(headers) {
        let app = state.app.clone();
        let fetch = move |page| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move { master_data::list::<T>(&app, &ctx, &filter, page).await }
        };
        return export::pages(format, table, page, fetch).await;
    }
    let page = master_data::list::<T>(&state.app, &ctx, &filter, page).await?;
    Ok(Json(wrap(page.items, page.next_cursor)).into_response())
}

pub async fn get<T: MasterData>(state: &AppState, ctx: Ctx, id: Uuid) -> ApiResult<Response> {
    let record = master_data::get::<T>(&state.app, &ctx, id).await?;
    Ok(etagged(StatusCode::OK, &record))
}

pub async fn update<T: MasterData>(
    state: &AppState,
    ctx: Ctx,
    id: Uuid,
    expected: Option<Expected>,
    patch: Patch<T>,
) -> ApiResult<Response> {
    let record = master_data::update::<T>(&state.app, &ctx, id, expected, patch).await?;
    Ok(etagged(StatusCode::OK, &record))
}

pub async fn archive<T: MasterData>(
    state: &AppState,
    ctx: Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> ApiResult<Response> {
    let record = master_data::archive::<T>(&state.app, &ctx, id, expected).await?;
    Ok(etagged(StatusCode::OK, &record))
}

pub async fn restore<T: MasterData>(
    state: &AppState,
    ctx: Ctx,
    id: Uuid,
    expected: Option<Expected>,
) -> ApiResult<Response> {
    let record = master_data::restore::<T>(&state.app, &ctx, id, expected).await?;
    Ok(etagged(StatusCode::OK, &record))
}

pub async fn history<T: MasterData>(
    state: &AppState,
    ctx: Ctx,
    id: Uuid,
) -> ApiResult<Json<RecordHistory>> {
    let items = master_data::history::<T>(&state.app, &ctx, id).await?;
    Ok(Json(RecordHistory {
        items: items.into_iter().map(EventView::from).collect(),
    }))
}
