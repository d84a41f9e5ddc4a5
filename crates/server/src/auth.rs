//! Authentication at the edge: JWT access tokens, the extractor that turns a bearer token into
//! an [`Actor`], and the sign-in endpoints.
//!
//! Tokens are HS256 only: the algorithm is pinned, so `alg: none` and HS/RS confusion are
//! refused; signature, expiry, issuer and audience are all checked, and every failure is the
//! same 401 with no hint of which check failed.

use std::path::Path;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use steelyard_domain::access::Actor;
use steelyard_services::Ctx;
use steelyard_services::identity::{self, User};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::{Config, Environment};
use crate::edge::RequestId;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// The signing keys and the rules tokens are checked against.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Keys {
    pub fn new(secret: &[u8], config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: config.access_token_ttl.as_secs(),
        }
    }

    pub fn issue(&self, user_id: Uuid, session_id: Uuid) -> Result<String, Problem> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            jti: steelyard_domain::new_id().to_string(),
            sid: session_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| steelyard_services::Error::Internal(e.to_string()).into())
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// The JWT secret: the configured one, or in development one generated once and kept (in
/// the data dir next to the SQLite file, or in the database when it is shared).
pub async fn load_secret(
    config: &Config,
    app: &steelyard_services::App,
) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.0.as_bytes().to_vec());
    }
    anyhow::ensure!(
        config.environment == Environment::Development,
        "production needs STEELYARD_JWT_SECRET"
    );
    let generated = random_secret();
    let secret = match app.db.backend() {
        steelyard_store::Backend::Sqlite => secret_file(&config.data_dir, &generated)?,
        steelyard_store::Backend::Postgres => {
            steelyard_store::users::instance_secret(&app.db, "jwt_secret", &generated).await?
        }
    };
    tracing::warn!(
        "no STEELYARD_JWT_SECRET set: using a generated development secret; set one for production"
    );
    Ok(secret.into_bytes())
}

fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 48] = rand::random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

fn secret_file(data_dir: &Path, generated: &str) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&path, generated)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(generated.to_owned())
}

/// The user id of a request's valid bearer token, if any (the rate limiter keys on it).
pub fn bearer_subject(keys: &Keys, headers: &axum::http::HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    keys.verify(token.trim()).map(|claims| claims.sub)
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session the token belongs to; logging out closes it.
    sid: String,
}

/// A request made by a signed-in caller; handlers take it to get the service context.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Ctx, pub Uuid);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(Problem::unauthorized)?;
        let claims = state
            .keys
            .verify(token.trim())
            .ok_or_else(Problem::unauthorized)?;
        let user_id: Uuid = claims.sub.parse().map_err(|_| Problem::unauthorized())?;
        let session_id: Uuid = claims.sid.parse().map_err(|_| Problem::unauthorized())?;
        let user = identity::get_user(&state.app, user_id)
            .await
            .map_err(|_| Problem::unauthorized())?;
        let open = identity::session_is_open(&state.app, session_id, user_id).await?;
        if user.status != "active" || !open {
            return Err(Problem::unauthorized());
        }
        let actor: Actor = identity::actor_of(&user);
        tracing::Span::current().record("user", tracing::field::display(&actor.subject));
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Self(Ctx::new(actor, request_id), session_id))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "admin@example.com")]
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for new tokens; each refresh token works once.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutAllResponse {
    /// How many sessions were closed.
    pub sessions_revoked: u64,
}

fn request_ctx(request_id: Option<axum::Extension<RequestId>>) -> Ctx {
    let mut ctx = Ctx::system();
    ctx.request_id = request_id.map(|r| r.0.0.clone());
    ctx
}

fn tokens(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    refresh_token: String,
) -> Result<TokenResponse, Problem> {
    Ok(TokenResponse {
        access_token: state.keys.issue(user_id, session_id)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.keys.ttl_secs,
    })
}

/// Signs in with email and password; returns a short-lived access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ctx = request_ctx(request_id);
    let Some(user) = identity::authenticate(&state.app, &body.email, &body.password).await? else {
        identity::record_failed_login(&state.app, &ctx, &body.email).await?;
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "the email or password is wrong",
        ));
    };
    let session = identity::start_session(&state.app, &ctx, &user).await?;
    Ok(Json(tokens(
        &state,
        user.id,
        session.session_id,
        session.refresh_token,
    )?))
}

/// Exchanges a refresh token for new tokens. A refresh token works once; presenting a spent
/// one closes its whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<RequestId>>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ctx = request_ctx(request_id);
    let refreshed = identity::refresh(&state.app, &ctx, &body.refresh_token)
        .await?
        .ok_or_else(Problem::unauthorized)?;
    Ok(Json(tokens(
        &state,
        refreshed.user.id,
        refreshed.session_id,
        refreshed.refresh_token,
    )?))
}

/// Closes the caller's session: its refresh and access tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    Authenticated(ctx, session_id): Authenticated,
) -> ApiResult<StatusCode> {
    identity::logout(&state.app, &ctx, session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes every session of the caller, on every device.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = LogoutAllResponse), (status = 401, body = Problem)))]
pub async fn logout_all(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
) -> ApiResult<Json<LogoutAllResponse>> {
    let sessions_revoked = identity::logout_all(&state.app, &ctx).await?;
    Ok(Json(LogoutAllResponse { sessions_revoked }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(ctx, _): Authenticated,
) -> ApiResult<Json<User>> {
    let user_id = ctx.actor.user_id.ok_or_else(Problem::unauthorized)?;
    let user = identity::get_user(&state.app, user_id).await?;
    Ok(Json(User::from(&user)))
}
