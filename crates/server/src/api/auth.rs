//! `/api/v1/auth`: sign-in, token refresh, logout, the current user, and switching the
//! organization a session acts in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use steelyard_domain::access::Actor;
use steelyard_services::identity::{self, User};
use steelyard_services::{Ctx, access, sessions};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::edge::RequestId;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub const TAG: &str = "auth";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@example.com")]
    pub email: String,
    pub password: String,
    /// The organization to act in; the first one the user belongs to when absent.
    pub organization_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for new tokens; each refresh token works once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    pub organization_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutAllResponse {
    /// How many sessions were closed.
    pub sessions_revoked: u64,
}

/// The caller: the user, where they act, and what they may do there.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    pub organization_id: Option<Uuid>,
    /// SUPER_ADMIN, INTERNAL or EXTERNAL.
    pub data_scope: &'static str,
    pub permissions: Vec<&'static str>,
}

fn anonymous_ctx(request_id: Option<axum::Extension<RequestId>>) -> Ctx {
    let mut ctx = Ctx::system();
    ctx.request_id = request_id.map(|r| r.0.0.clone());
    ctx
}

fn tokens(
    state: &AppState,
    actor: &Actor,
    session_id: Uuid,
    refresh_token: Option<String>,
) -> ApiResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: state.keys.issue(actor, session_id)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.keys.ttl_secs,
    })
}

fn no_organization() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "no-organization",
        "you do not belong to that organization, or to any",
    )
}

/// Signs in with email and password; returns a short-lived access token and a refresh token.
/// Repeated failures lock the account for a growing time; the answer stays the same 401.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = TAG,
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ctx = anonymous_ctx(request_id);
    let Some(user) = identity::authenticate(&state.app, &body.email, &body.password).await? else {
        sessions::record_failed_login(&state.app, &ctx, &body.email).await?;
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "the email or password is wrong",
        ));
    };
    let actor = access::actor_for(&state.app, &user, body.organization_id)
        .await?
        .ok_or_else(no_organization)?;
    let session = sessions::start(&state.app, &ctx, &user, &actor).await?;
    Ok(Json(tokens(
        &state,
        &actor,
        session.session_id,
        Some(session.refresh_token),
    )?))
}

/// Exchanges a refresh token for new tokens. A refresh token works once; presenting a spent
/// one closes its whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = TAG,
    request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ctx = anonymous_ctx(request_id);
    let refreshed = sessions::refresh(&state.app, &ctx, &body.refresh_token)
        .await?
        .ok_or_else(Problem::unauthorized)?;
    Ok(Json(tokens(
        &state,
        &refreshed.actor,
        refreshed.session_id,
        Some(refreshed.refresh_token),
    )?))
}

/// Moves the session to another organization the user belongs to and returns an access token
/// for it (the refresh token stays valid and now refreshes into that organization).
#[utoipa::path(post, path = "/api/v1/auth/switch-organization", tag = TAG, security(("bearer" = [])),
    request_body = SwitchRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn switch_organization(
    State(state): State<AppState>,
    Authenticated(ctx, session): Authenticated,
    ApiJson(body): ApiJson<SwitchRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let session_id = session.ok_or_else(signed_in_only)?;
    let actor = access::switch_organization(&state.app, &ctx, session_id, body.organization_id)
        .await
        .map_err(|error| match error {
            steelyard_services::Error::NotFound(_) => no_organization(),
            other => other.into(),
        })?;
    Ok(Json(tokens(&state, &actor, session_id, None)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 12+ characters mixing at least two of: lower case, upper case, digits, symbols.
    pub new_password: String,
}

/// Changes your password. Every other session of yours is closed; this one stays open.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = TAG, security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 204), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    Authenticated(ctx, session): Authenticated,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let session_id = session.ok_or_else(signed_in_only)?;
    sessions::change_password(
        &state.app,
        &ctx,
        session_id,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn signed_in_only() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "session-required",
        "integration tokens have no session; sign in instead",
    )
}

/// Closes the caller's session: its refresh and access tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = TAG, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    Authenticated(ctx, session): Authenticated,
) -> ApiResult<StatusCode> {
    sessions::logout(&state.app, &ctx, session.ok_or_else(signed_in_only)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes every session of the caller, on every device.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = LogoutAllResponse), (status = 401, body = Problem)))]
pub async fn logout_all(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
) -> ApiResult<Json<LogoutAllResponse>> {
    let sessions_revoked = sessions::logout_all(&state.app, &ctx).await?;
    Ok(Json(LogoutAllResponse { sessions_revoked }))
}

/// The signed-in caller, where they act and their permissions there.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
) -> ApiResult<Json<Me>> {
    let user_id = ctx.actor.user_id.ok_or_else(Problem::unauthorized)?;
    let user = identity::get_user(&state.app, user_id).await?;
    Ok(Json(Me {
        user: User::from(&user),
        organization_id: ctx.actor.acting_org,
        data_scope: ctx.actor.scope.kind(),
        permissions: ctx.actor.permission_names(),
    }))
}
