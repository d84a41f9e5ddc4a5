//! `/api/v1/employees`: the people of the organization, each in one of its departments.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use steelyard_domain::employee::{Employee, EmployeeDraft, EmployeeFilter, EmployeePatchDraft};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{RecordHistory, meta_cells};
use crate::api::KeyedJson;
use crate::api::export::{Table, number, text};
use crate::auth::Authenticated;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "employees";
const BASE: &str = "/api/v1/employees";

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
    /// Only employees of this department.
    department_id: Option<String>,
    /// Text the code or name contains, ignoring case.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeList {
    pub items: Vec<Employee>,
    pub next_cursor: Option<String>,
}

static EXPORT: Table<Employee> = Table {
    name: "employees",
    columns: &[
        text("id"),
        text("code"),
        text("name"),
        text("department_id"),
        text("job_title"),
        text("email"),
        text("phone"),
        text("hired_on"),
        text("status"),
        number("version"),
        text("created_at"),
        text("updated_at"),
    ],
    row: |e| {
        let f = &e.fields;
        let mut row = vec![
            e.id.to_string(),
            f.code.clone(),
            f.name.clone(),
            f.department_id.to_string(),
            f.job_title.clone().unwrap_or_default(),
            f.email.clone().unwrap_or_default(),
            f.phone.clone().unwrap_or_default(),
            f.hired_on.map(|d| d.to_string()).unwrap_or_default(),
        ];
        row.extend(meta_cells(e));
        row
    },
};
/// Creates an employee. Needs `hr.manage`. Its department must be an active department of
/// the organization. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/employees", tag = TAG, security(("bearer" = [])), request_body = EmployeeDraft,
    responses((status = 201, body = Employee, headers(("Location" = String), ("ETag" = String))),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<EmployeeDraft>,
) -> ApiResult<Response> {
    super::create::<Employee>(&state, ctx, draft, BASE).await
}

/// Lists employees in creation order.
/// With `Accept: text/csv` or the XLSX type, every page streams as a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/employees", tag = TAG, security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "The page as JSON, or every page as CSV or XLSX (by `Accept`)",
            content((EmployeeList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let parse = |errors: &mut _| {
        EmployeeFilter::parse(
            p.status.as_deref(),
            p.department_id.as_deref(),
            p.q.as_deref(),
            errors,
        )
    };
    let paging = (p.limit.as_deref(), p.cursor.as_deref());
    let wrap = |items, next_cursor| EmployeeList { items, next_cursor };
    super::list::<Employee, _>(&state, ctx, &headers, paging, parse, &EXPORT, wrap).await
}

/// One employee; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/api/v1/employees/{id}", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Employee, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    super::get::<Employee>(&state, ctx, id).await
}

/// Changes an employee (merge patch). Needs `If-Match`. Moving it needs an active department
/// of the organization.
#[utoipa::path(patch, path = "/api/v1/employees/{id}", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The ETag you read")), request_body = EmployeePatchDraft,
    responses((status = 200, body = Employee, headers(("ETag" = String))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
    ApiJson(patch): ApiJson<EmployeePatchDraft>,
) -> ApiResult<Response> {
    super::update::<Employee>(&state, ctx, id, version, patch).await
}

/// Archives an employee: it stays readable and is hidden from the default list.
#[utoipa::path(post, path = "/api/v1/employees/{id}/archive", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Employee), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::archive::<Employee>(&state, ctx, id, version).await
}

/// Restores an archived employee.
#[utoipa::path(post, path = "/api/v1/employees/{id}/restore", tag = TAG, security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Employee), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(version): IfMatch,
) -> ApiResult<Response> {
    super::restore::<Employee>(&state, ctx, id, version).await
}

/// Every change of one employee, oldest first, with before and after values.
#[utoipa::path(get, path = "/api/v1/employees/{id}/history", tag = TAG, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordHistory), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RecordHistory>> {
    super::history::<Employee>(&state, ctx, id).await
}
