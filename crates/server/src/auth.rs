//! Authentication at the edge: JWT access tokens, the extractor that turns a bearer token into
//! an [`Actor`], and the sign-in endpoints.
//!
//! Tokens are HS256 only: the algorithm is pinned, so `alg: none` and HS/RS confusion are
//! refused; signature, expiry, issuer and audience are all checked, and every failure is the
//! same 401 with no hint of which check failed.

use std::path::Path;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
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

    pub fn issue(&self, user_id: Uuid) -> Result<String, Problem> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            jti: steelyard_domain::new_id().to_string(),
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

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A request made by a signed-in caller; handlers take it to get the service context.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Ctx);

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
        let user = identity::get_user(&state.app, user_id)
            .await
            .map_err(|_| Problem::unauthorized())?;
        if user.status != "active" {
            return Err(Problem::unauthorized());
        }
        let actor: Actor = identity::actor_of(&user);
        tracing::Span::current().record("user", tracing::field::display(&actor.subject));
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Self(Ctx::new(actor, request_id)))
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
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let user = identity::authenticate(&state.app, &body.email, &body.password).await?;
    let user = user.ok_or_else(|| {
        Problem::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "the email or password is wrong",
        )
    })?;
    Ok(Json(TokenResponse {
        access_token: state.keys.issue(user.id)?,
        token_type: "Bearer",
        expires_in: state.keys.ttl_secs,
    }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(ctx): Authenticated,
) -> ApiResult<Json<User>> {
    let user_id = ctx.actor.user_id.ok_or_else(Problem::unauthorized)?;
    let user = identity::get_user(&state.app, user_id).await?;
    Ok(Json(User::from(&user)))
}
