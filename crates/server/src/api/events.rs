//! `/api/v1/events`: the audit trail of an organization, filtered, oldest first.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_domain::FieldErrors;
use steelyard_domain::event::EventRecord;
use steelyard_domain::validation::invalid;
use steelyard_services::events;
use steelyard_store::events::EventFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::EventView;
use crate::api::export::{self, Chunk, EXPORT_PAGE, Format, Table, number, text};
use crate::auth::Authenticated;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Super-admins only: whose trail to read (default: the organization you act in).
    organization_id: Option<Uuid>,
    /// e.g. `partner`.
    aggregate_type: Option<String>,
    aggregate_id: Option<Uuid>,
    /// e.g. `partner.updated`.
    kind: Option<String>,
    /// `user:<id>`, `token:<id>` or `system`.
    actor: Option<String>,
    /// RFC 3339; events at or after.
    from: Option<String>,
    /// RFC 3339; events before.
    to: Option<String>,
    /// Events after this sequence number (the `next_after` of the previous page).
    after: Option<i64>,
    /// 1 to 500 (default 100).
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<i64>,
}

/// Events of one organization, in sequence order. Needs `event.read`.
/// With `Accept: text/csv` or the XLSX type, every event after `after` streams as a file
/// (docs/export.md).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])), params(EventParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((EventList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventParams>,
) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let mut time = |field: &str, raw: Option<&str>| {
        raw.and_then(|raw| {
            errors.take(
                field,
                chrono::DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        invalid(
                            "invalid",
                            "must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z",
                        )
                    }),
            )
        })
    };
    let from = time("from", params.from.as_deref());
    let to = time("to", params.to.as_deref());
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        errors.add(
            "limit",
            "out_of_range",
            "must be a whole number from 1 to 500",
        );
    }
    errors.finish().map_err(steelyard_services::Error::from)?;
    let filter = EventFilter {
        aggregate_type: params.aggregate_type,
        aggregate_id: params.aggregate_id,
        kind: params.kind,
        actor: params.actor,
        from,
        to,
    };
    let organization = params.organization_id;
    let start = params.after.unwrap_or(0);
    if let Some(format) = Format::wanted(&headers) {
        let app = state.app.clone();
        let fetch = move |after: Option<i64>| {
            let (app, ctx, filter) = (app.clone(), ctx.clone(), filter.clone());
            async move {
                let after = after.unwrap_or(start);
                let (items, more) =
                    events::list(&app, &ctx, organization, &filter, after, EXPORT_PAGE).await?;
                let next = if more {
                    items.last().map(|e| e.seq)
                } else {
                    None
                };
                Ok(Chunk { items, next })
            }
        };
        return export::stream(format, &TABLE, fetch).await;
    }
    let (items, more) = events::list(&state.app, &ctx, organization, &filter, start, limit).await?;
    let next_after = if more {
        items.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(EventList {
        items: items.into_iter().map(EventView::from).collect(),
        next_after,
    })
    .into_response())
}

static TABLE: Table<EventRecord> = Table {
    name: "events",
    columns: &[
        number("seq"),
        text("id"),
        text("occurred_at"),
        text("aggregate_type"),
        text("aggregate_id"),
        text("kind"),
        text("actor"),
        text("request_id"),
        text("data"),
        text("changes"),
        text("hash"),
    ],
    row: |e| {
        vec![
            e.seq.to_string(),
            e.id.to_string(),
            e.occurred_at.to_rfc3339(),
            e.aggregate_type.clone(),
            e.aggregate_id.to_string(),
            e.kind.clone(),
            e.actor.clone(),
            e.request_id.clone().unwrap_or_default(),
            e.data.clone(),
            e.changes.clone(),
            e.hash.clone(),
        ]
    },
};
