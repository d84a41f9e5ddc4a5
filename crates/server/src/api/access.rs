//! `/api/v1/users`, `/api/v1/roles` and `/api/v1/auth/tokens`: who works in an organization,
//! with which role, and the integration tokens they hold.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use steelyard_services::access::{self, CreatedUser, Member, RoleDraft, RoleView, UserDraft};
use steelyard_services::identity::User;
use steelyard_services::tokens::{self, CreatedToken, TokenDraft, TokenView};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::export::{self, Format, Table, text};
use crate::api::{KeyedJson, create_once};
use crate::auth::Authenticated;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsersParams {
    /// Super-admins only: whose users to list (default: the organization you act in).
    organization_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<Member>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// Adds a user to an organization with a role; the answer carries a one-time password.
/// Needs `user.manage`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = UserDraft,
    responses((status = 201, body = CreatedUser), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<UserDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    let locate = |created: &CreatedUser| (format!("/api/v1/users/{}", created.user.user.id), 1);
    create_once(&state.app, ctx, draft.key, locate, |ctx| async move {
        access::create_user(&app, &ctx, draft.body).await
    })
    .await
}

/// The users of the organization you act in, with their roles. Needs `user.read`.
/// `Accept: text/csv` or the XLSX type answers a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UsersParams),
    responses((status = 200, description = "The users as JSON, or as CSV or XLSX (by `Accept`)",
            content((UserList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<UsersParams>,
) -> ApiResult<Response> {
    let items = access::list_users(&state.app, &ctx, params.organization_id).await?;
    match Format::wanted(&headers) {
        Some(format) => export::all(format, &USERS, items).await,
        None => Ok(Json(UserList { items }).into_response()),
    }
}

static USERS: Table<Member> = Table {
    name: "users",
    columns: &[
        text("id"),
        text("email"),
        text("display_name"),
        text("status"),
        text("role"),
        text("partner_id"),
        text("organization_id"),
    ],
    row: |m| {
        vec![
            m.user.id.to_string(),
            m.user.email.clone(),
            m.user.display_name.clone(),
            m.user.status.clone(),
            m.role.clone(),
            m.partner_id.map(|p| p.to_string()).unwrap_or_default(),
            m.organization_id.to_string(),
        ]
    },
};

/// One user of the organization you act in. Needs `user.read`.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Member), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Member>> {
    Ok(Json(access::get_member(&state.app, &ctx, id).await?))
}

/// Disables a user: every session closes at once and sign-in is refused. Needs `user.manage`.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn disable_user(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        access::set_user_enabled(&state.app, &ctx, id, false).await?,
    ))
}

/// Enables a disabled user again. Needs `user.manage`.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "users", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn enable_user(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        access::set_user_enabled(&state.app, &ctx, id, true).await?,
    ))
}

/// The built-in roles and the organization's custom roles, with their permissions.
/// Needs `role.read`. `Accept: text/csv` or the XLSX type answers a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/roles", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The roles as JSON, or as CSV or XLSX (by `Accept`)",
            content((RoleList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn list_roles(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let items = access::list_roles(&state.app, &ctx).await?;
    match Format::wanted(&headers) {
        Some(format) => export::all(format, &ROLES, items).await,
        None => Ok(Json(RoleList { items }).into_response()),
    }
}

static ROLES: Table<RoleView> = Table {
    name: "roles",
    columns: &[text("name"), text("built_in"), text("permissions")],
    row: |r| {
        vec![
            r.name.clone(),
            r.built_in.to_string(),
            r.permissions.join(" "),
        ]
    },
};

/// One role, built-in or custom. Needs `role.read`.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "users", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = RoleView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_role(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(access::get_role(&state.app, &ctx, &name).await?))
}

/// Creates a custom role granting named permissions. Needs `role.manage`.
#[utoipa::path(post, path = "/api/v1/roles", tag = "users", security(("bearer" = [])), request_body = RoleDraft,
    responses((status = 201, body = RoleView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_role(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<RoleDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    let locate = |role: &RoleView| (format!("/api/v1/roles/{}", role.name), 1);
    create_once(&state.app, ctx, draft.key, locate, |ctx| async move {
        access::create_role(&app, &ctx, draft.body).await
    })
    .await
}

/// Creates an integration token; the secret is in the answer and never shown again.
/// Needs `token.manage`.
#[utoipa::path(post, path = "/api/v1/auth/tokens", tag = "auth", security(("bearer" = [])), request_body = TokenDraft,
    responses((status = 201, body = CreatedToken), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    draft: KeyedJson<TokenDraft>,
) -> ApiResult<Response> {
    let app = state.app.clone();
    let locate = |token: &CreatedToken| (format!("/api/v1/auth/tokens/{}", token.view.id), 1);
    create_once(&state.app, ctx, draft.key, locate, |ctx| async move {
        tokens::create_token(&app, &ctx, draft.body).await
    })
    .await
}

/// Your integration tokens (never their secrets). Needs `token.manage`.
/// `Accept: text/csv` or the XLSX type answers a file (docs/export.md).
#[utoipa::path(get, path = "/api/v1/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The tokens as JSON, or as CSV or XLSX (by `Accept`)",
            content((TokenList = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let items = tokens::list_tokens(&state.app, &ctx).await?;
    match Format::wanted(&headers) {
        Some(format) => export::all(format, &TOKENS, items).await,
        None => Ok(Json(TokenList { items }).into_response()),
    }
}

static TOKENS: Table<TokenView> = Table {
    name: "tokens",
    columns: &[
        text("id"),
        text("name"),
        text("organization_id"),
        text("permissions"),
        text("created_at"),
        text("expires_at"),
        text("last_used_at"),
        text("revoked_at"),
    ],
    row: |t| {
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339()).unwrap_or_default()
        };
        vec![
            t.id.to_string(),
            t.name.clone(),
            t.organization_id.map(|o| o.to_string()).unwrap_or_default(),
            t.permissions.join(" "),
            t.created_at.to_rfc3339(),
            time(t.expires_at),
            time(t.last_used_at),
            time(t.revoked_at),
        ]
    },
};

/// One of your integration tokens (never its secret). Needs `token.manage`.
#[utoipa::path(get, path = "/api/v1/auth/tokens/{id}", tag = "auth", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_token(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<TokenView>> {
    Ok(Json(tokens::get_token(&state.app, &ctx, id).await?))
}

/// Revokes one of your integration tokens at once. Needs `token.manage`.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", tag = "auth", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    tokens::revoke_token(&state.app, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
